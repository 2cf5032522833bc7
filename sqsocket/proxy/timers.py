"""Timers for a selector loop: run a callback at a monotonic time, cancel it, never poll.

The relay's delays (latency, slicer pauses, bandwidth, accept delays, resets
after N seconds) are all timers here: the loop sleeps in ``select()`` for
exactly :meth:`Timers.timeout`, then calls :meth:`Timers.run_due`. Cancelling
is lazy (the entry is skipped when it comes up), so both are O(log n).
Only the loop's thread touches a :class:`Timers`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Timer", "Timers"]


@dataclass(eq=False)
class Timer:
    """One scheduled call; :meth:`cancel` before it is due and it never runs."""

    at: float
    callback: Callable[[float], None]
    cancelled: bool = field(default=False)

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    """A heap of :class:`Timer` ordered by due time (ties: in scheduling order)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()

    def schedule(self, at: float, callback: Callable[[float], None]) -> Timer:
        """Call ``callback(now)`` once the monotonic clock reaches ``at``."""
        timer = Timer(at, callback)
        heapq.heappush(self._heap, (at, next(self._order), timer))
        return timer

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)

    def timeout(self, now: float) -> float | None:
        """Seconds until the next timer (0 if one is due), None when there is none."""
        self._drop_cancelled()
        if not self._heap:
            return None
        return max(0.0, self._heap[0][0] - now)

    def run_due(self, now: float) -> int:
        """Run every timer due at ``now`` (not those scheduled meanwhile for later); answer
        how many ran."""
        ran = 0
        # Bounded by the heap's size on entry, so callbacks that keep scheduling timers
        # already due cannot keep this call going for ever (the loop must get to select).
        for _ in range(len(self._heap)):
            self._drop_cancelled()
            if not self._heap or self._heap[0][0] > now:
                break
            _at, _n, timer = heapq.heappop(self._heap)
            timer.cancelled = True  # done: a late cancel() is harmless
            timer.callback(now)
            ran += 1
        return ran

    def clear(self) -> None:
        for _at, _n, timer in self._heap:
            timer.cancelled = True
        self._heap.clear()

    def __len__(self) -> int:
        return sum(1 for _at, _n, t in self._heap if not t.cancelled)
