"""The proxy: a listener, a selector loop, timers, and one :class:`~.link.Link` per client.

:class:`Proxy` is a :class:`~sqsocket.servers.base.Server`, so it binds,
runs and stops like the echo servers (the same stale-socket rules, the same
ready line, ``with`` / ``start()`` / ``serve_forever()``)::

    from sqsocket.proxy import Proxy, Slicer
    from sqsocket.servers import UnixEchoServer

    with UnixEchoServer("/tmp/echo.sock") as echo:
        with Proxy(echo.address, faults=[Slicer(7, ms=5)]) as p:
            ...  # connect to p.address (a fresh socket path): writes arrive in 7-byte pieces
            p.set_faults([])  # from any thread: the running connections follow at once

Everything runs on the loop's one thread: accepting, connecting upstream,
reading, writing, and the timers that stand for every delay. Other threads
only swap the (immutable) :class:`~.faults.FaultSet` and wake the loop, which
applies it to every connection at its next turn. The loop never polls: it
sleeps in ``select()`` until a socket is ready or the earliest timer is due.

Both addresses must be stream addresses on this machine: a Unix path, a Linux
abstract name, or TCP on a loopback address (``127.0.0.0/8``, ``::1``,
``localhost``). Without ``listen``, a TCP upstream gets a listener on
``127.0.0.1`` with an ephemeral port, and a Unix-domain one a socket in a
private directory under ``/tmp`` that is removed again on stop.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import selectors
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TextIO

from sqsocket.proxy.dump import TrafficDump
from sqsocket.proxy.faults import Fault, FaultSet
from sqsocket.proxy.link import Link, LinkInfo, LinkState
from sqsocket.proxy.timers import Timers
from sqsocket.servers.address import (
    SCHEMES,
    Address,
    InetAddress,
    UnixAddress,
    describe_peer,
    is_loopback_host,
)
from sqsocket.servers.base import AddressLike, Server, coerce_address
from sqsocket.servers.paths import DEFAULT_SOCKET_MODE

__all__ = ["DumpError", "Proxy", "ProxyStats", "stream_address"]

log = logging.getLogger("sqsocket.proxy")

_ACCEPT_BATCH = 64
_ACCEPT_BACKOFF = 0.1
#: Closed connections remembered for :meth:`Proxy.connections`.
_CLOSED_KEPT = 256
#: Default bound on the bytes queued per direction before the sender is no longer read.
DEFAULT_HIGH_WATER = 256 * 1024
#: How long set_faults waits for the loop to take the new faults.
APPLY_TIMEOUT = 5.0
MAX_CONNECT_TIMEOUT = 3600.0


class DumpError(OSError):
    """The traffic dump cannot be written where it was asked for."""


def stream_address(value: AddressLike) -> Address:
    """``value`` as a stream :data:`Address` on this machine, or ValueError saying why not.

    Takes what the servers take (``unix:/p``, ``/p``, ``@name``, ``abstract:name``,
    ``tcp:127.0.0.1:5000``, ``127.0.0.1:5000``, ``5000``, a tuple, an Address), refuses
    datagram schemes and TCP hosts that are not loopback (no names are looked up:
    ``localhost`` is the only name).
    """
    if isinstance(value, str):
        scheme = value.partition(":")[0]
        if ":" in value and SCHEMES.get(scheme) == "dgram":
            raise ValueError(f"{value!r} is a datagram address; the proxy relays streams")
    try:
        address = coerce_address(value)
    except (ValueError, OSError) as exc:
        raise ValueError(f"bad address {value!r}: {exc}") from None
    if isinstance(address, InetAddress) and not is_loopback_host(address.host):
        raise ValueError(f"host {address.host!r} is not loopback; use 127.0.0.1, ::1 or localhost")
    return address


def _role(role: str, value: AddressLike) -> Address:
    try:
        return stream_address(value)
    except ValueError as exc:
        raise ValueError(f"{role}: {exc}") from None


@dataclass(frozen=True)
class ProxyStats:
    """Counters since the proxy was bound (a snapshot)."""

    accepted: int
    open: int
    closed: int
    #: Bytes forwarded client -> upstream and upstream -> client.
    bytes_up: int
    bytes_down: int
    #: Bytes read and discarded by faults (stall with drop, after a half-close).
    dropped: int
    #: Connections each close reason ended: {"done": 3, "reset": 1}.
    reasons: dict[str, int]


class Proxy(Server):
    """A fault-injecting stream proxy from ``listen`` to ``upstream``.

    ``faults`` are :class:`~sqsocket.proxy.faults.Fault` objects (changed later with
    :meth:`set_faults`, :meth:`add_fault`, :meth:`remove_fault`, :meth:`clear_faults`).
    ``dump`` is a path or a text stream for the traffic dump. ``seed`` makes the
    latency jitter reproducible. ``connect_timeout`` bounds each upstream connect;
    ``high_water`` the bytes queued per direction before the sender is not read.
    """

    kind = "stream"

    def __init__(
        self,
        upstream: AddressLike,
        listen: AddressLike | None = None,
        *,
        faults: Iterable[Fault] = (),
        dump: str | os.PathLike[str] | TextIO | None = None,
        mode: int | None = DEFAULT_SOCKET_MODE,
        seed: int | None = None,
        connect_timeout: float = 5.0,
        high_water: int = DEFAULT_HIGH_WATER,
        verbose: bool = False,
    ) -> None:
        up = _role("upstream", upstream)
        if isinstance(up, InetAddress) and up.port == 0:
            raise ValueError(f"upstream: {upstream!r} needs a port (0 is for listening)")
        # Without a listen address: a socket path in a private directory made at bind
        # time (so a Proxy never started leaves nothing behind), or an ephemeral port.
        self._private_dir: str | None = None
        self._make_private_path = listen is None and not isinstance(up, InetAddress)
        if listen is not None:
            where = _role("listen", listen)
        elif isinstance(up, InetAddress) and up.family == socket.AF_INET6:
            where = InetAddress("::1", 0)
        else:
            where = InetAddress("127.0.0.1", 0)  # for a Unix upstream: replaced in _open
        super().__init__(where, mode=mode, allow_remote=False, verbose=verbose)
        if not 0 < connect_timeout <= MAX_CONNECT_TIMEOUT:  # also refuses nan
            raise ValueError(
                f"connect_timeout must be more than 0 and at most {MAX_CONNECT_TIMEOUT:g} seconds"
            )
        if high_water < 1:
            raise ValueError("high_water must be at least 1 byte")
        self._upstream = up
        self.connect_timeout = float(connect_timeout)
        self.high_water = high_water
        self.rng = random.Random(seed)
        self.timers = Timers()
        self._dump_target = dump
        self._dump: TrafficDump | None = None
        self._faults = FaultSet.of(faults)  # what callers set (any thread, under _lock)
        self._loop_faults = self._faults  # what the loop applies (loop thread only)
        self._faults_dirty = False
        self._faults_version = 0  # bumped by set_faults
        self._applied_version = 0  # what the loop has applied
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._links: dict[int, Link] = {}
        self._closed_links: deque[LinkInfo] = deque(maxlen=_CLOSED_KEPT)
        self._ids = itertools.count(1)
        self._accepted = 0
        self._closed_count = 0
        self._closed_totals = [0, 0, 0]  # bytes up, bytes down, dropped
        self._reasons: dict[str, int] = {}
        self._accepting = False

    # -- what links use (LinkHost) -----------------------------------------------

    @property
    def upstream(self) -> Address:
        """Where connections are relayed to."""
        return self._upstream

    @property
    def current_faults(self) -> FaultSet:
        """The faults the loop applies now (read on the loop's thread)."""
        return self._loop_faults

    @property
    def traffic_dump(self) -> TrafficDump | None:
        return self._dump

    def watch(self, sock: socket.socket, events: int, handler: partial[None] | None) -> None:
        """Register ``sock`` for ``events`` with ``handler`` (0: unregister)."""
        selector = self._selector
        if selector is None:
            return
        try:
            key = selector.get_key(sock)
        except (KeyError, ValueError):
            key = None
        if events == 0:
            if key is not None:
                selector.unregister(sock)
        elif key is None:
            selector.register(sock, events, handler)
        else:
            selector.modify(sock, events, handler)

    def link_closed(self, link: Link) -> None:
        info = link.info()
        with self._lock:
            self._links.pop(link.id, None)
            self._closed_links.append(info)
            self._closed_count += 1
            self._closed_totals[0] += info.up.forwarded
            self._closed_totals[1] += info.down.forwarded
            self._closed_totals[2] += info.up.dropped + info.down.dropped
            reason = info.reason or "?"
            # one key for every unreachable upstream, whatever the errno
            key = "cannot connect to upstream" if reason.startswith("cannot connect") else reason
            self._reasons[key] = self._reasons.get(key, 0) + 1
        self._info("connection #%d closed: %s", link.id, info.reason)

    # -- faults, from any thread ------------------------------------------------------

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults in force (as last set)."""
        with self._lock:
            return self._faults.faults

    def set_faults(self, faults: Iterable[Fault]) -> None:
        """Replace every fault, for new and open connections alike.

        Returns once the loop has taken them (at most :data:`APPLY_TIMEOUT`
        seconds), so whatever happens on the sockets afterwards follows the new
        faults. Raises :class:`~sqsocket.proxy.faults.FaultError` (in the caller)
        for an invalid combination, leaving the faults as they were.
        """
        checked = FaultSet.of(faults)
        with self._lock:
            self._faults = checked
            self._faults_dirty = True  # the loop re-applies them to every connection
            self._faults_version += 1
            version = self._faults_version
            loop = self._loop_thread
            if loop is None:
                self._loop_faults = checked  # no loop yet: nothing to synchronize with
                return
        self._wake()
        if loop is threading.current_thread():
            return  # called from a link callback: the loop applies it after this turn
        deadline = time.monotonic() + APPLY_TIMEOUT
        with self._changed:
            while self._applied_version < version and not self._cleaned:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)

    def add_fault(self, fault: Fault) -> None:
        """Add one fault to those in force."""
        with self._lock:
            self.set_faults((*self._faults.faults, fault))

    def remove_fault(self, fault: Fault) -> None:
        """Remove a fault equal to ``fault``; ValueError if there is none."""
        with self._lock:
            current = list(self._faults.faults)
            current.remove(fault)
            self.set_faults(current)

    def clear_faults(self) -> None:
        """No faults: a transparent relay from now on."""
        self.set_faults(())

    # -- observing, from any thread ----------------------------------------------------

    def connections(self) -> list[LinkInfo]:
        """Snapshots of the connections: the last closed ones, then the open ones, by id."""
        with self._lock:
            infos = [*self._closed_links, *(link.info() for link in self._links.values())]
        return sorted(infos, key=lambda i: i.id)

    def stats(self) -> ProxyStats:
        """Counters since bind (open connections' bytes included)."""
        with self._lock:
            up, down, dropped = self._closed_totals
            for link in self._links.values():
                info = link.info()
                up += info.up.forwarded
                down += info.down.forwarded
                dropped += info.up.dropped + info.down.dropped
            return ProxyStats(
                accepted=self._accepted,
                open=len(self._links),
                closed=self._closed_count,
                bytes_up=up,
                bytes_down=down,
                dropped=dropped,
                reasons=dict(self._reasons),
            )

    def wait_until(self, predicate: Callable[[Proxy], bool], timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until ``predicate(self)`` holds; answer it.

        The loop wakes waiters after every turn, so this does not poll.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._cleaned:
                    return bool(predicate(self))
                self._changed.wait(remaining)
            return True

    # -- the Server hooks ----------------------------------------------------------------

    def _open(self) -> None:
        if self._dump_target is not None:
            # before the socket exists: an unwritable dump must not look like a bind error
            try:
                self._dump = TrafficDump(self._dump_target)
            except OSError as exc:
                raise DumpError(
                    exc.errno, f"cannot write the dump {self._dump_target}: {exc.strerror}"
                ) from exc
        if self._make_private_path:
            self._private_dir = tempfile.mkdtemp(prefix="sqp-", dir="/tmp")
            path = os.path.join(self._private_dir, "proxy")
            # Image code on the emulator's default profile cannot resolve a socket path
            # whose length is a multiple of 4 (docs/quirks.md, 1): never make one.
            if len(os.fsencode(path)) % 4 == 0:
                path += "_"
            self.requested_address = UnixAddress(path)
        sock = self._bind_socket(socket.SOCK_STREAM)
        sock.listen(128)
        if self._dump is not None:
            self._dump.header(
                f"sqsocket proxy: {self.url} -> {self._upstream.describe()}; "
                f"up = client -> upstream, down = upstream -> client; "
                f"faults: {self._faults.describe()}"
            )
        self._resume_accepting()

    def _resume_accepting(self, now: float | None = None) -> None:
        if not self._accepting and self._selector is not None and self._sock is not None:
            self._selector.register(self._sock, selectors.EVENT_READ, self._on_accept)
            self._accepting = True

    def _on_accept(self, mask: int) -> None:
        assert self._sock is not None
        for _ in range(_ACCEPT_BATCH):
            try:
                client, addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # Out of descriptors: the client stays in the backlog and the listener
                # stays readable, so stop listening for a moment instead of spinning.
                log.warning("accept failed: %s; retrying in %.1fs", exc, _ACCEPT_BACKOFF)
                if self._accepting and self._selector is not None:
                    self._selector.unregister(self._sock)
                    self._accepting = False
                self.timers.schedule(time.monotonic() + _ACCEPT_BACKOFF, self._resume_accepting)
                return
            client.setblocking(False)
            if client.family != socket.AF_UNIX:
                # Small writes must leave as written (the slicer), not wait for Nagle.
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = Link(self, next(self._ids), client, describe_peer(addr))
            with self._lock:
                self._links[link.id] = link
                self._accepted += 1
            self._info("connection #%d from %s", link.id, link.peer)
            link.start(time.monotonic())

    def _next_timeout(self) -> float | None:
        return self.timers.timeout(time.monotonic())

    def _on_wake(self, mask: int) -> None:
        super()._on_wake(mask)
        # set_faults woke us: apply before any other event of this turn is handled
        self._apply_faults(time.monotonic())

    def _apply_faults(self, now: float) -> None:
        """Take the faults last set and let every connection re-evaluate itself."""
        with self._lock:
            if not self._faults_dirty:
                return
            self._faults_dirty = False
            self._loop_faults = self._faults
            self._applied_version = self._faults_version
            links = list(self._links.values())
        if self._dump is not None:
            self._dump.header(f"faults now: {self._loop_faults.describe()}")
        for link in links:
            if link.state is not LinkState.CLOSED:
                link.pump(now)

    def _tick(self, now: float) -> None:
        self._apply_faults(now)
        self.timers.run_due(time.monotonic())
        with self._changed:
            self._changed.notify_all()

    def _close_peers(self) -> None:
        with self._lock:
            links = list(self._links.values())
        for link in links:
            link.close("proxy stopping")
        self.timers.clear()
        with self._changed:
            self._changed.notify_all()

    def _release_listener(self) -> None:
        # last of the cleanup (and the undoing of a failed bind): the dump has all events
        if self._dump is not None:
            self._dump.close()
        super()._release_listener()
        private, self._private_dir = self._private_dir, None
        if private is not None:
            # rmdir, not rmtree: only an empty directory goes (never someone's files).
            with contextlib.suppress(OSError):
                os.rmdir(private)
