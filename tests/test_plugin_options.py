"""Socket options by name, and how sqSocketSetOptions turns their value Strings into ints.

Two rules exist. The 2013 plugin (the reference sqUnixSocket.c, profile
``opensmalltalk``) takes a value of at most sizeof(int) characters that
``strtol(.., 0)`` consumes entirely as a number: '1', '0x10', '017'. The 2012
plugin of Debian's squeak-vm (profile ``squeak-4.10``, the default) only takes a
single digit. Anything else goes to setsockopt verbatim.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
from plugin_support import Harness, Sock, fails

from sqsocket.errors import PrimitiveFailed
from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.options import (
    EXTENDED_OPTIONS,
    MAX_OPTION_NAME,
    MAX_OPTION_VALUE,
    SOCKET_OPTIONS,
    find_option,
    parse_option_value,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]

STRTOL = "pharo5-vm"  # the 2013 rule, the 32-byte name buffer, every later TCP option
SINGLE = "squeak-4.10"  # the 2012 rule


@pytest.fixture
def harness() -> Iterator[Harness]:
    with Harness.started(STRTOL) as h:
        yield h


@pytest.fixture
def old_harness() -> Iterator[Harness]:
    with Harness.started(SINGLE) as h:
        yield h


@pytest.fixture(params=[STRTOL, SINGLE])
def any_harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    with Harness.started(request.param) as h:
        yield h


def connected(h: Harness) -> Sock:
    client, _server, _listener = h.tcp_pair()
    return client


def reference_value(level: int, name: int, value: bytes, kind: int = socket.SOCK_STREAM) -> int:
    """What a plain socket reads back after setsockopt(value) (raises OSError if refused)."""
    with socket.socket(socket.AF_INET, kind) as reference:
        reference.setsockopt(level, name, value)
        return int(reference.getsockopt(level, name))


# -- both rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "level", "optname"),
    [
        ("TCP_NODELAY", socket.IPPROTO_TCP, socket.TCP_NODELAY),
        ("SO_KEEPALIVE", socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    ],
)
def test_set_and_get_a_flag(any_harness: Harness, option: str, level: int, optname: int) -> None:
    h = any_harness
    tcp = connected(h)
    assert h.p.primitiveSocketSetOptions(tcp.handle, option, "1") == [0, 1]
    assert h.p.primitiveSocketGetOptions(tcp.handle, option) == [0, 1]
    raw = h.pss(tcp).sock
    assert raw is not None and raw.getsockopt(level, optname) == 1
    assert h.p.primitiveSocketSetOptions(tcp.handle, option, "0") == [0, 0]
    assert h.p.primitiveSocketGetOptions(tcp.handle, option) == [0, 0]


def test_a_five_character_value_is_passed_verbatim(any_harness: Harness) -> None:
    """'12345' is no number under either rule: its 5 bytes go to setsockopt as they are."""
    tcp = connected(any_harness)
    assert any_harness.p.primitiveSocketSetOptions(tcp.handle, "SO_RCVBUF", "12345") == [0, 0]
    expected = reference_value(socket.SOL_SOCKET, socket.SO_RCVBUF, b"12345")
    assert any_harness.p.primitiveSocketGetOptions(tcp.handle, "SO_RCVBUF") == [0, expected]


def test_four_raw_bytes_are_an_int_for_the_kernel(any_harness: Harness) -> None:
    udp = any_harness.create(NetDomain.INET4, SocketType.UDP)
    ttl_bytes = struct.pack("i", 33)  # not a number for strtol
    assert any_harness.p.primitiveSocketSetOptions(udp.handle, "IP_TTL", ttl_bytes) == [0, 0]
    assert any_harness.p.primitiveSocketGetOptions(udp.handle, "IP_TTL") == [0, 33]


def test_tcp_options_refuse_fewer_than_four_verbatim_bytes(any_harness: Harness) -> None:
    tcp = any_harness.create(NetDomain.INET4, SocketType.TCP)
    fails(any_harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", "abc")
    fails(any_harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", "1\0")


def test_a_value_over_31_bytes_fails(any_harness: Harness) -> None:
    assert MAX_OPTION_VALUE == 31
    tcp = any_harness.create(NetDomain.INET4, SocketType.TCP)
    fails(any_harness.p.primitiveSocketSetOptions, tcp.handle, "SO_RCVBUF", "9" * 32)


@pytest.mark.parametrize("name", ["SO_NOSUCHOPTION", "TCP_NODELAYX", "", "so_keepalive"])
def test_unknown_option_fails(any_harness: Harness, name: str) -> None:
    tcp = any_harness.create(NetDomain.INET4, SocketType.TCP)
    fails(any_harness.p.primitiveSocketSetOptions, tcp.handle, name, "1")
    fails(any_harness.p.primitiveSocketGetOptions, tcp.handle, name)


def test_the_name_is_a_c_string_of_at_most_31_bytes(any_harness: Harness) -> None:
    assert MAX_OPTION_NAME == 31
    tcp = any_harness.create(NetDomain.INET4, SocketType.TCP)
    padded = "TCP_NODELAY" + "\0" * 19  # 30 bytes: strcmp stops at the NUL
    assert any_harness.p.primitiveSocketSetOptions(tcp.handle, padded, "1") == [0, 1]
    too_long = "TCP_NODELAY" + "\0" * 21  # 32 bytes: findOption gives up
    fails(any_harness.p.primitiveSocketGetOptions, tcp.handle, too_long)


def test_linger_after_connect_and_its_truncated_get(harness: Harness) -> None:
    """Connected streams get SO_LINGER {1, 1}; getsockopt with an int's room answers l_onoff."""
    tcp = connected(harness)
    raw = harness.pss(tcp).sock
    assert raw is not None
    assert struct.unpack("ii", raw.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)) == (1, 1)
    if len(raw.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 4)) != 4:
        fails(harness.p.primitiveSocketGetOptions, tcp.handle, "SO_LINGER")
    else:
        assert harness.p.primitiveSocketGetOptions(tcp.handle, "SO_LINGER") == [0, 1]


