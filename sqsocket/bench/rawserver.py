"""``python -m sqsocket.bench.rawserver ADDRESS``: the raw selectors echo server.

The baseline of the server-capacity rows: the plainest correct echo server
CPython can run -- one thread, ``selectors.DefaultSelector`` (epoll), a
non-blocking socket per client and a queue for what ``send`` did not take.
None of the project's server machinery (no accept back-off, no credentials,
no idle timers, no logging), so the project's own echo server can be compared
with it. ADDRESS is ``unix:PATH`` or ``tcp:127.0.0.1:PORT`` (port 0: ephemeral).

Prints the servers' ready line (``listening on unix:PATH``) once listening and
serves until SIGTERM or SIGINT, then removes the socket file it created. A
client's queue may grow to :data:`MAX_QUEUE`; past that the client is not read
until it takes some of it (back-pressure), so a 1 MiB bulk echo never deadlocks.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import stat
import sys
from types import FrameType

from sqsocket.bench.peerstart import peer_argument
from sqsocket.servers.address import InetAddress, UnixAddress, is_loopback_host, parse_address

__all__ = ["MAX_QUEUE", "main", "serve"]

#: Bytes queued for one client before it is no longer read (as epoll_echo.c).
MAX_QUEUE = 16 << 20
_CHUNK = 65536


def serve(listener: socket.socket) -> None:
    """Echo on every connection ``listener`` accepts until SIGTERM/SIGINT."""
    selector = selectors.DefaultSelector()
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    queues: dict[socket.socket, bytearray] = {}

    def stop(signum: int, frame: FrameType | None) -> None:
        try:
            wake_w.send(b"x")
        except OSError:
            pass  # full: a wake-up is already pending

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # the C-level handler writes too: a signal landing just before select() interrupts
    # no wait, and the Python handler above would run only after the next event
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)

    def drop(conn: socket.socket) -> None:
        selector.unregister(conn)
        queues.pop(conn, None)
        conn.close()

    running = True
    while running:
        for key, mask in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is wake_r:
                running = False
                break
            if sock is listener:
                while True:
                    try:
                        conn, _ = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break  # EMFILE and the like: the client waits in the backlog
                    conn.setblocking(False)
                    if conn.family != socket.AF_UNIX:
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    queues[conn] = bytearray()
                    selector.register(conn, selectors.EVENT_READ)
                continue
            queue = queues[sock]
            try:
                if mask & selectors.EVENT_READ and len(queue) < MAX_QUEUE:
                    data = sock.recv(_CHUNK)
                    if not data:
                        drop(sock)
                        continue
                    queue += data
                if queue:
                    sent = sock.send(queue)
                    del queue[:sent]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                drop(sock)
                continue
            events = (selectors.EVENT_READ if len(queue) < MAX_QUEUE else 0) | (
                selectors.EVENT_WRITE if queue else 0
            )
            if events != key.events:
                selector.modify(sock, events)
    for conn in list(queues):
        drop(conn)
    selector.close()
    wake_r.close()
    wake_w.close()


def _listen(text: str) -> tuple[socket.socket, str, str | None]:
    """A listening socket for ``text``, its ready line and the socket file it created."""
    address = parse_address(text)
    if isinstance(address, InetAddress):
        if not is_loopback_host(address.host):
            raise ValueError(f"refusing non-loopback host {address.host}")
        sock = socket.socket(address.family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address.sockaddr)
        host, port = sock.getsockname()[:2]
        ready = f"listening on {InetAddress(host, port).describe()}"
        path = None
    elif isinstance(address, UnixAddress):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(address.path)
        ready = f"listening on {address.describe()}"
        path = address.path
    else:
        raise ValueError("address must be unix:PATH or tcp:HOST:PORT")
    sock.listen(4096)
    sock.setblocking(False)
    return sock, ready, path


def main(argv: list[str] | None = None) -> int:
    where = peer_argument(argv, "python -m sqsocket.bench.rawserver unix:PATH|tcp:HOST:PORT")
    if where is None:
        return 2
    try:
        listener, ready, path = _listen(where)
    except (OSError, ValueError) as exc:
        print(f"rawserver: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    print(ready, flush=True)
    try:
        serve(listener)
    finally:
        listener.close()
        if path is not None:
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
