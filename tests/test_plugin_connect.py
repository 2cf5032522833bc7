"""Connecting, binding, listening and accepting, over Unix paths, 127.0.0.1 and ::1."""

from __future__ import annotations

import errno
import os
import socket

import pytest
from plugin_support import LOOPBACK, WAIT, Harness, fails, has_ipv6_loopback

from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.layouts import SocketHandle

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


def exchange(h: Harness, a: object, b: object) -> None:
    """Both directions carry data."""
    from plugin_support import Sock

    assert isinstance(a, Sock) and isinstance(b, Sock)
    h.send_all(a, b"from a")
    assert h.receive_exactly(b, 6) == b"from a"
    h.send_all(b, b"from b!")
    assert h.receive_exactly(a, 7) == b"from b!"


# -- TCP over 127.0.0.1 ---------------------------------------------------------------------


def test_connect_to_port_and_accept_with_a_backlog(harness: Harness) -> None:
    client, server, listener = harness.tcp_pair()
    exchange(harness, client, server)
    assert harness.status(listener) == 1, "the listener waits for the next connection"
    assert harness.p.primitiveSocketRemotePort(client.handle) == harness.p.primitiveSocketLocalPort(
        listener.handle
    )
    assert harness.p.primitiveSocketRemoteAddress(server.handle) == LOOPBACK
    assert SocketHandle.parse(server.handle).socket_type == SocketType.TCP


def test_listener_accepts_again_after_each_accept(harness: Harness) -> None:
    listener, port = harness.tcp_listener(backlog=3)
    servers = []
    for n in range(3):
        client = harness.create(NetDomain.INET4, SocketType.TCP, f"client{n}")
        harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
        server = harness.take(listener)
        servers.append(server)
        harness.send_all(client, bytes([n]))
        assert harness.receive_exactly(server, 1) == bytes([n])
    assert len({bytes(s.handle) for s in servers}) == 3


def test_accept_uses_one_semaphore_for_all_three(harness: Harness) -> None:
    listener, port = harness.tcp_listener()
    client = harness.create(NetDomain.INET4, SocketType.TCP)
    harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
    assert listener.conn.wait(WAIT)
    sema, index = harness.semaphore("accepted")
    handle = harness.p.primitiveSocketAccept(listener.handle, 0, 0, index)
    pss = harness.pss(handle)
    assert (pss.conn_sema, pss.read_sema, pss.write_sema) == (index, index, index)
    assert harness.status(handle) == 2 and sema.signals == 0


def test_listen_on_port_backlog_one_turns_the_listener_into_the_connection(
    harness: Harness,
) -> None:
    listener = harness.create(NetDomain.INET4, SocketType.TCP, "listener")
    harness.p.primitiveSocketListenOnPort(listener.handle, 0)
    port = harness.p.primitiveSocketLocalPort(listener.handle)
    assert harness.status(listener) == 1
    client = harness.create(NetDomain.INET4, SocketType.TCP, "client")
    harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
    assert listener.conn.wait(WAIT)
    assert harness.status(listener) == 2
    exchange(harness, client, listener)
    # there is no listener left: a second connection is refused
    late = harness.create(NetDomain.INET4, SocketType.TCP, "late")
    harness.p.primitiveSocketConnectToPort(late.handle, LOOPBACK, port)
    assert late.conn.wait(WAIT)
    assert harness.status(late) == 0
    assert harness.p.primitiveSocketError(late.handle) == errno.ECONNREFUSED


def test_listen_on_port_binds_every_interface(harness: Harness) -> None:
    listener = harness.create(NetDomain.INET4, SocketType.TCP)
    harness.p.primitiveSocketListenOnPortBacklog(listener.handle, 0, 4)
    assert harness.p.primitiveSocketLocalAddress(listener.handle) == b"\0\0\0\0"
    assert harness.p.primitiveSocketLocalPort(listener.handle) > 0


def test_listen_with_or_without_backlog(harness: Harness) -> None:
    two = harness.create(NetDomain.INET4, SocketType.TCP)
    three = harness.create(NetDomain.INET4, SocketType.TCP)
    harness.p.primitiveSocketListenWithOrWithoutBacklog(two.handle, 0)
    harness.p.primitiveSocketListenWithOrWithoutBacklog(three.handle, 0, 5)
    assert (harness.pss(two).multi_listen, harness.pss(three).multi_listen) == (False, True)
    assert harness.status(two) == harness.status(three) == 1
    fails(harness.p.primitiveSocketListenWithOrWithoutBacklog, three.handle, 0, 5, 6)
    fails(harness.p.primitiveSocketListenWithOrWithoutBacklog, three.handle)


def test_bind_to_port_then_listen_with_backlog(harness: Harness) -> None:
    listener = harness.create(NetDomain.INET4, SocketType.TCP)
    harness.p.primitiveSocketBindToPort(listener.handle, LOOPBACK, 0)
    assert harness.status(listener) == 0
    harness.p.primitiveSocketListenWithBacklog(listener.handle, 2)
    assert harness.status(listener) == 1
    port = harness.p.primitiveSocketLocalPort(listener.handle)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as peer:
        server = harness.take(listener)
        peer.sendall(b"x")
        assert harness.receive_exactly(server, 1) == b"x"


