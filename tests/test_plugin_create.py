"""Socket creation, connection status, socket errors, and the security switch."""

from __future__ import annotations

import errno
import socket

import pytest
from plugin_support import LOOPBACK, Harness, can_create_raw_icmp, fails, has_ipv6_loopback

from sqsocket.platform.constants import REUSE_EXISTING_SOCKET, NetDomain, SocketType
from sqsocket.platform.layouts import SOCKET_HANDLE_SIZE, SocketHandle

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


# net type -> the address family socket() gets (0 means INET4, as it always did)
FAMILIES = [(0, socket.AF_INET), (1, socket.AF_UNIX), (2, socket.AF_INET)]
if has_ipv6_loopback():
    FAMILIES.append((3, socket.AF_INET6))


@pytest.mark.parametrize(("net_type", "family"), FAMILIES)
@pytest.mark.parametrize(("socket_type", "kind", "status"), [(0, 1, 0), (1, 2, 2)])
def test_create_makes_the_right_socket_and_state(
    harness: Harness, net_type: int, family: int, socket_type: int, kind: int, status: int
) -> None:
    sema, index = harness.semaphore("one")
    handle = harness.p.primitiveSocketCreate(net_type, socket_type, 1000, 2000, index)
    assert isinstance(handle, bytearray) and len(handle) == SOCKET_HANDLE_SIZE
    decoded = SocketHandle.parse(handle)
    assert decoded.session_id == harness.session
    assert decoded.socket_type == socket_type
    assert decoded.private_ptr != 0
    assert harness.status(handle) == status, "TCP starts Unconnected, UDP is born Connected"
    assert harness.p.primitiveSocketError(handle) == 0
    pss = harness.pss(handle)
    assert pss.sock is not None
    assert (pss.sock.family, pss.sock.type) == (family, kind)
    assert pss.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
    # primitiveSocketCreate gives one semaphore for all three roles
    assert (pss.conn_sema, pss.read_sema, pss.write_sema) == (index, index, index)
    assert sema.signals == 0


def test_create_3_semaphores_keeps_them_apart(harness: Harness) -> None:
    s = harness.create(NetDomain.INET4, SocketType.TCP)
    pss = harness.pss(s)
    assert len({pss.conn_sema, pss.read_sema, pss.write_sema}) == 3


def test_udp_is_non_blocking_from_birth_tcp_only_once_used(harness: Harness) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    tcp = harness.create(NetDomain.INET4, SocketType.TCP)
    udp_sock, tcp_sock = harness.pss(udp).sock, harness.pss(tcp).sock
    assert udp_sock is not None and tcp_sock is not None
    assert udp_sock.getblocking() is False, "aioEnable at creation"
    assert tcp_sock.getblocking() is True, "BLOCKING mode until aioEnable is called for it"


@pytest.mark.parametrize(
    "socket_type",
    [2, 3, 4, -1, REUSE_EXISTING_SOCKET + SocketType.UDP, REUSE_EXISTING_SOCKET + SocketType.TCP],
)
def test_create_fails_for_other_socket_types(harness: Harness, socket_type: int) -> None:
    fails(harness.p.primitiveSocketCreate, NetDomain.INET4, socket_type, 0, 0, 0)


@pytest.mark.parametrize("net_type", [4, 99, -1])
def test_create_fails_when_socket_refuses_the_domain(harness: Harness, net_type: int) -> None:
    fails(harness.p.primitiveSocketCreate3Semaphores, net_type, SocketType.TCP, 0, 0, 0, 0, 0)


def test_create_fails_before_the_network_is_initialised() -> None:
    from sqsocket.plugin import SocketPlugin

    with SocketPlugin() as plugin:
        fails(plugin.primitiveSocketCreate, NetDomain.INET4, SocketType.TCP, 0, 0, 0)
        fails(
            plugin.primitiveSocketCreate3Semaphores, NetDomain.INET4, SocketType.UDP, 0, 0, 0, 0, 0
        )
        fails(plugin.primitiveSocketCreateRAW, NetDomain.INET4, 1, 0, 0, 0, 0, 0)


