"""The memory section: bytes per connected socket, raw and emulated.

Each probe is a fresh interpreter (:mod:`sqsocket.bench.memprobe`) that opens
N connected sockets to the echo peer and reports resident memory and the
Python allocations per socket. An emulated socket is the plugin's socket
structure, the Python socket under it, and the three Semaphores registered in
the external-objects table (plus, in the image layer, the ``Socket`` object).
Baseline: a connected CPython ``socket.socket``. Kernel buffers are in neither.
"""

from __future__ import annotations

import subprocess
import sys

from sqsocket.bench.memprobe import COLUMNS as PROBE_COLUMNS
from sqsocket.bench.results import Cell, Row, Section, Target, Unit
from sqsocket.bench.settings import Settings
from sqsocket.bench.stats import Sample
from sqsocket.ui import Progress

__all__ = ["LABELS", "run_probe", "run_section"]

LABELS = {
    "raw": "(a) raw CPython socket",
    "primitives": "(b) emulator socket + 3 semaphores",
    "image": "(c) image-layer Socket",
}
PROBE_TIMEOUT = 120.0
#: The target: at most this many bytes of Python allocations per emulated socket.
BOUND = 2048


def run_probe(column: str, count: int, path: str) -> tuple[float, float]:
    """(RSS, traced) bytes per socket from one fresh probe process."""
    done = subprocess.run(
        [sys.executable, "-m", "sqsocket.bench.memprobe", column, str(count), path],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
        check=False,
    )
    values = dict(line.split(None, 1) for line in done.stdout.splitlines() if " " in line)
    if done.returncode != 0 or "RSS" not in values or "TRACED" not in values:
        raise RuntimeError(f"memory probe failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return float(values["RSS"]), float(values["TRACED"])


def run_section(path: str, settings: Settings, progress: Progress) -> Section:
    """Probe every column ``memory_probes`` times with ``memory_sockets`` sockets."""
    count = settings.memory_sockets
    section = Section(
        key="memory",
        title="memory: bytes per connected socket",
        description=(
            f"{count} connected sockets to the echo peer, {settings.memory_probes} fresh "
            "process(es) per column. Baseline: a connected CPython socket. Lower is smaller; "
            "ratio = column / baseline."
        ),
    )
    rss: dict[str, Cell] = {}
    traced: dict[str, Cell] = {}
    for column in PROBE_COLUMNS:
        label = LABELS[column]
        progress.say(f"memory: {label}")
        try:
            probes = [run_probe(column, count, path) for _ in range(settings.memory_probes)]
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            rss[column] = Cell(column, label, missing=str(exc))
            traced[column] = Cell(column, label, missing=str(exc))
            continue
        rss[column] = Cell(column, label, sample=Sample.of([p[0] for p in probes]))
        traced[column] = Cell(column, label, sample=Sample.of([p[1] for p in probes]))
    bound = f"≤ {BOUND} B per connected emulated socket"
    for key, title, cells, targets in (
        (
            "mem.traced",
            "Python allocations per connected socket (tracemalloc)",
            traced,
            [Target(c, bound, at_most=BOUND) for c in ("primitives", "image")],
        ),
        ("mem.rss", "resident memory per connected socket (VmRSS)", rss, []),
    ):
        row = Row(
            key=key,
            title=title,
            unit=Unit.BYTES,
            baseline=cells["raw"],
            cells=[cells[c] for c in PROBE_COLUMNS[1:]],
            targets=targets,
            detail=f"{count} sockets",
        )
        row.compute_ratios()
        section.rows.append(row)
    return section
