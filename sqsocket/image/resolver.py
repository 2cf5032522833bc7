"""NetNameResolver: the image's name lookups, old (IPv4, semaphore) and new (getaddrinfo).

Every method is class-side in Smalltalk; here they are class methods taking an
optional ``image=`` (the default image when omitted). The ``prim_*`` methods
are the bare primitives, named after their selectors, so the workspace example
can be written exactly as it is in Smalltalk::

    NetNameResolver.prim_get_address_info_host_service_flags_family_type_protocol(
        "", "/tmp/sp", 0, 1, 0, 0)
    s = NetNameResolver.prim_get_address_info_size()
    sa = SocketAddress.new(s)
    NetNameResolver.prim_get_address_info_result(sa)

The old lookups follow the image's protocol: wait (on the resolver semaphore,
with a deadline) until the resolver is not busy, start the lookup, wait until
it completes, then read the result; a failure is a NameLookupFailure. The Unix
plugin resolves synchronously, so those waits end at once, but the code does not
assume it.
"""

from __future__ import annotations

import time

from sqsocket.image.address import SocketAddress, read_sized
from sqsocket.image.address import address_from_string as _address_from_string
from sqsocket.image.address import string_from_address as _string_from_address
from sqsocket.image.addressinfo import SocketAddressInformation
from sqsocket.image.environment import Image
from sqsocket.image.exceptions import NameLookupFailure
from sqsocket.image.resolverprims import ResolverPrimitives
from sqsocket.platform.constants import AddressFamily, AddressProtocol, AddressType

__all__ = ["NetNameResolver"]


