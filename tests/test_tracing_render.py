"""How a trace spells values: handles, addresses and byte data, decoded from the C layouts."""

from __future__ import annotations

import pytest

from sqsocket.platform.constants import SocketStatus
from sqsocket.platform.layouts import (
    SocketHandle,
    build_socket_address,
    sockaddr_in,
    sockaddr_in6,
    sockaddr_un,
)
from sqsocket.tracing.render import (
    render_address,
    render_arguments,
    render_bytes,
    render_value,
    status_name,
    takes_handle_first,
)

NAMES = {7: "socket#1", 9: "socket#2"}


def namer(ptr: int) -> str | None:
    return NAMES.get(ptr)


def handle(ptr: int, session: int = 42) -> bytearray:
    return bytearray(SocketHandle(session, 0, ptr).build())


def test_status_names_are_the_image_spelling() -> None:
    assert status_name(SocketStatus.WAITING_FOR_CONNECTION) == "WaitingForConnection"
    assert status_name(2) == "Connected"
    assert status_name(-1) == "Invalid"
    assert status_name(None) == "new"
    assert status_name(17) == "17"


def test_a_known_handle_is_its_socket_number() -> None:
    assert render_value(handle(7), namer, handle=True) == "socket#1"
    # a handle the trace saw born is recognised even where no handle is expected
    assert render_value(handle(9), namer) == "socket#2"


def test_unknown_and_destroyed_handles() -> None:
    assert render_value(handle(0), namer, handle=True) == "socket(destroyed)"
    assert render_value(handle(123, 5), namer, handle=True) == "socket(session 5, ptr 123)"
    # 16 bytes that are not in a socket's place are data
    assert render_value(handle(123), namer).startswith("bytes[16] x:")


def test_local_addresses() -> None:
    path = build_socket_address(1, sockaddr_un(b"/tmp/sp"))
    assert len(path) == 118
    assert render_address(path) == "unix:/tmp/sp"
    padded = build_socket_address(1, sockaddr_un(b"\0name"))
    assert render_address(padded) == "unix:@name (+103 NULs = all of sun_path)"
    tight = build_socket_address(1, sockaddr_un(b"\0name", full=False))
    assert len(tight) == 8 + 2 + 5
    assert render_address(tight) == "unix:@name"


def test_inet_addresses() -> None:
    assert render_address(build_socket_address(1, sockaddr_in("127.0.0.1", 80))) == (
        "inet4:127.0.0.1:80"
    )
    assert render_address(build_socket_address(1, sockaddr_in6("::1", 8080))) == (
        "inet6:[::1]:8080"
    )


def test_bytes_that_are_not_an_address() -> None:
    # the header's size must be what follows it
    wrong_size = bytearray(build_socket_address(1, sockaddr_in("127.0.0.1", 80)))
    wrong_size[4] += 1
    assert render_address(bytes(wrong_size)) is None
    assert render_address(b"\0" * 118) is None  # SocketAddress new: 118 withAll: 0
    assert render_value(bytearray(118), namer) == "bytes[118] (zeros)"


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"", "bytes[0]"),
        (b"Hello, from Smalltalk!", "bytes[22] 'Hello, from Smalltalk!'"),
        (b"a\nb", "bytes[3] 'a\\nb'"),
        (b"\x7f\x00\x00\x01", "bytes[4] x:7f000001"),
        (b"x" * 40, "bytes[40] '" + "x" * 32 + "…'"),
        (b"echo" + bytes(60), "bytes[64] 'echo' + 60 zeros"),
        (b"ab\0", "bytes[3] x:616200"),  # a short run of zeros is data
    ],
)
def test_byte_data_is_length_and_preview(data: bytes, shown: str) -> None:
    assert render_bytes(data) == shown


def test_other_values() -> None:
    assert render_value(None, namer) == "ok"
    assert render_value(True, namer) == "true"
    assert render_value(3, namer) == "3"
    assert render_value(2, namer, primitive="primitiveSocketConnectionStatus") == "2 (Connected)"
    assert render_value("hello", namer) == "'hello'"
    assert render_value([0, 1], namer) == "(0 1)"
    assert render_value(memoryview(b"hi"), namer) == "bytes[2] 'hi'"


def test_arguments_take_the_first_as_a_handle_where_the_primitive_does() -> None:
    assert takes_handle_first("primitiveSocketConnectTo")
    assert not takes_handle_first("primitiveSocketCreate3Semaphores")
    assert not takes_handle_first("primitiveSocketAddressGetPort")
    assert not takes_handle_first("primitiveResolverGetAddressInfo")
    address = build_socket_address(1, sockaddr_un(b"/tmp/sp"))
    assert render_arguments("primitiveSocketConnectTo", (handle(0), address), namer) == [
        "socket(destroyed)",
        "unix:/tmp/sp",
    ]
