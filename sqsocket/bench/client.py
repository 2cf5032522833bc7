"""The client section: one connection to an echo peer, in every column.

Rows: round trips of 16 B and 1 KiB over a Unix-domain socket and over TCP,
bulk echoes of 64 KiB and 1 MiB over a Unix-domain socket, and connect + close
over a Unix-domain socket. Columns: (a) raw CPython sockets -- the baseline --,
(b) the emulator's primitives, (c) the image layer, (d) the real VM's
semaphore loop and busy-poll loop. The echo peer is the native epoll server
when gcc is there (so that the peer's own cost dilutes the ratios least),
else the raw selectors server; either runs in its own process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqsocket.bench import squeakvm, stats
from sqsocket.bench.emulated import PrimitivesClient
from sqsocket.bench.imagelayer import ImageClient
from sqsocket.bench.raw import RawClient
from sqsocket.bench.results import Cell, Row, Section, Target, Unit
from sqsocket.bench.settings import Settings
from sqsocket.bench.workloads import Client, Endpoint, Workload
from sqsocket.ui import Progress

__all__ = ["COLUMNS", "ROWS", "ClientRowSpec", "run_section"]

#: Column key and label; the first is the baseline.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("raw", "(a) raw CPython sockets"),
    ("primitives", "(b) emulator primitives"),
    ("image", "(c) image layer"),
    ("vm-sema", "(d) real VM, semaphore loop"),
    ("vm-poll", "(d) real VM, busy-poll loop"),
)

_PYTHON_CLIENTS: dict[str, Callable[[Endpoint, int], Client]] = {
    "raw": RawClient,
    "primitives": PrimitivesClient,
    "image": ImageClient,
}
_VM_LOOPS = {"vm-sema": squeakvm.VMLoop.SEMAPHORE, "vm-poll": squeakvm.VMLoop.BUSY_POLL}


@dataclass(frozen=True)
class ClientRowSpec:
    key: str
    title: str
    workload: Workload
    transport: str  # "uds" or "tcp"
    size: int
    targets: tuple[Target, ...] = ()

    @property
    def unit(self) -> Unit:
        return Unit.BYTES_PER_SECOND if self.workload is Workload.BULK else Unit.OPS

    @property
    def per(self) -> float:
        """What one operation counts for in the row's unit (bytes echoed for bulk)."""
        return float(self.size) if self.workload is Workload.BULK else 1.0


def _small_targets() -> tuple[Target, ...]:
    return (
        Target("image", "≥ 0.6× raw", at_least=0.6),
        Target("image", "≥ 1.0× the real VM's semaphore loop", at_least=1.0, against="vm-sema"),
    )


ROWS: tuple[ClientRowSpec, ...] = (
    ClientRowSpec(
        "rt.uds.16", "round trip 16 B, UDS", Workload.ROUND_TRIP, "uds", 16, _small_targets()
    ),
    ClientRowSpec("rt.uds.1k", "round trip 1 KiB, UDS", Workload.ROUND_TRIP, "uds", 1024),
    ClientRowSpec(
        "rt.tcp.16", "round trip 16 B, TCP", Workload.ROUND_TRIP, "tcp", 16, _small_targets()
    ),
    ClientRowSpec("rt.tcp.1k", "round trip 1 KiB, TCP", Workload.ROUND_TRIP, "tcp", 1024),
    ClientRowSpec("bulk.uds.64k", "bulk echo 64 KiB, UDS", Workload.BULK, "uds", 64 << 10),
    ClientRowSpec(
        "bulk.uds.1m",
        "bulk echo 1 MiB, UDS",
        Workload.BULK,
        "uds",
        1 << 20,
        (Target("image", "≥ 0.8× raw", at_least=0.8),),
    ),
    ClientRowSpec(
        "connect.uds",
        "connect + close, UDS",
        Workload.CONNECT,
        "uds",
        16,
        (Target("image", "≥ 0.5× raw", at_least=0.5),),
    ),
)


def _measure_python(
    column: str, spec: ClientRowSpec, endpoint: Endpoint, settings: Settings
) -> stats.Sample:
    client = _PYTHON_CLIENTS[column](endpoint, spec.size)
    try:
        run = client.connects if spec.workload is Workload.CONNECT else client.round_trips
        count = stats.calibrate(run, settings.target)
        return stats.rate_sample(run, count, settings.reps, per=spec.per)
    finally:
        client.close()


def measure_cell(
    column: str,
    label: str,
    spec: ClientRowSpec,
    endpoint: Endpoint,
    settings: Settings,
    vm_missing: str | None,
) -> Cell:
    """One column of one row; a failure becomes a missing cell with the reason."""
    try:
        if column in _VM_LOOPS:
            if vm_missing is not None:
                return Cell(column, label, missing=vm_missing)
            sample = squeakvm.run_loop(
                _VM_LOOPS[column],
                spec.workload,
                endpoint,
                spec.size,
                target_ms=settings.vm_target_ms,
                reps=settings.reps,
                per=spec.per,
            )
        else:
            sample = _measure_python(column, spec, endpoint, settings)
    except (OSError, ValueError, RuntimeError, TimeoutError) as exc:
        return Cell(column, label, missing=f"failed: {type(exc).__name__}: {exc}")
    return Cell(column, label, sample=sample)


def run_section(
    endpoints: dict[str, Endpoint], peer: str, settings: Settings, progress: Progress
) -> Section:
    """Measure every client row; ``endpoints`` maps ``uds``/``tcp`` to the echo peer."""
    vm_missing = squeakvm.missing_reason()
    section = Section(
        key="client",
        title="client: one connection to an echo peer",
        description=(
            f"Echo peer: {peer}, in its own process. Baseline: (a) raw CPython sockets. "
            "Figures: operations per second (bulk: MiB echoed per second); ratio = column / "
            "baseline, higher is faster."
        ),
    )
    if vm_missing is not None:
        section.notes.append(f"(d) missing: {vm_missing}")
    for spec in ROWS:
        endpoint = endpoints[spec.transport]
        cells = []
        for column, label in COLUMNS:
            progress.say(f"client: {spec.title} -- {label}")
            cells.append(measure_cell(column, label, spec, endpoint, settings, vm_missing))
        detail = f"{spec.workload.value}, {settings.reps} repetitions of ~{settings.target:g} s"
        if spec.workload is Workload.CONNECT:
            detail = f"connect + close to the peer, {settings.reps} repetitions"
        row = Row(
            key=spec.key,
            title=spec.title,
            unit=spec.unit,
            baseline=cells[0],
            cells=cells[1:],
            targets=list(spec.targets),
            detail=detail,
        )
        row.compute_ratios()
        section.rows.append(row)
    return section
