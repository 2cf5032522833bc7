"""The fuzz suite's world, argument generators and checks (tests/test_fuzz_primitives.py).

A :class:`World` is one emulated plugin with a bit of everything the image could
hold: listeners (backlog 1 and 5, one holding a parked connection), connected TCP and
Unix pairs, UDP sockets, an unconnected socket, a destroyed handle and a stale copy of
it, a handle of another plugin (another network session), real socket addresses, and
free socket paths in a private directory.

:class:`Fuzzer` draws, for each argument of a primitive (by its parameter name), a
value of the right kind -- a live handle, a real address, a buffer, a window, a code
-- or a wrong one: another kind, a size off by one, a window that does not fit, a
forged, stale or foreign handle or address (bytes of a real one mutated). Every
argument that is a buffer is filled with a sentinel pattern, so that
:meth:`Call.check` can tell exactly which bytes the primitive wrote.

Hermetic by construction, whatever the mutations: an IPv4/IPv6 destination is always
loopback (or the wildcard), a port is one of the world's, a Unix path is in the
world's directory, an abstract name has the world's prefix, a host name is one the C
library answers without DNS (tests/netguard.py judges, and also refuses at run time
whatever slipped through), and data never goes to sockets of other families (netlink,
packet, vsock: their sockets are made, inspected and closed, never sent on). Options
that would leave the machine (joining a multicast group, a raw socket's own IP header)
get values the kernel refuses.
"""

from __future__ import annotations

import array
import contextlib
import inspect
import os
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import netguard
from hypothesis import strategies as st
from plugin_support import LOOPBACK, Harness, has_ipv6_loopback, short_tmpdir

from sqsocket.errors import PrimitiveFailed
from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.layouts import (
    ADDRESS_HEADER_SIZE,
    SocketHandle,
    build_socket_address,
    sockaddr_in,
)
from sqsocket.platform.options import SOCKET_OPTIONS, find_option
from sqsocket.plugin import SocketPlugin
from sqsocket.plugin.arguments import SMALLINT_MAX, SMALLINT_MIN
from sqsocket.vm.events import PrimitiveCalled, VMEvent

# -- counting -------------------------------------------------------------------------------------


@dataclass
class CallCounter:
    """Primitive calls the suites made (``PrimitiveCalled`` events), by suite."""

    by_suite: dict[str, int] = field(default_factory=dict)

    def observer(self, suite: str) -> Callable[[VMEvent], None]:
        def count(event: VMEvent) -> None:
            if isinstance(event, PrimitiveCalled):
                self.by_suite[suite] = self.by_suite.get(suite, 0) + 1

        return count

    @property
    def total(self) -> int:
        return sum(self.by_suite.values())


#: Shared by both suites; conftest's terminal summary prints it.
CALLS = CallCounter()


# -- what stays on this machine -------------------------------------------------------------------

SAFE_FAMILIES = frozenset({socket.AF_UNIX, socket.AF_INET, socket.AF_INET6})

# netTypes fuzzed. Besides 0..3 (and AF_INET6's own 10) the C code passes any value to
# socket() unchanged. Families the kernel may lack are left out on purpose: socket()
# of a missing family makes a root process load its module (request_module), and a
# test must not change the host. Netlink, packet and vsock (the one that could not be
# closed) are commonly built in; 46 and up are past AF_MAX; negatives fail in the plugin.
NET_TYPES = (0, 1, 2, 3, socket.AF_INET6, 16, 17, 40, 46, 100, 255, 65535, -1, -2)
SOCKET_TYPES = (0, 1, 2, 3, 4, 5, -1, 65536, 65537, 1 << 20)
SMALL_EDGES = (SMALLINT_MIN, SMALLINT_MAX, SMALLINT_MAX + 1, SMALLINT_MIN - 1, 1 << 40)

# data, connections and binds only on these families (see the module docstring)
_DATA_PRIMITIVES = frozenset(
    {
        "primitiveSocketConnectToPort",
        "primitiveSocketConnectTo",
        "primitiveSocketBindToPort",
        "primitiveSocketBindTo",
        "primitiveSocketListenOnPort",
        "primitiveSocketListenOnPortBacklog",
        "primitiveSocketListenOnPortBacklogInterface",
        "primitiveSocketListenWithOrWithoutBacklog",
        "primitiveSocketListenWithBacklog",
        "primitiveSocketAccept",
        "primitiveSocketAccept3Semaphores",
        "primitiveSocketSendDataBufCount",
        "primitiveSocketSendUDPDataBufCount",
    }
)
# option values the kernel would act on beyond loopback get ones it refuses
_TRUNCATED_OPTIONS = {"IP_ADD_MEMBERSHIP": 7, "IP_DROP_MEMBERSHIP": 7}
_ZERO_OPTIONS = frozenset({"IP_HDRINCL"})

_PATTERN = bytes((i * 37 + 0xA5) & 0xFF for i in range(4096))


def sentinel(n: int) -> bytearray:
    """``n`` bytes of a pattern no primitive would write by chance."""
    reps = n // len(_PATTERN) + 1
    return bytearray((_PATTERN * reps)[:n])


