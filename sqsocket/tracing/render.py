"""How a trace spells the values primitives take and answer.

The VM passes byte objects and SmallIntegers; a trace that printed them raw would
be a wall of hex. So a value is rendered by what it is to the SocketPlugin:

* a socket handle (the 16-byte ``SQSocket``: session, type, privateSocketPtr) is
  ``socket#N``, N numbered per trace in the order sockets are born;
* a socket address (8-byte header ``{session, size}`` + ``struct sockaddr``) is
  ``unix:/path``, ``unix:@name`` for a Linux abstract name (with the NUL padding the
  plugin's full-length ``sockaddr_un`` carries spelled out), ``inet4:127.0.0.1:80``
  or ``inet6:[::1]:80``;
* other byte data is its length and an abbreviated preview: text in quotes when it
  is printable, hex otherwise, ``(zeros)`` for a fresh buffer.

Nothing here calls the plugin: the bytes are decoded as the C code lays them out
(:mod:`sqsocket.platform.layouts`).
"""

from __future__ import annotations

import socket
import string
import struct
from collections.abc import Callable
from typing import Any

from sqsocket.platform.constants import SUN_PATH_SIZE, SocketStatus
from sqsocket.platform.layouts import (
    ADDRESS_HEADER_SIZE,
    HANDLE_STRUCT,
    HEADER_STRUCT,
    SOCKET_HANDLE_SIZE,
)

#: At most this many bytes of data are shown; the rest is an ellipsis.
PREVIEW_BYTES = 32
#: Trailing zero bytes are summed up ("+ N zeros") from this many on.
_ZERO_RUN = 4
#: A Python str argument (a ByteString) longer than this is abbreviated too.
PREVIEW_CHARS = 48

_SA_FAMILY = struct.Struct("=H")
_PORT = struct.Struct(">H")
_PRINTABLE = frozenset(string.printable.encode()) - frozenset(b"\x0b\x0c")

#: Answers the trace spells with the value's meaning, by primitive.
_STATUS_PRIMITIVES = frozenset({"primitiveSocketConnectionStatus"})

SocketNamer = Callable[[int], str | None]
"""Maps a privateSocketPtr to its ``socket#N`` label (None: not a socket the trace saw)."""


def status_name(status: SocketStatus | int | None) -> str:
    """``Socket>>statusString`` spelling: WAITING_FOR_CONNECTION → WaitingForConnection."""
    if status is None:
        return "new"
    try:
        member = SocketStatus(status)
    except ValueError:
        return str(int(status))
    return "".join(part.capitalize() for part in member.name.split("_"))


def handle_pointer(value: object) -> int | None:
    """The privateSocketPtr of a 16-byte socket handle (None for anything else)."""
    if isinstance(value, bytes | bytearray) and len(value) == SOCKET_HANDLE_SIZE:
        return int(HANDLE_STRUCT.unpack(value)[2])
    return None


def _abbreviate(data: bytes, limit: int = PREVIEW_BYTES) -> str:
    shown = data[:limit]
    more = "…" if len(data) > limit else ""
    if shown and all(b in _PRINTABLE for b in shown):
        text = shown.decode("ascii").encode("unicode_escape").decode("ascii").replace("'", "\\'")
        return f"'{text}{more}'"
    return f"x:{shown.hex()}{more}"


def render_bytes(data: bytes) -> str:
    """Byte data: ``bytes[N]`` and a preview (``(zeros)`` for an all-zero buffer)."""
    if not data:
        return "bytes[0]"
    if not any(data):
        return f"bytes[{len(data)}] (zeros)"
    # a buffer a receive filled in part: the data, then how much of it is still zero
    body = data.rstrip(b"\0")
    zeros = len(data) - len(body)
    rest = f" + {zeros} zeros" if zeros >= _ZERO_RUN else ""
    return f"bytes[{len(data)}] {_abbreviate(body if rest else data)}{rest}"


