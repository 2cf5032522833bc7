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
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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
    ArgumentError,
    byte_object,
    data_buffer,
    mutable_bytes,
    net_address,
    small_integer,
    socket_handle,
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
    arguments: tuple[str, ...]
    doc: str


PRIMITIVES: dict[str, PrimitiveSpec] = {}

F = TypeVar("F", bound=Callable[..., Any])


def primitive(name: str, selector: str, *arguments: str) -> Callable[[F], F]:
    """Register a primitive and wrap it: lock held, periodic check run, failures sorted.

    ``arguments`` declares the kind of each argument, in order; a call with another
    number of arguments fails as the VM fails a primitive whose method has the
    wrong argument count.
    """
    most = len(arguments)
    least = sum(1 for kind in arguments if not kind.startswith("["))  # "[Kind]" is optional

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def call(self: SocketPlugin, *args: Any, **kwargs: Any) -> Any:
            vm = self.vm
            with vm.lock:
                # the periodic check (VirtualMachine.check_for_interrupts), its test inlined
                aio = vm.aio
                aio.epoch += 1
                if (
                    vm._force_poll
                    or (vm._sigio_forces and aio.armed_rw and aio.sigio_pending())
                    or vm.clock() >= vm._next_poll
                ):
                    vm.poll_now()
                if kwargs or not least <= len(args) <= most or name in self._missing:
                    raise self._refusal(name, args, kwargs, least, most)
                if vm._observers:
                    return self._observed(name, method, args)
                try:
                    return method(self, *args)
                except (PlatformFailure, ArgumentError) as exc:
                    raise self.failure(name, str(exc)) from None
                except (PrimitiveFailed, EmulatorError):
                    raise
                except Exception as exc:
                    raise EmulatorError(
                        f"{name} raised {type(exc).__name__} inside the emulator: {exc}"
                    ) from exc

        PRIMITIVES[name] = PrimitiveSpec(
            name=name,
            selector=selector,
            arguments=arguments,
            doc=(method.__doc__ or "").strip().split("\n")[0],
        )
        return call  # type: ignore[return-value]

    return wrap


def _release(net: Network, vm: VirtualMachine | None) -> None:
    """What quitting the VM releases: every socket, and the VM's own descriptors."""
    with net.lock:
        net.network_shutdown()
    if vm is not None:
        vm.close()


