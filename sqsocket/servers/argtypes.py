"""argparse ``type=`` functions: every command-line value is checked where it is parsed.

Each function turns the text into the value the command needs or raises
``argparse.ArgumentTypeError`` with one line saying what is allowed, which
argparse turns into a usage error (exit status 2) -- never a traceback later,
and never a value that is accepted and then misbehaves (an infinite timeout
that overflows the loop's wait, a NaN that makes every wait zero, a port that
wraps around to another one).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
from collections.abc import Callable

from sqsocket.servers.address import (
    AbstractAddress,
    InetAddress,
    UnixAddress,
    abstract_supported,
    check_host,
    check_port,
    parse_address,
)
from sqsocket.servers.framing import Framing
from sqsocket.servers.paths import MAX_SUN_PATH

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_UID",
    "abstract_name",
    "framing",
    "hostname",
    "inet_address",
    "integer",
    "octal_mode",
    "port",
    "seconds",
    "uid",
    "unix_address",
    "unix_path",
    "utf8_text",
]

#: Largest uid: uid_t is 32 bits and (uid_t)-1 means "no uid".
MAX_UID = (1 << 32) - 2

#: Largest --message: a payload this size still fits every framing's default limit.
MAX_MESSAGE_BYTES = 1 << 20

Parse = Callable[[str], object]


def _fail(text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(text)


def unix_path(text: str) -> str:
    """A socket path that fits ``sun_path``: 1 to 107 bytes."""
    raw = os.fsencode(text)
    if not raw:
        raise _fail(f"give a socket path of 1 to {MAX_SUN_PATH} bytes")
    if len(raw) > MAX_SUN_PATH:
        raise _fail(
            f"a Unix-domain socket path may be at most {MAX_SUN_PATH} bytes; this one is {len(raw)}"
        )
    return text


def abstract_name(text: str) -> str:
    """An abstract-namespace name (a leading ``@`` is dropped): 1 to 107 bytes, Linux only."""
    if not abstract_supported():
        raise _fail("abstract socket names exist only on Linux")
    name = text.removeprefix("@")
    raw = name.encode("utf-8", "surrogateescape")
    if not raw:
        raise _fail(f"give an abstract name of 1 to {MAX_SUN_PATH} bytes")
    if len(raw) > MAX_SUN_PATH:
        raise _fail(f"an abstract name may be at most {MAX_SUN_PATH} bytes; this one is {len(raw)}")
    return name


def unix_address(text: str) -> UnixAddress | AbstractAddress:
    """``--unix PATH``: a socket path, or ``@NAME`` for an abstract name."""
    if text.startswith("@"):
        return AbstractAddress(abstract_name(text))
    return UnixAddress(unix_path(text))


def inet_address(scheme: str) -> Callable[[str], InetAddress]:
    """``[HOST:]PORT`` for ``--tcp`` / ``--udp``: an IP literal or localhost, a port 0..65535."""

    def parse(text: str) -> InetAddress:
        try:
            addr = parse_address(f"{scheme}:{text}")
        except ValueError as exc:
            raise _fail(f"{exc}; expected [HOST:]PORT, e.g. 127.0.0.1:5000 or [::1]:0") from None
        assert isinstance(addr, InetAddress)
        return addr

    parse.__name__ = f"{scheme} address"
    return parse


def hostname(text: str) -> str:
    """A host to connect to: an IP literal, ``localhost`` or a syntactically valid DNS name."""
    if text == "localhost":
        return text
    with contextlib.suppress(ValueError):
        return check_host(text)
    labels = text.removesuffix(".").split(".")
    ok = (
        0 < len(text) <= 253
        and all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", x) for x in labels)
        # an all-numeric last label is a mistyped address (1.2.3.999), not a name
        and not labels[-1].isdigit()
    )
    if not ok:
        raise _fail(
            f"bad host {text!r}: give an IP address or a host name (letters, digits, '-', '.')"
        )
    return text


def port(text: str) -> int:
    """A port to connect to: 1 to 65535."""
    try:
        value = check_port(text)
    except ValueError:
        value = 0
    if value == 0:
        raise _fail(f"bad port {text!r}: give a number from 1 to 65535")
    return value


def octal_mode(text: str) -> int:
    """File permission bits in octal, 0 to 777 (``660``, ``0660``, ``0o660``)."""
    digits = text.removeprefix("0o")
    if not re.fullmatch(r"[0-7]{1,4}", digits) or int(digits, 8) > 0o777:
        raise _fail(f"bad mode {text!r}: give octal permission bits from 0 to 777, e.g. 600")
    return int(digits, 8)


def integer(low: int, high: int) -> Callable[[str], int]:
    """An integer in ``[low, high]``, written in ASCII digits."""

    def parse(text: str) -> int:
        body = text[1:] if text[:1] == "-" else text
        if not (body.isascii() and body.isdigit()) or len(body) > 20:
            raise _fail(f"bad number {text!r}: give an integer from {low} to {high}")
        value = int(text)
        if not low <= value <= high:
            raise _fail(f"{value} is out of range: give an integer from {low} to {high}")
        return value

    parse.__name__ = "integer"
    return parse


def seconds(high: float) -> Callable[[str], float]:
    """A finite number of seconds greater than 0 and at most ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= high):
            raise _fail(
                f"bad duration {text!r}: give a number of seconds above 0 and at most {high:g}"
            )
        return value

    parse.__name__ = "seconds"
    return parse


def utf8_text(text: str) -> str:
    """Text that is valid UTF-8 (argv bytes that are not arrive as surrogates) and at most 1 MiB."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise _fail("not valid UTF-8: give the message as UTF-8 text") from None
    if size > MAX_MESSAGE_BYTES:
        raise _fail(f"the message is {size} bytes; at most {MAX_MESSAGE_BYTES} are allowed")
    return text


def uid(text: str) -> int:
    """A numeric user id, 0 to 4294967294 (names are not looked up)."""
    return integer(0, MAX_UID)(text)


def framing(text: str) -> Framing:
    """One of the :class:`~sqsocket.servers.framing.Framing` values."""
    try:
        return Framing(text)
    except ValueError:
        raise _fail(
            f"unknown framing {text!r}: choose from {', '.join(f.value for f in Framing)}"
        ) from None