def _c_string(data: bytes) -> bytes:
    return data.split(b"\0", 1)[0]


# -- the world ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Foreign:
    """A live handle of another plugin (another network session), and that session."""

    handle: bytes
    session: int


@contextlib.contextmanager
def foreign_plugin() -> Iterator[Foreign]:
    """Another emulated VM with one socket: its handle is foreign to every world."""
    with Harness.started() as other:
        yield Foreign(bytes(other.create(NetDomain.INET4, SocketType.TCP).handle), other.session)


@dataclass
class HandleInfo:
    handle: bytearray
    family: int  # what socket() was asked for (-1: not a live socket)
    kind: str


class World:
    """One emulated plugin holding a bit of everything; close() releases it all."""

    def __init__(self, profile: str, foreign: Foreign, suite: str) -> None:
        self.profile = profile
        self.stack = contextlib.ExitStack()
        self.dir = self.stack.enter_context(short_tmpdir("sqf-"))
        self.h: Harness = self.stack.enter_context(Harness.started(profile))
        self.p = self.h.p
        self.foreign = foreign
        self.handles: list[HandleInfo] = []
        self.made: list[HandleInfo] = []  # made by the fuzzed calls (creates, accepts)
        self.dead: list[bytes] = []
        self.addresses: list[bytes] = []
        self.ports: list[int] = []
        self.abstract_prefix = b"\0sqfz-" + os.path.basename(self.dir).encode()
        self.setup_counter = CALLS.observer(f"{suite} (set-up)")
        stop = self.p.observe(self.setup_counter)
        try:
            self._build()
        except BaseException:
            self.stack.close()  # a half-built world leaks nothing either
            raise
        finally:
            stop()
        # from here on only the fuzzed calls count
        self.stop_counting = self.p.observe(CALLS.observer(suite))

    # -- set-up -----------------------------------------------------------------------

    def _add(self, handle: bytearray, family: int, kind: str) -> None:
        self.handles.append(HandleInfo(handle, family, kind))

    def _build(self) -> None:
        h, p = self.h, self.h.p
        client, server, listener = h.tcp_pair()
        self._add(client.handle, socket.AF_INET, "tcp client")
        self._add(server.handle, socket.AF_INET, "tcp server")
        self._add(listener.handle, socket.AF_INET, "tcp listener (backlog 5)")
        port = p.primitiveSocketLocalPort(listener.handle)
        self.ports.append(port)
        # a second client: the listener parks its connection on the next poll
        parked = h.create(NetDomain.INET4, SocketType.TCP)
        p.primitiveSocketConnectToPort(parked.handle, LOOPBACK, port)
        assert listener.conn.wait(5.0), "the listener parked the second connection"
        self._add(parked.handle, socket.AF_INET, "tcp client (parked)")
        one, port1 = h.tcp_listener(backlog=1)
        self._add(one.handle, socket.AF_INET, "tcp listener (backlog 1)")
        self.ports.append(port1)
        uclient, userver, ulistener = h.unix_pair(self.dir)
        self._add(uclient.handle, socket.AF_UNIX, "unix client")
        self._add(userver.handle, socket.AF_UNIX, "unix server")
        self._add(ulistener.handle, socket.AF_UNIX, "unix listener")
        udp = h.create(NetDomain.INET4, SocketType.UDP)
        p.primitiveSocketBindToPort(udp.handle, LOOPBACK, 0)
        self.ports.append(p.primitiveSocketLocalPort(udp.handle))
        self._add(udp.handle, socket.AF_INET, "udp")
        self._add(h.create(NetDomain.LOCAL, SocketType.UDP).handle, socket.AF_UNIX, "unix dgram")
        self._add(
            h.create(NetDomain.INET4, SocketType.TCP).handle, socket.AF_INET, "tcp unconnected"
        )
        if has_ipv6_loopback():
            self._add(
                h.create(NetDomain.INET6, SocketType.TCP).handle,
                socket.AF_INET6,
                "tcp6 unconnected",
            )
        # sockets of other families, where this kernel makes them (inspected, never sent
        # on): netlink and vsock. (A packet socket, 17, is only made by fuzzed creates:
        # closing one waits for the kernel's synchronize_net(), some 20 ms.)
        for net_type, kind in ((16, SocketType.UDP), (40, SocketType.TCP)):
            with contextlib.suppress(PrimitiveFailed):
                self._add(h.create(net_type, kind).handle, net_type, f"family {net_type}")
        # gone: destroyed (the pointer nulled), and a copy made before (a stale pointer)
        gone = h.create(NetDomain.INET4, SocketType.TCP)
        stale = bytes(gone.handle)
        p.primitiveSocketDestroy(gone.handle)
        self.dead += [bytes(gone.handle), stale]
        self.dead.append(self.foreign.handle)
        # addresses the image could hold
        path = os.path.join(self.dir, "pair.sock").encode()
        self.paths = [path, os.path.join(self.dir, "free.sock").encode(), self.dir.encode()]
        self.addresses += [
            bytes(h.inet_address(port)),
            bytes(h.inet_address(self.ports[-1])),
            bytes(h.unix_address(path)),
            bytes(h.unix_address(self.paths[1])),
            bytes(h.local_address(client)),
            bytes(h.inet6_address(port)),
            bytes(build_socket_address(self.h.session, b"\x01\x00" + self.abstract_prefix)),
            bytes(build_socket_address(self.foreign.session, sockaddr_in("127.0.0.1", port))),
        ]
        # data waiting to be read at both ends of both pairs, and two datagrams
        for sender, receiver in ((client, server), (server, client), (uclient, userver)):
            h.send_all(sender, _PATTERN[:700])
            self._await_data(receiver)
        for _ in range(2):
            p.primitiveSocketSendUDPDataBufCount(
                udp.handle, _PATTERN, LOOPBACK, self.ports[-1], 1, 99
            )
        self._await_data(udp)
        # resolver results for the Size/Result/Family... primitives to find
        p.primitiveResolverGetAddressInfo("127.0.0.1", str(port), 1, 2, 1, 1)
        p.primitiveResolverGetNameInfo(h.inet_address(port), 1)
        p.vm.relinquish(0)

    def restart(self) -> None:
        """The VM shuts the module down and the image starts the network again: every
        handle and address of the world now belongs to an old session."""
        self.p.shutdownModule()
        self.p.primitiveInitializeNetwork(self.h.resolver_index)

    def _await_data(self, s: Any) -> None:
        """Wait as the image waits (ReceiveDataAvailable, then the read semaphore)."""
        for _ in range(50):
            if self.p.primitiveSocketReceiveDataAvailable(s.handle):
                return
            s.read.wait(0.1)
        raise AssertionError("the world's data did not arrive")

    def close(self) -> None:
        """Destroy what the image holds, then quit the VM (closing the plugin).

        Destroying first is the image's own clean-up (``Socket>>destroy``); it also
        aborts, so no close lingers (a lingering close of a connected socket waits for
        the FIN's acknowledgement: milliseconds on some kernels).
        """
        self.stop_counting()
        stop = self.p.observe(self.setup_counter)
        try:
            for info in self.handles:
                with contextlib.suppress(PrimitiveFailed):
                    self.p.primitiveSocketDestroy(info.handle)
        finally:
            stop()
            self.stack.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- white-box questions ------------------------------------------------------------

    def family_behind(self, handle: object) -> int | None:
        """The family of the live socket a handle reaches in this plugin (None: none)."""
        if not isinstance(handle, bytes | bytearray) or len(handle) != 16:
            return None
        h = SocketHandle.parse(handle)
        if h.session_id != self.p.session_id:
            return None
        pss = self.p.net.sockets.get(h.private_ptr)
        if pss is None or pss.sock is None:
            return None
        return int(pss.sock.family)

    def track_new(self, name: str, args: tuple[Any, ...], result: Any) -> None:
        """A create or accept answered a new handle: later calls may use it."""
        if not isinstance(result, bytearray):
            return
        family = self.family_behind(result)
        self._add(result, -1 if family is None else family, f"made by {name}")
        self.made.append(self.handles[-1])


