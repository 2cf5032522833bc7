"""A load run: the project's echo servers, many client processes, victims, and a summary.

For each server -- ``sqsocket serve echo --unix PATH`` and ``--tcp 127.0.0.1:0``,
each in its own process, with ``--max-buffer`` -- the runner notes the open
descriptors (/proc/PID/fd) and resident memory, then starts the worker processes
(:mod:`sqsocket.bench.load.worker`) with the good, abort and never-read clients
of the :class:`~sqsocket.bench.load.mix.Mix`, and victim processes that it
SIGKILLs after a random fraction of a second and replaces, until the duration
is over. Meanwhile it samples each server's descriptors and memory. Once every
client is gone it waits (bounded) for the server's descriptor count to come
back down, and reads its peak resident memory (VmHWM).

Two memory bounds are checked. The server's own count: the most bytes it had
queued for all clients together (its stop line on stderr says) is at most
``max_buffer`` plus one read. And its process: peak RSS at most the RSS before
the load, plus twice that (a queue's bytearray may hold up to twice its length:
CPython gives memory back only when less than half is used), plus
:data:`PER_CONNECTION_ALLOWANCE` for each connection the server held at its
peak (Python objects, selector entries, allocator slack).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

from sqsocket.bench.limits import raise_nofile_limit
from sqsocket.bench.load.mix import ClientKind, Mix
from sqsocket.bench.load.worker import DRAIN_TIMEOUT, Tally
from sqsocket.bench.peers import PeerKind, ServerProcess, server_command, socket_dir, unix_path
from sqsocket.servers.stream import DEFAULT_MAX_BUFFER
from sqsocket.ui import Progress

__all__ = [
    "PER_CONNECTION_ALLOWANCE",
    "LoadSettings",
    "ServerOutcome",
    "run",
]

#: Bytes of server memory allowed per connection beyond the queued bytes.
PER_CONNECTION_ALLOWANCE = 16 << 10
#: One read the server may hold beyond the ceiling (StreamServer's recv size).
READ_SIZE = 65536
#: Seconds the servers get, after the last client is gone, to close every connection.
SETTLE_TIMEOUT = 15.0
#: Clients per worker process.
CLIENTS_PER_WORKER = 250
#: Victim processes per server at any time, and how long each lives (seconds).
VICTIM_PROCESSES = 2
VICTIM_LIFETIME = (0.3, 1.5)
SAMPLE_INTERVAL = 0.2
#: The stop line of sqsocket serve echo (sqsocket.servers.cli): what it queued at most.
_PEAK_QUEUED = re.compile(r"peak (\d+) bytes queued")
_EVICTED = re.compile(r"(\d+) closed at the ceiling")


@dataclass(frozen=True)
class LoadSettings:
    clients: int = 1000
    duration: float = 10.0
    max_size: int = 1 << 20
    max_buffer: int | None = None  # None: the server's default
    seed: int = 1
    transports: tuple[str, ...] = ("unix", "tcp")


@dataclass
class ServerOutcome:
    """What one server went through."""

    server: str
    clients: int
    mix: dict[str, int]
    tally: Tally
    victims_killed: int = 0
    victim_connections: int = 0
    descriptors_before: int | None = None
    descriptors_peak: int | None = None
    descriptors_after: int | None = None
    rss_before: int | None = None
    rss_peak: int | None = None
    max_buffer: int | None = None
    memory_bound: int | None = None
    peak_queued: int | None = None
    evicted: int | None = None
    exit_status: int | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def descriptor_growth(self) -> int | None:
        if self.descriptors_before is None or self.descriptors_after is None:
            return None
        return self.descriptors_after - self.descriptors_before

    @property
    def within_memory_bound(self) -> bool | None:
        if self.rss_peak is None or self.memory_bound is None:
            return None
        return self.rss_peak <= self.memory_bound

    @property
    def queue_within_ceiling(self) -> bool | None:
        if self.peak_queued is None or self.max_buffer is None:
            return None
        return self.peak_queued <= self.max_buffer + READ_SIZE

    @property
    def ok(self) -> bool:
        return (
            self.tally.failures == 0
            and not self.errors
            and self.descriptor_growth is not None
            and self.descriptor_growth <= 0
            and self.within_memory_bound is not False
            and self.queue_within_ceiling is not False
        )

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.update(
            descriptor_growth=self.descriptor_growth,
            within_memory_bound=self.within_memory_bound,
            queue_within_ceiling=self.queue_within_ceiling,
            ok=self.ok,
        )
        return data


def _worker_command(config: dict[str, object]) -> list[str]:
    return [sys.executable, "-m", "sqsocket.bench.load.worker", json.dumps(config)]


def _spawn(config: dict[str, object]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _worker_command(config),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class _ServerRun:
    """One server under load: its process, its workers, its victims, its samples."""

    def __init__(
        self, transport: str, directory: str, settings: LoadSettings, rng: random.Random
    ) -> None:
        self.settings = settings
        self.rng = rng
        spec = f"unix:{unix_path(directory, 'load')}" if transport == "unix" else "tcp:127.0.0.1:0"
        command = server_command(PeerKind.PROJECT, spec)
        if settings.max_buffer is not None:
            command += ["--max-buffer", str(settings.max_buffer)]
        self.server = ServerProcess(command, f"sqsocket serve echo ({transport})")
        self.address = self.server.spec  # the bound port, where the spec asked for any
        self.mix = Mix.for_clients(settings.clients)
        self.outcome = ServerOutcome(
            server=self.server.spec,
            clients=self.mix.total,
            mix={
                ClientKind.GOOD.value: self.mix.good,
                ClientKind.ABORT.value: self.mix.abort,
                ClientKind.NEVER_READ.value: self.mix.never_read,
                "victim": self.mix.victims,
            },
            tally=Tally(),
            max_buffer=settings.max_buffer or DEFAULT_MAX_BUFFER,
        )
        self.workers: list[subprocess.Popen[str]] = []
        self.victims: list[tuple[float, subprocess.Popen[str]]] = []
        self._seeds = iter(range(rng.randrange(1 << 30), 1 << 31))

    def _config(self, clients: dict[str, int], duration: float) -> dict[str, object]:
        return {
            "address": self.address,
            "clients": clients,
            "duration": duration,
            "max_size": self.settings.max_size,
            "seed": next(self._seeds),
        }

    def start(self) -> None:
        """Note the server's state, then start the workers and the first victims."""
        time.sleep(0.2)  # let the interpreter finish starting before the "before" figures
        self.outcome.descriptors_before = self.server.descriptors()
        self.outcome.rss_before = self.server.rss()
        self.outcome.descriptors_peak = self.outcome.descriptors_before
        workers = max(1, -(-(self.mix.total - self.mix.victims) // CLIENTS_PER_WORKER))
        for share in self.mix.split(workers):
            self.workers.append(_spawn(self._config(share, self.settings.duration)))
        for _ in range(VICTIM_PROCESSES if self.mix.victims else 0):
            self._spawn_victim()

    def _spawn_victim(self) -> None:
        per = max(1, self.mix.victims // VICTIM_PROCESSES)
        good = per - per // 2
        share = {ClientKind.GOOD.value: good, ClientKind.ABORT.value: per - good}
        proc = _spawn(self._config(share, self.settings.duration))
        self.victims.append((time.monotonic() + self.rng.uniform(*VICTIM_LIFETIME), proc))
        self.outcome.victim_connections += per

    def tick(self, now: float, ending: bool) -> None:
        """Sample the server; kill victims whose time is up and (unless ending) replace them."""
        fds = self.server.descriptors()
        if fds is not None and self.outcome.descriptors_peak is not None:
            self.outcome.descriptors_peak = max(self.outcome.descriptors_peak, fds)
        alive = []
        for deadline, proc in self.victims:
            if now >= deadline or ending:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGKILL)
                proc.wait()
                proc.communicate()
                self.outcome.victims_killed += 1
            else:
                alive.append((deadline, proc))
        self.victims = alive
        if not ending:
            while len(self.victims) < (VICTIM_PROCESSES if self.mix.victims else 0):
                self._spawn_victim()

    def collect(self, timeout: float) -> None:
        """Wait for the workers' tallies (killing any that overstay ``timeout``)."""
        deadline = time.monotonic() + timeout
        total = self.outcome.tally
        for proc in self.workers:
            try:
                out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                self.outcome.errors.append("a worker did not finish in time (killed)")
                continue
            lines = [line for line in out.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                self.outcome.errors.append(
                    f"a worker ended with {proc.returncode}: {err.strip()[-300:]}"
                )
                continue
            part = Tally(**json.loads(lines[-1]))
            total.add(part)

    def settle(self) -> None:
        """Wait until the server's descriptors are back to the count before the load."""
        before = self.outcome.descriptors_before
        deadline = time.monotonic() + SETTLE_TIMEOUT
        fds = self.server.descriptors()
        while before is not None and fds is not None and fds > before:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
            fds = self.server.descriptors()
        self.outcome.descriptors_after = fds
        self.outcome.rss_peak = self.server.peak_rss()
        if self.outcome.rss_before is not None and self.outcome.max_buffer is not None:
            peak_connections = max(
                0, (self.outcome.descriptors_peak or 0) - (self.outcome.descriptors_before or 0)
            )
            self.outcome.memory_bound = (
                self.outcome.rss_before
                + 2 * (self.outcome.max_buffer + READ_SIZE)
                + PER_CONNECTION_ALLOWANCE * peak_connections
            )
        if not self.server.alive():
            self.outcome.errors.append(f"the server exited early: {self.server.stderr_tail()}")

    def stop(self) -> None:
        for _deadline, proc in self.victims:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.communicate()
        self.victims = []
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.outcome.exit_status = self.server.stop()
        stderr = self.server.stderr_text()
        if (found := _PEAK_QUEUED.search(stderr)) is not None:
            self.outcome.peak_queued = int(found.group(1))
        if (found := _EVICTED.search(stderr)) is not None:
            self.outcome.evicted = int(found.group(1))
        if self.outcome.exit_status not in (0, None):
            self.outcome.errors.append(
                f"the server exited with {self.outcome.exit_status}: {self.server.stderr_tail()}"
            )


def run(settings: LoadSettings, progress: Progress) -> list[ServerOutcome]:
    """Load every server of ``settings.transports`` at once; answer what each went through."""
    raise_nofile_limit()
    rng = random.Random(settings.seed)
    runs: list[_ServerRun] = []
    with socket_dir() as directory:
        try:
            for transport in settings.transports:
                runs.append(_ServerRun(transport, directory, settings, rng))
            for server_run in runs:
                progress.say(
                    f"load: {server_run.server.spec}: {server_run.mix.total} clients "
                    f"({server_run.outcome.mix})"
                )
                server_run.start()
            end = time.monotonic() + settings.duration
            while (now := time.monotonic()) < end:
                for server_run in runs:
                    server_run.tick(now, ending=False)
                time.sleep(SAMPLE_INTERVAL)
            for server_run in runs:
                server_run.tick(time.monotonic(), ending=True)
            progress.say("load: duration over; waiting for the clients to finish")
            for server_run in runs:
                server_run.collect(DRAIN_TIMEOUT + 30.0)
            for server_run in runs:
                server_run.settle()
        finally:
            for server_run in runs:
                server_run.stop()
    return [server_run.outcome for server_run in runs]


def format_outcome(outcome: ServerOutcome) -> str:
    """A few lines about one server, for people."""
    t = outcome.tally
    mib = 1 << 20

    def size(value: int | None) -> str:
        return "?" if value is None else f"{value / mib:.1f} MiB"

    mix = ", ".join(f"{kind} {count}" for kind, count in outcome.mix.items())
    bound = outcome.within_memory_bound
    queued = outcome.queue_within_ceiling
    lines = [
        f"{outcome.server}: {'OK' if outcome.ok else 'FAILED'}",
        f"  clients     {outcome.clients} concurrent ({mix})",
        f"  exchanges   {t.exchanges} good exchanges, {t.bytes / mib:.1f} MiB echoed and checked, "
        f"{t.connections} connections",
        f"  failures    {t.failures}" + (f" -- {'; '.join(t.examples)}" if t.examples else ""),
        f"  abuse       {t.aborts} aborts mid-transfer, {outcome.victims_killed} client "
        f"processes SIGKILLed, {t.never_read_bytes / mib:.1f} MiB sent by never-read clients "
        f"({t.closed_by_server} of them saw the server close them)",
        f"  descriptors before {outcome.descriptors_before}, peak {outcome.descriptors_peak}, "
        f"after {outcome.descriptors_after} (growth {outcome.descriptor_growth})",
        f"  memory      RSS before {size(outcome.rss_before)}, peak {size(outcome.rss_peak)}; "
        f"bound {size(outcome.memory_bound)} (before + 2 × (max-buffer "
        f"{size(outcome.max_buffer)} + one read) + {PER_CONNECTION_ALLOWANCE // 1024} KiB per "
        "connection at the peak): "
        + ("within" if bound else "EXCEEDED" if bound is False else "n/a"),
        f"  queues      peak {size(outcome.peak_queued)} queued for all clients together "
        f"(ceiling {size(outcome.max_buffer)} + one read): "
        + ("within" if queued else "EXCEEDED" if queued is False else "n/a")
        + f"; {outcome.evicted if outcome.evicted is not None else '?'} stalled connections "
        "closed at the ceiling",
    ]
    lines += [f"  error       {e}" for e in outcome.errors]
    return "\n".join(lines)
