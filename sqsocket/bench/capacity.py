"""The capacity section: echo servers under 1, 100 and 1,000 concurrent clients.

Each server runs in its own process on a Unix-domain socket; the clients run
in another process, the load generator (``benchmarks/epoll_load.c`` when gcc
is there, :mod:`sqsocket.bench.loadgen` otherwise): every connection does
closed-loop 16-byte echo exchanges, and the figure is exchanges per second
over all connections, per measured window. Baseline: the raw selectors
server (:mod:`sqsocket.bench.rawserver`); columns: the native epoll server
(the ceiling), the project's ``sqsocket serve echo`` and the image-layer
``UnixServer``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqsocket.bench import native
from sqsocket.bench.peers import PeerKind, PeerUnavailable, ServerProcess, unix_path
from sqsocket.bench.results import Cell, Row, Section, Target, Unit
from sqsocket.bench.settings import Settings
from sqsocket.bench.stats import Sample
from sqsocket.ui import Progress

__all__ = ["COLUMNS", "MESSAGE_SIZE", "load_command", "run_load", "run_section"]

MESSAGE_SIZE = 16
#: Column key, server kind and label; the first is the baseline.
COLUMNS: tuple[tuple[str, PeerKind], ...] = (
    ("raw", PeerKind.RAW),
    ("native", PeerKind.NATIVE),
    ("project", PeerKind.PROJECT),
    ("image", PeerKind.IMAGE),
)
#: Seconds the load generator may take beyond its windows (connecting 1,000 clients).
LOAD_SLACK = 60.0


def load_command(spec: str, clients: int, settings: Settings) -> tuple[list[str], str]:
    """The load generator's argv and its name (C when it can be built, else Python)."""
    args = [
        spec,
        str(clients),
        str(MESSAGE_SIZE),
        str(settings.capacity_warmup_ms),
        str(settings.capacity_window_ms),
        str(settings.reps),
    ]
    try:
        return [str(native.binary("epoll_load")), *args], "epoll_load.c"
    except native.NativeUnavailable:
        return [sys.executable, "-m", "sqsocket.bench.loadgen", *args], "loadgen.py (Python)"


def run_load(spec: str, clients: int, settings: Settings) -> Sample:
    """Run the load generator once against ``spec``; exchanges per second per window."""
    command, _name = load_command(spec, clients, settings)
    budget = (
        settings.capacity_warmup_ms + settings.capacity_window_ms * settings.reps
    ) / 1000 + LOAD_SLACK
    done = subprocess.run(command, capture_output=True, text=True, timeout=budget, check=False)
    rates = []
    for line in done.stdout.splitlines():
        word, *values = line.split()
        if word == "REP" and len(values) == 2:
            exchanges, nanoseconds = int(values[0]), int(values[1])
            rates.append(exchanges / max(nanoseconds / 1e9, 1e-9))
    if done.returncode != 0 or len(rates) != settings.reps:
        raise RuntimeError(
            f"load generator ended with {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-300:]}"
        )
    return Sample.of(rates)


def run_section(directory: Path, settings: Settings, progress: Progress) -> Section:
    """Measure every server at every client count."""
    _command, generator = load_command("unix:/x", 1, settings)
    section = Section(
        key="capacity",
        title="capacity: echo servers under concurrent clients",
        description=(
            "Each server in its own process on a Unix-domain socket; the clients in one "
            f"load-generator process ({generator}), closed-loop {MESSAGE_SIZE}-byte echo "
            "exchanges on every connection. Baseline: the raw selectors server. Figures: "
            "exchanges per second over all clients."
        ),
    )
    if generator != "epoll_load.c":
        section.notes.append(
            "the Python load generator costs about as much as the servers: ratios understate"
        )
    cells: dict[tuple[str, int], Cell] = {}
    for column, kind in COLUMNS:
        label = kind.label
        path = unix_path(directory, f"cap-{column}")
        try:
            server = ServerProcess.start(kind, f"unix:{path}")
        except (PeerUnavailable, OSError) as exc:
            for clients in settings.capacity_clients:
                cells[column, clients] = Cell(column, label, missing=str(exc))
            continue
        with server:
            for clients in settings.capacity_clients:
                progress.say(f"capacity: {label}, {clients} clients")
                try:
                    sample = run_load(server.spec, clients, settings)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                    cells[column, clients] = Cell(column, label, missing=f"failed: {exc}")
                    continue
                cells[column, clients] = Cell(column, label, sample=sample)
    for clients in settings.capacity_clients:
        row = Row(
            key=f"cap.{clients}",
            title=f"echo server, {clients} concurrent client{'s' * (clients != 1)}",
            unit=Unit.OPS,
            baseline=cells["raw", clients],
            cells=[cells[column, clients] for column, _kind in COLUMNS[1:]],
            targets=(
                [Target("project", "≥ 0.8× the raw selectors server", at_least=0.8)]
                if clients >= 1000
                else []
            ),
            detail=f"{settings.reps} windows of {settings.capacity_window_ms} ms",
        )
        row.compute_ratios()
        section.rows.append(row)
    return section
