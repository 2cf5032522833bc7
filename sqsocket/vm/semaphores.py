"""Semaphores and the external-objects table.

The image registers a Semaphore with ``Smalltalk registerExternalObject:`` and
passes the 1-based index it gets back to the plugin. The plugin never holds the
Semaphore itself: its aio handlers call ``signalSemaphoreWithIndex(i)``, which
is safe from any thread; the interpreter signals the Semaphore at its next
interrupt check. Index 0 means "no semaphore" and is ignored, as in the VM.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


class Semaphore:
    """A counting semaphore with Smalltalk's semantics: excess signals are kept."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._cond = threading.Condition()
        self._excess = 0
        self.signals = 0  # total ever received: handy for tests and traces

    def signal(self) -> None:
        with self._cond:
            self._excess += 1
            self.signals += 1
            self._cond.notify()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a signal; answer False if ``timeout`` seconds passed without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._excess == 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            self._excess -= 1
            return True

    def wait_timeout_ms(self, ms: int) -> bool:
        """``waitTimeoutMSecs:`` answers true when it timed out; this answers True if signalled."""
        return self.wait(ms / 1000.0)

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
    """``Smalltalk externalObjects``: slots indexed from 1; freed slots are reused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: list[Semaphore | None] = []

    def register(self, sema: Semaphore) -> int:
        """``registerExternalObject:``: answer the index, reusing a free slot."""
        with self._lock:
            for i, existing in enumerate(self._slots):
                if existing is sema:
                    return i + 1
            for i, existing in enumerate(self._slots):
                if existing is None:
                    self._slots[i] = sema
                    return i + 1
            self._slots.append(sema)
            return len(self._slots)

    def unregister(self, sema: Semaphore) -> None:
        """``unregisterExternalObject:``."""
        with self._lock:
            for i, existing in enumerate(self._slots):
                if existing is sema:
                    self._slots[i] = None

    def at(self, index: int) -> Semaphore | None:
        with self._lock:
            if 1 <= index <= len(self._slots):
                return self._slots[index - 1]
            return None

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for s in self._slots if s is not None)


@dataclass
class VirtualMachine:
    """The interpreter proxy, reduced to what the SocketPlugin uses.

    ``signal_semaphore_with_index`` may be called from the aio thread, exactly as
    ``signalSemaphoreWithIndex()`` is called from the VM's aio handlers.
    """

    external_objects: ExternalObjectsTable = field(default_factory=ExternalObjectsTable)

    def signal_semaphore_with_index(self, index: int) -> None:
        if index <= 0:
            return
        sema = self.external_objects.at(index)
        if sema is not None:
            sema.signal()

    def new_semaphore(self, name: str = "") -> tuple[Semaphore, int]:
        """``Semaphore new`` plus ``registerExternalObject:``: answer it and its index."""
        sema = Semaphore(name)
        return sema, self.external_objects.register(sema)
