"""SocketAddress and SocketAddressInformation: the 2007 API's addresses, as the image holds them.

A :class:`SocketAddress` is a ByteArray the plugin filled in (``SocketAddress
new: size withAll: 0`` then ``primGetAddressInfoResult:``): an 8-byte native
header ``{int sessionID; int size}`` and the platform's raw ``struct sockaddr``.
The image treats it as opaque bytes and asks the plugin about it: its port
(``primitiveSocketAddressGetPort``/``SetPort``), its host and service names
(``primGetNameInfo:flags:``). It is a ``bytearray`` subclass because the plugin
writes into it, exactly as it writes into the ByteArray in the image.

A :class:`SocketAddressInformation` is one getaddrinfo answer: the address plus
its family, socket type and protocol, with ``connect`` and
``listen_with_backlog:`` to make a socket of the right kind for it.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from sqsocket.image.environment import Image
from sqsocket.image.exceptions import NetworkError
from sqsocket.platform.layouts import build_socket_address, sockaddr_un

if TYPE_CHECKING:
    from sqsocket.image.socket import Socket

__all__ = ["SocketAddress", "SocketAddressInformation"]

# The header the plugin puts in front of every sockaddr: {int sessionID; int size}.
_HEADER = struct.Struct("=ii")
HEADER_SIZE = _HEADER.size
# sa_family sits in the first two bytes of the sockaddr, in native order.
_SA_FAMILY = struct.Struct("=H")
# The family numbers of Linux's sockaddrs (sys/socket.h): what the bytes say. The
# image would normally learn the family from primGetAddressInfoFamily instead.
_LINUX_AF_UNIX = 1
_LINUX_AF_INET = 2
_LINUX_AF_INET6 = 10
_SUN_PATH_SIZE = 108


def _path_bytes(path: str | bytes) -> bytes:
    """A path as the bytes the file system sees (UTF-8 for a Python str)."""
    return path.encode("utf-8", "surrogateescape") if isinstance(path, str) else bytes(path)


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
        raw = _path_bytes(path)
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
        raw = _path_bytes(name)
        if not raw or len(raw) > _SUN_PATH_SIZE - 1:
            raise NetworkError(
                f"an abstract name must have 1 to {_SUN_PATH_SIZE - 1} bytes, not {len(raw)}"
            )
        if session is None:
            from sqsocket.image.socket import Socket  # Socket builds addresses with this class

            probe = Socket.new_ipc(image=image)
            try:
                session = probe.session_id
            finally:
                probe.destroy()
        sockaddr = sockaddr_un(b"\0" + raw, full=not tight)
        return cls(build_socket_address(session, sockaddr), image)

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
        return {_LINUX_AF_UNIX: 1, _LINUX_AF_INET: 2, _LINUX_AF_INET6: 3}.get(sa_family, 0)

    @property
    def family_name(self) -> str:
        return ("unspecified", "local", "inet4", "inet6")[self.family]

    @property
    def is_local(self) -> bool:
        return self.family == 1

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
            host = bytearray(image.plugin.primitiveResolverGetNameInfoHostSize())
            image.plugin.primitiveResolverGetNameInfoHostResult(host)
            service = bytearray(image.plugin.primitiveResolverGetNameInfoServiceSize())
            image.plugin.primitiveResolverGetNameInfoServiceResult(service)
        return (
            host.decode("utf-8", "surrogateescape"),
            service.decode("utf-8", "surrogateescape"),
        )

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


class SocketAddressInformation:
    """``SocketAddressInformation``: one getaddrinfo answer (address, family, type, protocol)."""

    NUMERIC_FLAG = 1
    PASSIVE_FLAG = 2
    ADDRESS_FAMILY_UNSPECIFIED = 0
    ADDRESS_FAMILY_LOCAL = 1
    ADDRESS_FAMILY_INET4 = 2
    ADDRESS_FAMILY_INET6 = 3
    SOCKET_TYPE_UNSPECIFIED = 0
    SOCKET_TYPE_STREAM = 1
    SOCKET_TYPE_DGRAM = 2
    PROTOCOL_UNSPECIFIED = 0
    PROTOCOL_TCP = 1
    PROTOCOL_UDP = 2

    def __init__(
        self,
        socket_address: SocketAddress,
        address_family: int,
        socket_type: int,
        protocol: int,
        image: Image | None = None,
    ) -> None:
        self.socket_address = socket_address
        self.address_family = address_family
        self.socket_type = socket_type
        self.protocol = protocol
        self.image = image if image is not None else socket_address.image

    @classmethod
    def for_host_service_flags_family_type_protocol(
        cls,
        host_name: str | bytes,
        service_name: str | bytes,
        flags: int = 0,
        family: int = 0,
        socket_type: int = 0,
        protocol: int = 0,
        *,
        image: Image | None = None,
    ) -> list[SocketAddressInformation]:
        """``forHost:service:flags:addressFamily:socketType:protocol:``: every answer, in order."""
        # NetNameResolver and SocketAddressInformation use each other, as in the image
        from sqsocket.image.resolver import NetNameResolver

        return NetNameResolver.address_info_for_host_service_flags_family_type_protocol(
            host_name, service_name, flags, family, socket_type, protocol, image=image
        )

    @property
    def address_family_name(self) -> str:
        return ("unspecified", "local", "inet4", "inet6")[self.address_family]

    @property
    def socket_type_name(self) -> str:
        return ("unspecified", "stream", "dgram")[self.socket_type]

    @property
    def protocol_name(self) -> str:
        return ("unspecified", "tcp", "udp")[self.protocol]

    def connect(self, timeout: float | None = None) -> Socket:
        """``connect``: a stream socket of this family, connected to the address.

        Waits up to ``timeout`` seconds (``Socket standardTimeout`` by default);
        raises ConnectionRefused or ConnectionTimedOut, destroying the socket.
        """
        from sqsocket.image.socket import Socket

        if self.socket_type not in (self.SOCKET_TYPE_STREAM, self.SOCKET_TYPE_UNSPECIFIED):
            raise NetworkError(f"cannot connect a {self.socket_type_name} socket: {self}")
        sock = Socket.new_tcp(self.address_family, image=self.image)
        try:
            sock.connect_to(self.socket_address, timeout=timeout)
        except BaseException:
            sock.destroy()
            raise
        return sock

    def listen_with_backlog(self, backlog: int) -> Socket:
        """``listenWithBacklog:``: a listening stream socket bound to the address."""
        from sqsocket.image.socket import Socket

        if self.socket_type not in (self.SOCKET_TYPE_STREAM, self.SOCKET_TYPE_UNSPECIFIED) or (
            self.protocol not in (self.PROTOCOL_TCP, self.PROTOCOL_UNSPECIFIED)
        ):
            raise NetworkError(f"cannot listen on {self}")
        sock = Socket.new_tcp(self.address_family, image=self.image)
        try:
            sock.bind_to(self.socket_address)
            sock.listen_with_backlog(backlog)
        except BaseException:
            sock.destroy()
            raise
        return sock

    def __str__(self) -> str:
        return (
            f"{self.socket_address}-{self.address_family_name}"
            f"-{self.socket_type_name}-{self.protocol_name}"
        )

    def __repr__(self) -> str:
        return f"SocketAddressInformation({str(self)!r})"