# -- hermetic values ------------------------------------------------------------------------------


def _local_v4(ip: bytes) -> bool:
    return ip[0] == 127 or ip == b"\0\0\0\0"


def _local_v6(ip: bytes) -> bool:
    if ip in (bytes(15) + b"\x01", bytes(16)):
        return True
    return ip[:12] == bytes(10) + b"\xff\xff" and _local_v4(ip[12:])


def hermetic_sockaddr(sa: bytes, world: World) -> bytes:
    """``sa`` with every destination this machine's and every path the world's."""
    if len(sa) < 2:
        return sa
    (family,) = struct.unpack_from("=H", sa)
    out = bytearray(sa)
    if family in (socket.AF_INET, socket.AF_UNSPEC, socket.AF_INET6) and len(out) >= 4:
        (port,) = struct.unpack_from(">H", out, 2)
        if port not in world.ports and port != 0:
            struct.pack_into(">H", out, 2, world.ports[port % len(world.ports)])
    if family in (socket.AF_INET, socket.AF_UNSPEC) and len(out) >= 8:
        if not _local_v4(bytes(out[4:8])):
            out[4] = 127
    elif family == socket.AF_INET6 and len(out) >= 24:
        if not _local_v6(bytes(out[8:24])):
            out[8:24] = bytes(15) + b"\x01"
    elif family == socket.AF_UNIX and len(out) > 2:
        path = bytes(out[2:])
        if path.startswith(b"\0"):
            # an abstract name: only ones with the world's prefix
            prefix = world.abstract_prefix
            if not path.startswith(prefix):
                out[2:] = prefix + path[len(prefix) :]
        else:
            # a path: only names directly inside the world's directory
            name = _c_string(path)
            prefix = world.dir.encode() + b"/"
            tail = name[len(prefix) :] if name.startswith(prefix) else name[-8:]
            if not name.startswith(prefix) or b"/" in tail or tail in (b"", b".", b".."):
                safe = prefix + (tail.replace(b"/", b"_").lstrip(b".") or b"x")
                safe += b"_" * (len(name) - len(safe))
                out[2:] = safe + path[len(name) :]
    return bytes(out)


