"""Putting the measuring process and its servers on one CPU.

On a machine with few cores, a wake-up that crosses cores (the echo server on
one, the client on the other) costs about 80 µs against about 11 µs on the
same core, and which of the two happens varies from run to run: round-trip
figures then measure the scheduler. Pinning the measuring process with
``os.sched_setaffinity`` before any server starts puts every child -- servers,
the VM, load generators -- on the same CPU, since children inherit the mask.

``--pin auto`` (the default) pins where the machine has at most
:data:`FEW_CORES` CPUs, to the highest-numbered CPU this process may use;
``--pin N`` pins to CPU N; ``--pin none`` leaves the scheduler free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["AUTO", "FEW_CORES", "NONE", "Pinning", "allowed_cpus", "choose", "parse_pin"]

FEW_CORES = 4
AUTO = "auto"
NONE = "none"


def allowed_cpus() -> set[int]:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class Pinning:
    """What was pinned: ``cpu`` None means nothing; ``reason`` says why (not)."""

    cpu: int | None
    reason: str
    previous: frozenset[int] = frozenset()

    def describe(self) -> str:
        if self.cpu is None:
            return f"not pinned ({self.reason})"
        return (
            f"pinned to CPU {self.cpu}: the measuring process and every server, VM and "
            f"load generator it starts (os.sched_setaffinity; {self.reason})"
        )

    def apply(self) -> None:
        if self.cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {self.cpu})

    def undo(self) -> None:
        if self.cpu is not None and self.previous and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(self.previous))


def parse_pin(text: str) -> str | int:
    """``auto``, ``none`` or a CPU number (ValueError otherwise)."""
    lowered = text.strip().lower()
    if lowered in (AUTO, NONE):
        return lowered
    if not lowered.isdigit():
        raise ValueError(f"expected auto, none or a CPU number, not {text!r}")
    cpu = int(lowered)
    if cpu not in allowed_cpus():
        raise ValueError(f"CPU {cpu} is not one this process may use ({sorted(allowed_cpus())})")
    return cpu


def choose(pin: str | int) -> Pinning:
    """The pinning ``pin`` (from :func:`parse_pin`) asks for on this machine."""
    cpus = allowed_cpus()
    previous = frozenset(cpus)
    if not hasattr(os, "sched_setaffinity"):
        return Pinning(None, "this platform has no sched_setaffinity")
    if pin == NONE:
        return Pinning(None, "--pin none")
    if isinstance(pin, int):
        return Pinning(pin, f"--pin {pin}", previous)
    if len(cpus) > FEW_CORES:
        return Pinning(None, f"{len(cpus)} CPUs; --pin CPU to pin")
    return Pinning(
        max(cpus),
        f"default on machines with at most {FEW_CORES} CPUs, this one has {len(cpus)}",
        previous,
    )
