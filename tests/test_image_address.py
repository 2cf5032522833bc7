"""SocketAddress as the image holds it: header + sockaddr bytes, and the image-built LOCAL one."""

from __future__ import annotations

import struct

import pytest

from sqsocket.errors import PrimitiveFailed
from sqsocket.image import (
    Image,
    NetworkError,
    SocketAddress,
    SocketAddressInformation,
    SocketPrimitiveFailed,
)

pytestmark = pytest.mark.timeout(30)


def test_for_socket_path_layout() -> None:
    address = SocketAddress.for_socket_path("/tmp/sp", 1234)
    assert len(address) == 118
    session, size = struct.unpack_from("=ii", address)
    assert (session, size) == (1234, 110)
    (family,) = struct.unpack_from("=H", address, 8)
    assert family == 1  # AF_UNIX
    assert bytes(address[10:17]) == b"/tmp/sp"
    assert bytes(address[17:]) == bytes(118 - 17)  # NUL padded
    assert address.path == "/tmp/sp" and str(address) == "/tmp/sp"
    assert address.family_name == "local" and address.session_id == 1234
    assert repr(address) == "SocketAddress('/tmp/sp')"


def test_for_socket_path_rejects_empty_and_too_long() -> None:
    with pytest.raises(NetworkError, match="1 to 107 bytes"):
        SocketAddress.for_socket_path("", 1)
    with pytest.raises(NetworkError, match="1 to 107 bytes"):
        SocketAddress.for_socket_path("/" + "x" * 107, 1)
    SocketAddress.for_socket_path("/" + "x" * 106, 1)  # 107 bytes: the most that fits


def test_address_is_a_mutable_byte_array() -> None:
    address = SocketAddress.new(4)
    assert isinstance(address, bytearray) and bytes(address) == bytes(4)
    with pytest.raises(NetworkError):
        SocketAddress.new(-1)


def test_port_of_a_local_address_fails_as_the_primitive_does(image: Image) -> None:
    address = SocketAddress.for_socket_path("/tmp/sp", image.session_id, image)
    with pytest.raises(SocketPrimitiveFailed) as info:
        _ = address.port
    assert isinstance(info.value, PrimitiveFailed)  # the emulator's failure, seen by the image
    assert info.value.primitive == "primitiveSocketAddressGetPort"


def test_stale_inet_address_still_prints(image: Image) -> None:
    (info,) = SocketAddressInformation.for_host_service_flags_family_type_protocol(
        "127.0.0.1", "80", 0, 2, 1, 0, image=image
    )
    address = info.socket_address
    stale = SocketAddress(bytes(address), image)
    stale[0:4] = struct.pack("=i", image.session_id + 1)  # another network session
    assert "inet4" in str(stale)


def test_ipv6_address(image: Image) -> None:
    infos = SocketAddressInformation.for_host_service_flags_family_type_protocol(
        "::1", "8080", 0, 3, 1, 0, image=image
    )
    if not infos:
        pytest.skip("no IPv6 loopback here")
    address = infos[0].socket_address
    assert address.family == 3 and address.port == 8080
    # numeric: no lookup. (str() would add the host's name, getnameinfo without NUMERIC,
    # which for ::1 comes from DNS unless /etc/hosts names it: the tests never ask DNS.)
    assert (address.host_number, address.service_number) == ("::1", "8080")


def test_abstract_local_address_prints_with_at() -> None:
    raw = bytearray(SocketAddress.for_socket_path("Xname", 1))
    raw[10] = 0  # sun_path starts with NUL: a Linux abstract name
    assert SocketAddress(raw).path == "@name"
