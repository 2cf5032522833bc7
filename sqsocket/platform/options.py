"""The socket options the Unix plugin knows by name (``socketOptions[]`` in sqUnixSocket.c).

Only integer-valued, portable options are there, by design ("This decision is
unilateral and non-negotiable. - ikp"). An unknown name makes the primitive fail.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

SOL_IP = getattr(socket, "SOL_IP", socket.IPPROTO_IP)
SOL_TCP = getattr(socket, "SOL_TCP", socket.IPPROTO_TCP)


@dataclass(frozen=True)
class SocketOption:
    name: str  # as the image spells it
    level: int
    optname: int
    #: the profile flag (sqsocket.platform.profiles.Profile) that puts it in
    #: socketOptions[]; None: every build has it
    flag: str | None = None


def _table() -> tuple[SocketOption, ...]:
    names: list[tuple[str, int, str]] = [
        ("SO_DEBUG", socket.SOL_SOCKET, "SO_DEBUG"),
        ("SO_REUSEADDR", socket.SOL_SOCKET, "SO_REUSEADDR"),
        ("SO_DONTROUTE", socket.SOL_SOCKET, "SO_DONTROUTE"),
        ("SO_BROADCAST", socket.SOL_SOCKET, "SO_BROADCAST"),
        ("SO_SNDBUF", socket.SOL_SOCKET, "SO_SNDBUF"),
        ("SO_RCVBUF", socket.SOL_SOCKET, "SO_RCVBUF"),
        ("SO_KEEPALIVE", socket.SOL_SOCKET, "SO_KEEPALIVE"),
        ("SO_OOBINLINE", socket.SOL_SOCKET, "SO_OOBINLINE"),
        ("SO_LINGER", socket.SOL_SOCKET, "SO_LINGER"),
        ("IP_TTL", SOL_IP, "IP_TTL"),
        ("IP_HDRINCL", SOL_IP, "IP_HDRINCL"),
        ("IP_MULTICAST_IF", SOL_IP, "IP_MULTICAST_IF"),
        ("IP_MULTICAST_TTL", SOL_IP, "IP_MULTICAST_TTL"),
        ("IP_MULTICAST_LOOP", SOL_IP, "IP_MULTICAST_LOOP"),
        ("IP_ADD_MEMBERSHIP", SOL_IP, "IP_ADD_MEMBERSHIP"),
        ("IP_DROP_MEMBERSHIP", SOL_IP, "IP_DROP_MEMBERSHIP"),
        ("TCP_MAXSEG", SOL_TCP, "TCP_MAXSEG"),
        ("TCP_NODELAY", SOL_TCP, "TCP_NODELAY"),
        ("TCP_CORK", SOL_TCP, "TCP_CORK"),
        ("SO_REUSEPORT", socket.SOL_SOCKET, "SO_REUSEPORT"),
        ("TCP_KEEPIDLE", SOL_TCP, "TCP_KEEPIDLE"),
        ("TCP_KEEPINTVL", SOL_TCP, "TCP_KEEPINTVL"),
        ("TCP_KEEPCNT", SOL_TCP, "TCP_KEEPCNT"),
    ]
    # Like the C table's #ifdefs: an option this platform lacks is simply not there.
    return tuple(
        SocketOption(name, level, getattr(socket, const), _ADDED_BY.get(name))
        for name, level, const in names
        if hasattr(socket, const)
    )


# Added to socketOptions[] after the 2012 plugin (squeak-4.10 knows neither): TCP_CORK
# by Cog in 2012 (every later build), the keepalive tuning by pharo5-vm's own 2017
# patch (7db951663), which neither OpenSmalltalk nor pharo-vm has.
CORK_OPTIONS = frozenset({"TCP_CORK"})
KEEPALIVE_OPTIONS = frozenset({"TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"})
EXTENDED_OPTIONS = CORK_OPTIONS | KEEPALIVE_OPTIONS
_ADDED_BY = {
    **{name: "tcp_cork_option" for name in CORK_OPTIONS},
    **{name: "tcp_keepalive_options" for name in KEEPALIVE_OPTIONS},
}

SOCKET_OPTIONS: tuple[SocketOption, ...] = _table()
_BY_NAME = {opt.name: opt for opt in SOCKET_OPTIONS}

# findOption copies the name into a 32-byte buffer: names of 32 bytes or more never match.
MAX_OPTION_NAME = 31
# setOptions copies the value into a 32-byte buffer: longer values fail.
MAX_OPTION_VALUE = 31


def find_option(
    name: bytes, cork: bool = True, keepalive: bool = True, name_buffer: bool = True
) -> SocketOption | None:
    """``findOption``: the option of that name in this build's ``socketOptions[]``.

    ``cork``/``keepalive``: whether the table has TCP_CORK and the keepalive options.
    ``name_buffer``: the name is copied into a 32-byte buffer first, so it is a C string
    (it stops at a NUL) of at most 31 bytes. Without it (OpenSmalltalk since 3f129f281)
    the name is compared with ``strncmp`` over its whole length; a name with a NUL in it
    then reads past the option's own name, which C leaves undefined: here, no match.
    """
    if name_buffer:
        if len(name) > MAX_OPTION_NAME:
            return None
        text = name.split(b"\0", 1)[0].decode("latin-1")
    elif b"\0" in name:
        return None
    else:
        text = name.decode("latin-1")
    opt = _BY_NAME.get(text)
    if opt is None or (opt.name in CORK_OPTIONS and not cork):
        return None
    if opt.name in KEEPALIVE_OPTIONS and not keepalive:
        return None
    return opt


def parse_option_value(value: bytes, single_character: bool = False) -> tuple[bytes, int]:
    """Turn the image's option value (a String) into setsockopt's buffer.

    Since 2013 the plugin takes the value as an integer when it has at most
    ``sizeof(int)`` characters and ``strtol(buf, &end, 0)`` consumes all of them
    (so '1', '0x10', '-1', '017' are numbers, '12345' is not: too long). The 2012
    plugin (``single_character``) only tries a 1-character value ("character `1'
    or `0'"). Anything else goes to setsockopt verbatim, "assuming it's really a
    ByteArray pretending to be a struct". Answers (buffer, the value reported back).
    """
    if single_character:
        if len(value) == 1:
            parsed = _strtol_prefix(value)
            if parsed is not None:
                return parsed.to_bytes(4, "little", signed=True), parsed
        return bytes(value), 0
    if len(value) <= 4:
        parsed = _strtol_all(value)
        if parsed is not None:
            return parsed.to_bytes(4, "little", signed=True), parsed
    return bytes(value), 0


def _strtol_prefix(text: bytes) -> int | None:
    """``strtol`` of one character that must be a digit (endptr moved); None otherwise."""
    ch = text[:1].decode("latin-1")
    return int(ch) if ch.isdigit() and ch.isascii() else None


def _strtol_all(text: bytes) -> int | None:
    """``strtol(s, &end, 0)`` that must consume every byte; None otherwise."""
    if not text:
        return 0  # strtol("") consumes nothing, and nothing is all of it
    s = text.decode("latin-1")
    i = 0
    while i < len(s) and s[i] in " \t\n\v\f\r":
        i += 1
    sign = 1
    if i < len(s) and s[i] in "+-":
        sign = -1 if s[i] == "-" else 1
        i += 1
    body = s[i:]
    if body[:2].lower() == "0x" and len(body) > 2:
        base, digits = 16, body[2:]
    elif body.startswith("0") and len(body) > 1:
        base, digits = 8, body[1:]
    else:
        base, digits = 10, body
    allowed = "0123456789abcdefABCDEF"[: base if base <= 10 else 10 + (base - 10) * 2]
    if base == 8 and not digits:
        digits = "0"  # a lone "0"
    if not digits or any(ch not in allowed for ch in digits):
        return None
    number = int(digits, base)
    result = sign * number
    # C's int truncation of the long
    result &= 0xFFFFFFFF
    return result - (1 << 32) if result >= 1 << 31 else result
