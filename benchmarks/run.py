"""Benchmarks, printed as ratios against a baseline measured in the same run.

* echo round trips through the emulator's primitives (send, wait on the read
  semaphore, receive) against the same round trips on a plain Python socket;
* bulk transfer through the emulator against a plain Python socket;
* primitive call overhead (primitiveSocketConnectionStatus) against a bare
  Python method call, to show what the argument checks and the lock cost.

Run with ``make bench`` (or ``python benchmarks/run.py``). Nothing here is a test.
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqsocket.plugin import SocketPlugin
from sqsocket.servers.echo import UnixEchoServer


def best_of(fn: Callable[[], float], runs: int = 5) -> float:
    return min(fn() for _ in range(runs))


def plain_round_trips(path: str, n: int, payload: bytes) -> float:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        t0 = time.perf_counter()
        for _ in range(n):
            s.sendall(payload)
            got = 0
            while got < len(payload):
                got += len(s.recv(65536))
        return time.perf_counter() - t0


def emulator_round_trips(path: str, n: int, payload: bytes) -> float:
    with SocketPlugin() as p:
        _s, ri = p.vm.new_semaphore("resolver")
        p.primitiveInitializeNetwork(ri)
        p.primitiveResolverGetAddressInfo(b"", path.encode(), 0, 1, 0, 0)
        addr = bytearray(p.primitiveResolverGetAddressInfoSize())
        p.primitiveResolverGetAddressInfoResult(addr)
        _c, ci = p.vm.new_semaphore("conn")
        read, rdi = p.vm.new_semaphore("read")
        _w, wi = p.vm.new_semaphore("write")
        h = p.primitiveSocketCreate3Semaphores(1, 0, 8000, 8000, ci, rdi, wi)
        p.primitiveSocketConnectTo(h, addr)
        buf = bytearray(65536)
        t0 = time.perf_counter()
        for _ in range(n):
            sent = 0
            while sent < len(payload):
                sent += p.primitiveSocketSendDataBufCount(h, payload, sent + 1, len(payload) - sent)
            got = 0
            while got < len(payload):
                if not p.primitiveSocketReceiveDataAvailable(h):
                    read.wait(5)
                    continue
                got += p.primitiveSocketReceiveDataBufCount(h, buf, 1, len(buf))
        elapsed = time.perf_counter() - t0
        p.primitiveSocketDestroy(h)
        return elapsed


def status_calls(n: int) -> tuple[float, float]:
    with SocketPlugin() as p:
        _s, ri = p.vm.new_semaphore("resolver")
        p.primitiveInitializeNetwork(ri)
        h = p.primitiveSocketCreate3Semaphores(1, 0, 8000, 8000, 0, 0, 0)

        class Bare:
            def status(self, handle: bytearray) -> int:
                return 0

        bare = Bare()
        t0 = time.perf_counter()
        for _ in range(n):
            bare.status(h)
        base = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(n):
            p.primitiveSocketConnectionStatus(h)
        emu = time.perf_counter() - t0
        p.primitiveSocketDestroy(h)
        return base, emu


def memory_per_socket(n: int = 200) -> tuple[float, float]:
    """Bytes allocated per open socket: plain Python sockets vs. emulated handles."""
    import tracemalloc

    tracemalloc.start()
    t0 = tracemalloc.take_snapshot()
    plain = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(n)]
    t1 = tracemalloc.take_snapshot()
    base = sum(st.size_diff for st in t1.compare_to(t0, "filename")) / n
    for s in plain:
        s.close()
    with SocketPlugin() as p:
        _s, ri = p.vm.new_semaphore("resolver")
        p.primitiveInitializeNetwork(ri)
        t2 = tracemalloc.take_snapshot()
        handles = [p.primitiveSocketCreate3Semaphores(1, 0, 8000, 8000, 0, 0, 0) for _ in range(n)]
        t3 = tracemalloc.take_snapshot()
        emu = sum(st.size_diff for st in t3.compare_to(t2, "filename")) / n
        for h in handles:
            p.primitiveSocketDestroy(h)
    tracemalloc.stop()
    return base, emu


def main() -> int:
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        path = f"{d}/bench.sock"
        with UnixEchoServer(path):
            small = b"x" * 64
            n = 2000
            base = best_of(lambda: plain_round_trips(path, n, small))
            emu = best_of(lambda: emulator_round_trips(path, n, small))
            rows.append(("64-byte echo round trips", base, emu, f"{n} round trips"))
            bulk = b"y" * (1 << 20)
            base = best_of(lambda: plain_round_trips(path, 8, bulk), 3)
            emu = best_of(lambda: emulator_round_trips(path, 8, bulk), 3)
            rows.append(("1 MiB echo", base, emu, "8 x 1 MiB"))
    samples = [status_calls(20000) for _ in range(3)]
    base = statistics.median(s[0] for s in samples)
    emu = statistics.median(s[1] for s in samples)
    rows.append(("primitive call overhead", base, emu, "20000 ConnectionStatus calls"))

    print(f"{'benchmark':<28} {'baseline s':>11} {'emulator s':>11} {'ratio':>7}  what")
    for name, b, e, what in rows:
        print(f"{name:<28} {b:>11.4f} {e:>11.4f} {e / b:>6.1f}x  {what}")
    print("\nratio = emulator time / baseline time, both measured in this run")
    base_mem, emu_mem = memory_per_socket()
    print(
        f"\nmemory per open socket: plain Python {base_mem:.0f} B, emulated {emu_mem:.0f} B "
        f"({emu_mem / base_mem:.1f}x; the emulated one holds the Python socket too)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
