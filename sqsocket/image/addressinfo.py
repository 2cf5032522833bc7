"""SocketAddressInformation: one getaddrinfo answer, and the lookup that answers them.

A :class:`SocketAddressInformation` is the address the plugin answered plus its
family, socket type and protocol, with ``connect`` and ``listen_with_backlog:`` to
make a socket of the right kind for it. The class side runs the 2007 lookup
(``forHost:service:flags:addressFamily:socketType:protocol:``): the getAddressInfo
primitive once, then Size/Family/Type/Protocol/Result/Next for each answer, all
under the resolver mutex because the plugin keeps the answer list between calls.

It sits above :mod:`~sqsocket.image.socket` (it makes sockets) and
:mod:`~sqsocket.image.resolverprims` (the primitives it calls), below
:mod:`~sqsocket.image.resolver` (``NetNameResolver addressesForName:`` asks it),
so the three modules import in one direction, although in Smalltalk
NetNameResolver and SocketAddressInformation call each other.
"""

from __future__ import annotations

from sqsocket.image.address import SocketAddress
from sqsocket.image.environment import Image
from sqsocket.image.exceptions import NetworkError
from sqsocket.image.resolverprims import ResolverPrimitives
from sqsocket.image.socket import Socket
from sqsocket.platform.constants import AddressProtocol, AddressType

__all__ = ["SocketAddressInformation"]


class SocketAddressInformation:
    """``SocketAddressInformation``: one getaddrinfo answer (address, family, type, protocol)."""

    # The class side's constants (addressFamilyLocal, socketTypeStream, ...) are the
    # enums of sqsocket.platform.constants: AddressFamily, AddressType, AddressProtocol
    # and ResolverFlags, which the plugin reads too.

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

    # -- the lookup ------------------------------------------------------------------------

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
        """``forHost:service:flags:addressFamily:socketType:protocol:``: every answer, in order.

        Empty when there is none. With family 1 (local) the service is a socket
        path, which must exist.
        """
        img = Image.resolve(image).initialize_network()
        results: list[SocketAddressInformation] = []
        with img.resolver_mutex:  # the plugin keeps the answer list between calls
            ResolverPrimitives.prim_get_address_info_host_service_flags_family_type_protocol(
                host_name, service_name, flags, family, socket_type, protocol, image=img
            )
            while (info := cls.next_from(img)) is not None:
                results.append(info)
        return results

    @classmethod
    def next_from(cls, image: Image) -> SocketAddressInformation | None:
        """``NetNameResolver nextSocketAddressInformation``: the current answer, then advance.

        None at the end of the list. The caller holds the resolver mutex.
        """
        prims = ResolverPrimitives
        size = prims.prim_get_address_info_size(image=image)
        if size < 0:
            return None
        address = SocketAddress.new(size, image)
        family = prims.prim_get_address_info_family(image=image)
        socket_type = prims.prim_get_address_info_type(image=image)
        protocol = prims.prim_get_address_info_protocol(image=image)
        prims.prim_get_address_info_result(address, image=image)
        prims.prim_get_address_info_next(image=image)
        return cls(address, family, socket_type, protocol, image)

    # -- what it names ---------------------------------------------------------------------

    @property
    def address_family_name(self) -> str:
        return ("unspecified", "local", "inet4", "inet6")[self.address_family]

    @property
    def socket_type_name(self) -> str:
        return ("unspecified", "stream", "dgram")[self.socket_type]

    @property
    def protocol_name(self) -> str:
        return ("unspecified", "tcp", "udp")[self.protocol]

    # -- sockets for it ----------------------------------------------------------------------

    def connect(self, timeout: float | None = None) -> Socket:
        """``connect``: a stream socket of this family, connected to the address.

        Waits up to ``timeout`` seconds (``Socket standardTimeout`` by default);
        raises ConnectionRefused or ConnectionTimedOut, destroying the socket.
        """
        if self.socket_type not in (AddressType.STREAM, AddressType.UNSPECIFIED):
            raise NetworkError(f"cannot connect a {self.socket_type_name} socket: {self}")
        sock = Socket.new_tcp(self.address_family, image=self.image)
        with sock.destroyed_on_failure():
            sock.connect_to(self.socket_address, timeout=timeout)
        return sock

    def listen_with_backlog(self, backlog: int) -> Socket:
        """``listenWithBacklog:``: a listening stream socket bound to the address."""
        if self.socket_type not in (AddressType.STREAM, AddressType.UNSPECIFIED) or (
            self.protocol not in (AddressProtocol.TCP, AddressProtocol.UNSPECIFIED)
        ):
            raise NetworkError(f"cannot listen on {self}")
        sock = Socket.new_tcp(self.address_family, image=self.image)
        with sock.destroyed_on_failure():
            sock.bind_to(self.socket_address)
            sock.listen_with_backlog(backlog)
        return sock

    def __str__(self) -> str:
        return (
            f"{self.socket_address}-{self.address_family_name}"
            f"-{self.socket_type_name}-{self.protocol_name}"
        )

    def __repr__(self) -> str:
        return f"SocketAddressInformation({str(self)!r})"
