"""The aio layer (platforms/unix/vm/aio.c) on a background thread.

The VM's aio layer keeps, per descriptor, one-shot read/write/exception
handlers: ``aioHandle(fd, fn, mask)`` arms them, and when ``select()`` finds the
descriptor ready the matching interest is cleared *before* the handler runs, so a
handler fires once per arming. ``aioEnable`` makes a descriptor non-blocking;
``aioDisable`` forgets it. In the VM all of this runs on the interpreter's own
thread between bytecodes, so handlers never race primitives. Here a background
thread waits in ``epoll``; every handler runs while holding the plugin's lock,
which every primitive holds too, so the two still never interleave.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any


class AioFlag(IntFlag):
    NONE = 0
    R = 1 << 0  # AIO_R
    W = 1 << 1  # AIO_W
    X = 1 << 2  # AIO_X


AIO_RX = AioFlag.R | AioFlag.X
AIO_WX = AioFlag.W | AioFlag.X
AIO_RWX = AioFlag.R | AioFlag.W | AioFlag.X

# handler(fd, client_data, flags)
Handler = Callable[[int, Any, AioFlag], None]

_EPOLL_FOR = {
    AioFlag.R: select.EPOLLIN | select.EPOLLRDHUP,
    AioFlag.W: select.EPOLLOUT,
    AioFlag.X: select.EPOLLPRI,
}
# select() reports a descriptor with an error or hang-up as readable and writable;
# epoll reports EPOLLERR/EPOLLHUP whatever was asked, so map them the same way.
_READY_R = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
_READY_W = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
_READY_X = select.EPOLLPRI


@dataclass
class _Entry:
    sock: socket.socket
    data: Any = None
    enabled: bool = False
    mask: AioFlag = AioFlag.NONE
    handlers: dict[AioFlag, Handler] = field(default_factory=dict)
    registered: bool = False


class Aio:
    """One aio thread per emulated VM."""

    def __init__(self, lock: threading.RLock, name: str = "sqsocket-aio") -> None:
        self._lock = lock
        self._epoll = select.epoll()
        self._entries: dict[int, _Entry] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._epoll.register(self._wake_r.fileno(), select.EPOLLIN)
        self._stopping = False
        self.handler_errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- the aio.c interface -------------------------------------------------

    def enable(self, sock: socket.socket, data: Any) -> None:
        """``aioEnable(fd, data, 0)``: remember the descriptor, make it non-blocking."""
        fd = sock.fileno()
        if fd < 0:
            return
        entry = self._entries.get(fd)
        if entry is not None and entry.enabled:
            return  # "descriptor already enabled": aio.c complains and ignores it
        if entry is None or entry.sock is not sock:
            entry = _Entry(sock)
            self._entries[fd] = entry
        entry.data = data
        entry.enabled = True
        entry.mask = AioFlag(0)
        entry.handlers.clear()
        self._sync(fd, entry)
        sock.setblocking(False)

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
        if sock is None or sock.fileno() < 0:
            return  # aio.c: "IGNORED" for fd < 0
        fd = sock.fileno()
        entry = self._entries.get(fd)
        if entry is None or entry.sock is not sock:
            entry = _Entry(sock, data)
            self._entries[fd] = entry
        for flag in (AioFlag.R, AioFlag.W, AioFlag.X):
            if mask & flag:
                entry.mask |= flag
                entry.handlers[flag] = handler
        self._sync(fd, entry)

    def suspend(self, sock: socket.socket | None, mask: AioFlag) -> None:
        """``aioSuspend(fd, mask)``."""
        if sock is None or sock.fileno() < 0:
            return
        entry = self._entries.get(sock.fileno())
        if entry is None:
            return
        entry.mask &= ~mask
        self._sync(sock.fileno(), entry)

    def disable(self, sock: socket.socket | None) -> None:
        """``aioDisable(fd)``: forget every handler; call before closing the descriptor."""
        if sock is None or sock.fileno() < 0:
            return
        fd = sock.fileno()
        entry = self._entries.pop(fd, None)
        if entry is not None and entry.registered:
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass

    def armed(self, sock: socket.socket | None) -> AioFlag:
        """The interest currently armed for a descriptor (for tests and traces)."""
        if sock is None or sock.fileno() < 0:
            return AioFlag(0)
        entry = self._entries.get(sock.fileno())
        return AioFlag(0) if entry is None else entry.mask

    def descriptors(self) -> list[int]:
        return sorted(fd for fd, e in self._entries.items() if e.enabled)

    def stop(self) -> None:
        """Stop the thread (the plugin is unloaded or the VM quits)."""
        if self._stopping:
            return
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        for fd, entry in list(self._entries.items()):
            if entry.registered:
                try:
                    self._epoll.unregister(fd)
                except OSError:
                    pass
        self._entries.clear()
        self._epoll.close()
        self._wake_r.close()
        self._wake_w.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopping

    # -- internals -------------------------------------------------------------

    def _sync(self, fd: int, entry: _Entry) -> None:
        """Make epoll's interest match the armed mask (epoll_ctl is safe while another
        thread waits: a change takes effect in the wait under way)."""
        events = 0
        for flag, bits in _EPOLL_FOR.items():
            if entry.mask & flag:
                events |= bits
        if events and not entry.mask & (AioFlag.R | AioFlag.W):
            # Only exceptions armed (what AIO_RX/AIO_WX leave after R/W fired): select()'s
            # exceptfds report urgent data alone, but epoll reports ERR/HUP whatever is
            # asked, so a hung-up descriptor would wake this thread in a busy loop.
            # Edge-triggered, it is reported at most once per change.
            events |= select.EPOLLET
        try:
            if events and entry.registered:
                self._epoll.modify(fd, events)
            elif events:
                self._epoll.register(fd, events)
                entry.registered = True
            elif entry.registered:
                # epoll reports ERR/HUP even with no events asked: unregister instead
                self._epoll.unregister(fd)
                entry.registered = False
        except OSError:
            entry.registered = False

    def _run(self) -> None:
        wake_fd = self._wake_r.fileno()
        while not self._stopping:
            try:
                ready = self._epoll.poll(1.0)
            except OSError:
                return
            if self._stopping:
                return
            # shutdownModule holds the lock while stop() joins this thread: never block
            # on the lock once stopping, or the join would wait out its timeout
            while not self._lock.acquire(timeout=0.05):
                if self._stopping:
                    return
            try:
                if self._stopping:
                    return
                for fd, events in ready:
                    if fd == wake_fd:
                        try:
                            self._wake_r.recv(64)
                        except OSError:
                            pass
                        continue
                    self._dispatch(fd, events)
            finally:
                self._lock.release()

    def _dispatch(self, fd: int, events: int) -> None:
        for flag, ready_bits in (
            (AioFlag.R, _READY_R),
            (AioFlag.W, _READY_W),
            (AioFlag.X, _READY_X),
        ):
            entry = self._entries.get(fd)
            if entry is None or not (entry.mask & flag) or not (events & ready_bits):
                continue
            # one-shot: clear the interest before calling, as aio.c does
            entry.mask &= ~flag
            handler = entry.handlers.pop(flag)
            self._sync(fd, entry)
            try:
                handler(fd, entry.data, flag)
            except Exception as exc:  # a handler bug must not kill the aio thread
                self.handler_errors.append(exc)
