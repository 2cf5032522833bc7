"""How long and how often to measure: the default run, ``--quick`` and ``--long``."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

__all__ = ["SECTIONS", "Mode", "Settings"]

#: The sections of a run, in the order they run and print.
SECTIONS: tuple[str, ...] = ("client", "capacity", "memory", "growth")


class Mode(enum.Enum):
    """How long and how often a run measures: ``--quick``, the default, ``--long``."""

    QUICK = "quick"
    DEFAULT = "default"
    LONG = "long"


@dataclass(frozen=True)
class Settings:
    """Every knob of a run.

    ``target``: seconds one repetition of a Python column should last (the
    count of operations is calibrated to it); ``vm_target_ms`` the same for the
    VM, whose clock has millisecond resolution; ``capacity_window_ms``: length of
    one measured window of the load generator. The client counts and socket counts
    measured are the same in every mode, so that runs of any mode compare.
    """

    mode: Mode
    reps: int
    target: float
    vm_target_ms: int
    capacity_warmup_ms: int
    capacity_window_ms: int
    memory_sockets: int
    memory_probes: int
    capacity_clients: tuple[int, ...] = (1, 100, 1000)
    growth_counts: tuple[int, ...] = (10, 100, 1000, 5000)
    sections: tuple[str, ...] = SECTIONS

    @classmethod
    def for_mode(cls, mode: Mode) -> Settings:
        return cls(mode, *_BY_MODE[mode])

    def with_sections(self, sections: tuple[str, ...]) -> Settings:
        return replace(self, sections=sections)

    def with_reps(self, reps: int) -> Settings:
        return replace(self, reps=reps)


#: What differs between the modes, in the order of the fields after ``mode``: reps,
#: target, vm_target_ms, capacity_warmup_ms, capacity_window_ms, memory_sockets,
#: memory_probes.
_BY_MODE: dict[Mode, tuple[int, float, int, int, int, int, int]] = {
    Mode.QUICK: (2, 0.005, 20, 20, 40, 100, 1),
    Mode.DEFAULT: (5, 0.04, 80, 100, 200, 1000, 3),
    Mode.LONG: (15, 0.2, 300, 300, 1000, 5000, 5),
}
