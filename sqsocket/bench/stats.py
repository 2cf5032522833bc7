"""Repetitions and their summary: medians with the min-max range.

A benchmark figure here is a *rate* (operations or bytes per second) or a size,
measured several times. :func:`repeat` runs a measurement ``reps`` times after
``warmup`` unmeasured runs and answers a :class:`Sample`; :func:`calibrate`
picks how many operations one repetition should do so that it lasts about
``target`` seconds (short repetitions are dominated by timer and scheduler
noise, long ones blow the time budget).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["MAX_COUNT", "Sample", "calibrate", "rate_sample", "repeat"]

#: Most operations one repetition may do, whatever the calibration says.
MAX_COUNT = 1 << 22


@dataclass(frozen=True)
class Sample:
    """Figures of one measurement repeated: ``values`` in the order they were taken."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a sample needs at least one value")

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    @property
    def reps(self) -> int:
        return len(self.values)

    @classmethod
    def of(cls, values: Sequence[float]) -> Sample:
        return cls(tuple(float(v) for v in values))


def repeat(measure: Callable[[], float], reps: int, warmup: int = 1) -> Sample:
    """Run ``measure`` ``warmup`` times unmeasured, then ``reps`` times; answer the figures."""
    if reps < 1:
        raise ValueError("reps must be at least 1")
    for _ in range(warmup):
        measure()
    return Sample.of([measure() for _ in range(reps)])


def rate_sample(
    run: Callable[[int], float], count: int, reps: int, *, per: float = 1.0, warmup: int = 1
) -> Sample:
    """Repeat ``run(count)`` (answering elapsed seconds); figures are ``count * per / s``.

    ``per`` converts operations into the unit of the figure (bytes per operation
    for a bandwidth, 1 for operations per second).
    """

    def measure() -> float:
        elapsed = run(count)
        return count * per / max(elapsed, 1e-9)

    return repeat(measure, reps, warmup)


def calibrate(run: Callable[[int], float], target: float, *, start: int = 4) -> int:
    """How many operations make ``run(count)`` (elapsed seconds) last about ``target`` s.

    Doubles from ``start`` until one run takes at least a fifth of the target,
    then scales linearly; never more than :data:`MAX_COUNT`.
    """
    count = max(1, start)
    deadline = time.monotonic() + max(target, 0.001) * 20  # calibration itself is bounded
    while True:
        elapsed = run(count)
        if elapsed >= target / 5 or count >= MAX_COUNT or time.monotonic() > deadline:
            break
        count *= 2
    per_op = max(elapsed, 1e-9) / count
    return max(1, min(MAX_COUNT, round(target / per_op)))
