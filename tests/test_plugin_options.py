"""Socket options by name, and sqSocketSetOptions's strtol rule for their values."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
from plugin_support import INET4, TCP, UDP, Harness, Sock, fails, fd_leak_guard

from sqsocket.platform.options import (
    MAX_OPTION_NAME,
    MAX_OPTION_VALUE,
    SOCKET_OPTIONS,
    find_option,
    parse_option_value,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module", autouse=True)
def _no_leaked_fds() -> Iterator[None]:
    yield from fd_leak_guard()


@pytest.fixture
def harness() -> Iterator[Harness]:
    with Harness.started() as h:
        yield h


@pytest.fixture
def tcp(harness: Harness) -> Sock:
    client, _server, _listener = harness.tcp_pair()
    return client


def kernel_view(s: Harness, sock: Sock, level: int, name: int) -> int:
    raw = s.pss(sock).sock
    assert raw is not None
    return int(raw.getsockopt(level, name))


@pytest.mark.parametrize(
    ("option", "level", "optname"),
    [
        ("TCP_NODELAY", socket.IPPROTO_TCP, socket.TCP_NODELAY),
        ("SO_KEEPALIVE", socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    ],
)
def test_set_and_get_a_flag(
    harness: Harness, tcp: Sock, option: str, level: int, optname: int
) -> None:
    assert harness.p.primitiveSocketSetOptions(tcp.handle, option, "1") == [0, 1]
    assert harness.p.primitiveSocketGetOptions(tcp.handle, option) == [0, 1]
    assert kernel_view(harness, tcp, level, optname) == 1
    assert harness.p.primitiveSocketSetOptions(tcp.handle, option, "0") == [0, 0]
    assert harness.p.primitiveSocketGetOptions(tcp.handle, option) == [0, 0]


def test_set_and_get_the_receive_buffer(harness: Harness, tcp: Sock) -> None:
    assert harness.p.primitiveSocketSetOptions(tcp.handle, "SO_RCVBUF", "8192") == [0, 8192]
    with socket.socket() as reference:
        reference.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        expected = reference.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    assert harness.p.primitiveSocketGetOptions(tcp.handle, "SO_RCVBUF") == [0, expected]


@pytest.mark.parametrize(
    ("value", "ttl"),
    [("1", 1), ("0x10", 16), ("017", 15), ("64", 64), (" 9", 9), ("+7", 7), ("0", 0)],
)
def test_strtol_rule_for_short_numeric_values(
    harness: Harness, value: str, ttl: int
) -> None:
    udp = harness.create(INET4, UDP)
    if ttl == 0:
        # IP_TTL 0 is refused by Linux: the value still parses as the integer 0
        fails(harness.p.primitiveSocketSetOptions, udp.handle, "IP_TTL", value)
        return
    assert harness.p.primitiveSocketSetOptions(udp.handle, "IP_TTL", value) == [0, ttl]
    assert harness.p.primitiveSocketGetOptions(udp.handle, "IP_TTL") == [0, ttl]


def test_a_five_character_value_is_passed_verbatim(harness: Harness, tcp: Sock) -> None:
    """'12345' is longer than sizeof(int): its bytes go to setsockopt as they are."""
    assert harness.p.primitiveSocketSetOptions(tcp.handle, "SO_RCVBUF", "12345") == [0, 0]
    with socket.socket() as reference:
        reference.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, b"12345")
        expected = reference.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    assert harness.p.primitiveSocketGetOptions(tcp.handle, "SO_RCVBUF") == [0, expected]


def test_a_value_strtol_does_not_consume_is_passed_verbatim(harness: Harness) -> None:
    udp = harness.create(INET4, UDP)
    # four raw bytes: an int for the kernel, "not a number" for strtol
    ttl_bytes = struct.pack("i", 33)
    assert harness.p.primitiveSocketSetOptions(udp.handle, "IP_TTL", ttl_bytes) == [0, 0]
    assert harness.p.primitiveSocketGetOptions(udp.handle, "IP_TTL") == [0, 33]
    # 'abc' and '1<NUL>' go verbatim too: what the kernel makes of 3 and 2 bytes is
    # its business (IP options take a lone char), so compare with a plain socket
    for value in (b"abc", b"1\0"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as reference:
            try:
                reference.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, value)
            except OSError:
                fails(harness.p.primitiveSocketSetOptions, udp.handle, "IP_TTL", value)
                continue
            expected = reference.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)
        assert harness.p.primitiveSocketSetOptions(udp.handle, "IP_TTL", value) == [0, 0]
        assert harness.p.primitiveSocketGetOptions(udp.handle, "IP_TTL") == [0, expected]
    # TCP options want a whole int: three bytes are refused
    tcp = harness.create(INET4, TCP)
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", "abc")


def test_an_empty_value_is_zero(harness: Harness, tcp: Sock) -> None:
    harness.p.primitiveSocketSetOptions(tcp.handle, "TCP_NODELAY", "1")
    assert harness.p.primitiveSocketSetOptions(tcp.handle, "TCP_NODELAY", "") == [0, 0]
    assert harness.p.primitiveSocketGetOptions(tcp.handle, "TCP_NODELAY") == [0, 0]


def test_a_value_over_31_bytes_fails(harness: Harness, tcp: Sock) -> None:
    assert MAX_OPTION_VALUE == 31
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, "SO_RCVBUF", "9" * 32)


@pytest.mark.parametrize("name", ["SO_NOSUCHOPTION", "TCP_NODELAYX", "", "so_keepalive"])
def test_unknown_option_fails(harness: Harness, tcp: Sock, name: str) -> None:
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, name, "1")
    fails(harness.p.primitiveSocketGetOptions, tcp.handle, name)


def test_the_name_is_a_c_string_of_at_most_31_bytes(harness: Harness, tcp: Sock) -> None:
    assert MAX_OPTION_NAME == 31
    padded = "TCP_NODELAY" + "\0" * 19  # 30 bytes: strcmp stops at the NUL
    assert harness.p.primitiveSocketSetOptions(tcp.handle, padded, "1") == [0, 1]
    too_long = "TCP_NODELAY" + "\0" * 21  # 32 bytes: findOption gives up
    fails(harness.p.primitiveSocketGetOptions, tcp.handle, too_long)


def test_linger_after_connect_and_its_truncated_get(harness: Harness, tcp: Sock) -> None:
    """Connected streams get SO_LINGER {1, 1}; getsockopt with an int's room answers l_onoff."""
    raw = harness.pss(tcp).sock
    assert raw is not None
    assert struct.unpack("ii", raw.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)) == (1, 1)
    truncated = raw.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 4)
    if len(truncated) != 4:
        fails(harness.p.primitiveSocketGetOptions, tcp.handle, "SO_LINGER")
    else:
        assert harness.p.primitiveSocketGetOptions(tcp.handle, "SO_LINGER") == [0, 1]