def test_options_on_a_closed_socket_fail(harness: Harness) -> None:
    tcp = connected(harness)
    harness.p.primitiveSocketCloseConnection(tcp.handle)
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", "1")
    fails(harness.p.primitiveSocketGetOptions, tcp.handle, "TCP_NODELAY")


def test_option_arguments_must_be_byte_objects(harness: Harness) -> None:
    tcp = harness.create(NetDomain.INET4, SocketType.TCP)
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, 1, "1")
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", 1)
    fails(harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", True)
    fails(harness.p.primitiveSocketGetOptions, tcp.handle, None)
    fails(harness.p.primitiveSocketGetOptions, bytearray(16), "TCP_NODELAY")


def test_every_known_option_can_be_read_or_fails_cleanly(harness: Harness) -> None:
    sockets = [
        harness.create(NetDomain.INET4, SocketType.TCP),
        harness.create(NetDomain.INET4, SocketType.UDP),
    ]
    readable = 0
    for opt in SOCKET_OPTIONS:
        for s in sockets:
            try:
                answer = harness.p.primitiveSocketGetOptions(s.handle, opt.name)
            except PrimitiveFailed as exc:
                assert exc.primitive == "primitiveSocketGetOptions"
            else:
                assert answer[0] == 0 and isinstance(answer[1], int)
                readable += 1
    assert readable >= len(SOCKET_OPTIONS)


# -- the 2013 rule: strtol of up to sizeof(int) characters -------------------------------------


def test_set_and_get_the_receive_buffer(harness: Harness) -> None:
    tcp = connected(harness)
    assert harness.p.primitiveSocketSetOptions(tcp.handle, "SO_RCVBUF", "8192") == [0, 8192]
    expected = reference_value(socket.SOL_SOCKET, socket.SO_RCVBUF, struct.pack("i", 8192))
    assert harness.p.primitiveSocketGetOptions(tcp.handle, "SO_RCVBUF") == [0, expected]


@pytest.mark.parametrize(
    ("value", "ttl"),
    [("1", 1), ("0x10", 16), ("017", 15), ("64", 64), (" 9", 9), ("+7", 7), ("0xff", 255)],
)
def test_strtol_rule_for_short_numeric_values(harness: Harness, value: str, ttl: int) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    assert harness.p.primitiveSocketSetOptions(udp.handle, "IP_TTL", value) == [0, ttl]
    assert harness.p.primitiveSocketGetOptions(udp.handle, "IP_TTL") == [0, ttl]


def test_strtol_rule_zero_is_a_number_the_kernel_may_refuse(harness: Harness) -> None:
    udp = harness.create(NetDomain.INET4, SocketType.UDP)
    fails(harness.p.primitiveSocketSetOptions, udp.handle, "IP_TTL", "0")  # TTL 0: EINVAL
    tcp = harness.create(NetDomain.INET4, SocketType.TCP)
    assert harness.p.primitiveSocketSetOptions(tcp.handle, "TCP_NODELAY", "00") == [0, 0]


def test_strtol_rule_an_empty_value_is_zero(harness: Harness) -> None:
    tcp = harness.create(NetDomain.INET4, SocketType.TCP)
    harness.p.primitiveSocketSetOptions(tcp.handle, "TCP_NODELAY", "1")
    assert harness.p.primitiveSocketSetOptions(tcp.handle, "TCP_NODELAY", "") == [0, 0]
    assert harness.p.primitiveSocketGetOptions(tcp.handle, "TCP_NODELAY") == [0, 0]


def test_strtol_rule_knows_the_later_tcp_options(harness: Harness) -> None:
    tcp = harness.create(NetDomain.INET4, SocketType.TCP)
    for name in sorted(EXTENDED_OPTIONS):
        if find_option(name.encode()) is not None:
            assert harness.p.primitiveSocketGetOptions(tcp.handle, name)[0] == 0


# -- the 2012 rule: one digit ------------------------------------------------------------------


def test_single_character_rule_takes_one_digit(old_harness: Harness) -> None:
    udp = old_harness.create(NetDomain.INET4, SocketType.UDP)
    assert old_harness.p.primitiveSocketSetOptions(udp.handle, "IP_TTL", "7") == [0, 7]
    assert old_harness.p.primitiveSocketGetOptions(udp.handle, "IP_TTL") == [0, 7]


@pytest.mark.parametrize("value", [b"64", b"0x10", b"017", b"a", b""])
def test_single_character_rule_passes_anything_else_verbatim(
    old_harness: Harness, value: bytes
) -> None:
    udp = old_harness.create(NetDomain.INET4, SocketType.UDP)
    try:
        expected = reference_value(socket.IPPROTO_IP, socket.IP_TTL, value, socket.SOCK_DGRAM)
    except OSError:
        fails(old_harness.p.primitiveSocketSetOptions, udp.handle, "IP_TTL", value)
        return
    assert old_harness.p.primitiveSocketSetOptions(udp.handle, "IP_TTL", value) == [0, 0]
    assert old_harness.p.primitiveSocketGetOptions(udp.handle, "IP_TTL") == [0, expected]


def test_single_character_rule_an_empty_value_is_refused(old_harness: Harness) -> None:
    tcp = old_harness.create(NetDomain.INET4, SocketType.TCP)
    fails(old_harness.p.primitiveSocketSetOptions, tcp.handle, "TCP_NODELAY", "")


def test_the_2012_plugin_does_not_know_the_later_tcp_options(old_harness: Harness) -> None:
    tcp = old_harness.create(NetDomain.INET4, SocketType.TCP)
    for name in sorted(EXTENDED_OPTIONS):
        fails(old_harness.p.primitiveSocketGetOptions, tcp.handle, name)
        fails(old_harness.p.primitiveSocketSetOptions, tcp.handle, name, "1")


# -- the parser itself ---------------------------------------------------------------------------


def test_option_table_and_parser_units() -> None:
    assert find_option(b"TCP_NODELAY") is not None
    assert find_option(b"TCP_NODELAY\0trailing") is not None
    assert find_option(b"X" * 32) is None
    assert find_option(b"TCP_CORK", cork=False) is None
    assert find_option(b"TCP_KEEPIDLE", keepalive=False) is None
    assert find_option(b"TCP_KEEPIDLE", cork=False) is not None
    # strncmp over the whole name (OpenSmalltalk since 3f129f281): no NUL trick
    assert find_option(b"TCP_NODELAY\0trailing", name_buffer=False) is None
    assert find_option(b"TCP_NODELAY", name_buffer=False) is not None
    assert parse_option_value(b"0x10") == (struct.pack("<i", 16), 16)
    assert parse_option_value(b"-1") == (struct.pack("<i", -1), -1)
    assert parse_option_value(b"08") == (b"08", 0), "8 is no octal digit"
    assert parse_option_value(b"0x") == (b"0x", 0)
    assert parse_option_value(b"+") == (b"+", 0)
    assert parse_option_value(b"12345") == (b"12345", 0)
    assert parse_option_value(b"") == (struct.pack("<i", 0), 0)
    assert parse_option_value(b"7", single_character=True) == (struct.pack("<i", 7), 7)
    assert parse_option_value(b"17", single_character=True) == (b"17", 0)
    assert parse_option_value(b"x", single_character=True) == (b"x", 0)
