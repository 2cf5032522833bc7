"""``python -m sqsocket.bench.memprobe COLUMN COUNT PATH``: memory per connected socket.

Run in a fresh interpreter for each probe, so that memory freed by an earlier
measurement (which the allocator keeps and reuses) cannot hide what sockets
cost. COLUMN is ``raw`` (a connected ``socket.socket``), ``primitives`` (a
plugin socket made with ``primitiveSocketCreate3Semaphores`` and its three
registered semaphores, connected) or ``image`` (``Socket.new_ipc`` connected
with ``connect_to``). PATH is a Unix-domain echo server that stays up.

Two measurements, printed as ``RSS <bytes per socket>`` and ``TRACED <bytes per
socket>``:

1. resident set size (/proc/self/status VmRSS) before and after opening COUNT
   connected sockets -- everything the process holds, allocator slack included,
   kernel socket buffers excluded;
2. with tracemalloc on, the Python allocations live after opening COUNT more
   (the first batch closed first) -- what the objects themselves take.
"""

from __future__ import annotations

import gc
import socket
import sys
import tracemalloc
from collections.abc import Callable

from sqsocket.bench import procstat
from sqsocket.bench.limits import raise_nofile_limit

__all__ = ["COLUMNS", "main"]

COLUMNS = ("raw", "primitives", "image")


def _opener(column: str, path: str) -> tuple[Callable[[], object], Callable[[object], None]]:
    """An open() that answers one connected socket of ``column`` and its close()."""
    if column == "raw":

        def open_raw() -> object:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock

        return open_raw, lambda s: s.close()
    if column == "primitives":
        from sqsocket.bench.emulated import PrimitiveSocket, network_plugin, resolve_unix
        from sqsocket.platform.constants import NetDomain

        plugin = network_plugin()
        address = resolve_unix(plugin, path)

        def open_primitive() -> object:
            sock = PrimitiveSocket(plugin, NetDomain.LOCAL)
            sock.connect(address)
            return sock

        return open_primitive, lambda s: s.destroy()
    from sqsocket.image import Image, NetNameResolver, Socket

    image = Image()
    image_address = NetNameResolver.address_for_socket_path(path, image=image)

    def open_image() -> object:
        sock = Socket.new_ipc(image=image)
        sock.connect_to(image_address, timeout=10.0)
        return sock

    return open_image, lambda s: s.destroy()


def measure(column: str, count: int, path: str) -> tuple[float, float]:
    """(RSS bytes, traced bytes) per connected socket of ``column``."""
    open_one, close_one = _opener(column, path)
    close_one(open_one())  # warm: imports, caches, the first allocations of each kind
    gc.collect()
    before = procstat.rss() or 0
    held = [open_one() for _ in range(count)]
    after = procstat.rss() or 0
    for sock in held:
        close_one(sock)
    held.clear()
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.take_snapshot()
    held = [open_one() for _ in range(count)]
    end = tracemalloc.take_snapshot()
    tracemalloc.stop()
    traced = sum(stat.size_diff for stat in end.compare_to(start, "filename"))
    for sock in held:
        close_one(sock)
    return (after - before) / count, traced / count


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in COLUMNS or not args[1].isdigit() or int(args[1]) < 1:
        print(
            f"usage: python -m sqsocket.bench.memprobe {'|'.join(COLUMNS)} COUNT PATH",
            file=sys.stderr,
        )
        return 2
    raise_nofile_limit()
    rss_per, traced_per = measure(args[0], int(args[1]), args[2])
    print(f"RSS {rss_per:.1f}")
    print(f"TRACED {traced_per:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
