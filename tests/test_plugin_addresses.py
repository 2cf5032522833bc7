"""Socket addresses and handles: their binary layouts, ports, local and remote addresses."""

from __future__ import annotations

import os
import socket
import struct

import pytest
from plugin_support import LOOPBACK, Harness, fails, has_ipv6_loopback, path_in

from sqsocket.platform import layouts
from sqsocket.platform.constants import AddressFamily, NetDomain, SocketType
from sqsocket.platform.layouts import (
    ADDRESS_HEADER_SIZE,
    SOCKADDR_IN6_SIZE,
    SOCKADDR_IN_SIZE,
    SOCKADDR_UN_SIZE,
    SOCKET_HANDLE_SIZE,
    AddressHeaderLayout,
    SockaddrInLayout,
    SockaddrUnLayout,
    SocketAddressLayout,
    SocketHandle,
    SQSocketLayout,
    build_socket_address,
    parse_address_header,
    port_of_sockaddr,
    sockaddr_family,
    sockaddr_from_python,
    sockaddr_in,
    sockaddr_in6,
    sockaddr_to_python,
    sockaddr_un,
    with_port,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


# -- the Unix path address: 118 bytes --------------------------------------------------------


def test_a_unix_path_address_is_118_bytes_and_round_trips(harness: Harness, sockdir: str) -> None:
    path = path_in(sockdir, "listening.sock")
    harness.unix_listener(path)
    # the resolver's LOCAL family answers a path that is a socket with a whole sockaddr_un
    harness.p.primitiveResolverGetAddressInfo("", path, 0, AddressFamily.LOCAL, 0, 0)
    size = harness.p.primitiveResolverGetAddressInfoSize()
    assert size == 118 == ADDRESS_HEADER_SIZE + SOCKADDR_UN_SIZE
    address = bytearray(size)
    harness.p.primitiveResolverGetAddressInfoResult(address)

    # header: {int32 sessionID, int32 110}, native-endian
    assert struct.unpack("=ii", address[:8]) == (harness.session, 110)
    assert parse_address_header(address) == (harness.session, 110)
    # then the sockaddr_un: sa_family (native) and the NUL-padded path
    assert struct.unpack("=H", address[8:10]) == (socket.AF_UNIX,)
    assert address[10:] == path.encode().ljust(108, b"\0")

    parsed = SocketAddressLayout.parse(bytes(address))
    assert (parsed.header.sessionID, parsed.header.size) == (harness.session, 110)
    sun = SockaddrUnLayout.parse(parsed.sockaddr)
    assert sun.sun_family == socket.AF_UNIX
    assert sun.sun_path.rstrip(b"\0") == path.encode()
    rebuilt = SocketAddressLayout.build(
        {"header": {"sessionID": harness.session, "size": 110}, "sockaddr": parsed.sockaddr}
    )
    assert rebuilt == bytes(address)
    assert build_socket_address(harness.session, sockaddr_un(path.encode())) == bytes(address)
    assert harness.unix_address(path) == address

    # and the plugin takes it back: connect to it
    client = harness.create(NetDomain.LOCAL, SocketType.TCP)
    harness.p.primitiveSocketConnectTo(client.handle, address)
    assert harness.status(client) == 2
    # a Unix address has no port
    fails(harness.p.primitiveSocketAddressGetPort, address)
    fails(harness.p.primitiveSocketAddressSetPort, address, 80)


def test_local_address_of_a_unix_socket_is_as_long_as_its_path(
    harness: Harness, sockdir: str
) -> None:
    path = os.path.join(sockdir, "short.sock")
    listener = harness.unix_listener(path)
    size = harness.p.primitiveSocketLocalAddressSize(listener.handle)
    assert size == 8 + 2 + len(path) + 1, "getsockname: family, path, NUL"
    local = harness.local_address(listener)
    assert parse_address_header(local) == (harness.session, size - 8)
    assert sockaddr_to_python(bytes(local[8:])) == (socket.AF_UNIX, path.encode())
    # bindTo: takes that shorter form as well
    other = harness.create(NetDomain.LOCAL, SocketType.TCP)
    harness.p.primitiveSocketConnectTo(other.handle, local)
    assert harness.status(other) == 2


# -- construct layouts and their struct shortcuts -------------------------------------------------


def test_layout_sizes() -> None:
    assert SOCKET_HANDLE_SIZE == SQSocketLayout.sizeof() == 16
    assert ADDRESS_HEADER_SIZE == AddressHeaderLayout.sizeof() == 8
    assert (SOCKADDR_UN_SIZE, SOCKADDR_IN_SIZE, SOCKADDR_IN6_SIZE) == (110, 16, 28)


@pytest.mark.parametrize(
    "values", [(1, 0, 0x5600_0000_1000), (-5, 1, 1), (2**31 - 1, 2, 2**64 - 1), (0, 0, 0)]
)
def test_handle_layout_agrees_with_its_struct_shortcut(values: tuple[int, int, int]) -> None:
    handle = SocketHandle(*values)
    built = handle.build()
    assert built == layouts.HANDLE_STRUCT.pack(*values)
    assert SocketHandle.parse(built) == handle
    c = SQSocketLayout.parse(built)
    assert (c.sessionID, c.socketType, c.privateSocketPtr) == values


@pytest.mark.parametrize(("session", "size"), [(1, 16), (-7, 110), (2**31 - 1, 0)])
def test_header_layout_agrees_with_its_struct_shortcut(session: int, size: int) -> None:
    raw = AddressHeaderLayout.build({"sessionID": session, "size": size})
    assert raw == layouts.HEADER_STRUCT.pack(session, size)
    assert parse_address_header(raw + bytes(size)) == (session, size)


def test_sockaddr_helpers() -> None:
    sin = sockaddr_in("127.0.0.1", 8080)
    assert SockaddrInLayout.parse(sin).sin_port == 8080
    assert sin[2:4] == b"\x1f\x90", "the port is big-endian (htons)"
    assert sockaddr_family(sin) == socket.AF_INET and sockaddr_family(b"\1") == 0
    assert port_of_sockaddr(sin) == 8080
    assert port_of_sockaddr(with_port(sin, 70000)) == 70000 & 0xFFFF
    assert port_of_sockaddr(sockaddr_un(b"/x")) is None
    assert sockaddr_to_python(sin) == (socket.AF_INET, ("127.0.0.1", 8080))
    assert sockaddr_from_python(socket.AF_INET, ("127.0.0.1", 8080)) == sin
    sin6 = sockaddr_in6("::1", 443, 5, 0)
    assert len(sin6) == 28 and port_of_sockaddr(sin6) == 443
    assert sockaddr_to_python(sin6) == (socket.AF_INET6, ("::1", 443, 5, 0))
    assert sockaddr_from_python(socket.AF_INET6, ("::1", 443, 5, 0)) == sin6
    assert sockaddr_un(b"/a/b", full=False) == struct.pack("=H", socket.AF_UNIX) + b"/a/b\0"
    assert len(sockaddr_un(b"/a/b")) == 110
    abstract = sockaddr_un(b"\0hidden", full=False)
    assert sockaddr_to_python(abstract) == (socket.AF_UNIX, b"\0hidden")
    assert sockaddr_from_python(socket.AF_UNIX, "/a/b") == sockaddr_un(b"/a/b", full=False)
    with pytest.raises(ValueError):
        sockaddr_un(b"x" * 109)
    with pytest.raises(ValueError):
        sockaddr_to_python(sin[:8])
    with pytest.raises(ValueError):
        sockaddr_to_python(struct.pack("=H", 99) + bytes(14))


# -- ports of addresses ----------------------------------------------------------------------------


def resolved(harness: Harness, host: str, service: str, family: int) -> bytearray:
    harness.p.primitiveResolverGetAddressInfo(host, service, 1, family, 1, 1)
    address = bytearray(harness.p.primitiveResolverGetAddressInfoSize())
    harness.p.primitiveResolverGetAddressInfoResult(address)
    return address


def test_get_and_set_port_of_an_inet4_address(harness: Harness) -> None:
    address = resolved(harness, "127.0.0.1", "80", 2)
    assert len(address) == 24
    assert harness.p.primitiveSocketAddressGetPort(address) == 80
    assert harness.p.primitiveSocketAddressSetPort(address, 8080) is None
    assert harness.p.primitiveSocketAddressGetPort(address) == 8080
    assert address[8:] == sockaddr_in("127.0.0.1", 8080)
    harness.p.primitiveSocketAddressSetPort(address, 65536 + 7)
    assert harness.p.primitiveSocketAddressGetPort(address) == 7, "htons() keeps 16 bits"


def test_get_and_set_port_of_an_inet6_address(harness: Harness) -> None:
    if not has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    address = resolved(harness, "::1", "443", 3)
    assert len(address) == 8 + 28
    assert harness.p.primitiveSocketAddressGetPort(address) == 443
    harness.p.primitiveSocketAddressSetPort(address, 8443)
    assert sockaddr_to_python(bytes(address[8:]))[1] == ("::1", 8443, 0, 0)


def test_port_primitives_fail_on_bad_addresses(harness: Harness) -> None:
    good = harness.inet_address(80)
    wrong_session = bytearray(good)
    wrong_session[:4] = struct.pack("=i", harness.session ^ 0x5A5A)
    size_too_big = bytearray(good)
    size_too_big[4:8] = struct.pack("=i", 17)
    for bad in (wrong_session, size_too_big, good[:-1], good + b"\0", b"", b"short", 80, None):
        fails(harness.p.primitiveSocketAddressGetPort, bad)
        fails(harness.p.primitiveSocketAddressSetPort, bad, 81)
    fails(harness.p.primitiveSocketAddressSetPort, bytes(good), 81)  # immutable
    fails(harness.p.primitiveSocketAddressSetPort, good, "81")
    fails(harness.p.primitiveSocketAddressSetPort, good, 1 << 30)
    assert harness.p.primitiveSocketAddressGetPort(good) == 80
    unknown_family = bytearray(build_socket_address(harness.session, b"\x63\x00" + bytes(14)))
    fails(harness.p.primitiveSocketAddressGetPort, unknown_family)


# -- local and remote addresses of sockets -----------------------------------------------------


def test_local_and_remote_addresses_of_a_tcp_connection(harness: Harness) -> None:
    client, server, listener = harness.tcp_pair()
    port = harness.p.primitiveSocketLocalPort(listener.handle)
    # old API: 4-byte addresses and ports
    assert harness.p.primitiveSocketLocalAddress(client.handle) == LOOPBACK
    assert harness.p.primitiveSocketRemoteAddress(client.handle) == LOOPBACK
    assert harness.p.primitiveSocketRemotePort(client.handle) == port
    assert harness.p.primitiveSocketLocalPort(server.handle) == port
    assert harness.p.primitiveSocketRemotePort(server.handle) == harness.p.primitiveSocketLocalPort(
        client.handle
    )
    # new API: sized socket addresses
    assert harness.p.primitiveSocketLocalAddressSize(client.handle) == 24
    local = harness.local_address(client)
    assert sockaddr_to_python(bytes(local[8:])) == (
        socket.AF_INET,
        ("127.0.0.1", harness.p.primitiveSocketLocalPort(client.handle)),
    )
    assert harness.p.primitiveSocketRemoteAddressSize(client.handle) == 24
    remote = bytearray(24)
    harness.p.primitiveSocketRemoteAddressResult(client.handle, remote)
    assert sockaddr_to_python(bytes(remote[8:])) == (socket.AF_INET, ("127.0.0.1", port))
    assert harness.p.primitiveSocketAddressGetPort(remote) == port
    # the result is handed out once per Size call
    fails(harness.p.primitiveSocketRemoteAddressResult, client.handle, bytearray(24))
    assert harness.p.primitiveSocketRemoteAddressSize(client.handle) == 24


def test_address_results_need_the_exact_size_and_a_mutable_buffer(harness: Harness) -> None:
    client, _server, _ = harness.tcp_pair()
    fails(harness.p.primitiveSocketLocalAddressResult, client.handle, bytearray(23))
    fails(harness.p.primitiveSocketLocalAddressResult, client.handle, bytearray(25))
    fails(harness.p.primitiveSocketLocalAddressResult, client.handle, bytes(24))
    fails(harness.p.primitiveSocketLocalAddressResult, client.handle, "x" * 24)
    assert harness.p.primitiveSocketRemoteAddressSize(client.handle) == 24
    fails(harness.p.primitiveSocketRemoteAddressResult, client.handle, bytearray(16))
    fails(harness.p.primitiveSocketRemoteAddressResult, client.handle, bytes(24))
    harness.p.primitiveSocketRemoteAddressResult(client.handle, bytearray(24))


def test_addresses_of_unconnected_and_closed_sockets(harness: Harness) -> None:
    fresh = harness.create(NetDomain.INET4, SocketType.TCP)
    # an unbound INET socket still has a local name (0.0.0.0:0); it has no peer
    assert harness.p.primitiveSocketLocalAddressSize(fresh.handle) == 24
    assert harness.p.primitiveSocketLocalAddress(fresh.handle) == b"\0\0\0\0"
    assert harness.p.primitiveSocketLocalPort(fresh.handle) == 0
    assert harness.p.primitiveSocketRemoteAddressSize(fresh.handle) == -1
    assert harness.p.primitiveSocketRemoteAddress(fresh.handle) == b"\0\0\0\0"
    assert harness.p.primitiveSocketRemotePort(fresh.handle) == 0
    fails(harness.p.primitiveSocketRemoteAddressResult, fresh.handle, bytearray(24))
    harness.p.primitiveSocketCloseConnection(fresh.handle)
    assert harness.p.primitiveSocketLocalAddressSize(fresh.handle) == 0, "getsockname failed"
    fails(harness.p.primitiveSocketLocalAddressResult, fresh.handle, bytearray(8))
    assert harness.p.primitiveSocketLocalPort(fresh.handle) == 0


def test_old_api_addresses_of_a_unix_socket_are_zero(harness: Harness, sockdir: str) -> None:
    client, server, _ = harness.unix_pair(sockdir)
    for s in (client, server):
        assert harness.p.primitiveSocketLocalAddress(s.handle) == b"\0\0\0\0"
        assert harness.p.primitiveSocketLocalPort(s.handle) == 0
        assert harness.p.primitiveSocketRemoteAddress(s.handle) == b"\0\0\0\0"
        assert harness.p.primitiveSocketRemotePort(s.handle) == 0
    # the accepted side's peer is the unnamed client: just a family
    assert harness.p.primitiveSocketRemoteAddressSize(server.handle) == 8 + 2
    assert (
        harness.p.primitiveSocketRemoteAddressSize(client.handle)
        == 8 + 2 + len(os.path.join(sockdir, "pair.sock")) + 1
    )


def test_udp_local_address_after_bind(harness: Harness) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    harness.p.primitiveSocketBindToPort(udp.handle, LOOPBACK, 0)
    port = harness.p.primitiveSocketLocalPort(udp.handle)
    local = harness.local_address(udp)
    assert sockaddr_to_python(bytes(local[8:])) == (socket.AF_INET, ("127.0.0.1", port))