class NetNameResolver(ResolverPrimitives):
    """``NetNameResolver``: class-side only; its class variables live on the :class:`Image`.

    The bare primitives (``prim_*``, ``resolver_status``) come from
    :class:`~sqsocket.image.resolverprims.ResolverPrimitives`.
    """

    # -- network initialization -------------------------------------------------------

    @classmethod
    def initialize_network(cls, *, image: Image | None = None) -> Image:
        """``initializeNetwork``: register the resolver semaphore and start the network.

        Does nothing when the resolver is already initialized. Answers the image
        (handy for callers that were given None).
        """
        return Image.resolve(image).initialize_network()

    # -- old API lookups --------------------------------------------------------------------

    @classmethod
    def _wait_while_busy(cls, image: Image, deadline: float) -> int:
        """Wait on the resolver semaphore while the resolver is busy; answer its status."""
        status = cls.resolver_status(image=image)
        while status == cls.RESOLVER_BUSY and (remaining := deadline - time.monotonic()) > 0:
            if image.resolver_semaphore is not None:
                image.resolver_semaphore.wait(remaining)
            else:  # the network was started by someone else: no semaphore of ours to wait on
                image.vm.sleep(min(remaining, 0.01))  # a Delay: the idle process runs
            status = cls.resolver_status(image=image)
        return status

    @classmethod
    def _wait_for_resolver_ready_until(cls, image: Image, deadline: float) -> bool:
        """``waitForResolverReadyUntil:``: true once no other lookup is under way."""
        return cls._wait_while_busy(image, deadline) != cls.RESOLVER_BUSY

    @classmethod
    def _wait_for_completion_until(cls, image: Image, deadline: float) -> bool:
        """``waitForCompletionUntil:``: true if the lookup succeeded; a busy one is aborted."""
        status = cls._wait_while_busy(image, deadline)
        if status == cls.RESOLVER_READY:
            return True
        if status == cls.RESOLVER_BUSY:
            cls.prim_abort_lookup(image=image)
        return False

    @classmethod
    def address_for_name(
        cls, host_name: str, timeout: float = 20.0, *, image: Image | None = None
    ) -> bytes:
        """``addressForName:timeout:``: the 4-byte IPv4 address of a host (old API).

        A dotted-decimal string is answered without a lookup, as in the image.
        Raises NameLookupFailure when the name does not resolve in time.
        """
        img = cls.initialize_network(image=image)
        numeric = cls.address_from_string(host_name)
        if numeric is not None:
            return numeric
        deadline = time.monotonic() + timeout
        with img.resolver_mutex:
            if cls._wait_for_resolver_ready_until(img, deadline):
                cls.prim_start_lookup_of_name(host_name, image=img)
                if cls._wait_for_completion_until(img, deadline):
                    return cls.prim_name_lookup_result(image=img)
        raise NameLookupFailure(
            f"Could not resolve the server named: {host_name}", host_name=host_name
        )

    @classmethod
    def name_for_address(
        cls, host_address: bytes, timeout: float = 20.0, *, image: Image | None = None
    ) -> str | None:
        """``nameForAddress:timeout:``: the host name of a 4-byte address, or None."""
        img = cls.initialize_network(image=image)
        deadline = time.monotonic() + timeout
        with img.resolver_mutex:
            if cls._wait_for_resolver_ready_until(img, deadline):
                cls.prim_start_lookup_of_address(host_address, image=img)
                if cls._wait_for_completion_until(img, deadline):
                    return cls.prim_address_lookup_result(image=img) or None
        return None

    @classmethod
    def local_host_address(cls, *, image: Image | None = None) -> bytes:
        """``localHostAddress``: this host's IPv4 address (4 bytes)."""
        img = cls.initialize_network(image=image)
        return cls.prim_local_address(image=img)

    @classmethod
    def local_host_name(cls, *, image: Image | None = None) -> str:
        """``localHostName``: the name of this host's address, else the address as a string."""
        img = cls.initialize_network(image=image)
        address = cls.local_host_address(image=img)
        name = cls.name_for_address(address, 5.0, image=img)
        return name if name else cls.string_from_address(address)

    @classmethod
    def host_name(cls, *, image: Image | None = None) -> str:
        """``primHostNameSize`` + ``primHostNameResult:``: gethostname() (new API)."""
        img = cls.initialize_network(image=image)
        return read_sized(
            img.plugin.primitiveResolverHostNameSize, img.plugin.primitiveResolverHostNameResult
        )

    # -- new API lookups ------------------------------------------------------------------

    @classmethod
    def next_socket_address_information(
        cls, *, image: Image | None = None
    ) -> SocketAddressInformation | None:
        """``nextSocketAddressInformation``: the current answer, then advance (None at the end)."""
        return SocketAddressInformation.next_from(Image.resolve(image))

    @classmethod
    def addresses_for_name(
        cls, host_name: str, *, image: Image | None = None
    ) -> list[SocketAddressInformation]:
        """``addressesForName:``: every stream address of a host (service 0)."""
        return SocketAddressInformation.for_host_service_flags_family_type_protocol(
            host_name,
            "0",
            0,
            AddressFamily.UNSPECIFIED,
            AddressType.STREAM,
            AddressProtocol.UNSPECIFIED,
            image=image,
        )

    @classmethod
    def socket_address_for_name(
        cls, host_name: str, *, image: Image | None = None
    ) -> SocketAddress:
        """``addressForName:`` of the new network: the first address of a host."""
        infos = cls.addresses_for_name(host_name, image=image)
        if not infos:
            raise NameLookupFailure(
                f"Could not resolve the server named: {host_name}", host_name=host_name
            )
        return infos[0].socket_address

    @classmethod
    def address_for_socket_path(
        cls, path: str | bytes, *, image: Image | None = None
    ) -> SocketAddress:
        """The LOCAL address of an existing socket file (getAddressInfo, family 1).

        Raises NameLookupFailure when there is no socket at ``path`` (the plugin
        answers a LOCAL address only for a path that names a socket).
        """
        infos = SocketAddressInformation.for_host_service_flags_family_type_protocol(
            "", path, 0, AddressFamily.LOCAL, 0, 0, image=image
        )
        if not infos:
            shown = path if isinstance(path, str) else path.decode("utf-8", "replace")
            raise NameLookupFailure(
                f"no socket at {shown}: getAddressInfo with family local found nothing "
                "(does the file exist, and is a server listening there?)"
                + unresolvable_hint(path, Image.resolve(image)),
                host_name=shown,
            )
        return infos[0].socket_address

    # -- strings --------------------------------------------------------------------------

    # the image's classes share these two (sqsocket.image.address)
    address_from_string = staticmethod(_address_from_string)
    string_from_address = staticmethod(_string_from_address)


def unresolvable_hint(path: str | bytes, image: Image) -> str:
    """Why a socket path may not resolve although a server listens there.

    The real VM stats the image's String, which has no NUL of its own: a path whose
    length is a multiple of the word size cannot be found (docs/quirks.md, 1). The
    emulator reproduces that under the profiles of such VMs; say so when it applies.
    """
    data = path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path
    word = image.plugin.profile.unterminated_path_word
    if word and data and len(data) % word == 0:
        return (
            f"; note: this path is {len(data)} bytes, a multiple of {word}, which the "
            f"{image.plugin.profile.name} resolver cannot find (docs/quirks.md, 1): "
            "add a character to the name"
        )
    return ""
