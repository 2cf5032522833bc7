"""``sqsocket example``: the Pharo workspace example (and friends) through the image layer.

* ``sqsocket example workspace [--path /tmp/sp]``: the seed's workspace code,
  step by step, against a Unix-domain echo server listening on the path.
* ``sqsocket example tcp --port N [--host H]``: the same walk over TCP.
* ``sqsocket example netstring --path P``: one length-prefixed frame to a
  netstring server; prints the reversed payload it answers.
* ``sqsocket example serve --path P``: the other way round -- a Smalltalk-side
  Unix-domain echo server on a path, until Ctrl-C (or ``--seconds``).

Each runs in a fresh emulated image and exits 1 with a one-line reason when the
network says no (nothing listening, refused, timed out).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable

from sqsocket.cliparse import add_commands
from sqsocket.commands.catalog import add_command
from sqsocket.errors import PrimitiveFailed
from sqsocket.image import (
    Image,
    NetworkError,
    UnixServer,
    run_netstring_example,
    run_tcp_example,
    run_workspace_example,
)
from sqsocket.image.workspace import DEFAULT_MESSAGE, DEFAULT_PATH
from sqsocket.servers import argtypes

#: Bounds of the numeric options: beyond them a value is a usage error (exit 2).
MAX_TIMEOUT = 3600.0
MAX_SECONDS = 7 * 24 * 3600.0
MAX_BACKLOG = 4096  # Linux's SOMAXCONN; listen() silently caps larger values at it


WORKSPACE_EXAMPLES = """\
examples:
  sqsocket serve echo --unix /tmp/sp &
  sqsocket example workspace --path /tmp/sp
  sqsocket example workspace --path /tmp/sp --message 'taco cat' --timeout 2
"""

NETSTRING_EXAMPLES = """\
examples:
  sqsocket serve netstring --unix /tmp/nstr.sock &
  sqsocket example netstring --path /tmp/nstr.sock --message 'taco cat'
"""

SERVE_EXAMPLES = """\
examples:
  sqsocket example serve --path /tmp/stsrv.sock
  sqsocket example serve --path /tmp/stsrv.sock --backlog 1 --seconds 60
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``example`` and its sub-commands to the top-level parser."""
    example = add_command(sub, "example")
    kinds = add_commands(example, "example", "EXAMPLE")

    workspace = add_command(kinds, "example workspace", epilog=WORKSPACE_EXAMPLES)
    _add_path(workspace)
    _common(workspace)
    workspace.set_defaults(func=_cmd_workspace)

    tcp = add_command(kinds, "example tcp")
    tcp.add_argument(
        "--host",
        type=argtypes.hostname,
        default="127.0.0.1",
        help="host name or address (127.0.0.1)",
    )
    tcp.add_argument(
        "--port", type=argtypes.port, required=True, help="TCP port of an echo server (1..65535)"
    )
    _common(tcp)
    tcp.set_defaults(func=_cmd_tcp)

    netstring = add_command(kinds, "example netstring", epilog=NETSTRING_EXAMPLES)
    _add_path(netstring, "socket path of a netstring server", required=True)
    _common(netstring)
    netstring.set_defaults(func=_cmd_netstring)

    serve = add_command(kinds, "example serve", epilog=SERVE_EXAMPLES)
    _add_path(serve)
    serve.add_argument(
        "--backlog",
        type=argtypes.integer(1, MAX_BACKLOG),
        default=8,
        help=f"listen backlog, 1..{MAX_BACKLOG} (8; 1 = in place)",
    )
    serve.add_argument(
        "--seconds",
        type=argtypes.seconds(MAX_SECONDS),
        default=None,
        help=f"stop after this many seconds (above 0, at most {MAX_SECONDS:g})",
    )
    serve.set_defaults(func=_cmd_serve)


def _add_path(
    parser: argparse.ArgumentParser,
    help: str = f"socket path ({DEFAULT_PATH})",
    *,
    required: bool = False,
) -> None:
    """``--path``: the Unix-domain socket (at most 107 bytes), the seed's path unless required."""
    parser.add_argument(
        "--path",
        type=argtypes.unix_path,
        default=None if required else DEFAULT_PATH,
        required=required,
        help=help,
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--message",
        type=argtypes.utf8_text,
        default=DEFAULT_MESSAGE,
        help="what to send (UTF-8 text, at most 1 MiB)",
    )
    parser.add_argument(
        "--timeout",
        type=argtypes.seconds(MAX_TIMEOUT),
        default=5.0,
        help=f"seconds for connect, send and receive (above 0, at most {MAX_TIMEOUT:g}; 5)",
    )


def _fail(exc: BaseException) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _run(example: Callable[..., object], *args: object, message: str, timeout: float) -> int:
    """Run one example in a fresh image; a network failure is a one-line error, exit 1."""
    with Image() as image:
        try:
            example(*args, sys.stdout, image=image, message=message, timeout=timeout)
        except (NetworkError, PrimitiveFailed) as exc:
            return _fail(exc)
    return 0


def _cmd_workspace(args: argparse.Namespace) -> int:
    return _run(run_workspace_example, args.path, message=args.message, timeout=args.timeout)


def _cmd_tcp(args: argparse.Namespace) -> int:
    return _run(run_tcp_example, args.host, args.port, message=args.message, timeout=args.timeout)


def _cmd_netstring(args: argparse.Namespace) -> int:
    return _run(run_netstring_example, args.path, message=args.message, timeout=args.timeout)


def _cmd_serve(args: argparse.Namespace) -> int:
    with Image() as image:
        server = UnixServer(args.path, args.backlog, image=image)
        try:
            server.start()
        except (NetworkError, PrimitiveFailed, ValueError) as exc:
            return _fail(exc)
        stop = threading.Event()
        # SIGTERM ends the server as Ctrl-C does, so the socket file is removed either way;
        # handled before the ready line, which tells a parent it may send it
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        print(f"listening on unix:{args.path} (Smalltalk side, backlog {args.backlog})", flush=True)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        try:
            # short waits: a signal handler then runs promptly
            while not stop.wait(0.2):
                if deadline is not None and time.monotonic() >= deadline:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.stop()
        print(f"served {server.clients_served} client(s)")
        if server.errors:
            return _fail(server.errors[0])
    return 0
