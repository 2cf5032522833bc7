"""One method per SocketPlugin primitive, named as the VM names it.

The pattern of every method is SocketPlugin.c's: check and convert the
arguments (failing where ``stackIntegerValue``/``isBytes``/``socketValueOf``
would), call the platform function, fail if it failed, answer the result. Every
call holds the VM lock, so primitives and aio handlers never interleave, as they
never do on the VM's single thread, and first runs the interpreter's periodic
event check (which polls for I/O once the VM's poll interval has passed).

A primitive fails -- :class:`~sqsocket.errors.PrimitiveFailed` -- only where the VM's
would: a wrong argument (kind, count, range) or a platform failure. Anything else
that goes wrong inside is an emulator bug and raises
:class:`~sqsocket.errors.EmulatorError`, so it can never pass for a real failure.

Python conventions: a Smalltalk String or ByteArray argument is ``bytes`` or
``bytearray`` (a ``str`` is taken as a ByteString); an argument the primitive
writes into (a result address, a receive buffer) must be a ``bytearray``; a
socket handle is the 16-byte ``bytearray`` that a create or accept primitive
answered (destroy clears its pointer in place, as the VM does). Answers are
``int``, ``bool``, ``bytes``, a ``list`` for a Smalltalk Array, or ``None``
where the primitive answers its receiver.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqsocket.closing import Closing
from sqsocket.errors import EmulatorError, PrimitiveFailed
from sqsocket.platform.failure import PlatformFailure
from sqsocket.platform.layouts import (
    ADDRESS_HEADER_SIZE,
    port_of_sockaddr,
    with_port,
)
from sqsocket.platform.network import Network
from sqsocket.platform.profiles import DEFAULT_PROFILE, Profile, get_profile
from sqsocket.platform.resolver import Resolver
from sqsocket.platform.sockets import Sockets
from sqsocket.plugin.arguments import (
    ADDRESS,
    ADDRESS_OUT,
    BUFFER,
    BYTES_OUT,
    IPV4,
    OPTIONAL_SMALL_INTEGER,
    RECEIVER,
    RECEIVER_OUT,
    SMALL_INTEGER,
    SOCKET,
    STRING,
    STRING_OUT,
    ArgumentError,
    Kind,
    data_buffer,
    mutable_bytes,
)
from sqsocket.plugin.exports import MODULE_NAME
from sqsocket.tracing.tracer import Tracer, TraceTarget, as_tracer
from sqsocket.vm.events import Observer, PrimitiveAnswered, PrimitiveCalled, PrimitiveFailedEvent
from sqsocket.vm.machine import VirtualMachine


@dataclass(frozen=True)
class PrimitiveSpec:
    """What the image sees of a primitive: its name, the Smalltalk selector, its arguments."""

    name: str
    selector: str
    arguments: tuple[str, ...]  # each argument's kind as the image sees it
    kinds: tuple[Kind, ...]  # the declarations the wrapper converts by
    doc: str


PRIMITIVES: dict[str, PrimitiveSpec] = {}

F = TypeVar("F", bound=Callable[..., Any])


def primitive(name: str, selector: str, *kinds: Kind) -> Callable[[F], F]:
    """Register a primitive and wrap it: lock held, periodic check run, arguments
    converted from their declared kinds, failures sorted.

    ``kinds`` declares each argument, in order, as VMMaker declares a primitive's
    parameters; the wrapper checks and converts each one by its kind (naming it by its
    parameter name when it refuses it), so the body gets plain values. A call with
    another number of arguments fails as the VM fails a primitive whose method has the
    wrong argument count.
    """
    most = len(kinds)
    least = sum(1 for kind in kinds if not kind.optional)

    def wrap(method: F) -> F:
        names = [p.name for p in inspect.signature(method).parameters.values()][1:]
        if len(names) != most:
            raise TypeError(f"{name}: {most} kinds declared for {len(names)} parameters")
        convert = tuple((kind.convert, arg) for kind, arg in zip(kinds, names, strict=True))

        def converted(args: tuple[Any, ...]) -> list[Any]:
            # zip stops at the last argument given: an optional one may be left out
            return [
                c(a, n) if c is not None else a for (c, n), a in zip(convert, args, strict=False)
            ]

        call = _compile_call(name, method, convert, converted, least, most)
        functools.update_wrapper(call, method)

        PRIMITIVES[name] = PrimitiveSpec(
            name=name,
            selector=selector,
            arguments=tuple(kind.label for kind in kinds),
            kinds=kinds,
            doc=(method.__doc__ or "").strip().split("\n")[0],
        )
        return call  # type: ignore[return-value]

    return wrap


# The wrapper of every primitive. It is compiled once per primitive with its argument
# conversions written out (as dataclasses writes out __init__): a conversion loop costs
# about as much as the rest of the wrapper, on every call.
_CALL = """
def call(self, *args, **kwargs):
    vm = self.vm
    with vm.lock:
        vm.check_for_interrupts()
        if kwargs or {arity_wrong} or name in self._missing:
            raise self._refusal(name, args, kwargs, least, most)
        if vm._observers:
            return self._observed(name, method, args, converted)
        try:
            return method(self, {arguments})
        except (PlatformFailure, ArgumentError) as exc:
            raise self.failure(name, str(exc)) from None
        except (PrimitiveFailed, EmulatorError):
            raise
        except Exception as exc:
            raise EmulatorError(
                f"{{name}} raised {{type(exc).__name__}} inside the emulator: {{exc}}"
            ) from exc