@pytest.mark.profile("opensmalltalk")  # the 2012 plugin (squeak-4.10) has no raw sockets
def test_create_raw_icmp(harness: Harness) -> None:
    if not can_create_raw_icmp():
        pytest.skip("raw ICMP sockets need CAP_NET_RAW, which this process lacks")
    _conn, _read, _write, ci, ri, wi = harness.semaphores("raw")
    handle = harness.p.primitiveSocketCreateRAW(0, 1, 0, 0, ci, ri, wi)
    assert SocketHandle.parse(handle).socket_type == 2
    assert harness.status(handle) == 2, "RAW sockets are born connected"
    pss = harness.pss(handle)
    assert pss.sock is not None and pss.sock.type == socket.SOCK_RAW
    harness.p.primitiveSocketDestroy(handle)


@pytest.mark.parametrize("protocol", [0, 2, 6, 17, -1])
@pytest.mark.profile("opensmalltalk")
def test_create_raw_knows_only_icmp(harness: Harness, protocol: int) -> None:
    fails(harness.p.primitiveSocketCreateRAW, NetDomain.INET4, protocol, 0, 0, 0, 0, 0)


def test_status_answers_each_state(harness: Harness) -> None:
    client, server, listener = harness.tcp_pair()
    fresh = harness.create(NetDomain.INET4, SocketType.TCP)
    assert [harness.status(s) for s in (fresh, listener, client, server)] == [0, 1, 2, 2]
    harness.p.primitiveSocketCloseConnection(server.handle)
    assert harness.p.primitiveSocketReceiveDataBufCount(client.handle, bytearray(4), 1, 4) == 0
    assert harness.wait_status(client, 3)
    assert harness.status(server) == 0


def test_socket_error_keeps_the_last_errno(harness: Harness) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    harness.p.primitiveSocketBindToPort(udp.handle, LOOPBACK, 0)
    fails(harness.p.primitiveSocketBindToPort, udp.handle, LOOPBACK, 0)
    assert harness.p.primitiveSocketError(udp.handle) == errno.EINVAL


def test_disable_socket_access(harness: Harness) -> None:
    """The Unix SecurityPlugin: create, connectTo:port: and listenOn: all ask allowSocketAccess."""
    listener, port = harness.tcp_listener()
    tcp = harness.create(NetDomain.INET4, SocketType.TCP)
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    assert harness.p.primitiveHasSocketAccess() is True
    assert harness.p.primitiveDisableSocketAccess() is None
    assert harness.p.primitiveHasSocketAccess() is False
    fails(harness.p.primitiveSocketCreate, NetDomain.INET4, SocketType.TCP, 0, 0, 0)
    fails(
        harness.p.primitiveSocketCreate3Semaphores, NetDomain.INET4, SocketType.UDP, 0, 0, 0, 0, 0
    )
    fails(harness.p.primitiveSocketCreateRAW, NetDomain.INET4, 1, 0, 0, 0, 0, 0)
    fails(harness.p.primitiveSocketConnectToPort, tcp.handle, LOOPBACK, port)
    fails(harness.p.primitiveSocketListenOnPort, udp.handle, 0)
    fails(harness.p.primitiveSocketListenOnPortBacklog, tcp.handle, 0, 5)
    fails(harness.p.primitiveSocketListenOnPortBacklogInterface, tcp.handle, 0, 5, LOOPBACK)
    fails(harness.p.primitiveSocketListenWithOrWithoutBacklog, tcp.handle, 0)
    assert harness.status(tcp) == 0, "nothing happened to the socket"
    # primitiveSocketConnectTo: asks the SecurityPlugin nothing, in C as here
    harness.p.primitiveSocketConnectTo(tcp.handle, harness.inet_address(port))
    assert harness.wait_status(tcp, 2)
    assert listener.conn.wait(5)
    # there is no way back
    harness.p.primitiveDisableSocketAccess()
    assert harness.p.primitiveHasSocketAccess() is False


def test_ipv6_socket_when_the_machine_has_ipv6_loopback(harness: Harness) -> None:
    if not has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    s = harness.create(NetDomain.INET6, SocketType.TCP)
    assert harness.pss(s).sock is not None
    assert harness.pss(s).sock.family == socket.AF_INET6  # type: ignore[union-attr]


def test_local_net_type_is_af_unix(harness: Harness) -> None:
    s = harness.create(NetDomain.LOCAL, SocketType.UDP)
    sock = harness.pss(s).sock
    assert sock is not None and sock.family == socket.AF_UNIX