class SocketPlugin:
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

    def _observed(self, name: str, method: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """A call while someone observes the VM: the same, with the events around it."""
        vm = self.vm
        vm.emit(PrimitiveCalled(vm.now(), name, args))
        try:
            result = method(self, *args)
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

    def __enter__(self) -> SocketPlugin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    @primitive("primitiveInitializeNetwork", "primInitializeNetwork:", "SmallInteger")
    def primitiveInitializeNetwork(self, resolverSemaIndex: int) -> None:
        """Start a network session; the resolver signals the semaphore at this index."""
        sema = small_integer(resolverSemaIndex, "the resolver semaphore index")
        starting = not self.net.session  # a running session is left as it is, as in C
        self.net.network_init(sema)
        if starting:
            self.resolver.network_started()

    # -- old resolver -----------------------------------------------------------------

    @primitive("primitiveResolverStartNameLookup", "primStartLookupOfName:", "String")
    def primitiveResolverStartNameLookup(self, name: Any) -> None:
        """Look a host name up with gethostbyname (synchronously) and signal the resolver."""
        self.resolver.start_name_lookup(byte_object(name, "the host name"))

    @primitive("primitiveResolverStartAddressLookup", "primStartLookupOfAddress:", "ByteArray")
    def primitiveResolverStartAddressLookup(self, address: Any) -> None:
        """Look a 4-byte IPv4 address up with gethostbyaddr (no semaphore signal)."""
        self.resolver.start_address_lookup(net_address(address, "the address"))

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
        "String",
        "String",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
    )
    def primitiveResolverGetAddressInfo(
        self, hostName: Any, servName: Any, flags: Any, family: Any, type: Any, protocol: Any
    ) -> None:
        """getaddrinfo(host, service); with family 1 (LOCAL) the service is a socket path."""
        host = byte_object(hostName, "the host name")
        serv = byte_object(servName, "the service name")
        self.resolver.get_address_info(
            host,
            serv,
            small_integer(flags, "flags"),
            small_integer(family, "family"),
            small_integer(type, "type"),
            small_integer(protocol, "protocol"),
        )

    @primitive("primitiveResolverGetAddressInfoSize", "primGetAddressInfoSize")
    def primitiveResolverGetAddressInfoSize(self) -> int:
        """Size of the current result's socket address (header + sockaddr), -1 if none."""
        return self.resolver.address_info_size()

    @primitive("primitiveResolverGetAddressInfoResult", "primGetAddressInfoResult:", "ByteArray")
    def primitiveResolverGetAddressInfoResult(self, socketAddress: Any) -> None:
        """Copy the current result into the given address object (at least Size bytes)."""
        target = mutable_bytes(socketAddress, "the socket address")
        result = self.resolver.address_info_result(len(target))
        target[: len(result)] = result

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

    @primitive("primitiveResolverGetNameInfo", "primGetNameInfo:flags:", "Oop", "SmallInteger")
    def primitiveResolverGetNameInfo(self, socketAddress: Any, flags: Any) -> None:
        """getnameinfo(address) with NI_NOFQDN (and NUMERICHOST|NUMERICSERV for flag 1)."""
        address = byte_object(socketAddress, "the socket address")
        self.resolver.get_name_info(address, small_integer(flags, "flags"))

    @primitive("primitiveResolverGetNameInfoHostSize", "primGetNameInfoHostSize")
    def primitiveResolverGetNameInfoHostSize(self) -> int:
        """Length of the host name getNameInfo found."""
        return len(self.resolver.name_info_host())

    @primitive("primitiveResolverGetNameInfoHostResult", "primGetNameInfoHostResult:", "String")
    def primitiveResolverGetNameInfoHostResult(self, socketName: Any) -> None:
        """Copy the host name into the given String (at least HostSize bytes)."""
        self._copy_into(socketName, self.resolver.name_info_host(), "the host name buffer")

    @primitive("primitiveResolverGetNameInfoServiceSize", "primGetNameInfoServiceSize")
    def primitiveResolverGetNameInfoServiceSize(self) -> int:
        """Length of the service name (or socket path) getNameInfo found."""
        return len(self.resolver.name_info_service())

    @primitive(
        "primitiveResolverGetNameInfoServiceResult", "primGetNameInfoServiceResult:", "String"
    )
    def primitiveResolverGetNameInfoServiceResult(self, socketName: Any) -> None:
        """Copy the service name into the given String (at least ServiceSize bytes)."""
        self._copy_into(socketName, self.resolver.name_info_service(), "the service name buffer")

    @primitive("primitiveResolverHostNameSize", "primHostNameSize")
    def primitiveResolverHostNameSize(self) -> int:
        """Length of gethostname()."""
        return len(self.resolver.host_name())

    @primitive("primitiveResolverHostNameResult", "primHostNameResult:", "String")
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

    @primitive("primitiveSocketAddressGetPort", "SocketAddress>>port", "receiver")
    def primitiveSocketAddressGetPort(self, address: Any) -> int:
        """The port of an INET4/INET6 socket address (fails for any other family)."""
        data = byte_object(address, "the socket address")
        sockaddr = self.net.check_address(data)
        port = port_of_sockaddr(sockaddr)
        if port is None:
            raise PlatformFailure("only INET4 and INET6 addresses have a port")
        return port

    @primitive("primitiveSocketAddressSetPort", "SocketAddress>>port:", "receiver", "SmallInteger")
    def primitiveSocketAddressSetPort(self, address: Any, portNumber: Any) -> None:
        """Set the port of an INET4/INET6 socket address in place."""
        port = small_integer(portNumber, "the port")
        target = mutable_bytes(address, "the socket address")
        sockaddr = self.net.check_address(bytes(target))
        if port_of_sockaddr(sockaddr) is None:
            raise PlatformFailure("only INET4 and INET6 addresses have a port")
        target[ADDRESS_HEADER_SIZE:] = with_port(sockaddr, port)

    # -- socket creation ---------------------------------------------------------------

    @primitive(
        "primitiveSocketCreate",
        "primSocketCreateNetwork:type:receiveBufferSize:sendBufSize:semaIndex:",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
    )
    def primitiveSocketCreate(
        self, netType: Any, socketType: Any, recvBufSize: Any, sendBufSize: Any, semaIndex: Any
    ) -> bytearray:
        """Create a socket signalling one semaphore for connection, read and write events."""
        sema = small_integer(semaIndex, "semaIndex")
        return self.sockets.create(
            small_integer(netType, "netType"),
            small_integer(socketType, "socketType"),
            small_integer(recvBufSize, "recvBufSize"),
            small_integer(sendBufSize, "sendBufSize"),
            sema,
            sema,
            sema,
        )

    @primitive(
        "primitiveSocketCreate3Semaphores",
        "primSocketCreateNetwork:type:receiveBufferSize:sendBufSize:semaIndex:readSemaIndex:"
        "writeSemaIndex:",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
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
        return self.sockets.create(
            small_integer(netType, "netType"),
            small_integer(socketType, "socketType"),
            small_integer(recvBufSize, "recvBufSize"),
            small_integer(sendBufSize, "sendBufSize"),
            small_integer(semaIndex, "semaIndex"),
            small_integer(readSemaIndex, "readSemaIndex"),
            small_integer(writeSemaIndex, "writeSemaIndex"),
        )

    @primitive(
        "primitiveSocketCreateRAW",
        "primSocketCreateRaw:type:receiveBufferSize:sendBufSize:semaIndex:readSemaIndex:"
        "writeSemaIndex:",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
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
            small_integer(netType, "netType"),
            small_integer(protoType, "protoType"),
            small_integer(recvBufSize, "recvBufSize"),
            small_integer(sendBufSize, "sendBufSize"),
            small_integer(semaIndex, "semaIndex"),
            small_integer(readSemaIndex, "readSemaIndex"),
            small_integer(writeSemaIndex, "writeSemaIndex"),
        )

    # -- status --------------------------------------------------------------------------

    @primitive("primitiveSocketConnectionStatus", "primSocketConnectionStatus:", "Oop")
    def primitiveSocketConnectionStatus(self, socket: Any) -> int:
        """-1 Invalid .. 4 ThisEndClosed; fails for a destroyed or foreign handle."""
        return self.sockets.connection_status(socket_handle(socket))

    @primitive("primitiveSocketError", "primSocketError:", "Oop")
    def primitiveSocketError(self, socket: Any) -> int:
        """The errno of the socket's last failed operation (0 if none)."""
        return self.sockets.error(socket_handle(socket))

    # -- old API addresses and ports -----------------------------------------------------

    @primitive("primitiveSocketLocalAddress", "primSocketLocalAddress:", "Oop")
    def primitiveSocketLocalAddress(self, socket: Any) -> bytes:
        """The local IPv4 address (0.0.0.0 if not INET4 or unbound)."""
        return self.sockets.local_address(socket_handle(socket)).to_bytes(4, "big")

    @primitive("primitiveSocketLocalPort", "primSocketLocalPort:", "Oop")
    def primitiveSocketLocalPort(self, socket: Any) -> int:
        """The local port (0 if not INET4 or unbound)."""
        return self.sockets.local_port(socket_handle(socket))

    @primitive("primitiveSocketRemoteAddress", "primSocketRemoteAddress:", "Oop")
    def primitiveSocketRemoteAddress(self, socket: Any) -> bytes:
        """The peer's IPv4 address (TCP: getpeername; UDP: the default peer)."""
        return self.sockets.remote_address(socket_handle(socket)).to_bytes(4, "big")

    @primitive("primitiveSocketRemotePort", "primSocketRemotePort:", "Oop")
    def primitiveSocketRemotePort(self, socket: Any) -> int:
        """The peer's port (TCP: getpeername; UDP: the default peer)."""
        return self.sockets.remote_port(socket_handle(socket))

    # -- new API addresses --------------------------------------------------------------

    @primitive("primitiveSocketLocalAddressSize", "primSocketLocalAddressSize:", "Oop")
    def primitiveSocketLocalAddressSize(self, socket: Any) -> int:
        """Size of the local socket address (header + getsockname), 0 if it fails."""
        return self.sockets.local_address_size(socket_handle(socket))

    @primitive("primitiveSocketLocalAddressResult", "primSocket:localAddressResult:", "Oop", "Oop")
    def primitiveSocketLocalAddressResult(self, socket: Any, socketAddress: Any) -> None:
        """Fill an address object of exactly LocalAddressSize bytes."""
        handle = socket_handle(socket)
        target = mutable_bytes(socketAddress, "the socket address")
        target[:] = self.sockets.local_address_result(handle, len(target))

    @primitive("primitiveSocketRemoteAddressSize", "primSocketRemoteAddressSize:", "Oop")
    def primitiveSocketRemoteAddressSize(self, socket: Any) -> int:
        """Size of the peer's socket address, -1 if there is none."""
        return self.sockets.remote_address_size(socket_handle(socket))

    @primitive(
        "primitiveSocketRemoteAddressResult", "primSocket:remoteAddressResult:", "Oop", "Oop"
    )
    def primitiveSocketRemoteAddressResult(self, socket: Any, socketAddress: Any) -> None:
        """Fill an address object of exactly RemoteAddressSize bytes (once per Size call)."""
        handle = socket_handle(socket)
        target = mutable_bytes(socketAddress, "the socket address")
        target[:] = self.sockets.remote_address_result(handle, len(target))

    # -- connect / bind / listen ------------------------------------------------------

    @primitive(
        "primitiveSocketConnectToPort",
        "primSocket:connectTo:port:",
        "Oop",
        "ByteArray",
        "SmallInteger",
    )
    def primitiveSocketConnectToPort(self, socket: Any, address: Any, port: Any) -> None:
        """Connect to an IPv4 address and port (UDP: set the default peer)."""
        addr = net_address(address, "the address")
        portnum = small_integer(port, "the port")
        self.sockets.connect_to_port(socket_handle(socket), addr, portnum)

    @primitive("primitiveSocketConnectTo", "primSocket:connectTo:", "Oop", "Oop")
    def primitiveSocketConnectTo(self, socket: Any, socketAddress: Any) -> None:
        """Connect to a socket address (any family: a Unix path, INET4, INET6)."""
        handle = socket_handle(socket)
        self.sockets.connect_to(handle, byte_object(socketAddress, "the socket address"))

    @primitive(
        "primitiveSocketBindToPort", "primSocket:bindTo:port:", "Oop", "ByteArray", "SmallInteger"
    )
    def primitiveSocketBindToPort(self, socket: Any, address: Any, port: Any) -> None:
        """Bind to an IPv4 address and port; fails (keeping errno) if bind() fails."""
        addr = net_address(address, "the address")
        portnum = small_integer(port, "the port")
        self.sockets.bind_to_port(socket_handle(socket), addr, portnum)

    @primitive("primitiveSocketBindTo", "primSocket:bindTo:", "Oop", "Oop")
    def primitiveSocketBindTo(self, socket: Any, socketAddress: Any) -> None:
        """Bind to a socket address; for a Unix path this creates the socket file."""
        handle = socket_handle(socket)
        self.sockets.bind_to(handle, byte_object(socketAddress, "the socket address"))

    @primitive("primitiveSocketListenOnPort", "primSocket:listenOn:", "Oop", "SmallInteger")
    def primitiveSocketListenOnPort(self, socket: Any, port: Any) -> None:
        """Bind to INADDR_ANY:port and listen with backlog 1 (accept replaces in place)."""
        portnum = small_integer(port, "the port")
        self.sockets.listen_on_port(socket_handle(socket), portnum, 1, 0)

    @primitive(
        "primitiveSocketListenOnPortBacklog",
        "primSocket:listenOn:backlogSize:",
        "Oop",
        "SmallInteger",
        "SmallInteger",
    )
    def primitiveSocketListenOnPortBacklog(self, socket: Any, port: Any, backlog: Any) -> None:
        """Bind to INADDR_ANY:port and listen; backlog > 1: accept with primitiveSocketAccept."""
        portnum = small_integer(port, "the port")
        size = small_integer(backlog, "the backlog")
        self.sockets.listen_on_port(socket_handle(socket), portnum, size, 0)

    @primitive(
        "primitiveSocketListenOnPortBacklogInterface",
        "primSocket:listenOn:backlogSize:interface:",
        "Oop",
        "SmallInteger",
        "SmallInteger",
        "ByteArray",
    )
    def primitiveSocketListenOnPortBacklogInterface(
        self, socket: Any, port: Any, backlog: Any, ifAddr: Any
    ) -> None:
        """Bind to interface:port and listen with the given backlog."""
        portnum = small_integer(port, "the port")
        size = small_integer(backlog, "the backlog")
        addr = net_address(ifAddr, "the interface address")
        self.sockets.listen_on_port(socket_handle(socket), portnum, size, addr)

    @primitive(
        "primitiveSocketListenWithOrWithoutBacklog",
        "primSocket:listenOn:[backlogSize:]",
        "Oop",
        "SmallInteger",
        "[SmallInteger]",
    )
    def primitiveSocketListenWithOrWithoutBacklog(
        self, socket: Any, port: Any, *backlog: Any
    ) -> None:
        """Old dual primitive: two arguments listen on a port, three add a backlog."""
        if len(backlog) > 1:
            raise ArgumentError("takes a socket, a port and at most a backlog")
        size = small_integer(backlog[0], "the backlog") if backlog else 1
        portnum = small_integer(port, "the port")
        self.sockets.listen_on_port(socket_handle(socket), portnum, size, 0)

    @primitive(
        "primitiveSocketListenWithBacklog", "primSocket:listenWithBacklog:", "Oop", "SmallInteger"
    )
    def primitiveSocketListenWithBacklog(self, socket: Any, backlogSize: Any) -> None:
        """Listen on a socket already bound (bindTo:); backlog > 1 needs a TCP socket."""
        size = small_integer(backlogSize, "the backlog")
        self.sockets.listen_backlog(socket_handle(socket), size)

    # -- accept --------------------------------------------------------------------------

    @primitive(
        "primitiveSocketAccept",
        "primAcceptFrom:receiveBufferSize:sendBufSize:semaIndex:",
        "Oop",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
    )
    def primitiveSocketAccept(
        self, sockHandle: Any, recvBufSize: Any, sendBufSize: Any, semaIndex: Any
    ) -> bytearray:
        """Take the connection a backlog > 1 listener has accepted; answer its new handle."""
        sema = small_integer(semaIndex, "semaIndex")
        return self.sockets.accept_from(
            socket_handle(sockHandle, "the server socket"),
            small_integer(recvBufSize, "recvBufSize"),
            small_integer(sendBufSize, "sendBufSize"),
            sema,
            sema,
            sema,
        )

    @primitive(
        "primitiveSocketAccept3Semaphores",
        "primAcceptFrom:receiveBufferSize:sendBufSize:semaIndex:readSemaIndex:writeSemaIndex:",
        "Oop",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
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
        return self.sockets.accept_from(
            socket_handle(sockHandle, "the server socket"),
            small_integer(recvBufSize, "recvBufSize"),
            small_integer(sendBufSize, "sendBufSize"),
            small_integer(semaIndex, "semaIndex"),
            small_integer(readSemaIndex, "readSemaIndex"),
            small_integer(writeSemaIndex, "writeSemaIndex"),
        )

    # -- data ------------------------------------------------------------------------------

    @primitive("primitiveSocketReceiveDataAvailable", "primSocketReceiveDataAvailable:", "Oop")
    def primitiveSocketReceiveDataAvailable(self, socket: Any) -> bool:
        """True if a read would find data; if not, the read semaphore is signalled when it would."""
        return self.sockets.receive_data_available(socket_handle(socket))

    @primitive("primitiveSocketSendDone", "primSocketSendDone:", "Oop")
    def primitiveSocketSendDone(self, socket: Any) -> bool:
        """True if a write would not block; if not, the write semaphore is signalled later."""
        return self.sockets.send_done(socket_handle(socket))

    @primitive(
        "primitiveSocketReceiveDataBufCount",
        "primSocket:receiveDataInto:startingAt:count:",
        "Oop",
        "Oop",
        "SmallInteger",
        "SmallInteger",
    )
    def primitiveSocketReceiveDataBufCount(
        self, socket: Any, array: Any, startIndex: Any, count: Any
    ) -> int:
        """Read at most count elements into array at startIndex (1-based); 0 if nothing is there."""
        handle = socket_handle(socket)
        window, element = data_buffer(array, startIndex, count, "the receive buffer", True)
        return self.sockets.receive(handle, window) // element

    @primitive(
        "primitiveSocketSendDataBufCount",
        "primSocket:sendData:startIndex:count:",
        "Oop",
        "Oop",
        "SmallInteger",
        "SmallInteger",
    )
    def primitiveSocketSendDataBufCount(
        self, socket: Any, array: Any, startIndex: Any, count: Any
    ) -> int:
        """Write at most count elements from array at startIndex (1-based); answer how many went."""
        handle = socket_handle(socket)
        window, element = data_buffer(array, startIndex, count, "the send buffer", False)
        return self.sockets.send(handle, window) // element

    @primitive(
        "primitiveSocketReceiveUDPDataBufCount",
        "primSocket:receiveUDPDataInto:startingAt:count:",
        "Oop",
        "Oop",
        "SmallInteger",
        "SmallInteger",
    )
    def primitiveSocketReceiveUDPDataBufCount(
        self, socket: Any, array: Any, startIndex: Any, count: Any
    ) -> list[Any]:
        """Receive a datagram: answer {count, sender address (4 bytes), sender port, more?}."""
        handle = socket_handle(socket)
        window, element = data_buffer(array, startIndex, count, "the receive buffer", True)
        n, address, port, more = self.sockets.receive_udp_old(handle, window)
        return [n // element, address.to_bytes(4, "big"), port, more]

    @primitive(
        "primitiveSocketSendUDPDataBufCount",
        "primSocket:sendUDPData:toHost:port:startIndex:count:",
        "Oop",
        "Oop",
        "ByteArray",
        "SmallInteger",
        "SmallInteger",
        "SmallInteger",
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
        handle = socket_handle(socket)
        port = small_integer(portNumber, "the port")
        window, element = data_buffer(array, startIndex, count, "the send buffer", False)
        address = net_address(hostAddress, "the host address")
        return self.sockets.send_udp_old(handle, address, port, window) // element

    # -- options ----------------------------------------------------------------------------

    @primitive(
        "primitiveSocketSetOptions", "primSocket:setOption:value:", "Oop", "String", "String"
    )
    def primitiveSocketSetOptions(
        self, socket: Any, optionName: Any, optionValue: Any
    ) -> list[int]:
        """Set an option by name ('TCP_NODELAY', value '1'); answer {0, the value set}."""
        handle = socket_handle(socket)
        name = byte_object(optionName, "the option name")
        value = byte_object(optionValue, "the option value")
        return [0, self.sockets.set_option(handle, name, value)]

    @primitive("primitiveSocketGetOptions", "primSocket:getOption:", "Oop", "String")
    def primitiveSocketGetOptions(self, socket: Any, optionName: Any) -> list[int]:
        """Get an integer option by name; answer {0, value}. Unknown names fail."""
        handle = socket_handle(socket)
        return [0, self.sockets.get_option(handle, byte_object(optionName, "the option name"))]

    # -- close ------------------------------------------------------------------------------

    @primitive("primitiveSocketCloseConnection", "primSocketCloseConnection:", "Oop")
    def primitiveSocketCloseConnection(self, socket: Any) -> None:
        """Close the connection (with a 1 s linger if it was connected); state becomes 0."""
        self.sockets.close(socket_handle(socket))

    @primitive("primitiveSocketAbortConnection", "primSocketAbortConnection:", "Oop")
    def primitiveSocketAbortConnection(self, socket: Any) -> None:
        """Close without lingering (linger off: close() returns at once; a FIN, not a reset)."""
        self.sockets.abort(socket_handle(socket))

    @primitive("primitiveSocketDestroy", "primSocketDestroy:", "Oop")
    def primitiveSocketDestroy(self, socket: Any) -> None:
        """Abort if open, free the socket, and null the handle's pointer in place."""
        self.sockets.destroy(socket_handle(socket))