"""


def _compile_call(
    name: str,
    method: Callable[..., Any],
    convert: tuple[tuple[Callable[[Any, str], Any] | None, str], ...],
    converted: Callable[[tuple[Any, ...]], list[Any]],
    least: int,
    most: int,
) -> Callable[..., Any]:
    """The wrapper for one primitive: ``convert`` pairs each argument's converter (None:
    passed as it is) with its parameter name."""
    if least == most:
        arity_wrong = f"len(args) != {most}"
        arguments = ", ".join(
            f"args[{i}]" if c is None else f"c{i}(args[{i}], {n!r})"
            for i, (c, n) in enumerate(convert)
        )
    else:  # an optional argument: the general conversion
        arity_wrong = f"not {least} <= len(args) <= {most}"
        arguments = "*converted(args)"
    namespace: dict[str, Any] = {
        "name": name,
        "method": method,
        "converted": converted,
        "least": least,
        "most": most,
        "PlatformFailure": PlatformFailure,
        "ArgumentError": ArgumentError,
        "PrimitiveFailed": PrimitiveFailed,
        "EmulatorError": EmulatorError,
        **{f"c{i}": c for i, (c, _n) in enumerate(convert)},
    }
    exec(_CALL.format(arity_wrong=arity_wrong, arguments=arguments), namespace)
    call: Callable[..., Any] = namespace["call"]
    return call


def _release(net: Network, vm: VirtualMachine | None) -> None:
    """What quitting the VM releases: every socket, and the VM's own descriptors."""
    with net.lock:
        net.network_shutdown()
    if vm is not None:
        vm.close()


