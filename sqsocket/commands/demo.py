"""``sqsocket demo``: the whole story in a few seconds, no arguments needed.

1. A Python Unix-domain echo server (the seed's server, :mod:`sqsocket.servers`)
   listens on a path in a fresh temporary directory.
2. The Pharo workspace example runs against it through the image layer on the
   emulated SocketPlugin: getAddressInfo, Socket newIPC, connectTo:, sendData:,
   receiveData, closeAndDestroy.
3. The other way round: a Smalltalk-side Unix-domain server listens on a path
   the image built its own address for, and plain Python clients, several at
   once, get their messages echoed.

Everything is cleaned up (servers, image, socket files, the directory); every
step has a timeout. Exit status 0 when all went as expected, 1 with a reason
otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from sqsocket.commands.catalog import add_command
from sqsocket.errors import PrimitiveFailed
from sqsocket.image import Image, NetworkError, UnixServer, run_workspace_example
from sqsocket.image.workspace import DEFAULT_MESSAGE
from sqsocket.servers import argtypes

# How long any single step may take before the demo gives up.
STEP_TIMEOUT = 5.0
# Python clients talking to the Smalltalk-side server at the same time.
CLIENTS = 3
MAX_CLIENTS = 64  # more would only wait in the server's backlog


class DemoFailed(Exception):
    """A step did not give the expected answer."""


EXAMPLES = """\
examples:
  sqsocket demo
  sqsocket demo --clients 8
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(sub, "demo", epilog=EXAMPLES)
    parser.add_argument(
        "--clients",
        type=argtypes.integer(1, MAX_CLIENTS),
        default=CLIENTS,
        metavar="N",
        help=f"concurrent Python clients, 1..{MAX_CLIENTS} ({CLIENTS})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        run_demo(sys.stdout, clients=max(1, args.clients))
    except (
        DemoFailed,
        NetworkError,
        PrimitiveFailed,
        OSError,
        threading.BrokenBarrierError,
    ) as exc:
        print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"demo passed in {time.monotonic() - started:.2f} s")
    return 0


def run_demo(out: TextIO, *, clients: int = CLIENTS) -> None:
    """Run both halves in a temporary directory; raise DemoFailed (or a network error)."""
    # a short directory under /tmp: a socket path must fit in 108 bytes
    workdir = tempfile.mkdtemp(prefix="sqsocket-demo-", dir="/tmp")
    try:
        with Image() as image:
            _python_server_smalltalk_client(image, os.path.join(workdir, "echo.sock"), out)
            _smalltalk_server_python_clients(image, os.path.join(workdir, "st.sock"), out, clients)
        leftovers = os.listdir(workdir)
        if leftovers:
            raise DemoFailed(f"files left behind in {workdir}: {', '.join(leftovers)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _python_server_smalltalk_client(image: Image, path: str, out: TextIO) -> None:
    # helper-2's servers are imported here so the rest of the CLI works without them
    from sqsocket.servers import UnixEchoServer

    print(f"== Python echo server on {path}; the Pharo workspace example as its client", file=out)
    with UnixEchoServer(path):
        reply = run_workspace_example(
            path, out, image=image, message=DEFAULT_MESSAGE, timeout=STEP_TIMEOUT
        )
    if reply != DEFAULT_MESSAGE.encode():
        raise DemoFailed(f"the echo was {reply!r}, not {DEFAULT_MESSAGE!r}")
    if os.path.exists(path):
        raise DemoFailed(f"the Python server left {path} behind")


def _smalltalk_server_python_clients(image: Image, path: str, out: TextIO, clients: int) -> None:
    print(f"== Smalltalk-side server on {path}; {clients} Python clients at once", file=out)
    with UnixServer(path, backlog=max(2, clients), image=image, client_timeout=STEP_TIMEOUT) as srv:
        print(f"   listening: bind + listenWithBacklog: {srv.backlog} ({srv.listener!r})", file=out)
        messages = [f"client {i}: hello from Python" for i in range(1, clients + 1)]
        barrier = threading.Barrier(clients, timeout=STEP_TIMEOUT)
        with ThreadPoolExecutor(max_workers=clients) as pool:
            replies = list(pool.map(lambda m: _python_client(path, m, barrier), messages))
        for message, reply in zip(messages, replies, strict=True):
            print(f"   Python sent {message!r}, the image echoed {reply!r}", file=out)
            if reply != message:
                raise DemoFailed(f"the Smalltalk-side server answered {reply!r} to {message!r}")
    if srv.errors:
        raise DemoFailed(f"the Smalltalk-side server failed: {srv.errors[0]!r}")
    if os.path.exists(path):
        raise DemoFailed(f"the Smalltalk-side server left {path} behind")
    print(f"   served {srv.clients_served} clients; socket file removed", file=out)


def _python_client(path: str, message: str, barrier: threading.Barrier) -> str:
    """A plain Python client: connect, send, read the echo until it is all there."""
    payload = message.encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(STEP_TIMEOUT)
        sock.connect(path)
        barrier.wait()  # all connected before anyone sends: the server has them all at once
        sock.sendall(payload)
        # a buffered read returns the whole length however the stream splits it (less
        # only at end of stream); the socket's timeout bounds each wait
        with sock.makefile("rb") as reader:
            data = reader.read(len(payload))
    return data.decode(errors="backslashreplace")