def test_options_on_a_closed_socket_fail(harness: Harness, tcp: Sock) -> None:
    harness.p.primitiveSocketCloseConnection(tcp.handle)
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", "1")
    fails(harness.p.primitiveSocketGetOptions, tcp.handle, "TCP_NODELAY")


def test_option_arguments_must_be_byte_objects(harness: Harness, tcp: Sock) -> None:
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, 1, "1")
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", 1)
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", True)
    fails(harness.p.primitiveSocketGetOptions, tcp.handle, None)
    fails(harness.p.primitiveSocketGetOptions, bytearray(16), "TCP_NODELAY")


def test_every_known_option_can_be_read_or_fails_cleanly(harness: Harness) -> None:
    sockets = {TCP: harness.create(INET4, TCP), UDP: harness.create(INET4, UDP)}
    readable = 0
    for opt in SOCKET_OPTIONS:
        for s in sockets.values():
            try:
                answer = harness.p.primitiveSocketGetOptions(s.handle, opt.name)
            except Exception as exc:  # only PrimitiveFailed may escape
                assert type(exc).__name__ == "PrimitiveFailed", exc
            else:
                assert answer[0] == 0 and isinstance(answer[1], int)
                readable += 1
    assert readable >= len(SOCKET_OPTIONS)


def test_option_table_and_parser_units() -> None:
    assert find_option(b"TCP_NODELAY") is not None
    assert find_option(b"TCP_NODELAY\0trailing") is not None
    assert find_option(b"X" * 32) is None
    assert parse_option_value(b"0x10") == (struct.pack("<i", 16), 16)
    assert parse_option_value(b"-1") == (struct.pack("<i", -1), -1)
    assert parse_option_value(b"08") == (b"08", 0), "8 is no octal digit"
    assert parse_option_value(b"0x") == (b"0x", 0)
    assert parse_option_value(b"+") == (b"+", 0)
    assert parse_option_value(b"12345") == (b"12345", 0)
    assert parse_option_value(b"") == (struct.pack("<i", 0), 0)