class SocketPlugin(Closing):
    """An emulated SocketPlugin in an emulated VM (its own session, sockets and event loop)."""

    #: What a failing primitive raises (an image layer may use its own subclass).
    failure: type[PrimitiveFailed] = PrimitiveFailed

    def __init__(
        self,
        vm: VirtualMachine | None = None,
        profile: Profile | str = DEFAULT_PROFILE,
        *,
        trace: Tracer | TraceTarget | None = None,
    ):
        """``trace``: a :class:`~sqsocket.tracing.Tracer`, or where to write one (a text
        stream, a path, a callable given each entry); see :mod:`sqsocket.tracing`."""
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self._missing = self.profile.missing_primitives
        owns_vm = vm is None
        self.vm = vm if vm is not None else VirtualMachine(self.profile.events)
        self.net = Network(self.vm, self.profile)
        self.resolver = Resolver(self.net)
        self.sockets = Sockets(self.net)
        # A plugin dropped without close() still releases its descriptors, as the VM
        # releases everything when it quits.
        self._finalizer = weakref.finalize(self, _release, self.net, self.vm if owns_vm else None)
        self._trace_end: Callable[[], None] | None = None
        if trace is not None:
            # the trace is one more observer; a tracer made here is closed with the plugin
            tracer, made = as_tracer(trace)
            undo = tracer.attach(self.vm)
            self._trace_end = weakref.finalize(self, tracer.close if made else undo)

    # -- the wrapper's slow paths --------------------------------------------------------

    def _refusal(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], least: int, most: int
    ) -> PrimitiveFailed:
        """Why a call is refused before the primitive runs (as the VM refuses it)."""
        if name in self._missing:
            reason = f"the {self.profile.name} SocketPlugin does not export this primitive"
        elif kwargs:
            reason = f"primitives take positional arguments only, not {', '.join(kwargs)}"
        else:
            takes = f"{least}" if least == most else f"{least} to {most}"
            reason = f"takes {takes} argument{'s' * (most != 1)}, not {len(args)}"
        return self.failure(name, reason)

    def _observed(
        self,
        name: str,
        method: Callable[..., Any],
        args: tuple[Any, ...],
        converted: Callable[[tuple[Any, ...]], list[Any]],
    ) -> Any:
        """A call while someone observes the VM: the same, with the events around it."""
        vm = self.vm
        vm.emit(PrimitiveCalled(vm.now(), name, args))
        try:
            result = method(self, *converted(args))
        except (PlatformFailure, ArgumentError) as exc:
            vm.emit(PrimitiveFailedEvent(vm.now(), name, str(exc)))
            raise self.failure(name, str(exc)) from None
        except (PrimitiveFailed, EmulatorError):
            raise
        except Exception as exc:
            raise EmulatorError(
                f"{name} raised {type(exc).__name__} inside the emulator: {exc}"
            ) from exc
        vm.emit(PrimitiveAnswered(vm.now(), name, result))
        return result

    # -- module ----------------------------------------------------------------------

    def lookup(self, name: str) -> Callable[..., Any]:
        """Look a primitive up by its exact VM name, as ``<primitive: 'name' module: ...>`` does."""
        if not isinstance(name, str) or name not in PRIMITIVES:
            raise PrimitiveFailed(str(name), "SocketPlugin has no such primitive")
        return getattr(self, name)

    def call(self, name: str, *args: Any) -> Any:
        return self.lookup(name)(*args)

    def getModuleName(self) -> str:
        return MODULE_NAME

    def initialiseModule(self) -> bool:
        """``initialiseModule`` → ``socketInit()``, which answers 1 and starts nothing."""
        return True

    def shutdownModule(self) -> None:
        """``socketShutdown`` → ``sqNetworkShutdown``: ends the session, closes every socket."""
        with self.net.lock:
            self.net.network_shutdown()

    def close(self) -> None:
        """Release everything (the VM quits): every socket, and a VM this plugin made."""
        self._finalizer()
        if self._trace_end is not None:
            self._trace_end()  # after the sockets closed: their last events are traced

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Tell ``observer`` every primitive call, state change, signal and poll; answer an undo.

        See :mod:`sqsocket.vm.events` and :class:`sqsocket.platform.statetable.StateChanged`.
        """
        return self.vm.observe(observer)

    @property
    def session_id(self) -> int:
        """``thisNetSession`` (0 when the network is not initialized)."""
        return self.net.session

    # -- security --------------------------------------------------------------------

    @primitive("primitiveHasSocketAccess", "primitiveHasSocketAccess")
    def primitiveHasSocketAccess(self) -> bool:
        """Answer whether sockets may be used (the SecurityPlugin's secHasSocketAccess)."""
        return self.net.has_socket_access

    @primitive("primitiveDisableSocketAccess", "primitiveDisableSocketAccess")
    def primitiveDisableSocketAccess(self) -> None:
        """Turn socket access off for good (secDisableSocketAccess): creation fails afterwards."""
        self.net.has_socket_access = False

    # -- network ----------------------------------------------------------------------

    @primitive("primitiveInitializeNetwork", "primInitializeNetwork:", SMALL_INTEGER)
    def primitiveInitializeNetwork(self, resolverSemaIndex: int) -> None:
        """Start a network session; the resolver signals the semaphore at this index."""
        starting = not self.net.session  # a running session is left as it is, as in C
        self.net.network_init(resolverSemaIndex)
        if starting:
            self.resolver.network_started()

    # -- old resolver -----------------------------------------------------------------

    @primitive("primitiveResolverStartNameLookup", "primStartLookupOfName:", STRING)
    def primitiveResolverStartNameLookup(self, name: Any) -> None:
        """Look a host name up with gethostbyname (synchronously) and signal the resolver."""
        self.resolver.start_name_lookup(name)

    @primitive("primitiveResolverStartAddressLookup", "primStartLookupOfAddress:", IPV4)
    def primitiveResolverStartAddressLookup(self, address: Any) -> None:
        """Look a 4-byte IPv4 address up with gethostbyaddr (no semaphore signal)."""
        self.resolver.start_address_lookup(address)

    @primitive("primitiveResolverNameLookupResult", "primNameLookupResult")
    def primitiveResolverNameLookupResult(self) -> bytes:
        """Answer the last name lookup's IPv4 address (0.0.0.0 when it failed)."""
        return self.resolver.name_lookup_result().to_bytes(4, "big")

    @primitive("primitiveResolverAddressLookupResult", "primAddressLookupResult")
    def primitiveResolverAddressLookupResult(self) -> bytes:
        """Answer the last address lookup's host name ('' when it failed)."""
        return self.resolver.address_lookup_result()

    @primitive("primitiveResolverStatus", "primNameResolverStatus")
    def primitiveResolverStatus(self) -> int:
        """0 uninitialised, 1 ready (success), 2 busy (never on Unix), 3 error."""
        return self.resolver.status()

    @primitive("primitiveResolverError", "primNameResolverError")
    def primitiveResolverError(self) -> int:
        """The last resolver error (h_errno or a getaddrinfo/getnameinfo code)."""
        return self.resolver.error()

    @primitive("primitiveResolverAbortLookup", "primAbortLookup")
    def primitiveResolverAbortLookup(self) -> None:
        """Nothing to abort: every lookup is synchronous."""

    @primitive("primitiveResolverLocalAddress", "primLocalAddress")
    def primitiveResolverLocalAddress(self) -> bytes:
        """This host's IPv4 address as a 4-byte ByteArray."""
        return self.resolver.local_address().to_bytes(4, "big")

    # -- new resolver -------------------------------------------------------------------

    @primitive(
        "primitiveResolverGetAddressInfo",
        "primGetAddressInfoHost:service:flags:family:type:protocol:",
        STRING,
        STRING,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveResolverGetAddressInfo(
        self, hostName: Any, servName: Any, flags: Any, family: Any, type: Any, protocol: Any
    ) -> None:
        """getaddrinfo(host, service); with family 1 (LOCAL) the service is a socket path."""
        self.resolver.get_address_info(
            hostName,
            servName,
            flags,
            family,
            type,
            protocol,
        )

    @primitive("primitiveResolverGetAddressInfoSize", "primGetAddressInfoSize")
    def primitiveResolverGetAddressInfoSize(self) -> int:
        """Size of the current result's socket address (header + sockaddr), -1 if none."""
        return self.resolver.address_info_size()

    @primitive("primitiveResolverGetAddressInfoResult", "primGetAddressInfoResult:", BYTES_OUT)
    def primitiveResolverGetAddressInfoResult(self, socketAddress: Any) -> None:
        """Copy the current result into the given address object (at least Size bytes)."""
        result = self.resolver.address_info_result(len(socketAddress))
        socketAddress[: len(result)] = result

    @primitive("primitiveResolverGetAddressInfoFamily", "primGetAddressInfoFamily")
    def primitiveResolverGetAddressInfoFamily(self) -> int:
        """The current result's family: 1 LOCAL, 2 INET4, 3 INET6, 0 other."""
        return self.resolver.address_info_family()

    @primitive("primitiveResolverGetAddressInfoType", "primGetAddressInfoType")
    def primitiveResolverGetAddressInfoType(self) -> int:
        """The current result's type: 1 STREAM, 2 DGRAM, 0 other."""
        return self.resolver.address_info_type()

    @primitive("primitiveResolverGetAddressInfoProtocol", "primGetAddressInfoProtocol")
    def primitiveResolverGetAddressInfoProtocol(self) -> int:
        """The current result's protocol: 1 TCP, 2 UDP, 0 other."""
        return self.resolver.address_info_protocol()

    @primitive("primitiveResolverGetAddressInfoNext", "primGetAddressInfoNext")
    def primitiveResolverGetAddressInfoNext(self) -> bool:
        """Advance to the next result; false when there is none."""
        return self.resolver.address_info_next()

    @primitive("primitiveResolverGetNameInfo", "primGetNameInfo:flags:", ADDRESS, SMALL_INTEGER)
    def primitiveResolverGetNameInfo(self, socketAddress: Any, flags: Any) -> None:
        """getnameinfo(address) with NI_NOFQDN (and NUMERICHOST|NUMERICSERV for flag 1)."""
        self.resolver.get_name_info(socketAddress, flags)

    @primitive("primitiveResolverGetNameInfoHostSize", "primGetNameInfoHostSize")
    def primitiveResolverGetNameInfoHostSize(self) -> int:
        """Length of the host name getNameInfo found."""
        return len(self.resolver.name_info_host())

    @primitive("primitiveResolverGetNameInfoHostResult", "primGetNameInfoHostResult:", STRING_OUT)
    def primitiveResolverGetNameInfoHostResult(self, socketName: Any) -> None:
        """Copy the host name into the given String (at least HostSize bytes)."""
        self._copy_into(socketName, self.resolver.name_info_host(), "the host name buffer")

    @primitive("primitiveResolverGetNameInfoServiceSize", "primGetNameInfoServiceSize")
    def primitiveResolverGetNameInfoServiceSize(self) -> int:
        """Length of the service name (or socket path) getNameInfo found."""
        return len(self.resolver.name_info_service())

    @primitive(
        "primitiveResolverGetNameInfoServiceResult",
        "primGetNameInfoServiceResult:",
        STRING_OUT,
    )
    def primitiveResolverGetNameInfoServiceResult(self, socketName: Any) -> None:
        """Copy the service name into the given String (at least ServiceSize bytes)."""
        self._copy_into(socketName, self.resolver.name_info_service(), "the service name buffer")

    @primitive("primitiveResolverHostNameSize", "primHostNameSize")
    def primitiveResolverHostNameSize(self) -> int:
        """Length of gethostname()."""
        return len(self.resolver.host_name())

    @primitive("primitiveResolverHostNameResult", "primHostNameResult:", STRING_OUT)
    def primitiveResolverHostNameResult(self, nameString: Any) -> None:
        """Copy gethostname() into the given String (at least HostNameSize bytes)."""
        self._copy_into(nameString, self.resolver.host_name(), "the host name buffer")

    @staticmethod
    def _copy_into(target: Any, value: bytes, what: str) -> None:
        buf = mutable_bytes(target, what)
        if len(buf) < len(value):
            raise PlatformFailure(f"{what} has {len(buf)} bytes; the answer needs {len(value)}")
        buf[: len(value)] = value

    # -- socket addresses ----------------------------------------------------------------

    @primitive("primitiveSocketAddressGetPort", "SocketAddress>>port", RECEIVER)
    def primitiveSocketAddressGetPort(self, address: Any) -> int:
        """The port of an INET4/INET6 socket address (fails for any other family)."""
        sockaddr = self.net.check_address(address)
        port = port_of_sockaddr(sockaddr)
        if port is None:
            raise PlatformFailure("only INET4 and INET6 addresses have a port")
        return port

    @primitive("primitiveSocketAddressSetPort", "SocketAddress>>port:", RECEIVER_OUT, SMALL_INTEGER)
    def primitiveSocketAddressSetPort(self, address: Any, portNumber: Any) -> None:
        """Set the port of an INET4/INET6 socket address in place."""
        sockaddr = self.net.check_address(bytes(address))
        if port_of_sockaddr(sockaddr) is None:
            raise PlatformFailure("only INET4 and INET6 addresses have a portNumber")
        address[ADDRESS_HEADER_SIZE:] = with_port(sockaddr, portNumber)

    # -- socket creation ---------------------------------------------------------------

    @primitive(
        "primitiveSocketCreate",
        "primSocketCreateNetwork:type:receiveBufferSize:sendBufSize:semaIndex:",
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketCreate(
        self, netType: Any, socketType: Any, recvBufSize: Any, sendBufSize: Any, semaIndex: Any
    ) -> bytearray:
        """Create a socket signalling one semaphore for connection, read and write events."""
        return self.sockets.create(netType, socketType, (semaIndex, semaIndex, semaIndex))

    @primitive(
        "primitiveSocketCreate3Semaphores",
        "primSocketCreateNetwork:type:receiveBufferSize:sendBufSize:semaIndex:readSemaIndex:"
        "writeSemaIndex:",
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketCreate3Semaphores(
        self,
        netType: Any,
        socketType: Any,
        recvBufSize: Any,
        sendBufSize: Any,
        semaIndex: Any,
        readSemaIndex: Any,
        writeSemaIndex: Any,
    ) -> bytearray:
        """Create a socket: netType 0/2 INET4, 1 LOCAL (AF_UNIX), 3 INET6; type 0 TCP, 1 UDP."""
        return self.sockets.create(netType, socketType, (semaIndex, readSemaIndex, writeSemaIndex))

    @primitive(
        "primitiveSocketCreateRAW",
        "primSocketCreateRaw:type:receiveBufferSize:sendBufSize:semaIndex:readSemaIndex:"
        "writeSemaIndex:",
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketCreateRAW(
        self,
        netType: Any,
        protoType: Any,
        recvBufSize: Any,
        sendBufSize: Any,
        semaIndex: Any,
        readSemaIndex: Any,
        writeSemaIndex: Any,
    ) -> bytearray:
        """Create a raw socket; the Unix plugin knows only protocol 1 (ICMP over IPv4)."""
        return self.sockets.create_raw(
            netType, protoType, (semaIndex, readSemaIndex, writeSemaIndex)
        )

    # -- status --------------------------------------------------------------------------

    @primitive("primitiveSocketConnectionStatus", "primSocketConnectionStatus:", SOCKET)
    def primitiveSocketConnectionStatus(self, socket: Any) -> int:
        """-1 Invalid .. 4 ThisEndClosed; fails for a destroyed or foreign handle."""
        return self.sockets.connection_status(socket)

    @primitive("primitiveSocketError", "primSocketError:", SOCKET)
    def primitiveSocketError(self, socket: Any) -> int:
        """The errno of the socket's last failed operation (0 if none)."""
        return self.sockets.error(socket)

    # -- old API addresses and ports -----------------------------------------------------

    @primitive("primitiveSocketLocalAddress", "primSocketLocalAddress:", SOCKET)
    def primitiveSocketLocalAddress(self, socket: Any) -> bytes:
        """The local IPv4 address (0.0.0.0 if not INET4 or unbound)."""
        return self.sockets.local_address(socket).to_bytes(4, "big")

    @primitive("primitiveSocketLocalPort", "primSocketLocalPort:", SOCKET)
    def primitiveSocketLocalPort(self, socket: Any) -> int:
        """The local port (0 if not INET4 or unbound)."""
        return self.sockets.local_port(socket)

    @primitive("primitiveSocketRemoteAddress", "primSocketRemoteAddress:", SOCKET)
    def primitiveSocketRemoteAddress(self, socket: Any) -> bytes:
        """The peer's IPv4 address (TCP: getpeername; UDP: the default peer)."""
        return self.sockets.remote_address(socket).to_bytes(4, "big")

    @primitive("primitiveSocketRemotePort", "primSocketRemotePort:", SOCKET)
    def primitiveSocketRemotePort(self, socket: Any) -> int:
        """The peer's port (TCP: getpeername; UDP: the default peer)."""
        return self.sockets.remote_port(socket)

    # -- new API addresses --------------------------------------------------------------

    @primitive("primitiveSocketLocalAddressSize", "primSocketLocalAddressSize:", SOCKET)
    def primitiveSocketLocalAddressSize(self, socket: Any) -> int:
        """Size of the local socket address (header + getsockname), 0 if it fails."""
        return self.sockets.local_address_size(socket)

    @primitive(
        "primitiveSocketLocalAddressResult",
        "primSocket:localAddressResult:",
        SOCKET,
        ADDRESS_OUT,
    )
    def primitiveSocketLocalAddressResult(self, socket: Any, socketAddress: Any) -> None:
        """Fill an address object of exactly LocalAddressSize bytes."""
        socketAddress[:] = self.sockets.local_address_result(socket, len(socketAddress))

    @primitive("primitiveSocketRemoteAddressSize", "primSocketRemoteAddressSize:", SOCKET)
    def primitiveSocketRemoteAddressSize(self, socket: Any) -> int:
        """Size of the peer's socket address, -1 if there is none."""
        return self.sockets.remote_address_size(socket)

    @primitive(
        "primitiveSocketRemoteAddressResult",
        "primSocket:remoteAddressResult:",
        SOCKET,
        ADDRESS_OUT,
    )
    def primitiveSocketRemoteAddressResult(self, socket: Any, socketAddress: Any) -> None:
        """Fill an address object of exactly RemoteAddressSize bytes (once per Size call)."""
        socketAddress[:] = self.sockets.remote_address_result(socket, len(socketAddress))

    # -- connect / bind / listen ------------------------------------------------------

    @primitive(
        "primitiveSocketConnectToPort",
        "primSocket:connectTo:port:",
        SOCKET,
        IPV4,
        SMALL_INTEGER,
    )
    def primitiveSocketConnectToPort(self, socket: Any, address: Any, port: Any) -> None:
        """Connect to an IPv4 address and port (UDP: set the default peer)."""
        self.sockets.connect_to_port(socket, address, port)

    @primitive("primitiveSocketConnectTo", "primSocket:connectTo:", SOCKET, ADDRESS)
    def primitiveSocketConnectTo(self, socket: Any, socketAddress: Any) -> None:
        """Connect to a socket address (any family: a Unix path, INET4, INET6)."""
        self.sockets.connect_to(socket, socketAddress)

    @primitive("primitiveSocketBindToPort", "primSocket:bindTo:port:", SOCKET, IPV4, SMALL_INTEGER)
    def primitiveSocketBindToPort(self, socket: Any, address: Any, port: Any) -> None:
        """Bind to an IPv4 address and port; fails (keeping errno) if bind() fails."""
        self.sockets.bind_to_port(socket, address, port)

    @primitive("primitiveSocketBindTo", "primSocket:bindTo:", SOCKET, ADDRESS)
    def primitiveSocketBindTo(self, socket: Any, socketAddress: Any) -> None:
        """Bind to a socket address; for a Unix path this creates the socket file."""
        self.sockets.bind_to(socket, socketAddress)

    @primitive("primitiveSocketListenOnPort", "primSocket:listenOn:", SOCKET, SMALL_INTEGER)
    def primitiveSocketListenOnPort(self, socket: Any, port: Any) -> None:
        """Bind to INADDR_ANY:port and listen with backlog 1 (accept replaces in place)."""
        self.sockets.listen_on_port(socket, port, 1, 0)

    @primitive(
        "primitiveSocketListenOnPortBacklog",
        "primSocket:listenOn:backlogSize:",
        SOCKET,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketListenOnPortBacklog(self, socket: Any, port: Any, backlog: Any) -> None:
        """Bind to INADDR_ANY:port and listen; backlog > 1: accept with primitiveSocketAccept."""
        self.sockets.listen_on_port(socket, port, backlog, 0)

    @primitive(
        "primitiveSocketListenOnPortBacklogInterface",
        "primSocket:listenOn:backlogSize:interface:",
        SOCKET,
        SMALL_INTEGER,
        SMALL_INTEGER,
        IPV4,
    )
    def primitiveSocketListenOnPortBacklogInterface(
        self, socket: Any, port: Any, backlog: Any, ifAddr: Any
    ) -> None:
        """Bind to interface:port and listen with the given backlog."""
        self.sockets.listen_on_port(socket, port, backlog, ifAddr)

    @primitive(
        "primitiveSocketListenWithOrWithoutBacklog",
        "primSocket:listenOn:[backlogSize:]",
        SOCKET,
        SMALL_INTEGER,
        OPTIONAL_SMALL_INTEGER,
    )
    def primitiveSocketListenWithOrWithoutBacklog(
        self, socket: Any, port: Any, *backlog: Any
    ) -> None:
        """Old dual primitive: two arguments listen on a port, three add a backlog."""
        size = backlog[0] if backlog else 1
        self.sockets.listen_on_port(socket, port, size, 0)

    @primitive(
        "primitiveSocketListenWithBacklog",
        "primSocket:listenWithBacklog:",
        SOCKET,
        SMALL_INTEGER,
    )
    def primitiveSocketListenWithBacklog(self, socket: Any, backlogSize: Any) -> None:
        """Listen on a socket already bound (bindTo:); backlog > 1 needs a TCP socket."""
        self.sockets.listen_backlog(socket, backlogSize)

    # -- accept --------------------------------------------------------------------------

    @primitive(
        "primitiveSocketAccept",
        "primAcceptFrom:receiveBufferSize:sendBufSize:semaIndex:",
        SOCKET,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketAccept(
        self, sockHandle: Any, recvBufSize: Any, sendBufSize: Any, semaIndex: Any
    ) -> bytearray:
        """Take the connection a backlog > 1 listener has accepted; answer its new handle."""
        return self.sockets.accept_from(sockHandle, (semaIndex, semaIndex, semaIndex))

    @primitive(
        "primitiveSocketAccept3Semaphores",
        "primAcceptFrom:receiveBufferSize:sendBufSize:semaIndex:readSemaIndex:writeSemaIndex:",
        SOCKET,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketAccept3Semaphores(
        self,
        sockHandle: Any,
        recvBufSize: Any,
        sendBufSize: Any,
        semaIndex: Any,
        readSemaIndex: Any,
        writeSemaIndex: Any,
    ) -> bytearray:
        """As primitiveSocketAccept, with separate connection, read and write semaphores."""
        return self.sockets.accept_from(sockHandle, (semaIndex, readSemaIndex, writeSemaIndex))

    # -- data ------------------------------------------------------------------------------

    @primitive("primitiveSocketReceiveDataAvailable", "primSocketReceiveDataAvailable:", SOCKET)
    def primitiveSocketReceiveDataAvailable(self, socket: Any) -> bool:
        """True if a read would find data; if not, the read semaphore is signalled when it would."""
        return self.sockets.receive_data_available(socket)

    @primitive("primitiveSocketSendDone", "primSocketSendDone:", SOCKET)
    def primitiveSocketSendDone(self, socket: Any) -> bool:
        """True if a write would not block; if not, the write semaphore is signalled later."""
        return self.sockets.send_done(socket)

    @primitive(
        "primitiveSocketReceiveDataBufCount",
        "primSocket:receiveDataInto:startingAt:count:",
        SOCKET,
        BUFFER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketReceiveDataBufCount(
        self, socket: Any, array: Any, startIndex: Any, count: Any
    ) -> int:
        """Read at most count elements into array at startIndex (1-based); 0 if nothing is there."""
        window, element = data_buffer(array, startIndex, count, "the receive buffer", True)
        return self.sockets.receive(socket, window) // element

    @primitive(
        "primitiveSocketSendDataBufCount",
        "primSocket:sendData:startIndex:count:",
        SOCKET,
        BUFFER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketSendDataBufCount(
        self, socket: Any, array: Any, startIndex: Any, count: Any
    ) -> int:
        """Write at most count elements from array at startIndex (1-based); answer how many went."""
        window, element = data_buffer(array, startIndex, count, "the send buffer", False)
        return self.sockets.send(socket, window) // element

    @primitive(
        "primitiveSocketReceiveUDPDataBufCount",
        "primSocket:receiveUDPDataInto:startingAt:count:",
        SOCKET,
        BUFFER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketReceiveUDPDataBufCount(
        self, socket: Any, array: Any, startIndex: Any, count: Any
    ) -> list[Any]:
        """Receive a datagram: answer {count, sender address (4 bytes), sender port, more?}."""
        window, element = data_buffer(array, startIndex, count, "the receive buffer", True)
        n, address, port, more = self.sockets.receive_udp_old(socket, window)
        return [n // element, address.to_bytes(4, "big"), port, more]

    @primitive(
        "primitiveSocketSendUDPDataBufCount",
        "primSocket:sendUDPData:toHost:port:startIndex:count:",
        SOCKET,
        BUFFER,
        IPV4,
        SMALL_INTEGER,
        SMALL_INTEGER,
        SMALL_INTEGER,
    )
    def primitiveSocketSendUDPDataBufCount(
        self,
        socket: Any,
        array: Any,
        hostAddress: Any,
        portNumber: Any,
        startIndex: Any,
        count: Any,
    ) -> int:
        """Send a datagram to an IPv4 address and port; answer the count sent."""
        window, element = data_buffer(array, startIndex, count, "the send buffer", False)
        return self.sockets.send_udp_old(socket, hostAddress, portNumber, window) // element

    # -- options ----------------------------------------------------------------------------

    @primitive("primitiveSocketSetOptions", "primSocket:setOption:value:", SOCKET, STRING, STRING)
    def primitiveSocketSetOptions(
        self, socket: Any, optionName: Any, optionValue: Any
    ) -> list[int]:
        """Set an option by name ('TCP_NODELAY', value '1'); answer {0, the value set}."""
        return [0, self.sockets.set_option(socket, optionName, optionValue)]

    @primitive("primitiveSocketGetOptions", "primSocket:getOption:", SOCKET, STRING)
    def primitiveSocketGetOptions(self, socket: Any, optionName: Any) -> list[int]:
        """Get an integer option by name; answer {0, value}. Unknown names fail."""
        return [0, self.sockets.get_option(socket, optionName)]

    # -- close ------------------------------------------------------------------------------

    @primitive("primitiveSocketCloseConnection", "primSocketCloseConnection:", SOCKET)
    def primitiveSocketCloseConnection(self, socket: Any) -> None:
        """Close the connection (with a 1 s linger if it was connected); state becomes 0."""
        self.sockets.close(socket)

    @primitive("primitiveSocketAbortConnection", "primSocketAbortConnection:", SOCKET)
    def primitiveSocketAbortConnection(self, socket: Any) -> None:
        """Close without lingering (linger off: close() returns at once; a FIN, not a reset)."""
        self.sockets.abort(socket)

    @primitive("primitiveSocketDestroy", "primSocketDestroy:", SOCKET)
    def primitiveSocketDestroy(self, socket: Any) -> None:
        """Abort if open, free the socket, and null the handle's pointer in place."""
        self.sockets.destroy(socket)
