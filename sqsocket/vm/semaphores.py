"""Semaphores and the external-objects table.

The image registers a Semaphore with ``Smalltalk registerExternalObject:`` and
passes the 1-based index it gets back to the plugin. The plugin never holds the
Semaphore itself: its aio handlers call ``signalSemaphoreWithIndex(i)``. Index 0
means "no semaphore" and is ignored, as in the VM.

A Semaphore registered with a VM waits the way a Smalltalk process waits: while
it is not signalled, no other process can run, so the VM's idle process runs and
polls for I/O (:meth:`sqsocket.vm.machine.VirtualMachine.wait`). That poll is
where the plugin's aio handlers run and signal semaphores. A Semaphore that
belongs to no VM is a plain counting semaphore.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Protocol


class _Wakeable(Protocol):
    def wake(self) -> None: ...


class VirtualMachine(Protocol):
    """What a Semaphore needs of the VM it is registered with (sqsocket.vm.machine)."""

    _poller: int | None
    aio: _Wakeable

    def wait(self, sema: Semaphore, timeout: float | None) -> bool: ...


class Semaphore:
    """A counting semaphore with Smalltalk's semantics: excess signals are kept."""

    __slots__ = ("__weakref__", "_cond_", "_excess", "_lock", "_vm", "name", "signals")

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._lock = threading.Lock()
        # made on first use: most semaphores are waited on through their VM's idle
        # process and never need a condition of their own
        self._cond_: threading.Condition | None = None
        self._excess = 0
        self._vm: VirtualMachine | None = None
        self.signals = 0  # total ever received: handy for tests and traces

    @property
    def _cond(self) -> threading.Condition:
        cond = self._cond_
        if cond is None:
            with self._lock:
                if self._cond_ is None:
                    self._cond_ = threading.Condition(self._lock)
                cond = self._cond_
        return cond

    @property
    def vm(self) -> VirtualMachine | None:
        """The VM whose idle process runs while this semaphore is waited on (if any)."""
        return self._vm

    def signal(self) -> None:
        with self._lock:
            self._excess += 1
            self.signals += 1
            if self._cond_ is not None:
                self._cond_.notify()
        vm = self._vm
        # a poll blocked on another thread must wake to see this signal
        if vm is not None and vm._poller is not None and vm._poller != threading.get_ident():
            vm.aio.wake()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a signal; answer False if ``timeout`` seconds passed without one.

        With a VM, waiting runs the VM's idle process (its I/O poll) meanwhile.
        """
        vm = self._vm
        if vm is not None:
            return vm.wait(self, timeout)
        return self.wait_plain(timeout)

    def wait_timeout_ms(self, ms: int) -> bool:
        """``waitTimeoutMSecs:`` answers true when it timed out; this answers True if signalled."""
        return self.wait(ms / 1000.0)

    def try_acquire(self) -> bool:
        """Take one excess signal if there is one (never waits)."""
        with self._lock:
            if self._excess:
                self._excess -= 1
                return True
            return False

    def wait_plain(self, timeout: float | None, until: Callable[[], bool] | None = None) -> bool:
        """Wait on the condition alone (no I/O poll); ``until`` may end the wait early.

        Answers True if a signal was taken; False on time-out or when ``until()``
        became true first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._excess == 0:
                if until is not None and until():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            self._excess -= 1
            return True

    def wake_waiter(self) -> None:
        """Wake a thread in :meth:`wait_plain` so it looks again (a VM hand-off)."""
        with self._cond:
            self._cond.notify_all()

    def initialize_signals(self) -> None:
        """``initSignals``: forget pending signals."""
        with self._cond:
            self._excess = 0

    @property
    def excess_signals(self) -> int:
        with self._cond:
            return self._excess

    def __repr__(self) -> str:
        return f"Semaphore({self.name!r}, excess={self.excess_signals})"


class ExternalObjectsTable:
    """``Smalltalk externalObjects``: slots indexed from 1; freed slots are reused.

    Registration and removal are O(1): an object-to-index map and a free list
    (lowest freed slot first, as the image's scan for the first nil would find).
    """

    def __init__(self, vm: VirtualMachine | None = None) -> None:
        self._lock = threading.Lock()
        self._slots: list[Semaphore | None] = []
        self._index: dict[Semaphore, int] = {}
        self._free: list[int] = []  # a heap of free 1-based indices
        self._vm = vm

    def register(self, sema: Semaphore) -> int:
        """``registerExternalObject:``: answer the index, reusing a free slot."""
        with self._lock:
            index = self._index.get(sema)
            if index is not None:
                return index
            if self._free:
                index = heapq.heappop(self._free)
                self._slots[index - 1] = sema
            else:
                self._slots.append(sema)
                index = len(self._slots)
            self._index[sema] = index
            if self._vm is not None and sema._vm is None:
                sema._vm = self._vm
            return index

    def unregister(self, sema: Semaphore) -> None:
        """``unregisterExternalObject:``."""
        with self._lock:
            index = self._index.pop(sema, None)
            if index is not None:
                self._slots[index - 1] = None
                heapq.heappush(self._free, index)

    def at(self, index: int) -> Semaphore | None:
        slots = self._slots
        if 0 < index <= len(slots):
            return slots[index - 1]
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    @property
    def size(self) -> int:
        """Slots in use or free (the Array's size)."""
        return len(self._slots)