def _render_unix(sun_path: bytes) -> str:
    if sun_path.startswith(b"\0"):
        # an abstract name is every byte up to the length; trailing NULs are part of it
        name = sun_path[1:]
        stripped = name.rstrip(b"\0")
        padding = len(name) - len(stripped)
        shown = stripped.decode("utf-8", "backslashreplace")
        if padding:
            total = len(sun_path)
            full = " = all of sun_path" if total == SUN_PATH_SIZE else ""
            return f"unix:@{shown} (+{padding} NULs{full})"
        return f"unix:@{shown}"
    path = sun_path.split(b"\0", 1)[0]
    return "unix:" + path.decode("utf-8", "backslashreplace")


def render_sockaddr(sockaddr: bytes) -> str | None:
    """A raw ``struct sockaddr`` as ``unix:…``/``inet4:…``/``inet6:…`` (None: not one)."""
    if len(sockaddr) < _SA_FAMILY.size:
        return None
    family = _SA_FAMILY.unpack_from(sockaddr)[0]
    if family == socket.AF_UNIX:
        return _render_unix(sockaddr[2:])
    if family == socket.AF_INET and len(sockaddr) >= 8:
        port = _PORT.unpack_from(sockaddr, 2)[0]
        return f"inet4:{socket.inet_ntoa(sockaddr[4:8])}:{port}"
    if family == socket.AF_INET6 and len(sockaddr) >= 24:
        port = _PORT.unpack_from(sockaddr, 2)[0]
        host = socket.inet_ntop(socket.AF_INET6, sockaddr[8:24])
        return f"inet6:[{host}]:{port}"
    return None


def render_address(data: bytes) -> str | None:
    """A socket address (header + sockaddr) decoded, or None if the bytes are not one."""
    if len(data) <= ADDRESS_HEADER_SIZE:
        return None
    _session, size = HEADER_STRUCT.unpack_from(data)
    if size != len(data) - ADDRESS_HEADER_SIZE:
        return None
    return render_sockaddr(data[ADDRESS_HEADER_SIZE:])


def takes_handle_first(primitive: str) -> bool:
    """Does the primitive's first argument name a socket (``primSocket...: socketID``)?"""
    return primitive.startswith("primitiveSocket") and not primitive.startswith(
        ("primitiveSocketAddress", "primitiveSocketCreate")
    )


def render_handle(data: bytes, namer: SocketNamer) -> str:
    """``socket#N`` for a socket the trace saw born, else what the handle holds."""
    session, _type, ptr = HANDLE_STRUCT.unpack(data)
    if ptr == 0:
        return "socket(destroyed)"
    label = namer(ptr)
    if label is not None:
        return label
    return f"socket(session {session}, ptr {ptr})"


def render_value(
    value: Any, namer: SocketNamer, *, handle: bool = False, primitive: str = ""
) -> str:
    """One argument or answer, readably. ``handle``: the value is in a socket's place."""
    if value is None:
        return "ok"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if primitive in _STATUS_PRIMITIVES:
            return f"{value} ({status_name(value)})"
        return str(value)
    if isinstance(value, str):
        more = "…" if len(value) > PREVIEW_CHARS else ""
        return repr(value[:PREVIEW_CHARS]) + more
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        ptr = handle_pointer(data)
        if ptr is not None and (handle or (ptr and namer(ptr) is not None)):
            return render_handle(data, namer)
        address = render_address(data)
        if address is not None:
            return address
        return render_bytes(data)
    if isinstance(value, list | tuple):
        return "(" + " ".join(render_value(v, namer) for v in value) + ")"
    return f"a {type(value).__name__}"


def render_arguments(primitive: str, args: tuple[Any, ...], namer: SocketNamer) -> list[str]:
    """Every argument of a call, the first as a handle where the primitive takes one."""
    first_is_handle = takes_handle_first(primitive)
    return [
        render_value(arg, namer, handle=(i == 0 and first_is_handle)) for i, arg in enumerate(args)
    ]
