"""Closing, aborting and destroying sockets."""

from __future__ import annotations

import os
import socket
import time

import pytest
from plugin_support import LOOPBACK, WAIT, Harness, Sock, fails, open_fds

from sqsocket.platform.constants import NetDomain, SocketType

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


def python_peer(h: Harness) -> tuple[Sock, socket.socket]:
    """An emulated client connected to a plain Python socket on 127.0.0.1."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = h.create(NetDomain.INET4, SocketType.TCP, "client")
        h.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, listener.getsockname()[1])
        peer, _ = listener.accept()
    assert client.conn.wait(WAIT) and h.status(client) == 2
    peer.settimeout(WAIT)
    return client, peer


ALL_SOCKET_PRIMITIVES = [
    ("primitiveSocketConnectionStatus", ()),
    ("primitiveSocketError", ()),
    ("primitiveSocketLocalAddress", ()),
    ("primitiveSocketLocalPort", ()),
    ("primitiveSocketRemoteAddress", ()),
    ("primitiveSocketRemotePort", ()),
    ("primitiveSocketLocalAddressSize", ()),
    ("primitiveSocketRemoteAddressSize", ()),
    ("primitiveSocketReceiveDataAvailable", ()),
    ("primitiveSocketSendDone", ()),
    ("primitiveSocketCloseConnection", ()),
    ("primitiveSocketAbortConnection", ()),
    ("primitiveSocketDestroy", ()),
    ("primitiveSocketSendDataBufCount", (b"x", 1, 1)),
    ("primitiveSocketReceiveDataBufCount", (bytearray(1), 1, 1)),
    ("primitiveSocketGetOptions", ("TCP_NODELAY",)),
    ("primitiveSocketSetOptions", ("TCP_NODELAY", "1")),
    ("primitiveSocketListenWithBacklog", (1,)),
    ("primitiveSocketListenOnPort", (0,)),
    ("primitiveSocketConnectToPort", (LOOPBACK, 9)),
    ("primitiveSocketBindToPort", (LOOPBACK, 0)),
    ("primitiveSocketAccept", (0, 0, 0)),
    ("primitiveSocketReceiveUDPDataBufCount", (bytearray(1), 1, 1)),
    ("primitiveSocketSendUDPDataBufCount", (b"x", LOOPBACK, 9, 1, 1)),
]


def test_close_a_connection_peer_sees_end_of_stream(harness: Harness) -> None:
    client, peer = python_peer(harness)
    with peer:
        harness.p.primitiveSocketCloseConnection(client.handle)
        assert harness.status(client) == 0
        assert peer.recv(10) == b"", "an orderly close: FIN"
    assert harness.pss(client).sock is None
    assert client.signals() == (1, 0, 0), "only connect signalled: close() == 0 signals nothing"


def test_close_is_idempotent_and_leaves_the_handle_usable(harness: Harness) -> None:
    client, peer = python_peer(harness)
    with peer:
        harness.p.primitiveSocketCloseConnection(client.handle)
        harness.p.primitiveSocketCloseConnection(client.handle)  # "already closed"
        harness.p.primitiveSocketAbortConnection(client.handle)
        assert harness.status(client) == 0
        assert harness.p.primitiveSocketError(client.handle) == 0
        assert harness.p.primitiveSocketSendDone(client.handle) is False


def test_close_a_socket_never_connected_and_a_listener(harness: Harness) -> None:
    fresh = harness.create(NetDomain.INET4, SocketType.TCP)
    listener, port = harness.tcp_listener()
    harness.p.primitiveSocketCloseConnection(fresh.handle)
    harness.p.primitiveSocketCloseConnection(listener.handle)
    assert harness.status(fresh) == harness.status(listener) == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "nobody listens any more"


def test_abort_turns_lingering_off_and_closes(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setLinger(fd, 0) is {l_onoff 0, l_linger 0}: lingering off, not a reset.

    close() then returns at once and the kernel still ends the stream with a FIN
    (a reset would need l_onoff 1 with l_linger 0).
    """
    client, peer = python_peer(harness)
    with peer:
        raw = harness.pss(client).sock
        assert raw is not None
        seen: list[bytes] = []
        real_close = harness.p.sockets._close_fd

        def close_fd(sock: socket.socket) -> None:
            seen.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
            real_close(sock)

        monkeypatch.setattr(harness.p.sockets, "_close_fd", close_fd)
        harness.p.primitiveSocketAbortConnection(client.handle)
        assert len(seen) == 1 and seen[0][:4] == bytes(4), "l_onoff 0 when close() ran"
        assert harness.status(client) == 0
        assert peer.recv(10) == b""


