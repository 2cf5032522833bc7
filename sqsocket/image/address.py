"""SocketAddress: the 2007 API's addresses, as the image holds them.

A :class:`SocketAddress` is a ByteArray the plugin filled in (``SocketAddress
new: size withAll: 0`` then ``primGetAddressInfoResult:``): an 8-byte native
header ``{int sessionID; int size}`` and the platform's raw ``struct sockaddr``.
The image treats it as opaque bytes and asks the plugin about it: its port
(``primitiveSocketAddressGetPort``/``SetPort``), its host and service names
(``primGetNameInfo:flags:``). It is a ``bytearray`` subclass because the plugin
writes into it, exactly as it writes into the ByteArray in the image.

Also what the image's classes share: the two dotted-decimal conversions
(``NetNameResolver addressFromString:`` / ``stringFromAddress:``) and the
``xxxSize`` / ``xxxResult:`` reading of a String the plugin answers.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any

from sqsocket.image.environment import Image
from sqsocket.image.exceptions import NetworkError
from sqsocket.platform.constants import SUN_PATH_SIZE, AddressFamily, NetDomain, SocketType
from sqsocket.platform.layouts import build_socket_address, sockaddr_un

__all__ = ["SocketAddress", "address_from_string", "string_from_address", "text_bytes"]

# The header the plugin puts in front of every sockaddr: {int sessionID; int size}.
_HEADER = struct.Struct("=ii")
HEADER_SIZE = _HEADER.size
# sa_family sits in the first two bytes of the sockaddr, in native order.
_SA_FAMILY = struct.Struct("=H")
# The platform's family numbers in the sockaddr (what the bytes say) as the 2007 API
# numbers them; the image would normally learn it from primGetAddressInfoFamily instead.
_FAMILY_OF_SA_FAMILY = {
    socket.AF_UNIX: AddressFamily.LOCAL,
    socket.AF_INET: AddressFamily.INET4,
    socket.AF_INET6: AddressFamily.INET6,
}
_SUN_PATH_SIZE = SUN_PATH_SIZE
_FAMILY_NAMES = ("unspecified", "local", "inet4", "inet6")


def address_from_string(text: str) -> bytes | None:
    """``addressFromString:``: ``'127.0.0.1'`` as 4 bytes, None if it is not dotted decimal."""
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
        return None
    values = [int(p) for p in parts]
    if any(v > 255 for v in values):
        return None
    return bytes(values)


def string_from_address(address: bytes | Any) -> str:
    """``stringFromAddress:``: 4 bytes in dotted decimal."""
    return ".".join(str(b) for b in bytes(address))


def read_sized(size: Callable[[], Any], result: Callable[[bytearray], Any]) -> str:
    """The ``xxxSize`` / ``String new: size`` / ``xxxResult:`` idiom: the String the
    plugin fills in, as text (surrogate escapes keep undecodable bytes)."""
    buf = bytearray(int(size()))
    result(buf)
    return buf.decode("utf-8", "surrogateescape")


def text_bytes(value: str | bytes) -> bytes:
    """A host, service or path as the String the image passes (UTF-8 for a Python str).

    Also what the file system sees of a path; surrogate escapes keep undecodable
    bytes as they were.
    """
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


class SocketAddress(bytearray):
    """``SocketAddress``: opaque header + sockaddr bytes, answered and understood by the plugin.

    ``image`` is the image whose plugin made the address (the default image when
    None); the name and port questions go to that image's plugin.
    """

    def __init__(self, source: Any = b"", image: Image | None = None) -> None:
        super().__init__(source)
        self.image = image

    # -- instance creation ------------------------------------------------------------

    @classmethod
    def new(cls, size: int, image: Image | None = None) -> SocketAddress:
        """``SocketAddress new: size withAll: 0``: a zeroed address for a Result primitive."""
        if size < 0:
            raise NetworkError(f"cannot make a socket address of {size} bytes")
        return cls(size, image)

    @classmethod
    def for_socket_path(
        cls, path: str | bytes, session: int, image: Image | None = None
    ) -> SocketAddress:
        """A LOCAL (Unix-domain) address for ``path``, built by the image itself.

        The resolver only answers a LOCAL address for a socket file that already
        exists, so a server that is to create the file builds its address: the
        8-byte header ``{session, 110}`` and a full ``sockaddr_un`` (family
        ``AF_UNIX``, the path NUL-padded to 108 bytes), 118 bytes in all -- the
        same bytes ``primGetAddressInfoResult:`` answers for an existing socket.
        ``session`` must be the plugin's current session (take it from a socket
        handle or from any address the plugin answered).
        """
        raw = text_bytes(path)
        if not raw or len(raw) >= _SUN_PATH_SIZE:
            raise NetworkError(
                f"a socket path must have 1 to {_SUN_PATH_SIZE - 1} bytes, not {len(raw)}: {path!r}"
            )
        return cls(build_socket_address(session, sockaddr_un(raw)), image)

    @classmethod
    def for_abstract_name(
        cls,
        name: str | bytes,
        session: int | None = None,
        *,
        tight: bool = False,
        image: Image | None = None,
    ) -> SocketAddress:
        """A LOCAL address for a Linux abstract name (``name`` without the ``@``/NUL).

        The resolver cannot answer one (it ``stat()``s a path), so the image builds it
        as it builds a path's (:meth:`for_socket_path`): the header ``{session, 110}``
        and a full ``sockaddr_un`` whose ``sun_path`` is a NUL, the name, then NULs to
        its 108 bytes. The plugin hands ``connect()``/``bind()`` the size the header
        says, and to Linux an abstract name is every byte up to that length: this
        address names ``@name`` *padded with NULs*, which only a server bound to the
        padded name answers (``sqsocket serve echo --abstract-padded NAME``); one bound
        to the tight name, as Python spells it, refuses (docs/quirks.md, 22).
        ``tight=True`` builds the short address instead (header size 3 + the name's
        length), which reaches the tight name.

        ``session`` defaults to the current one, read from a handle the plugin answers
        (a socket made and destroyed for the purpose), as the image would.
        """
        raw = text_bytes(name)
        if not raw or len(raw) > _SUN_PATH_SIZE - 1:
            raise NetworkError(
                f"an abstract name must have 1 to {_SUN_PATH_SIZE - 1} bytes, not {len(raw)}"
            )
        if session is None:
            session = cls._current_session(Image.resolve(image))
        sockaddr = sockaddr_un(b"\0" + raw, full=not tight)
        return cls(build_socket_address(session, sockaddr), image)

    @staticmethod
    def _current_session(image: Image) -> int:
        """The session in the first word of a handle the plugin answers (made, then destroyed)."""
        image.initialize_network()
        handle = image.plugin.primitiveSocketCreate3Semaphores(
            NetDomain.LOCAL, SocketType.TCP, 8000, 8000, 0, 0, 0
        )
        try:
            return int(_HEADER.unpack_from(handle)[0])
        finally:
            image.plugin.primitiveSocketDestroy(handle)

    # -- the bytes ----------------------------------------------------------------------

    def _image(self) -> Image:
        return Image.resolve(self.image)

    @property
    def session_id(self) -> int:
        """The network session the plugin stamped on the address (header word 1)."""
        if len(self) < HEADER_SIZE:
            return 0
        return int(_HEADER.unpack_from(self)[0])

    @property
    def sockaddr(self) -> bytes:
        """The platform's ``struct sockaddr`` after the header."""
        return bytes(self[HEADER_SIZE:])

    @property
    def family(self) -> int:
        """The address family as the 2007 API numbers it: 1 local, 2 inet4, 3 inet6, 0 other."""
        if len(self) < HEADER_SIZE + _SA_FAMILY.size:
            return 0
        sa_family = _SA_FAMILY.unpack_from(self, HEADER_SIZE)[0]
        return int(_FAMILY_OF_SA_FAMILY.get(sa_family, AddressFamily.UNSPECIFIED))

    @property
    def family_name(self) -> str:
        return _FAMILY_NAMES[self.family]

    @property
    def is_local(self) -> bool:
        return self.family == AddressFamily.LOCAL

    @property
    def path(self) -> str | None:
        """The socket path of a LOCAL address (``@name`` for an abstract one), else None."""
        if not self.is_local:
            return None
        sun_path = self.sockaddr[_SA_FAMILY.size :]
        if sun_path.startswith(b"\0"):
            # an abstract name: all the bytes the size gives count; NUL padding is not its
            return "@" + sun_path[1:].rstrip(b"\0").decode("utf-8", "backslashreplace")
        return sun_path.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    # -- what the plugin says about it -------------------------------------------------

    @property
    def port(self) -> int:
        """``port``: the port of an INET4/INET6 address (the primitive fails for others)."""
        return int(self._image().plugin.primitiveSocketAddressGetPort(self))

    @port.setter
    def port(self, value: int) -> None:
        """``port:``: the plugin rewrites the port in place."""
        self._image().plugin.primitiveSocketAddressSetPort(self, value)

    def _name_info(self, flags: int) -> tuple[str, str]:
        """``primGetNameInfo: self flags: flags`` and both results, under the resolver mutex."""
        image = self._image()
        with image.resolver_mutex:
            image.plugin.primitiveResolverGetNameInfo(self, flags)
            host = read_sized(
                image.plugin.primitiveResolverGetNameInfoHostSize,
                image.plugin.primitiveResolverGetNameInfoHostResult,
            )
            service = read_sized(
                image.plugin.primitiveResolverGetNameInfoServiceSize,
                image.plugin.primitiveResolverGetNameInfoServiceResult,
            )
        return host, service

    @property
    def host_number(self) -> str:
        """``hostNumber``: the numeric host (getnameinfo with NUMERIC)."""
        return self._name_info(1)[0]

    @property
    def host_name(self) -> str:
        """``hostName``: the host's name (getnameinfo; NI_NOFQDN)."""
        return self._name_info(0)[0]

    @property
    def service_number(self) -> str:
        """``serviceNumber``: the numeric service (for a LOCAL address: the path)."""
        return self._name_info(1)[1]

    @property
    def service_name(self) -> str:
        """``serviceName``: the service's name (for a LOCAL address: the path)."""
        return self._name_info(0)[1]

    # -- printing -------------------------------------------------------------------------

    def __str__(self) -> str:
        """A LOCAL address prints as its path, an INET one as ``127.0.0.1(localhost),8080``."""
        if self.is_local:
            return self.path or "(unnamed)"
        try:
            number, name = self.host_number, self.host_name
            return f"{number}({name}),{self.service_number}"
        except NetworkError:
            # a stale address (another network session) cannot be asked about
            return f"a SocketAddress({self.family_name}, {len(self)} bytes)"

    def __repr__(self) -> str:
        return f"SocketAddress({str(self)!r})"