def hermetic_address(address: bytes, world: World) -> bytes:
    """A socket address (8-byte header + sockaddr) made hermetic; the header is left alone."""
    if len(address) <= ADDRESS_HEADER_SIZE:
        return address
    return address[:ADDRESS_HEADER_SIZE] + hermetic_sockaddr(address[ADDRESS_HEADER_SIZE:], world)


def hermetic_host(name: bytes, family: int) -> bool:
    return netguard.rules().lookup_stays(_c_string(name), family)


def _host_stays(value: object, limit: int | None, family: int) -> bool:
    """Would the resolver's lookup of this argument stay on this machine?"""
    if isinstance(value, str):
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            return True  # the primitive fails before any lookup
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    else:
        return True  # not a String: the primitive fails
    return hermetic_host(raw if limit is None else raw[:limit], family)


# -- buffers --------------------------------------------------------------------------------------


@dataclass
class Tracked:
    """A buffer-like argument: the object passed, what holds its bytes, where they start."""

    passed: object
    parent: bytearray | array.array[int] | bytes
    offset: int  # byte offset of ``passed`` inside ``parent``
    element: int  # 1, or 4 for a word array

    def raw(self) -> bytes:
        parent = self.parent
        return parent.tobytes() if isinstance(parent, array.array) else bytes(parent)


def byte_buffer(f: Fuzzer, size: int, writable: bool = True) -> Tracked:
    """A sentinel-filled buffer of ``size`` elements: a bytearray, a view with margins
    around it, a word array; a bytes or str (read-only: a primitive that writes fails)."""
    immutable = f.chance(0.05) if writable else f.chance(0.4)
    kinds = ["bytes", "str"] if immutable else ["bytearray", "view", "words"]
    kind = f.draw(st.sampled_from(kinds))
    if kind == "view":
        margin = f.draw(st.integers(0, 9))
        parent = sentinel(size + 2 * margin)
        return Tracked(memoryview(parent)[margin : margin + size], parent, margin, 1)
    if kind == "words":
        words = array.array("I")
        words.frombytes(bytes(sentinel(size * 4)))
        return Tracked(words, words, 0, 4)
    if kind == "bytes":
        b = bytes(sentinel(size))
        return Tracked(b, b, 0, 1)
    if kind == "str":
        text = bytes(sentinel(size)).decode("latin-1")
        return Tracked(text, bytes(sentinel(size)), 0, 1)
    b = sentinel(size)
    return Tracked(b, b, 0, 1)


# -- the fuzzer -----------------------------------------------------------------------------------


JUNK = st.sampled_from(
    [None, True, False, 1.5, -1, 0, 7, 1 << 40, "", "x", b"", b"\0" * 16, [1, 2], {}, object()]
)


