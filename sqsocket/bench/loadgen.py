"""``python -m sqsocket.bench.loadgen ADDRESS CONNECTIONS SIZE WARMUP_MS WINDOW_MS REPS``.

The Python stand-in for ``benchmarks/epoll_load.c`` where there is no C
compiler: the same closed-loop echo exchanges on CONNECTIONS connections and
the same output (``CONNECTED n``, ``REP <exchanges> <elapsed ns>`` per window,
``DONE errors=<n>``). Being Python, it costs about as much per exchange as the
servers it loads, so capacity figures measured with it understate the gaps
between servers; the bench says which generator it used.
"""

from __future__ import annotations

import selectors
import socket
import sys
import time

from sqsocket.bench.limits import raise_nofile_limit
from sqsocket.bench.raw import open_raw
from sqsocket.bench.workloads import Endpoint, payload

__all__ = ["main", "run"]

STALL = 10.0


def _connect(endpoint: Endpoint) -> socket.socket:
    sock = open_raw(endpoint)
    sock.setblocking(False)
    return sock


def run(spec: str, count: int, size: int, warmup_ms: int, window_ms: int, reps: int) -> int:
    """Run the exchanges, printing as epoll_load.c does; answer the error count."""
    message = payload(size)
    endpoint = Endpoint.parse(spec)
    socks = [_connect(endpoint) for _ in range(count)]
    print(f"CONNECTED {count}", flush=True)
    selector = selectors.DefaultSelector()
    sent = {s: 0 for s in socks}
    got = {s: 0 for s in socks}
    for s in socks:
        selector.register(s, selectors.EVENT_WRITE, s)
    errors = 0
    exchanges = 0
    now = time.monotonic_ns()
    last_progress = now
    window_start = now + warmup_ms * 1_000_000
    rep = -1
    try:
        while rep < reps:
            for key, _mask in selector.select(0.1):
                s = key.data
                try:
                    if sent[s] < size:
                        sent[s] += s.send(message[sent[s] :])
                        if sent[s] == size:
                            selector.modify(s, selectors.EVENT_READ, s)
                        continue
                    data = s.recv(size - got[s])
                except (BlockingIOError, InterruptedError):
                    continue
                if not data or data != message[got[s] : got[s] + len(data)]:
                    errors += 1
                    return errors
                got[s] += len(data)
                if got[s] == size:
                    sent[s] = got[s] = 0
                    exchanges += 1
                    last_progress = time.monotonic_ns()
                    selector.modify(s, selectors.EVENT_WRITE, s)
            now = time.monotonic_ns()
            if now - last_progress > STALL * 1e9:
                print("loadgen: no exchange completed for 10 s", file=sys.stderr)
                errors += 1
                return errors
            if now >= window_start + (0 if rep < 0 else window_ms * 1_000_000):
                if rep >= 0:
                    print(f"REP {exchanges} {now - window_start}", flush=True)
                exchanges = 0
                window_start = now
                rep += 1
    finally:
        selector.close()
        for s in socks:
            s.close()
        print(f"DONE errors={errors}", flush=True)
    return errors


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        spec, count, size, warmup, window, reps = (
            args[0],
            *(int(a) for a in args[1:6]),
        )
        if len(args) != 6 or count < 1 or not 1 <= size <= 1 << 20 or reps < 1 or window < 1:
            raise ValueError
    except (ValueError, IndexError):
        print(
            "usage: python -m sqsocket.bench.loadgen ADDRESS CONNECTIONS SIZE WARMUP_MS "
            "WINDOW_MS REPS",
            file=sys.stderr,
        )
        return 2
    raise_nofile_limit()
    return 1 if run(spec, count, size, warmup, window, reps) else 0


if __name__ == "__main__":
    sys.exit(main())
