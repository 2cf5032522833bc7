"""``python -m sqsocket.bench.load.worker CONFIG_JSON``: one process of load clients.

CONFIG_JSON: ``{"address": "unix:PATH" | "tcp:127.0.0.1:PORT", "clients": {"good": n,
"abort": n, "never-read": n}, "duration": seconds, "max_size": bytes, "seed": n}``.

Every client runs in one selectors loop (see :mod:`sqsocket.bench.load.mix` for
what each kind does) until ``duration`` has passed; then good clients finish
the exchange they are in (for at most :data:`DRAIN_TIMEOUT` seconds) and the
others close. The process prints one JSON line -- its :class:`Tally` -- and
exits 0. Payloads are slices of one random block, so checking an echo costs a
comparison, not a copy.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import selectors
import socket
import sys
import time
from dataclasses import asdict, dataclass, field

from sqsocket.bench.limits import raise_nofile_limit
from sqsocket.bench.load.mix import STALL_TIMEOUT, ClientKind
from sqsocket.bench.raw import open_raw
from sqsocket.bench.workloads import Endpoint
from sqsocket.proxy.link import abort_socket

__all__ = ["DRAIN_TIMEOUT", "Tally", "main", "run"]

#: Seconds good clients get, after the duration, to finish their exchange.
DRAIN_TIMEOUT = 60.0
_CHUNK = 65536
#: Failures described in the tally (the count has them all).
MAX_EXAMPLES = 5


@dataclass
class Tally:
    """What one worker saw."""

    connections: int = 0
    exchanges: int = 0
    bytes: int = 0
    failures: int = 0
    aborts: int = 0
    never_read_bytes: int = 0
    closed_by_server: int = 0  # abusive clients the server closed (never-read at the ceiling)
    examples: list[str] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.failures += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(why)

    def add(self, other: Tally) -> None:
        """Count ``other``'s figures in (another worker's); examples up to :data:`MAX_EXAMPLES`."""
        for name in (
            "connections",
            "exchanges",
            "bytes",
            "failures",
            "aborts",
            "never_read_bytes",
            "closed_by_server",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.examples += other.examples[: max(0, MAX_EXAMPLES - len(self.examples))]


def _connect(endpoint: Endpoint) -> socket.socket:
    sock = open_raw(endpoint)
    sock.setblocking(False)
    return sock


class _Client:
    """One client slot: connects, works, closes, connects again until told to stop."""

    def __init__(self, worker: _Worker, kind: ClientKind, number: int) -> None:
        self.w = worker
        self.kind = kind
        self.number = number
        self.sock: socket.socket | None = None
        self.offset = 0
        self.size = 0
        self.sent = 0
        self.received = 0
        self.exchanges_left = 0
        self.abort_at = 0
        self.until = 0.0  # never-read: when to give up
        self.progress = 0.0

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        """Connect and begin this kind's work (a failed connect fails a good client)."""
        w = self.w
        try:
            self.sock = _connect(w.endpoint)
        except OSError as exc:
            self.sock = None
            if self.kind is ClientKind.GOOD:
                w.tally.fail(f"good client {self.number}: connect failed: {exc}")
            w.retry_later(self)
            return
        w.tally.connections += 1
        self.progress = time.monotonic()
        if self.kind is ClientKind.GOOD:
            self.exchanges_left = w.rng.randint(1, 4)
            self._new_message()
        elif self.kind is ClientKind.ABORT:
            self._new_message(large=True)
            self.abort_at = w.rng.randrange(self.size)
        else:
            self.until = self.progress + w.rng.uniform(1.0, 5.0)
            self.offset, self.size, self.sent = 0, 1 << 62, 0
        w.selector.register(self.sock, self._events(), self)

    def _new_message(self, *, large: bool = False) -> None:
        w = self.w
        low = 16 << 10 if large else 1
        self.size = int(math.exp(w.rng.uniform(math.log(low), math.log(w.max_size))))
        self.size = max(1, min(self.size, w.max_size))
        self.offset = w.rng.randrange(len(w.block) - self.size + 1)
        self.sent = self.received = 0

    def _events(self) -> int:
        if self.kind is ClientKind.NEVER_READ:
            return selectors.EVENT_WRITE
        events = selectors.EVENT_READ
        if self.sent < self.size:
            events |= selectors.EVENT_WRITE
        return events

    def close(self, *, reset: bool = False) -> None:
        sock, self.sock = self.sock, None
        if sock is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self.w.selector.unregister(sock)
        if reset:
            abort_socket(sock)  # an RST over TCP; a Unix-domain socket just closes
        else:
            sock.close()

    def finish(self) -> None:
        """This connection's work is done: close, and connect again unless stopping."""
        self.close()
        if not self.w.stopping:
            self.start()

    # -- events ----------------------------------------------------------------------

    def on_event(self, mask: int) -> None:
        try:
            if self.kind is ClientKind.NEVER_READ:
                self._push()
                return
            if mask & selectors.EVENT_WRITE and self.sent < self.size:
                self._send()
            if self.sock is not None and mask & selectors.EVENT_READ:
                self._receive()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(f"{type(exc).__name__}: {exc}")

    def _send(self) -> None:
        assert self.sock is not None
        end = min(self.size, self.sent + _CHUNK)
        if self.kind is ClientKind.ABORT:
            end = min(end, max(self.abort_at, self.sent + 1))
        view = self.w.view[self.offset + self.sent : self.offset + end]
        self.sent += self.sock.send(view)
        self.progress = time.monotonic()
        if self.kind is ClientKind.ABORT and self.sent >= self.abort_at:
            self.w.tally.aborts += 1
            self.close(reset=self.w.rng.random() < 0.5)
            if not self.w.stopping:
                self.start()
            return
        if self.sent >= self.size:
            self.w.selector.modify(self.sock, self._events(), self)

    def _receive(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(_CHUNK)
        if not data:
            self._lost("end of stream before the whole echo")
            return
        if self.kind is ClientKind.ABORT:
            return  # reads some echo, sometimes, and does not care
        start = self.offset + self.received
        expected = self.w.view[start : start + len(data)]
        if self.received + len(data) > self.sent or data != expected:
            self.w.tally.fail(
                f"good client {self.number}: wrong echo at byte {self.received} of {self.size}"
            )
            self.finish()
            return
        self.received += len(data)
        self.progress = time.monotonic()
        if self.received == self.size:
            self.w.tally.exchanges += 1
            self.w.tally.bytes += self.size
            self.exchanges_left -= 1
            if self.exchanges_left <= 0 or self.w.stopping:
                self.finish()
                return
            self._new_message()
            self.w.selector.modify(self.sock, self._events(), self)

    def _push(self) -> None:
        """never-read: send what the socket takes (until the server stops reading)."""
        assert self.sock is not None
        w = self.w
        if time.monotonic() >= self.until or w.stopping:
            self.close(reset=True)
            if not w.stopping:
                self.start()
            return
        offset = self.sent % (len(w.block) - _CHUNK)
        try:
            sent = self.sock.send(w.view[offset : offset + _CHUNK])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            w.tally.closed_by_server += 1
            self.close()
            if not w.stopping:
                self.start()
            return
        self.sent += sent
        w.tally.never_read_bytes += sent

    def _lost(self, why: str) -> None:
        """The connection failed under this client."""
        if self.kind is ClientKind.GOOD:
            self.w.tally.fail(
                f"good client {self.number}: {why} ({self.received} of {self.size} bytes back)"
            )
        self.close()
        if not self.w.stopping:
            self.start()

    def check_stall(self, now: float) -> None:
        """A good client with no progress for STALL_TIMEOUT fails (and starts over)."""
        if self.kind is ClientKind.NEVER_READ:
            if self.sock is not None and now >= self.until:
                self._push()  # its time is up even if the socket never became writable
            return
        if self.sock is not None and now - self.progress > STALL_TIMEOUT:
            self._lost(f"no progress for {STALL_TIMEOUT:g} s")

    @property
    def busy(self) -> bool:
        """A good client in the middle of an exchange (the drain waits for these)."""
        return self.kind is ClientKind.GOOD and self.sock is not None


class _Worker:
    def __init__(self, config: dict[str, object]) -> None:
        self.endpoint = Endpoint.parse(str(config["address"]))
        self.duration = float(config["duration"])  # type: ignore[arg-type]
        self.max_size = int(config["max_size"])  # type: ignore[call-overload]
        self.rng = random.Random(int(config.get("seed", 0)))  # type: ignore[call-overload]
        self.block = self.rng.randbytes(2 * self.max_size + _CHUNK)
        self.view = memoryview(self.block)
        self.selector = selectors.DefaultSelector()
        self.tally = Tally()
        self.stopping = False
        self._retry: list[tuple[float, _Client]] = []
        counts = config["clients"]
        assert isinstance(counts, dict)
        self.clients = [
            _Client(self, kind, number)
            for number, kind in enumerate(
                kind for kind in ClientKind for _ in range(int(counts.get(kind.value, 0)))
            )
        ]

    def retry_later(self, client: _Client) -> None:
        if not self.stopping:
            self._retry.append((time.monotonic() + 0.1, client))

    def run(self) -> Tally:
        started = time.monotonic()
        for client in self.clients:
            client.start()
        stop_at = started + self.duration
        drain_until = stop_at + DRAIN_TIMEOUT
        last_check = started
        while True:
            now = time.monotonic()
            if not self.stopping and now >= stop_at:
                self.stopping = True
                self._retry.clear()
                for client in self.clients:
                    if not client.busy:
                        client.close()
            if self.stopping and (not any(c.busy for c in self.clients) or now >= drain_until):
                break
            for key, mask in self.selector.select(0.1):
                key.data.on_event(mask)
            now = time.monotonic()
            if self._retry:
                due = [c for at, c in self._retry if at <= now]
                self._retry = [(at, c) for at, c in self._retry if at > now]
                for client in due:
                    client.start()
            if now - last_check >= 0.5:
                last_check = now
                for client in self.clients:
                    client.check_stall(now)
        for client in self.clients:
            if client.busy:
                self.tally.fail(
                    f"good client {client.number}: exchange unfinished after the "
                    f"{DRAIN_TIMEOUT:g} s drain"
                )
            client.close()
        self.selector.close()
        return self.tally


def run(config: dict[str, object]) -> Tally:
    """Run the clients ``config`` describes; answer their tally."""
    return _Worker(config).run()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        config = json.loads(args[0])
        if len(args) != 1 or not isinstance(config, dict):
            raise ValueError
    except (ValueError, IndexError):
        print("usage: python -m sqsocket.bench.load.worker CONFIG_JSON", file=sys.stderr)
        return 2
    raise_nofile_limit()
    tally = run(config)
    print(json.dumps(asdict(tally)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
