"""NetNameResolver's primitives: the resolver's status and one method per primitive.

Class methods named after the image's selectors (``primGetAddressInfoSize`` is
``prim_get_address_info_size``), each calling the plugin's primitive on the
image's behalf: the layer both :class:`~sqsocket.image.resolver.NetNameResolver`
(which inherits them) and :class:`~sqsocket.image.addressinfo.SocketAddressInformation`
(whose lookup calls them, as in Smalltalk) stand on.
"""

from __future__ import annotations

from sqsocket.image.address import text_bytes
from sqsocket.image.environment import Image
from sqsocket.platform.constants import ResolverStatus

__all__ = ["ResolverPrimitives"]


class ResolverPrimitives:
    """The primitive methods of ``NetNameResolver class``."""

    # NetNameResolver class>>initialize's constants, defined once in platform.constants
    RESOLVER_UNINITIALIZED = ResolverStatus.UNINITIALISED
    RESOLVER_READY = ResolverStatus.SUCCESS
    RESOLVER_BUSY = ResolverStatus.BUSY
    RESOLVER_ERROR = ResolverStatus.ERROR

    @classmethod
    def resolver_status(cls, *, image: Image | None = None) -> int:
        """``resolverStatus``: 0 uninitialized, 1 ready, 2 busy, 3 error."""
        return int(Image.resolve(image).plugin.primitiveResolverStatus())

    @classmethod
    def resolver_error(cls, *, image: Image | None = None) -> int:
        """``resolverError``: the last lookup's error code."""
        return int(Image.resolve(image).plugin.primitiveResolverError())

    # -- primitives (named after their selectors) ------------------------------------------

    @classmethod
    def prim_initialize_network(
        cls, resolver_sema_index: int, *, image: Image | None = None
    ) -> None:
        Image.resolve(image).plugin.primitiveInitializeNetwork(resolver_sema_index)

    @classmethod
    def prim_start_lookup_of_name(
        cls, host_name: str | bytes, *, image: Image | None = None
    ) -> None:
        Image.resolve(image).plugin.primitiveResolverStartNameLookup(text_bytes(host_name))

    @classmethod
    def prim_start_lookup_of_address(cls, address: bytes, *, image: Image | None = None) -> None:
        Image.resolve(image).plugin.primitiveResolverStartAddressLookup(bytes(address))

    @classmethod
    def prim_name_lookup_result(cls, *, image: Image | None = None) -> bytes:
        return bytes(Image.resolve(image).plugin.primitiveResolverNameLookupResult())

    @classmethod
    def prim_address_lookup_result(cls, *, image: Image | None = None) -> str:
        raw = Image.resolve(image).plugin.primitiveResolverAddressLookupResult()
        return bytes(raw).decode("utf-8", "surrogateescape")

    @classmethod
    def prim_abort_lookup(cls, *, image: Image | None = None) -> None:
        Image.resolve(image).plugin.primitiveResolverAbortLookup()

    @classmethod
    def prim_local_address(cls, *, image: Image | None = None) -> bytes:
        return bytes(Image.resolve(image).plugin.primitiveResolverLocalAddress())

    @classmethod
    def prim_get_address_info_host_service_flags_family_type_protocol(
        cls,
        host_name: str | bytes,
        service_name: str | bytes,
        flags: int,
        family: int,
        socket_type: int,
        protocol: int,
        *,
        image: Image | None = None,
    ) -> None:
        """``primGetAddressInfoHost:service:flags:family:type:protocol:``."""
        Image.resolve(image).plugin.primitiveResolverGetAddressInfo(
            text_bytes(host_name),
            text_bytes(service_name),
            flags,
            family,
            socket_type,
            protocol,
        )

    @classmethod
    def prim_get_address_info_size(cls, *, image: Image | None = None) -> int:
        """``primGetAddressInfoSize``: -1 when there is no (more) result."""
        return int(Image.resolve(image).plugin.primitiveResolverGetAddressInfoSize())

    @classmethod
    def prim_get_address_info_result(
        cls, socket_address: bytearray, *, image: Image | None = None
    ) -> None:
        """``primGetAddressInfoResult:``: the plugin fills the (zeroed) address in place."""
        Image.resolve(image).plugin.primitiveResolverGetAddressInfoResult(socket_address)

    @classmethod
    def prim_get_address_info_family(cls, *, image: Image | None = None) -> int:
        return int(Image.resolve(image).plugin.primitiveResolverGetAddressInfoFamily())

    @classmethod
    def prim_get_address_info_type(cls, *, image: Image | None = None) -> int:
        return int(Image.resolve(image).plugin.primitiveResolverGetAddressInfoType())

    @classmethod
    def prim_get_address_info_protocol(cls, *, image: Image | None = None) -> int:
        return int(Image.resolve(image).plugin.primitiveResolverGetAddressInfoProtocol())

    @classmethod
    def prim_get_address_info_next(cls, *, image: Image | None = None) -> bool:
        return bool(Image.resolve(image).plugin.primitiveResolverGetAddressInfoNext())
