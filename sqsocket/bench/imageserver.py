"""``python -m sqsocket.bench.imageserver PATH``: the image-layer echo server in a process.

The Smalltalk-style server of the capacity rows: :class:`sqsocket.image.UnixServer`
(a listener on the emulated SocketPlugin, one image "process" -- here a thread --
per client, every wait on a socket semaphore) with its own emulated VM. Prints
``listening on unix:PATH`` once it listens and serves until SIGTERM or SIGINT,
then destroys its sockets and removes the socket file.

It runs in its own process so that its threads and its VM's polling never share
an interpreter lock with the process that measures it.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from sqsocket.bench.peerstart import peer_argument
from sqsocket.image import Image, UnixServer
from sqsocket.image.exceptions import NetworkError

__all__ = ["BACKLOG", "main"]

#: listen() backlog: a thousand clients connecting at once must not be refused.
BACKLOG = 1024


def main(argv: list[str] | None = None) -> int:
    path = peer_argument(argv, "python -m sqsocket.bench.imageserver PATH")
    if path is None:
        return 2
    # Threads beyond a thousand: keep each one's stack small (they only echo).
    threading.stack_size(256 * 1024)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Image() as image:
        server = UnixServer(path, BACKLOG, image=image, client_timeout=None)
        try:
            server.start()
        except (NetworkError, OSError) as exc:
            print(f"imageserver: cannot listen on {path}: {exc}", file=sys.stderr)
            return 1
        print(f"listening on unix:{path}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