def test_close_lingers_abort_does_not(harness: Harness) -> None:
    """Connected streams linger 1 s (setLinger on connect); abort turns lingering off."""
    client, peer = python_peer(harness)
    with peer:
        raw = harness.pss(client).sock
        assert raw is not None
        assert raw.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)[:4] == b"\1\0\0\0"
        harness.p.primitiveSocketAbortConnection(client.handle)
        assert raw.fileno() == -1


def test_close_a_unix_stream(harness: Harness, sockdir: str) -> None:
    client, server, listener = harness.unix_pair(sockdir)
    harness.p.primitiveSocketCloseConnection(client.handle)
    assert harness.p.primitiveSocketReceiveDataBufCount(server.handle, bytearray(4), 1, 4) == 0
    assert harness.status(server) == 3
    harness.p.primitiveSocketCloseConnection(listener.handle)
    assert os.path.exists(os.path.join(sockdir, "pair.sock")), "close does not unlink paths"


def test_close_udp(harness: Harness) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    harness.p.primitiveSocketCloseConnection(udp.handle)
    assert harness.status(udp) == 0
    assert harness.p.primitiveSocketReceiveDataAvailable(udp.handle) is False


def test_destroy_nulls_the_handle_and_every_primitive_then_fails(harness: Harness) -> None:
    client, peer = python_peer(harness)
    with peer:
        before = len(open_fds())
        harness.p.primitiveSocketDestroy(client.handle)
        assert client.handle[8:] == bytes(8), "_PSP(s)= 0, in the image's ByteArray"
        assert len(open_fds()) == before - 1
        assert peer.recv(10) == b"", "destroy aborts an open connection"
    for name, args in ALL_SOCKET_PRIMITIVES:
        fails(getattr(harness.p, name), client.handle, *args)


def test_a_copy_of_a_destroyed_handle_fails_too(harness: Harness) -> None:
    """The image may hold the handle twice; the copy keeps its pointer but reaches nothing."""
    s = harness.create(NetDomain.INET4, SocketType.TCP)
    copy = bytes(s.handle)
    harness.p.primitiveSocketDestroy(s.handle)
    assert copy[8:] != bytes(8)
    for name, args in ALL_SOCKET_PRIMITIVES:
        fails(getattr(harness.p, name), copy, *args)


def test_destroy_an_immutable_handle_frees_the_socket(harness: Harness) -> None:
    s = harness.create(NetDomain.INET4, SocketType.UDP)
    frozen = bytes(s.handle)
    harness.p.primitiveSocketDestroy(frozen)
    fails(harness.p.primitiveSocketConnectionStatus, s.handle)


def test_destroy_after_close_and_destroy_twice(harness: Harness) -> None:
    s = harness.create(NetDomain.INET4, SocketType.TCP)
    harness.p.primitiveSocketCloseConnection(s.handle)
    harness.p.primitiveSocketDestroy(s.handle)
    fails(harness.p.primitiveSocketDestroy, s.handle)


def test_destroy_of_a_listener_with_an_unaccepted_connection_closes_both(
    harness: Harness,
) -> None:
    listener, port = harness.tcp_listener(backlog=5)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as peer:
        assert listener.conn.wait(WAIT)  # accepted, parked for primitiveSocketAccept
        harness.p.primitiveSocketDestroy(listener.handle)
        peer.settimeout(WAIT)
        assert peer.recv(10) == b"", "the parked connection was closed too"


def test_many_sockets_created_and_destroyed_leave_no_descriptors(harness: Harness) -> None:
    before = len(open_fds())
    for _ in range(50):
        client, server, listener = harness.tcp_pair()
        for s in (client, server, listener):
            harness.p.primitiveSocketDestroy(s.handle)
    time.sleep(0.05)
    assert len(open_fds()) == before


def test_unix_path_survives_destroy_and_can_be_unlinked(harness: Harness, sockdir: str) -> None:
    path = os.path.join(sockdir, "kept.sock")
    listener = harness.unix_listener(path)
    harness.p.primitiveSocketDestroy(listener.handle)
    assert os.path.exists(path)
    again = harness.create(NetDomain.LOCAL, SocketType.TCP)
    fails(harness.p.primitiveSocketBindTo, again.handle, harness.unix_address(path))
    os.unlink(path)
    harness.p.primitiveSocketBindTo(again.handle, harness.unix_address(path))