def test_connect_refused_keeps_the_errno_and_signals(harness: Harness) -> None:
    closed = socket.socket()
    with closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connect() gets RST
        client = harness.create(NetDomain.INET4, SocketType.TCP)
        harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, closed.getsockname()[1])
        assert client.conn.wait(WAIT)
    assert harness.status(client) == 0
    assert harness.p.primitiveSocketError(client.handle) == errno.ECONNREFUSED


def test_connecting_a_connected_socket_again(harness: Harness) -> None:
    """Linux: the first connect() after a non-blocking one completed answers 0 (the socket
    becomes SS_CONNECTED), any later one EISCONN, which the plugin records as a failed
    connection: state Unconnected, errno kept, connection semaphore signalled."""
    client, _server, listener = harness.tcp_pair()
    port = harness.p.primitiveSocketLocalPort(listener.handle)
    before = client.conn.signals
    harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
    assert harness.status(client) == 2 and client.conn.signals == before + 1
    harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
    assert harness.status(client) == 0
    assert harness.p.primitiveSocketError(client.handle) == errno.EISCONN
    assert client.conn.signals == before + 2


def test_connect_to_port_arguments(harness: Harness) -> None:
    client = harness.create(NetDomain.INET4, SocketType.TCP)
    for bad in (b"\x7f\0\0", b"\x7f\0\0\1\0", "127.0.0.1", 2130706433, None):
        fails(harness.p.primitiveSocketConnectToPort, client.handle, bad, 80)
    fails(harness.p.primitiveSocketConnectToPort, client.handle, LOOPBACK, "80")
    assert harness.status(client) == 0


def test_bind_to_port_in_use_fails_with_eaddrinuse(harness: Harness) -> None:
    holder = socket.create_server(("127.0.0.1", 0))
    with holder:
        s = harness.create(NetDomain.INET4, SocketType.TCP)
        fails(harness.p.primitiveSocketBindToPort, s.handle, LOOPBACK, holder.getsockname()[1])
        assert harness.p.primitiveSocketError(s.handle) == errno.EADDRINUSE


def test_listen_on_an_interface(harness: Harness) -> None:
    listener = harness.create(NetDomain.INET4, SocketType.TCP)
    harness.p.primitiveSocketListenOnPortBacklogInterface(listener.handle, 0, 1, LOOPBACK)
    assert harness.p.primitiveSocketLocalAddress(listener.handle) == LOOPBACK
    fails(harness.p.primitiveSocketListenOnPortBacklogInterface, listener.handle, 0, 1, b"\x7f\0")


# -- accept failures --------------------------------------------------------------------------


def test_accept_on_a_socket_that_is_not_multi_listening_fails(harness: Harness) -> None:
    single = harness.create(NetDomain.INET4, SocketType.TCP)
    harness.p.primitiveSocketListenOnPortBacklogInterface(single.handle, 0, 1, LOOPBACK)
    fails(harness.p.primitiveSocketAccept, single.handle, 0, 0, 0)
    fails(harness.p.primitiveSocketAccept3Semaphores, single.handle, 0, 0, 0, 0, 0)
    never_listened = harness.create(NetDomain.INET4, SocketType.TCP)
    fails(harness.p.primitiveSocketAccept, never_listened.handle, 0, 0, 0)


def test_accept_before_any_connection_fails(harness: Harness) -> None:
    listener, _port = harness.tcp_listener(backlog=5)
    exc = fails(harness.p.primitiveSocketAccept, listener.handle, 0, 0, 0)
    assert "no connection" in exc.reason
    assert harness.status(listener) == 1


def test_accept_the_same_connection_twice_fails(harness: Harness) -> None:
    _client, _server, listener = harness.tcp_pair()
    fails(harness.p.primitiveSocketAccept, listener.handle, 0, 0, 0)


def test_accept_from_an_invalid_server_handle_fails(harness: Harness) -> None:
    listener, _ = harness.tcp_listener()
    for bad in (bytearray(16), listener.handle[:15], str(listener.handle), 7):
        fails(harness.p.primitiveSocketAccept, bad, 0, 0, 0)


# -- UDP: bind, "listen", connect --------------------------------------------------------------


def test_udp_listen_with_backlog_over_one_fails(harness: Harness) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    fails(harness.p.primitiveSocketListenOnPortBacklog, udp.handle, 0, 2)
    fails(harness.p.primitiveSocketListenOnPortBacklogInterface, udp.handle, 0, 5, LOOPBACK)
    fails(harness.p.primitiveSocketListenWithBacklog, udp.handle, 2)
    fails(harness.p.primitiveSocketListenWithOrWithoutBacklog, udp.handle, 0, 3)
    assert harness.p.primitiveSocketLocalPort(udp.handle) == 0, "failed before bind()"


