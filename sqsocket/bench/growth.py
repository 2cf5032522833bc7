"""The growth section: does a socket cost more when thousands of others are open?

For each column -- raw CPython sockets, the emulator's primitives (one plugin),
the image layer (one image) -- the process opens 10, then 100, 1,000 and 5,000
connected sockets to the echo peer (idle: they only exist), and at each step
measures a 16-byte round trip on one more connection and the creation and
destruction of an unconnected socket (with its three semaphores, for the
emulated columns). Each row is one column and operation; its baseline is the
figure with 10 sockets open, so a ratio below 1 is the slowdown. After each
step's sockets are opened a full garbage collection runs, so the figures measure
the steady state rather than the collector's first pass over the new objects.
RLIMIT_NOFILE is raised to the hard limit first.
"""

from __future__ import annotations

import gc
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqsocket.bench import stats
from sqsocket.bench.emulated import PrimitivesClient, PrimitiveSocket
from sqsocket.bench.imagelayer import ImageClient
from sqsocket.bench.limits import nofile_limit
from sqsocket.bench.raw import RawClient, open_raw
from sqsocket.bench.results import Cell, Row, Section, Target, Unit
from sqsocket.bench.settings import Settings
from sqsocket.bench.workloads import Endpoint
from sqsocket.image import Socket
from sqsocket.platform.constants import NetDomain
from sqsocket.ui import Progress

__all__ = ["COLUMNS", "run_section"]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("raw", "(a) raw CPython sockets"),
    ("primitives", "(b) emulator primitives"),
    ("image", "(c) image layer"),
)
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("rt", "round trip 16 B, UDS"),
    ("create", "create + destroy"),
)
#: Descriptors kept free besides the open sockets (the peer, the VM's own, pipes).
SPARE_DESCRIPTORS = 64


@dataclass
class _Harness:
    """One column's way to open an idle socket, close it, and run the two operations."""

    open_idle: Callable[[], object]
    close_idle: Callable[[object], None]
    round_trips: Callable[[int], float]
    create_destroy: Callable[[int], float]
    close: Callable[[], None]
    idle: list[object] = field(default_factory=list)


def _timed(body: Callable[[], None]) -> Callable[[int], float]:
    def run(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            body()
        return time.perf_counter() - start

    return run


def _harness(column: str, endpoint: Endpoint) -> _Harness:
    path = endpoint.path
    assert path is not None
    if column == "raw":
        raw = RawClient(endpoint)
        return _Harness(
            open_idle=lambda: open_raw(endpoint),
            close_idle=lambda s: s.close(),  # type: ignore[attr-defined]
            round_trips=raw.round_trips,
            create_destroy=_timed(lambda: socket.socket(socket.AF_UNIX).close()),
            close=raw.close,
        )
    if column == "primitives":
        prim = PrimitivesClient(endpoint)
        plugin = prim.plugin
        return _emulated_harness(prim, lambda: PrimitiveSocket(plugin, NetDomain.LOCAL))
    img = ImageClient(endpoint)
    image = img.image
    return _emulated_harness(img, lambda: Socket.new_ipc(image=image))


def _emulated_harness(
    client: PrimitivesClient | ImageClient, new_socket: Callable[[], PrimitiveSocket | Socket]
) -> _Harness:
    """The emulated columns: their sockets, idle or new, end with ``destroy()``."""
    return _Harness(
        open_idle=client.open,
        close_idle=lambda s: s.destroy(),  # type: ignore[attr-defined]
        round_trips=client.round_trips,
        create_destroy=_timed(lambda: new_socket().destroy()),
        close=client.close,
    )


def _measure_column(
    column: str, label: str, endpoint: Endpoint, settings: Settings, progress: Progress
) -> dict[tuple[str, int], Cell]:
    cells: dict[tuple[str, int], Cell] = {}
    harness = _harness(column, endpoint)
    try:
        for count in settings.growth_counts:
            progress.say(f"growth: {label}, {count} sockets open")
            while len(harness.idle) < count:
                harness.idle.append(harness.open_idle())
            # The sockets just opened are young objects: the collector's first full pass
            # over them (tens of ms with 5,000 image Sockets) would land in whichever
            # repetition comes next. Collect now, so every figure is the steady state.
            gc.collect()
            for op, run in (("rt", harness.round_trips), ("create", harness.create_destroy)):
                calls = stats.calibrate(run, settings.target)
                sample = stats.rate_sample(run, calls, settings.reps)
                cells[op, count] = Cell(f"n{count}", f"{count} open", sample=sample)
    finally:
        for sock in harness.idle:
            harness.close_idle(sock)
        harness.close()
    return cells


def run_section(endpoint: Endpoint, settings: Settings, progress: Progress) -> Section:
    """Measure every column at every count of open sockets."""
    soft, _hard = nofile_limit()
    counts = settings.growth_counts
    section = Section(
        key="growth",
        title="growth: one more socket among many open ones",
        description=(
            f"Idle connected sockets open in the measuring process: {', '.join(map(str, counts))}"
            f" (RLIMIT_NOFILE {soft}). Each row is one column; baseline: the same column with "
            f"{counts[0]} open. Figures: operations per second; ratio below 1 = slower."
        ),
    )
    if max(counts) + SPARE_DESCRIPTORS > soft:
        section.notes.append(
            f"RLIMIT_NOFILE {soft} is below {max(counts) + SPARE_DESCRIPTORS}: the largest "
            "counts fail"
        )
    for column, label in COLUMNS:
        try:
            cells = _measure_column(column, label, endpoint, settings, progress)
            failure = None
        except (OSError, RuntimeError, ValueError, TimeoutError) as exc:
            cells = {}
            failure = f"failed: {type(exc).__name__}: {exc}"
        for op, op_title in OPERATIONS:
            row_cells = [
                cells.get((op, n)) or Cell(f"n{n}", f"{n} open", missing=failure or "not measured")
                for n in counts
            ]
            targets = (
                []
                if column == "raw"
                else [
                    Target(f"n{n}", f"within 1.5× of {counts[0]} open", at_least=1 / 1.5)
                    for n in counts[1:]
                ]
            )
            row = Row(
                key=f"grow.{op}.{column}",
                title=f"{op_title} -- {label}",
                unit=Unit.OPS,
                baseline=row_cells[0],
                cells=row_cells[1:],
                targets=targets,
                detail=f"{settings.reps} repetitions of ~{settings.target:g} s",
            )
            row.compute_ratios()
            section.rows.append(row)
    return section
