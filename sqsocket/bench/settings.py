"""How long and how often to measure: the default run, ``--quick`` and ``--long``."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

__all__ = ["SECTIONS", "Mode", "Settings"]

#: The sections of a run, in the order they run and print.
SECTIONS: tuple[str, ...] = ("client", "capacity", "memory", "growth")


class Mode(enum.Enum):
    QUICK = "quick"
    DEFAULT = "default"
    LONG = "long"


@dataclass(frozen=True)
class Settings:
    """Every knob of a run.

    ``target``: seconds one repetition of a Python column should last (the
    count of operations is calibrated to it); ``vm_target_ms`` the same for the
    VM, whose clock has millisecond resolution; ``capacity_window_ms``: length of
    one measured window of the load generator.
    """

    mode: Mode
    reps: int
    target: float
    vm_target_ms: int
    capacity_clients: tuple[int, ...]
    capacity_warmup_ms: int
    capacity_window_ms: int
    growth_counts: tuple[int, ...]
    memory_sockets: int
    memory_probes: int
    sections: tuple[str, ...] = SECTIONS

    @classmethod
    def for_mode(cls, mode: Mode) -> Settings:
        if mode is Mode.QUICK:
            return cls(
                mode=mode,
                reps=2,
                target=0.005,
                vm_target_ms=20,
                capacity_clients=(1, 100, 1000),
                capacity_warmup_ms=20,
                capacity_window_ms=40,
                growth_counts=(10, 100, 1000, 5000),
                memory_sockets=100,
                memory_probes=1,
            )
        if mode is Mode.LONG:
            return cls(
                mode=mode,
                reps=15,
                target=0.2,
                vm_target_ms=300,
                capacity_clients=(1, 100, 1000),
                capacity_warmup_ms=300,
                capacity_window_ms=1000,
                growth_counts=(10, 100, 1000, 5000),
                memory_sockets=5000,
                memory_probes=5,
            )
        return cls(
            mode=mode,
            reps=5,
            target=0.04,
            vm_target_ms=80,
            capacity_clients=(1, 100, 1000),
            capacity_warmup_ms=100,
            capacity_window_ms=200,
            growth_counts=(10, 100, 1000, 5000),
            memory_sockets=1000,
            memory_probes=3,
        )

    def with_sections(self, sections: tuple[str, ...]) -> Settings:
        return replace(self, sections=sections)

    def with_reps(self, reps: int) -> Settings:
        return replace(self, reps=reps)