def test_udp_listen_on_port_only_binds(harness: Harness) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    harness.p.primitiveSocketListenOnPortBacklogInterface(udp.handle, 0, 1, LOOPBACK)
    assert harness.p.primitiveSocketLocalPort(udp.handle) > 0
    assert harness.status(udp) == 2, "still Connected: UDP never waits for connections"
    harness.p.primitiveSocketListenWithBacklog(udp.handle, 1)
    assert harness.status(udp) == 2


def test_udp_connect_to_sets_the_default_peer(harness: Harness) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    assert harness.p.primitiveSocketRemoteAddress(udp.handle) == b"\0\0\0\0"
    assert harness.p.primitiveSocketRemotePort(udp.handle) == 0
    harness.p.primitiveSocketConnectToPort(udp.handle, LOOPBACK, 9)
    assert harness.p.primitiveSocketRemoteAddress(udp.handle) == LOOPBACK
    assert harness.p.primitiveSocketRemotePort(udp.handle) == 9
    assert harness.status(udp) == 2
    assert udp.signals() == (0, 0, 0)


# -- Unix-domain paths -------------------------------------------------------------------------


def test_unix_stream_bind_listen_connect_accept(harness: Harness, sockdir: str) -> None:
    client, server, listener = harness.unix_pair(sockdir)
    exchange(harness, client, server)
    assert os.path.exists(os.path.join(sockdir, "pair.sock")), "bindTo: made the socket file"
    assert harness.status(listener) == 1


def test_unix_listen_backlog_one_replaces_in_place(harness: Harness, sockdir: str) -> None:
    path = os.path.join(sockdir, "one.sock")
    listener = harness.unix_listener(path, backlog=1)
    client = harness.create(NetDomain.LOCAL, SocketType.TCP)
    harness.p.primitiveSocketConnectTo(client.handle, harness.unix_address(path))
    assert listener.conn.wait(WAIT) and harness.status(listener) == 2
    exchange(harness, client, listener)


def test_unix_connect_to_a_missing_path_keeps_enoent(harness: Harness, sockdir: str) -> None:
    client = harness.create(NetDomain.LOCAL, SocketType.TCP)
    harness.p.primitiveSocketConnectTo(client.handle, harness.unix_address(sockdir + "/none"))
    assert harness.status(client) == 0
    assert harness.p.primitiveSocketError(client.handle) == errno.ENOENT
    assert client.conn.signals == 1


def test_unix_bind_to_a_path_in_use_fails(harness: Harness, sockdir: str) -> None:
    path = os.path.join(sockdir, "taken.sock")
    harness.unix_listener(path)
    other = harness.create(NetDomain.LOCAL, SocketType.TCP)
    fails(harness.p.primitiveSocketBindTo, other.handle, harness.unix_address(path))
    assert harness.p.primitiveSocketError(other.handle) == errno.EADDRINUSE


def test_python_peer_connects_to_an_emulated_unix_listener(harness: Harness, sockdir: str) -> None:
    path = os.path.join(sockdir, "py.sock")
    listener = harness.unix_listener(path)
    with socket.socket(socket.AF_UNIX) as peer:
        peer.settimeout(WAIT)
        peer.connect(path)
        server = harness.take(listener)
        peer.sendall(b"abc")
        assert harness.receive_exactly(server, 3) == b"abc"
        harness.send_all(server, b"de")
        assert peer.recv(2) == b"de"


def test_connect_to_and_bind_to_reject_bad_addresses(harness: Harness, sockdir: str) -> None:
    s = harness.create(NetDomain.LOCAL, SocketType.TCP)
    good = harness.unix_address(sockdir + "/x")
    wrong_session = bytearray(good)
    wrong_session[0] ^= 0xFF
    too_long = good + b"\0"
    too_short = good[:-1]
    for bad in (wrong_session, too_long, too_short, b"", b"1234567", "not bytes", 42):
        fails(harness.p.primitiveSocketConnectTo, s.handle, bad)
        fails(harness.p.primitiveSocketBindTo, s.handle, bad)
    assert harness.status(s) == 0 and not os.path.exists(sockdir + "/x")


# -- IPv6 over ::1 ---------------------------------------------------------------------------------


def test_ipv6_bind_listen_connect_accept(harness: Harness) -> None:
    if not has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    listener = harness.create(NetDomain.INET6, SocketType.TCP, "listener")
    harness.p.primitiveSocketBindTo(listener.handle, harness.inet6_address(0))
    harness.p.primitiveSocketListenWithBacklog(listener.handle, 4)
    local = harness.local_address(listener)
    assert len(local) == 8 + 28
    port = harness.p.primitiveSocketAddressGetPort(local)
    assert port > 0
    # the old IPv4-only primitives know nothing of it
    assert harness.p.primitiveSocketLocalPort(listener.handle) == 0
    assert harness.p.primitiveSocketLocalAddress(listener.handle) == b"\0\0\0\0"
    client = harness.create(NetDomain.INET6, SocketType.TCP, "client")
    harness.p.primitiveSocketConnectTo(client.handle, harness.inet6_address(port))
    server = harness.take(listener)
    assert harness.wait_status(client, 2)
    exchange(harness, client, server)
    assert harness.p.primitiveSocketRemoteAddressSize(client.handle) == 8 + 28
