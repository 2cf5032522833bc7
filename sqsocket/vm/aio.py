"""The VM's asynchronous I/O layer (platforms/unix/vm/aio.c), run on the caller's thread.

aio.c keeps, per descriptor, one-shot read/write/exception handlers.
``aioHandle(fd, fn, mask)`` arms them; ``aioPoll(us)`` waits (``select()``) up to
``us`` microseconds for an armed interest to become ready, then walks the
descriptors in ascending order and, for each ready interest (read, then write,
then exception), clears it *before* calling its handler, so a handler runs once
per arming. ``aioEnable`` makes a descriptor non-blocking and raises ``maxFd``;
``aioDisable`` forgets it. There is no thread: the interpreter calls ``aioPoll``
itself, from its periodic event check (timeout 0) and from the idle process
(``relinquishProcessorForMicroseconds:``). :class:`Aio` does exactly that and
nothing else: it never runs a handler except inside :meth:`Aio.poll`, which the
emulated VM (:mod:`sqsocket.vm.machine`) calls where the real VM would.

Sources: aio.c as in the squeakvm.org trunk the 4.10 Unix VM was built from
(``aioPoll``: one ``select()``, EINTR retried with the time left, then
``for (fd= 0; fd < maxFd; ++fd) _DO(AIO_R, rd) _DO(AIO_W, wr) _DO(AIO_X, ex)``).

The emulator waits in ``epoll`` rather than ``select()`` (no FD_SETSIZE limit, no
cost per idle descriptor) and maps readiness as Linux's ``select()`` does
(fs/select.c): readable is IN|HUP|ERR, writable is OUT|ERR, exceptional is PRI.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any

from sqsocket.errors import EmulatorError


class AioFlag(IntFlag):
    NONE = 0
    R = 1 << 0  # AIO_R
    W = 1 << 1  # AIO_W
    X = 1 << 2  # AIO_X


AIO_RX = AioFlag.R | AioFlag.X
AIO_WX = AioFlag.W | AioFlag.X
AIO_RWX = AioFlag.R | AioFlag.W | AioFlag.X

# Plain ints on the hot path: IntFlag arithmetic costs about half a microsecond.
_R, _W, _X = int(AioFlag.R), int(AioFlag.W), int(AioFlag.X)
_RW = _R | _W

# handler(fd, client_data, flags)
Handler = Callable[[int, Any, AioFlag], None]

_EPOLL_FOR = (
    (_R, select.EPOLLIN | select.EPOLLRDHUP),
    (_W, select.EPOLLOUT),
    (_X, select.EPOLLPRI),
)
# Linux's select(): POLLIN_SET, POLLOUT_SET, POLLEX_SET (fs/select.c).
_READY = (
    (_R, select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR),
    (_W, select.EPOLLOUT | select.EPOLLERR),
    (_X, select.EPOLLPRI),
)
# As an AioFlag, for handlers (built once: constructing a flag costs more than a call).
_FLAG_OF = {_R: AioFlag.R, _W: AioFlag.W, _X: AioFlag.X}


@dataclass(eq=False)
class _Entry:
    """What aio.c keeps in its per-descriptor arrays and fd_sets."""

    sock: socket.socket
    fd: int
    data: Any = None  # clientData[fd]
    enabled: bool = False  # FD_ISSET(fd, &fdMask)
    mask: int = 0  # rdMask/wrMask/exMask bits
    handlers: dict[int, Handler] = field(default_factory=dict)
    registered: int = -1  # the epoll events registered (-1: not registered)
    rw: bool = False  # a read or write interest is armed (counted in Aio.armed_rw)
    sigio: int = -1  # the events the SIGIO watcher has registered (-1: none)


class Aio:
    """One aio layer per emulated VM; every handler runs inside :meth:`poll`."""

    def __init__(self, sigio: bool = False) -> None:
        self._epoll = select.epoll()
        # aioEnable sets O_ASYNC and F_SETOWN on every descriptor it enables, so the
        # kernel sends the VM SIGIO when one of them becomes readable (data, a
        # connection, end-of-file) -- or writable after a send found it full. The VM
        # learns of it only as a flag its signal handler sets; here an edge-triggered
        # epoll of the enabled descriptors records the same edges (sigio_pending()).
        self._sigio = select.epoll() if sigio else None
        self._sigio_seen: set[int] = set()
        self._entries: dict[int, _Entry] = {}
        self._max_fd = 0  # maxFd: 1 + the highest enabled descriptor
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        #: Raised by every primitive and every handler run: a poll whose wait saw it
        #: change re-checks its events (see poll()).
        self.epoch = 0
        #: How many descriptors have a read or write interest armed: only then can a
        #: poll forced by SIGIO run a handler (exceptions are OOB data: SIGURG, not SIGIO).
        self.armed_rw = 0
        self._unenabled = 0  # entries armed on a descriptor never enabled
        self.closed = False
        #: The descriptors whose handlers ran in the last poll.
        self.dispatched: set[int] = set()
        #: Held around dispatch (the VM's lock), so handlers never interleave with primitives.
        self.lock: AbstractContextManager[Any] | None = None

    # -- the aio.c interface -------------------------------------------------------------

    def enable(self, sock: socket.socket, data: Any) -> None:
        """``aioEnable(fd, data, 0)``: remember the descriptor, make it non-blocking."""
        fd = sock.fileno()
        if fd < 0:
            return  # "aioEnable(%d): IGNORED"
        entry = self._entries.get(fd)
        if entry is not None and entry.enabled and entry.sock is sock:
            return  # "aioEnable: descriptor %d already enabled"
        entry = self._new_entry(sock, fd)
        entry.data = data
        entry.enabled = True
        self._unenabled -= 1
        if fd >= self._max_fd:
            self._raise_max_fd(fd + 1)
        self._sync(entry)
        sock.setblocking(False)
        if self._sigio is not None:
            self._sigio_interest(entry)

    def handle(
        self, sock: socket.socket | None, handler: Handler, mask: AioFlag, data: Any = None
    ) -> None:
        """``aioHandle(fd, fn, mask)``: arm one-shot handlers (even on a descriptor never enabled).

        ``data`` is the client data for a descriptor that is not enabled. aio.c has
        none there (``aioDisable`` zeroes ``clientData[fd]``), so the deferred-close
        path of sqSocketCloseConnection, which disables and then arms closeHandler,
        would hand that handler NULL; Linux never takes that path (close() does not
        answer EWOULDBLOCK), and the emulator passes the socket so the row can run.
        """
        if sock is None:
            return
        fd = sock.fileno()
        if fd < 0:
            return  # "aioHandle(%d): IGNORED"
        entry = self._entries.get(fd)
        if entry is None or entry.sock is not sock:
            entry = self._new_entry(sock, fd)
            entry.data = data
        bits = int(mask)
        for flag in (_R, _W, _X):
            if bits & flag:
                entry.handlers[flag] = handler
        if entry.mask | bits != entry.mask:
            entry.mask |= bits
            self._sync(entry)

    def suspend(self, sock: socket.socket | None, mask: AioFlag) -> None:
        """``aioSuspend(fd, mask)``: clear interests (their handlers become undefined)."""
        if sock is None or sock.fileno() < 0:
            return
        entry = self._entries.get(sock.fileno())
        if entry is None:
            return
        bits = int(mask)
        for flag in (_R, _W, _X):
            if bits & flag:
                entry.handlers.pop(flag, None)
        entry.mask &= ~bits
        self._sync(entry)

    def disable(self, sock: socket.socket | None) -> None:
        """``aioDisable(fd)``: forget every handler and the client data; before close()."""
        if sock is None:
            return
        fd = sock.fileno()
        if fd < 0:
            return
        entry = self._entries.pop(fd, None)
        if entry is None:
            return
        self._release(entry, fd)
        if entry.enabled and fd + 1 == self._max_fd:
            # "keep maxFd accurate (drops to zero if no more sockets)": walk down, as aio.c
            # does, to the next enabled descriptor (usually the very next one)
            top = fd
            entries = self._entries
            while top > 0:
                below = entries.get(top - 1)
                if below is not None and below.enabled:
                    break
                top -= 1
            self._lower_max_fd(top)

    def armed(self, sock: socket.socket | None) -> AioFlag:
        """The interest currently armed for a descriptor (for tests and traces)."""
        if sock is None or sock.fileno() < 0:
            return AioFlag(0)
        entry = self._entries.get(sock.fileno())
        return AioFlag(0) if entry is None else AioFlag(entry.mask)

    def descriptors(self) -> list[int]:
        """The enabled descriptors (aio.c's fdMask)."""
        return sorted(fd for fd, e in self._entries.items() if e.enabled)

    @property
    def max_fd(self) -> int:
        return self._max_fd

    # -- aioPoll ---------------------------------------------------------------------------

    def poll(self, timeout: float | None) -> int:
        """``aioPoll(timeout)``: wait up to ``timeout`` seconds (None: for ever), run handlers.

        Answers how many handlers ran. The wait itself holds no lock, so callers on
        other threads can run primitives meanwhile; dispatch takes :attr:`lock`.
        A handler that raises fails loudly with :class:`~sqsocket.errors.EmulatorError`:
        a bug in a handler is an emulator bug, never a primitive failure.
        """
        if self.closed:
            return 0
        self.dispatched = set()
        since = self.epoch
        try:
            ready = self._epoll.poll(-1 if timeout is None else max(timeout, 0.0))
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            return 0
        if not ready:
            return 0
        if self.lock is None:
            return self._dispatch(ready, since)
        with self.lock:
            return self._dispatch(ready, since)

    def wake(self) -> None:
        """Make a poll blocked on another thread return (a semaphore was signalled there)."""
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass  # already pending, or closed

    def close(self) -> None:
        """Release the epoll and wake-up descriptors (the VM quits)."""
        if self.closed:
            return
        self.closed = True
        self._entries.clear()
        self._epoll.close()
        if self._sigio is not None:
            self._sigio.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- internals ---------------------------------------------------------------------------

    def _release(self, entry: _Entry, fd: int) -> None:
        """Take an entry out of the counts and the kernel's sets (the fd may be closed)."""
        if not entry.enabled:
            self._unenabled -= 1
        if entry.rw:
            self.armed_rw -= 1
        if entry.registered >= 0:
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)
        if entry.sigio >= 0 and self._sigio is not None:
            with contextlib.suppress(OSError):
                self._sigio.unregister(fd)

    def _new_entry(self, sock: socket.socket, fd: int) -> _Entry:
        old = self._entries.get(fd)
        if old is not None:
            self._release(old, fd)
        self._unenabled += 1
        entry = _Entry(sock, fd)
        self._entries[fd] = entry
        return entry

    @property
    def _dormant(self) -> bool:
        """Whether any descriptor is known without being enabled (rare: only then can a
        change of maxFd change what is polled)."""
        return self._unenabled > 0

    def _raise_max_fd(self, new: int) -> None:
        old, self._max_fd = self._max_fd, new
        if self._dormant:
            # select(maxFd, ...) now also sees armed descriptors that were never enabled
            for entry in self._entries.values():
                if not entry.enabled and old <= entry.fd < new and entry.mask:
                    self._sync(entry)

    def _lower_max_fd(self, new: int) -> None:
        old, self._max_fd = self._max_fd, new
        if self._dormant:
            # armed descriptors that were never enabled: select(maxFd, ...) no longer sees
            # those at or above the new maxFd
            for entry in self._entries.values():
                if not entry.enabled and new <= entry.fd < old and entry.registered >= 0:
                    self._sync(entry)

    def _sigio_interest(self, entry: _Entry) -> None:
        """SIGIO edges: readable always; writable while a send waits for room (W armed)."""
        watcher = self._sigio
        if watcher is None or not entry.enabled:
            return
        events = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET
        if entry.mask & _W:
            events |= select.EPOLLOUT
        if events == entry.sigio:
            return
        try:
            if entry.sigio >= 0:
                watcher.modify(entry.fd, events)
            else:
                watcher.register(entry.fd, events)
            entry.sigio = events
        except OSError:
            entry.sigio = -1
            return
        # epoll_ctl reports the descriptor's present readiness once: that is no edge
        # (no SIGIO), so take that report away, keeping the other descriptors' edges
        for fd, _ev in watcher.poll(0):
            if fd != entry.fd:
                self._sigio_seen.add(fd)

    def sigio_pending(self) -> set[int]:
        """The enabled descriptors that raised SIGIO since the last call (and forget them)."""
        watcher = self._sigio
        if watcher is None or self.closed:
            return set()
        raised = {fd for fd, _events in watcher.poll(0)}
        if self._sigio_seen:
            raised |= self._sigio_seen
            self._sigio_seen = set()
        return raised

    def _sync(self, entry: _Entry, lazy: bool = False) -> None:
        """Make epoll's interest match the armed mask.

        Level-triggered while the read interest is armed (HUP and ERR then fire it, as
        select() reports them readable). Without it, HUP matches nothing select()
        would report and would wake every poll at once: edge-triggered then, so
        each change of the mask reports the current readiness once (epoll_ctl MOD
        re-evaluates it), which is all a one-shot handler needs. A descriptor that
        was never enabled is polled only below maxFd, as select(maxFd, ...) is.

        ``lazy`` (a handler just fired): a level-triggered registration that asks for
        more than is armed is left as it is, since the handler is usually armed again
        at once (the next receiveDataAvailable); should the descriptor be reported
        while not armed, the dispatch narrows it then.
        """
        mask = entry.mask
        rw = bool(mask & _RW)
        if rw != entry.rw:
            entry.rw = rw
            self.armed_rw += 1 if rw else -1
        events = 0
        if mask and (entry.enabled or entry.fd < self._max_fd):
            for flag, bits in _EPOLL_FOR:
                if mask & flag:
                    events |= bits
            if not mask & _R:
                events |= select.EPOLLET
        if self._sigio is not None and entry.enabled:
            self._sigio_interest(entry)
        registered = entry.registered
        if events == registered or (not events and registered < 0):
            return
        if (
            lazy
            and registered >= 0
            and not registered & select.EPOLLET
            and (events & ~select.EPOLLET) & ~registered == 0
        ):
            return
        try:
            if not events:
                # epoll reports ERR/HUP even with no events asked: unregister instead
                self._epoll.unregister(entry.fd)
                entry.registered = -1
            elif registered >= 0:
                self._epoll.modify(entry.fd, events)
                entry.registered = events
            else:
                self._epoll.register(entry.fd, events)
                entry.registered = events
        except OSError:
            # the descriptor was closed under the emulator (EBADF): select() would fail
            # on it too; forget the registration rather than report it for ever
            entry.registered = -1

    def _dispatch(self, ready: list[tuple[int, int]], since: int) -> int:
        ran = 0
        dispatched = self.dispatched = set()
        # what select() reported stands for the whole walk, as in aio.c; only a change
        # made before the walk began (on another thread) makes the events suspect
        stale = self.epoch != since
        ready.sort()  # ascending descriptors, as aio.c walks fd_sets
        entries = self._entries
        for fd, events in ready:
            if fd == self._wake_r:
                try:
                    os.read(self._wake_r, 512)
                except OSError:
                    pass
                continue
            if stale:
                # a primitive or another poll ran on another thread while this one
                # waited: it may have used up what the event reports (read the data,
                # accepted the connection), or the number may name a new descriptor.
                # One thread, as in the VM, never gets here; for several, ask the
                # descriptor itself what it is ready for now.
                events = _ready_now(fd)
            fired = False
            for flag, ready_bits in _READY:
                entry = entries.get(fd)
                if entry is None:
                    break
                if not (entry.mask & flag) or not (events & ready_bits):
                    continue
                fired = True
                self.epoch += 1
                # one-shot: clear the interest before calling, as aio.c does
                entry.mask &= ~flag
                handler = entry.handlers.pop(flag)
                self._sync(entry, lazy=True)
                ran += 1
                dispatched.add(fd)
                try:
                    handler(fd, entry.data, _FLAG_OF[flag])
                except EmulatorError:
                    raise
                except Exception as exc:
                    name = getattr(handler, "__name__", repr(handler))
                    raise EmulatorError(
                        f"aio handler {name}(fd {fd}, {_FLAG_OF[flag]!r}) raised "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
            if not fired:
                # reported, but nothing armed matches (a registration kept lazily): narrow it
                entry = entries.get(fd)
                if entry is not None:
                    self._sync(entry)
        return ran


def _ready_now(fd: int) -> int:
    """What one descriptor is ready for at this moment, as epoll event bits."""
    probe = select.poll()
    probe.register(fd, select.POLLIN | select.POLLOUT | select.POLLPRI | select.POLLRDHUP)
    try:
        ready = probe.poll(0)
    except OSError:
        return 0
    # poll() and epoll share the bit values for IN/OUT/PRI/ERR/HUP/RDHUP
    return ready[0][1] if ready else 0
