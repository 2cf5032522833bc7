"""Column (d): the real VM, Debian's squeak-vm, running ``images/squeak/bench_client.st``.

Two loops on the built headless image, both calling SqSocketPlugin's primitives
as column (b) does in Python:

* **semaphore loop** (``sema``): when the plugin says no data (or no room), wait
  on the socket's read (write) semaphore with ``SqBoot waitOn:ms:`` -- the VM
  sleeps in its idle process until the aio handler signals;
* **busy-poll loop** (``poll``): ask ``primSocketReceiveDataAvailable:`` again and
  again, never waiting.

The script calibrates itself, times each repetition with ``Time
millisecondClockValue`` and prints ``COUNT n`` and one ``REP ms`` per repetition;
this module turns those into a :class:`~sqsocket.bench.stats.Sample`. The VM's
start-up is outside the timed loops.
"""

from __future__ import annotations

import enum
from pathlib import Path

from sqsocket.bench.stats import Sample
from sqsocket.bench.workloads import Endpoint, Workload
from sqsocket.squeak import paths, runner

__all__ = ["SCRIPT", "VMLoop", "VMRunFailed", "missing_reason", "run_loop"]

SCRIPT = "bench_client.st"
#: Seconds one VM run may take (calibration, warm-up and every repetition).
RUN_TIMEOUT = 120.0


class VMLoop(enum.Enum):
    SEMAPHORE = "sema"
    BUSY_POLL = "poll"


class VMRunFailed(RuntimeError):
    """The VM run did not end well or printed no figures."""


def script_path() -> Path:
    return paths.smalltalk_dir() / SCRIPT


def missing_reason() -> str | None:
    """None when the VM column can run here, else what is missing."""
    if paths.find_vm() is None:
        return f"squeak-vm not installed ({paths.INSTALL_VM_HINT})"
    if not paths.default_image().is_file():
        return f"headless image not built ({paths.BUILD_IMAGE_HINT})"
    if not script_path().is_file():
        return f"{script_path()} not found"
    return None


def parse_output(stdout: str) -> tuple[int, list[int]]:
    """``COUNT n`` and the ``REP ms`` values the script printed."""
    count: int | None = None
    reps: list[int] = []
    for line in stdout.splitlines():
        word, _, value = line.strip().partition(" ")
        if word == "COUNT":
            count = int(value)
        elif word == "REP":
            reps.append(int(value))
    if count is None or not reps:
        raise VMRunFailed(f"no COUNT/REP lines in the VM's output: {stdout[-400:]!r}")
    return count, reps


def run_loop(
    loop: VMLoop,
    workload: Workload,
    endpoint: Endpoint,
    size: int,
    *,
    target_ms: int,
    reps: int,
    per: float = 1.0,
) -> Sample:
    """Run one loop in the VM; figures are operations (times ``per``) per second."""
    op = "connect" if workload is Workload.CONNECT else "rt"
    args = [loop.value, op, endpoint.spec, str(size), str(target_ms), str(reps)]
    result = runner.run_script(script_path(), args, timeout=RUN_TIMEOUT)
    if not result.ok:
        raise VMRunFailed(f"{result.state()}: {(result.stderr or result.stdout)[-400:].strip()}")
    count, times = parse_output(result.stdout)
    # a 0 ms repetition (clock resolution) counts as half a millisecond
    return Sample.of([count * per / (max(ms, 0.5) / 1000.0) for ms in times])
