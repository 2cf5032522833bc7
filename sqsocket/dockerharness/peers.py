"""The Python side of a Docker interop pair, on the host: an echo server and a client.

The server is sqsocket's own :class:`~sqsocket.servers.echo.UnixEchoServer`, run
in-process on a thread (no process to manage, and it removes its socket file on
stop). The client is deliberately plain ``socket`` code with its own deadline:
it talks to a Smalltalk server in a container, which may still be starting.
"""

from __future__ import annotations

import errno
import socket
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# A host server's socket file mode: the container's user is not the host's.
SERVER_SOCKET_MODE = 0o666
CONNECT_RETRY_INTERVAL = 0.1
# connect() errors that mean "not listening yet", worth retrying until the deadline
NOT_YET = frozenset({errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN})


class PeerError(Exception):
    """The host-side peer could not do its part (with the reason)."""


@contextmanager
def host_echo_server(path: Path, *, idle_timeout: float = 60.0) -> Iterator[Any]:
    """A Python Unix echo server on ``path`` (mode 0666) for the duration of the block."""
    from sqsocket.servers.echo import UnixEchoServer

    server = UnixEchoServer(str(path), mode=SERVER_SOCKET_MODE, idle_timeout=idle_timeout)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def wait_for_socket(
    path: Path, timeout: float, still_starting: Callable[[], bool] | None = None
) -> None:
    """Wait until ``path`` is a socket file; give up early when ``still_starting()`` is False."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if stat.S_ISSOCK(path.stat().st_mode):
                return
        except FileNotFoundError:
            pass
        if still_starting is not None and not still_starting():
            raise PeerError(f"the server exited before {path} appeared")
        if time.monotonic() > deadline:
            raise PeerError(f"no socket at {path} after {timeout:.0f} s")
        time.sleep(CONNECT_RETRY_INTERVAL)


def connect_unix(path: Path, timeout: float) -> socket.socket:
    """Connect to the Unix socket ``path``, retrying while it is not listening yet."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            sock.connect(str(path))
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno not in NOT_YET or time.monotonic() > deadline:
                raise PeerError(f"cannot connect to {path}: {exc}") from None
        time.sleep(CONNECT_RETRY_INTERVAL)


def echo_round_trip(path: Path, payload: bytes, timeout: float) -> bytes:
    """Send ``payload`` and read until as many bytes came back (or EOF, or the deadline).

    No half-close: a Smalltalk server may take a shutdown of our side for the end
    of the connection and stop before it has echoed everything.
    """
    deadline = time.monotonic() + timeout
    with connect_unix(path, timeout) as sock:
        sock.sendall(payload)
        received = bytearray()
        while len(received) < len(payload):
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise PeerError(
                    f"echo timed out after {timeout:.0f} s with {len(received)} of "
                    f"{len(payload)} bytes back"
                ) from None
            if not chunk:
                break
            received += chunk
    return bytes(received)