class Fuzzer:
    """Draws the arguments of one primitive call in one world."""

    def __init__(self, world: World, data: st.DataObject) -> None:
        self.w = world
        self.data = data

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.data.draw(strategy)

    def chance(self, p: float) -> bool:
        """True with probability about ``p``; the simplest draw (0) is False.

        Hypothesis favours simple values (and shrinks towards them): every choice here
        is laid out so that the simplest one is the well-formed call.
        """
        return bool(self.draw(st.integers(0, 999)) >= 1000 - p * 1000)

    # -- simple values ------------------------------------------------------------------

    def small(
        self, common: tuple[int, ...], lo: int = -3, hi: int = 70, rare: tuple[int, ...] = ()
    ) -> int:
        """Mostly a common value (the first the simplest), sometimes any in lo..hi or a
        rare one, now and then a SmallInteger edge (or past it)."""
        if self.chance(0.04):
            return int(self.draw(st.sampled_from(SMALL_EDGES)))
        if rare and self.chance(0.15):
            return int(self.draw(st.sampled_from(rare)))
        if self.chance(0.1):
            return int(self.draw(st.integers(lo, hi)))
        return int(self.draw(st.sampled_from(common)))

    def sema_index(self) -> int:
        live = max(1, self.w.p.vm.external_objects.size)
        return self.small((0, 1, 2, 3, live, live + 1, 999))

    def port(self) -> int:
        # only the world's ports, 0, and values whose low 16 bits are those (or 0)
        base = self.draw(st.sampled_from([0, *self.w.ports]))
        return int(base + self.draw(st.sampled_from([0, 0, 0, 65536, -65536, 1 << 20])))

    def handle(self) -> Any:
        w = self.w
        if w.made and self.chance(0.4):
            return self.draw(st.sampled_from(w.made[::-1])).handle  # the newest first
        choice = self.draw(st.integers(0, 9))
        if choice <= 5 and w.handles:
            return self.draw(st.sampled_from(w.handles)).handle
        if choice == 6:
            return self.draw(st.sampled_from(w.dead))
        if choice in (7, 8) and w.handles:
            real = bytes(self.draw(st.sampled_from(w.handles)).handle)
            return self.mutate(real, bytearray)
        return self.draw(JUNK)

    def mutate(self, real: bytes, kind: type) -> Any:
        raw = bytearray(real)
        for _ in range(self.draw(st.integers(1, 3))):
            how = self.draw(st.sampled_from(["byte", "bit", "truncate", "extend", "session"]))
            if how == "byte" and raw:
                i = self.draw(st.integers(0, len(raw) - 1))
                raw[i] = self.draw(st.integers(0, 255))
            elif how == "bit" and raw:
                i = self.draw(st.integers(0, len(raw) * 8 - 1))
                raw[i // 8] ^= 1 << (i % 8)
            elif how == "truncate":
                del raw[self.draw(st.integers(0, len(raw))) :]
            elif how == "extend":
                raw += self.draw(st.binary(min_size=1, max_size=4))
            elif how == "session" and len(raw) >= 4:
                delta = self.draw(st.sampled_from([1, -1, 1 << 16]))
                (session,) = struct.unpack_from("=i", raw)
                struct.pack_into(
                    "=i", raw, 0, (session + delta + (1 << 31)) % (1 << 32) - (1 << 31)
                )
        return kind(raw)

    def socket_address(self) -> Any:
        w = self.w
        choice = self.draw(st.integers(0, 9))
        if choice <= 4:
            real = self.draw(st.sampled_from(w.addresses))
        elif choice <= 7:
            real = self.mutate(self.draw(st.sampled_from(w.addresses)), bytes)
        elif choice == 8:
            return self.draw(JUNK)
        else:
            real = bytes(build_socket_address(w.p.session_id, self.draw(st.binary(max_size=40))))
        safe = hermetic_address(real, w)
        as_kind = self.draw(st.sampled_from([bytearray, bytes, "view"]))
        if as_kind == "view":
            return memoryview(bytearray(safe))
        return as_kind(safe)

    def net_address(self) -> Any:
        """A 4-byte IPv4 address (loopback or the wildcard), or one of the wrong size/kind."""
        good = [LOOPBACK, b"\x7f\x00\x00\x02", b"\0\0\0\0", b"\x7f\xff\xff\xff"]
        bad = [b"\x7f\0\0", b"\x7f\0\0\x01\0", b""]
        value = self.draw(st.sampled_from(bad if self.chance(0.15) else good))
        if self.chance(0.05):
            return self.draw(JUNK)
        kind = self.draw(st.sampled_from([bytes, bytearray, "str"]))
        if kind == "str":
            return value.decode("latin-1")
        return kind(value)

    def host_name(self, family: int = socket.AF_INET) -> Any:
        names = [b"localhost", b"LocalHost", b"127.0.0.1", b"127.1", b"0", b"::1", b"::", b""]
        names += [b"a" * 64, b"localhost\0" + b"x" * 70, b"x" * 65, b"a..b", b"1.2.3.4"]
        names += [h.encode() for h in sorted(netguard.rules().hosts)]
        name = self.draw(st.sampled_from(names))
        if self.chance(0.2):
            name = name + b"\0" + self.draw(st.binary(max_size=8))
        if not hermetic_host(name[:64], family):
            name = b"127.0.0.1" if family != socket.AF_INET6 else b"::1"
        if self.chance(0.05):
            return self.draw(JUNK)
        kind = self.draw(st.sampled_from(["str", bytes, bytearray]))
        if kind == "str":
            return name.decode("latin-1")
        return bytes(name) if kind is bytes else bytearray(name)

    def service(self) -> Any:
        w = self.w
        values = [str(port).encode() for port in w.ports]
        values += [b"", b"80", b"http", b"0", b"65535", b"99999", b"nosuchservice", b"x" * 65]
        values += [*w.paths, w.paths[0] + b"\0", w.paths[0][:-1] + b"\0tail"]
        value = self.draw(st.sampled_from(values))
        if self.chance(0.1):
            return self.draw(JUNK)
        return value if self.chance(0.5) else value.decode("latin-1")

    def option_name(self) -> Any:
        names = [opt.name.encode() for opt in SOCKET_OPTIONS]
        names += [b"", b"so_keepalive", b"TCP_NODELAY\0junk", b"X" * 32, b"SO_KEEPALIVE" + b" "]
        name = self.draw(st.sampled_from(names))
        if self.chance(0.1):
            return self.draw(JUNK)
        return name if self.chance(0.3) else name.decode("latin-1")

    def option_value(self) -> Any:
        values = [b"0", b"1", b"2", b"9", b"", b"0x10", b"017", b"-1", b"12345", b"a"]
        values += [b"\x01\x00\x00\x00", bytes(8), b"x" * 31, b"x" * 32]
        value = self.draw(st.binary(max_size=12) if self.chance(0.2) else st.sampled_from(values))
        if self.chance(0.1):
            return self.draw(JUNK)
        return value if self.chance(0.4) else value.decode("latin-1")


# -- one call -------------------------------------------------------------------------------------

_WRITES_RESULT = {
    "primitiveSocketLocalAddressResult": "socketAddress",
    "primitiveSocketRemoteAddressResult": "socketAddress",
    "primitiveResolverGetAddressInfoResult": "socketAddress",
    "primitiveResolverGetNameInfoHostResult": "socketName",
    "primitiveResolverGetNameInfoServiceResult": "socketName",
    "primitiveResolverHostNameResult": "nameString",
    "primitiveSocketAddressSetPort": "address",
}
_RECEIVES = frozenset(
    {"primitiveSocketReceiveDataBufCount", "primitiveSocketReceiveUDPDataBufCount"}
)


@dataclass
class Call:
    """One primitive call: its arguments, the buffers to watch, and what may be written."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    tracked: dict[str, Tracked]
    window: tuple[int, int] | None = None  # receive: (start, count) as passed
    expected_result_size: int | None = None
    skipped: str = ""  # why the call is not made (it would leave the machine)
    before: dict[str, bytes] = field(default_factory=dict)

    def snapshot(self) -> None:
        self.before = {key: t.raw() for key, t in self.tracked.items()}

    def allowed(self, key: str, ok: bool, result: Any) -> tuple[int, int] | None:
        """The byte range of ``tracked[key]``'s parent the call may have written."""
        t = self.tracked[key]
        size = len(self.before[key]) - t.offset
        if key == "socket" or key == "sockHandle":
            if self.name == "primitiveSocketDestroy" and ok:
                return (8, 16)
            if self.name == "primitiveSocketConnectionStatus" and not ok:
                return (8, 16)  # "freeing invalidated pss": the pointer is nulled
            return None
        if not ok:
            return None
        if self.name in _RECEIVES and key == "array" and self.window is not None:
            count = result[0] if isinstance(result, list) else result
            lo = t.offset + (self.window[0] - 1) * t.element
            return (lo, lo + int(count) * t.element)
        if _WRITES_RESULT.get(self.name) == key:
            if self.name == "primitiveSocketAddressSetPort":
                return (t.offset + 10, t.offset + 12)
            if self.expected_result_size is not None:
                return (t.offset, t.offset + self.expected_result_size)
            return (t.offset, t.offset + size)
        return None

    def check(self, ok: bool, result: Any) -> None:
        for key, t in self.tracked.items():
            before, after = self.before[key], t.raw()
            assert len(after) == len(before), f"{self.name}: {key} changed its size"
            span = self.allowed(key, ok, result)
            lo, hi = span if span is not None else (0, 0)
            assert after[:lo] == before[:lo] and after[hi:] == before[hi:], (
                f"{self.name} ({'answered' if ok else 'failed'}) wrote {key} outside "
                f"bytes {lo}..{hi}: {before.hex()} -> {after.hex()}"
            )
        if self.name == "primitiveSocketDestroy" and ok:
            handle = self.tracked["socket"].raw()
            assert handle[8:16] == bytes(8), "destroy nulls the handle's pointer"


def _window(f: Fuzzer, size: int) -> tuple[int, int]:
    """A 1-based (start, count): mostly one that fits, sometimes one off by one or worse."""
    start = f.small((1, 1, 2, max(1, size)), 1, max(1, size), rare=(size + 1, 0, -1))
    fit = size - start + 1
    count = f.small((fit, fit, 1, 0), 0, max(0, fit), rare=(fit + 1, -1))
    return start, count


def make_call(f: Fuzzer, name: str) -> Call:
    """Draw the arguments of ``name``, by the primitive's parameter names."""
    w = f.w
    params = list(inspect.signature(getattr(SocketPlugin, name)).parameters)[1:]
    args: list[Any] = []
    tracked: dict[str, Tracked] = {}
    call = Call(name, (), {}, tracked)
    buffer_size = int(f.draw(st.sampled_from([16, 64, 1, 2, 7, 0, 300])))
    family = socket.AF_INET
    for param in params:
        if param in ("socket", "sockHandle"):
            value = f.handle()
            if isinstance(value, bytearray):
                tracked[param] = Tracked(value, value, 0, 1)
        elif param == "socketAddress" and name in _WRITES_RESULT:
            size = int(f.draw(st.sampled_from([200, 118, 36, 28, 24, 16, 8, 0])))
            if name != "primitiveResolverGetAddressInfoResult":
                size = _expected_size(w, name, args) + f.draw(st.sampled_from([0, 0, 0, -1, 1]))
            buf = byte_buffer(f, max(size, 0))
            value = f.draw(JUNK) if f.chance(0.1) else buf.passed
            if value is buf.passed:
                tracked[param] = buf
        elif param in ("socketAddress", "address") and (
            name.startswith("primitiveSocketAddress") or param == "socketAddress"
        ):
            value = f.socket_address()
            if isinstance(value, bytearray | bytes):
                tracked[param] = Tracked(value, value, 0, 1)
            elif isinstance(value, memoryview) and isinstance(value.obj, bytearray):
                tracked[param] = Tracked(value, value.obj, 0, 1)
        elif param in ("address", "hostAddress", "ifAddr"):
            value = f.net_address()
        elif param in ("socketName", "nameString"):
            size = int(f.draw(st.sampled_from([64, 200, 65, 16, 9, 3, 1, 0])))
            buf = byte_buffer(f, size)
            value = buf.passed
            tracked[param] = buf
        elif param == "array":
            writable = name in _RECEIVES
            buf = byte_buffer(f, buffer_size, writable=writable)
            value = f.draw(JUNK) if f.chance(0.05) else buf.passed
            if value is buf.passed:
                tracked[param] = buf
                size = buffer_size
                start, count = _window(f, size)
                call.window = (start, count)
        elif param == "startIndex":
            value = call.window[0] if call.window else f.small((1, 0, -1))
        elif param == "count":
            value = call.window[1] if call.window else f.small((1, 0, -1))
        elif param in ("port", "portNumber"):
            value = f.port()
        elif param in ("backlog", "backlogSize"):
            value = f.small((0, 1, 2, 5, -1, 1 << 20))
        elif param == "netType":
            if name == "primitiveSocketCreateRAW":
                value = f.small((2, 0), rare=(1, 3, 10, -1))
            else:
                value = f.draw(st.sampled_from(NET_TYPES if f.chance(0.3) else NET_TYPES[:4]))
        elif param == "socketType":
            value = f.draw(st.sampled_from(SOCKET_TYPES if f.chance(0.2) else SOCKET_TYPES[:2]))
        elif param == "protoType":
            value = f.small((1,), rare=(0, 2, 6, 17, 58, -1, 255))
        elif param in ("recvBufSize", "sendBufSize"):
            value = f.small((0, 8000, -1, 1 << 20))
        elif param in ("semaIndex", "readSemaIndex", "writeSemaIndex", "resolverSemaIndex"):
            value = f.sema_index()
        elif param == "name":
            value = f.host_name()
        elif param == "hostName":
            family = int(f.draw(st.sampled_from([0, 1, 2, 3, 4, -1])))
            value = f.host_name({2: socket.AF_INET, 3: socket.AF_INET6}.get(family, 0))
        elif param == "servName":
            value = f.service()
        elif param == "family":
            value = f.small((0, 1, 2, 3, 4)) if f.chance(0.1) else family
        elif param in ("flags", "type", "protocol"):
            value = f.small((0, 1, 2, 3), -2, 8)
        elif param == "optionName":
            value = f.option_name()
        elif param == "optionValue":
            value = f.option_value()
        else:  # pragma: no cover - test_every_parameter_has_a_generator guards this
            raise AssertionError(f"no generator for {name}({param})")
        if f.chance(0.04):
            value = f.draw(JUNK)  # any argument may be of any kind
            tracked.pop(param, None)
        args.append(value)
    if f.chance(0.03):
        args = args[:-1] if args and f.chance(0.5) else [*args, 0]
        tracked.clear()
        call.window = None
    if call.window is not None:
        # the window is what the call passes: junk drawn for startIndex or count after
        # the window was made replaces it (an int is a window the primitive may accept)
        passed = dict(zip(params, args, strict=False))
        start, count = passed.get("startIndex"), passed.get("count")
        if type(start) is int and type(count) is int and "array" in tracked:
            call.window = (start, count)
        else:
            call.window = None
    call.args = tuple(args)
    if f.chance(0.01):
        call.kwargs = {"socket": None}
    _make_hermetic(call, w)
    if name in _WRITES_RESULT and name != "primitiveSocketAddressSetPort":
        call.expected_result_size = _result_size(w, name)
    return call


PARAMETER_KINDS = frozenset(
    {
        "socket", "sockHandle", "socketAddress", "address", "hostAddress", "ifAddr",
        "socketName", "nameString", "array", "startIndex", "count", "port", "portNumber",
        "backlog", "backlogSize", "netType", "socketType", "protoType", "recvBufSize",
        "sendBufSize", "semaIndex", "readSemaIndex", "writeSemaIndex", "resolverSemaIndex",
        "name", "hostName", "servName", "family", "flags", "type", "protocol",
        "optionName", "optionValue",
    }
)  # fmt: skip


def _expected_size(w: World, name: str, args: list[Any]) -> int:
    """The exact size a Local/RemoteAddressResult wants (white-box), or a plausible one."""
    handle = args[0] if args else None
    if isinstance(handle, bytes | bytearray) and len(handle) == 16:
        try:
            _h, pss = w.p.net.socket_of(handle)
        except Exception:
            return 24
        if name == "primitiveSocketRemoteAddressResult":
            # as the image does: ask the size first (it also fetches the peer's address)
            with contextlib.suppress(PrimitiveFailed):
                size = w.p.primitiveSocketRemoteAddressSize(handle)
                return int(size) if size > 0 else 24
            return 24
        if pss.sock is not None:
            with contextlib.suppress(OSError):
                from sqsocket.platform import libc

                return ADDRESS_HEADER_SIZE + len(libc.getsockname(pss.sock.fileno()))
    return 24


def _result_size(w: World, name: str) -> int | None:
    """How many bytes a successful result copy writes (white-box, before the call)."""
    r = w.p.resolver
    if name == "primitiveResolverGetAddressInfoResult":
        size = r.address_info_size()
        return None if size < 0 else size
    if name == "primitiveResolverGetNameInfoHostResult":
        return len(r.host_name_info) if r.name_info_valid else None
    if name == "primitiveResolverGetNameInfoServiceResult":
        return len(r.serv_name_info) if r.name_info_valid else None
    if name == "primitiveResolverHostNameResult":
        return len(r.host_name())
    return None  # Local/RemoteAddressResult: the whole object


def _make_hermetic(call: Call, w: World) -> None:
    """Last word on a drawn call: nothing in it may reach beyond this machine."""
    name, args = call.name, list(call.args)
    if name in _DATA_PRIMITIVES and args:
        family = w.family_behind(args[0])
        if family is not None and family not in SAFE_FAMILIES:
            call.skipped = f"data on a family-{family} socket"
    if name == "primitiveResolverStartAddressLookup" and args:
        value = args[0]
        if isinstance(value, bytes | bytearray | memoryview | str) and len(value) == 4:
            raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
            if w.profile != "strict":
                # squeak-4.10 and opensmalltalk pass 8 bytes: glibc asks DNS, always
                call.skipped = "an address lookup with the 8-byte length asks DNS"
            elif raw != LOOPBACK:
                # strict's 4-byte lookup asks /etc/hosts first, DNS for what it lacks
                args[0] = "\x7f\0\0\x01" if isinstance(value, str) else bytes(LOOPBACK)
    if name == "primitiveResolverStartNameLookup" and args:  # noqa: SIM102
        if not _host_stays(args[0], 64, socket.AF_INET):
            args[0] = "127.0.0.1"
    if name == "primitiveResolverGetAddressInfo" and len(args) == 6:
        fam = args[3]
        ai_family = (
            {2: socket.AF_INET, 3: socket.AF_INET6}.get(fam, 0) if isinstance(fam, int) else 0
        )
        flags = args[2]
        numeric = isinstance(flags, int) and not isinstance(flags, bool) and flags & 1
        if not numeric and not _host_stays(args[0], None, ai_family):
            args[0] = "::1" if ai_family == socket.AF_INET6 else "127.0.0.1"
    if name == "primitiveResolverGetNameInfo" and len(args) == 2:
        address, flags = args
        if isinstance(flags, int) and not isinstance(flags, bool) and not flags & 1:
            if isinstance(address, str):
                raw = address.encode("latin-1", "replace")
            elif isinstance(address, bytes | bytearray | memoryview):
                raw = bytes(address)
            else:
                raw = b""
            sa = raw[ADDRESS_HEADER_SIZE:]
            if len(sa) >= 2:
                (fam,) = struct.unpack_from("=H", sa)
                v4 = fam == socket.AF_INET and len(sa) >= 8
                if (fam == socket.AF_INET6 and len(sa) >= 24) or (
                    v4 and not netguard.rules().reverse_stays(socket.inet_ntoa(sa[4:8]))
                ):
                    args[1] = flags | 1  # numeric: a reverse lookup of it would ask DNS
    if name == "primitiveSocketSetOptions" and len(args) == 3:
        opt_name, value = args[1], args[2]
        raw_name = opt_name.encode("latin-1") if isinstance(opt_name, str) else opt_name
        if isinstance(raw_name, bytes | bytearray):
            opt = find_option(bytes(raw_name))
            if opt is not None and isinstance(value, str | bytes | bytearray):
                if opt.name in _TRUNCATED_OPTIONS:
                    args[2] = value[: _TRUNCATED_OPTIONS[opt.name]]
                elif opt.name in _ZERO_OPTIONS:
                    args[2] = "0"
    call.args = tuple(args)


# -- descriptors ----------------------------------------------------------------------------------


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # minus the one listdir used


@contextlib.contextmanager
def no_descriptor_growth(what: str) -> Iterator[None]:
    before = fd_count()
    yield
    after = fd_count()
    assert after <= before, f"{what}: {after - before} descriptors more than before"


def run_call(w: World, call: Call) -> tuple[bool, Any]:
    """Make the call; answer (succeeded, result). Only PrimitiveFailed may come out."""
    method = getattr(w.p, call.name)
    call.snapshot()
    try:
        result = method(*call.args, **call.kwargs)
        ok = True
    except PrimitiveFailed as exc:
        assert exc.primitive == call.name, f"{call.name} failed naming {exc.primitive}"
        result, ok = None, False
    call.check(ok, result)
    return ok, result


def check_answer(call: Call, result: Any) -> None:
    """What a successful primitive answers is of the documented kind and range."""
    name = call.name
    if name in ("primitiveSocketReceiveDataBufCount", "primitiveSocketSendDataBufCount"):
        assert isinstance(result, int) and 0 <= result <= max(
            0, call.window[1] if call.window else 0
        )
    elif name == "primitiveSocketReceiveUDPDataBufCount":
        count, address, port, more = result
        assert 0 <= count <= (call.window[1] if call.window else 0)
        assert isinstance(address, bytes) and len(address) == 4 and 0 <= port <= 65535
        assert more is False
    elif name == "primitiveSocketConnectionStatus":
        assert result in (-1, 0, 1, 2, 3, 4)
    elif name in ("primitiveSocketCreate", "primitiveSocketCreate3Semaphores",
                  "primitiveSocketCreateRAW", "primitiveSocketAccept",
                  "primitiveSocketAccept3Semaphores"):  # fmt: skip
        assert isinstance(result, bytearray) and len(result) == 16
