"""Column (a), the baseline: the same workloads on plain CPython sockets.

A blocking ``socket.socket``: ``sendall``, then ``recv`` until the echo is
complete. This is what the emulator's figures are divided by: the cost of the
operating system and of the interpreter, which no emulation can avoid.
"""

from __future__ import annotations

import socket
import time

from sqsocket.bench.workloads import Endpoint, payload

__all__ = ["RawClient", "open_raw"]

#: Seconds any single socket call may block (a broken peer must not hang the bench).
TIMEOUT = 10.0


def open_raw(endpoint: Endpoint) -> socket.socket:
    """A blocking socket connected to ``endpoint`` (with :data:`TIMEOUT`)."""
    if endpoint.path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = endpoint.path
    else:
        assert endpoint.port is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = ("127.0.0.1", endpoint.port)
    try:
        sock.settimeout(TIMEOUT)
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    return sock


class RawClient:
    """One connection to ``endpoint`` exchanging ``size``-byte messages."""

    def __init__(self, endpoint: Endpoint, size: int = 16) -> None:
        self.endpoint = endpoint
        self.size = size
        self.message = payload(size)
        self.buffer = bytearray(max(size, 65536))
        self.sock = open_raw(endpoint)

    def round_trips(self, count: int) -> float:
        sock, message, size = self.sock, self.message, self.size
        view = memoryview(self.buffer)
        start = time.perf_counter()
        for _ in range(count):
            sock.sendall(message)
            got = 0
            while got < size:
                n = sock.recv_into(view[got:size])
                if not n:
                    raise ConnectionError("the echo peer closed the connection")
                got += n
        elapsed = time.perf_counter() - start
        if count and view[:size] != message:
            raise ValueError("the echo did not match")
        return elapsed

    def connects(self, count: int) -> float:
        endpoint = self.endpoint
        start = time.perf_counter()
        for _ in range(count):
            open_raw(endpoint).close()
        return time.perf_counter() - start

    def close(self) -> None:
        self.sock.close()
