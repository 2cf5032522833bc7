"""``sqsocket serve ...``: run one of the Python peers until Ctrl-C or SIGTERM.

Every server prints one ready line on stdout once it is bound -- ``listening
on unix:/tmp/x``, ``listening on tcp:127.0.0.1:41234`` -- and flushes, so a
parent process (the interop harness, a test) can wait for that line and read
the real address from it (:func:`sqsocket.servers.address.parse_ready_line`).
SIGINT and SIGTERM end the server cleanly: connections closed, the socket
file it created removed, exit status 0. Errors (address in use, a path that
is not a socket) go to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from sqsocket.servers.address import AbstractAddress, Address, InetAddress, UnixAddress
from sqsocket.servers.base import Server, coerce_address
from sqsocket.servers.dgram import DatagramEchoServer
from sqsocket.servers.echo import EchoServer
from sqsocket.servers.fdpass import IntroductionServer
from sqsocket.servers.netstring import DEFAULT_MAX_FRAME, NetstringServer
from sqsocket.servers.pair import ping_pong, taco_cat
from sqsocket.servers.paths import DEFAULT_SOCKET_MODE, SocketPathError

__all__ = ["register", "run_server"]

EXIT_OK = 0
EXIT_ERROR = 1

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _octal_mode(text: str) -> int:
    try:
        mode = int(text.removeprefix("0o"), 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal mode: {text!r}") from None
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"mode out of range: {text!r}")
    return mode


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _setup_logging(verbose: bool) -> None:
    """Log to stderr: connection events with --verbose, warnings always."""
    logger = logging.getLogger("sqsocket.servers")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


@contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT/SIGTERM/SIGHUP to ``stop`` while the block runs.

    The handler only sets a flag and wakes the loop, so the loop's own
    ``finally`` does the cleanup -- no KeyboardInterrupt raised at an arbitrary
    point. Signal handlers can only be installed from the main thread; from
    another thread (``main()`` called by a test's worker) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_server(server: Server) -> int:
    """Bind, print the ready line, serve until a stop signal; the CLI's exit code."""
    with _stop_on_signals(server.request_stop):
        try:
            server.bind()
        except (SocketPathError, OSError, ValueError) as exc:
            print(
                f"sqsocket serve: cannot listen on {server.requested_address}: {exc}",
                file=sys.stderr,
            )
            server.stop()
            return EXIT_ERROR
        print(server.ready_line, flush=True)
        server.serve_forever()
    print(f"stopped {server.url}", file=sys.stderr, flush=True)
    return EXIT_OK


# -- address options -------------------------------------------------------


def _add_unix_options(
    parser: argparse.ArgumentParser, group: argparse._MutuallyExclusiveGroup
) -> None:
    group.add_argument("--unix", metavar="PATH", help="listen on a Unix-domain socket file")
    group.add_argument(
        "--abstract",
        metavar="NAME",
        help="listen on a Linux abstract-namespace name (no file; '@NAME' also accepted)",
    )
    parser.add_argument(
        "--mode",
        type=_octal_mode,
        default=DEFAULT_SOCKET_MODE,
        metavar="OCTAL",
        help="permissions of the socket file (default: 600)",
    )


def _inet(text: str, scheme: str) -> InetAddress:
    addr = coerce_address(f"{scheme}:{text}")
    assert isinstance(addr, InetAddress)
    return addr


def _address_from(args: argparse.Namespace, inet_scheme: str | None = "tcp") -> Address:
    if getattr(args, "unix", None):
        path: str = args.unix
        if path.startswith("@"):
            return AbstractAddress(path[1:])
        return UnixAddress(path)
    if getattr(args, "abstract", None):
        name: str = args.abstract
        return AbstractAddress(name.removeprefix("@"))
    if inet_scheme is not None:
        value = getattr(args, inet_scheme, None)
        if value is not None:
            return _inet(value, inet_scheme)
    raise SystemExit("sqsocket serve: give an address (see --help)")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections to stderr")


def _add_stream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-clients",
        type=_positive_int,
        metavar="N",
        help="serve at most N clients at once; others wait in the backlog",
    )
    parser.add_argument(
        "--idle-timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="close a connection idle this long (default: never)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a TCP host that is not loopback (off: these are test servers)",
    )


# -- sub-commands ----------------------------------------------------------


def _cmd_echo(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    return run_server(
        EchoServer(
            _address_from(args, "tcp"),
            mode=args.mode,
            max_clients=args.max_clients,
            idle_timeout=args.idle_timeout,
            allow_remote=args.allow_remote,
            verbose=args.verbose,
        )
    )


def _cmd_netstring(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    return run_server(
        NetstringServer(
            _address_from(args, "tcp"),
            max_frame=args.max_frame,
            mode=args.mode,
            max_clients=args.max_clients,
            idle_timeout=args.idle_timeout,
            allow_remote=args.allow_remote,
            verbose=args.verbose,
        )
    )


def _cmd_dgram(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    return run_server(
        DatagramEchoServer(
            _address_from(args, "udp"),
            mode=args.mode,
            allow_remote=args.allow_remote,
            verbose=args.verbose,
        )
    )


def _cmd_intro(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    return run_server(
        IntroductionServer(_address_from(args, None), mode=args.mode, verbose=args.verbose)
    )


def _cmd_pair(args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    ok = True
    print("-- socketpair + fork: ping/pong", flush=True)
    exchange = ping_pong(timeout=args.timeout, report=say)
    ok &= exchange.ok
    print(
        f"ping/pong {'ok' if exchange.ok else 'FAILED'}: child exit {exchange.child_exit}, "
        f"{exchange.elapsed * 1000:.1f} ms",
        flush=True,
    )
    print("-- socketpair + fork: netstring round trip", flush=True)
    exchange = taco_cat(args.message.encode("utf-8"), timeout=args.timeout, report=say)
    ok &= exchange.ok
    print(
        f"netstring {'ok' if exchange.ok else 'FAILED'}: child exit {exchange.child_exit}, "
        f"{exchange.elapsed * 1000:.1f} ms",
        flush=True,
    )
    return EXIT_OK if ok else EXIT_ERROR


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve`` and its sub-commands to the top-level ``sqsocket`` parser."""
    serve = sub.add_parser(
        "serve",
        help="run a Python peer: echo, dgram, netstring, pair, intro",
        description=(
            "Run one of the Python peers. Each prints 'listening on <address>' once bound, "
            "serves until Ctrl-C or SIGTERM, then removes the socket file it created."
        ),
    )
    kinds = serve.add_subparsers(dest="server", metavar="SERVER", required=True)

    echo = kinds.add_parser("echo", help="stream echo server (Unix path, abstract name, TCP)")
    where = echo.add_mutually_exclusive_group(required=True)
    _add_unix_options(echo, where)
    where.add_argument(
        "--tcp",
        nargs="?",
        const="127.0.0.1:0",
        metavar="[HOST:]PORT",
        help="listen on TCP (default host 127.0.0.1; port 0 or none = ephemeral)",
    )
    _add_stream_options(echo)
    _add_common(echo)
    echo.set_defaults(func=_cmd_echo)

    dgram = kinds.add_parser("dgram", help="datagram echo server (UDP, Unix datagram)")
    where = dgram.add_mutually_exclusive_group(required=True)
    _add_unix_options(dgram, where)
    where.add_argument(
        "--udp",
        nargs="?",
        const="127.0.0.1:0",
        metavar="[HOST:]PORT",
        help="listen on UDP (default host 127.0.0.1; port 0 or none = ephemeral)",
    )
    dgram.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    _add_common(dgram)
    dgram.set_defaults(func=_cmd_dgram)

    net = kinds.add_parser(
        "netstring", help="answers each length-prefixed frame with the payload reversed"
    )
    where = net.add_mutually_exclusive_group(required=True)
    _add_unix_options(net, where)
    where.add_argument(
        "--tcp",
        nargs="?",
        const="127.0.0.1:0",
        metavar="[HOST:]PORT",
        help="listen on TCP (default host 127.0.0.1; port 0 or none = ephemeral)",
    )
    net.add_argument(
        "--max-frame",
        type=_positive_int,
        default=DEFAULT_MAX_FRAME,
        metavar="BYTES",
        help=f"largest frame accepted (default {DEFAULT_MAX_FRAME})",
    )
    _add_stream_options(net)
    _add_common(net)
    net.set_defaults(func=_cmd_netstring)

    pair = kinds.add_parser(
        "pair", help="socketpair + fork: ping/pong and a netstring round trip, printed"
    )
    pair.add_argument("--message", default="taco cat", help="payload for the netstring round trip")
    pair.add_argument(
        "--timeout", type=_positive_float, default=5.0, help="seconds before giving up (default 5)"
    )
    pair.set_defaults(func=_cmd_pair)

    intro = kinds.add_parser("intro", help="fd-passing introduction server (SCM_RIGHTS)")
    where = intro.add_mutually_exclusive_group(required=True)
    _add_unix_options(intro, where)
    _add_common(intro)
    intro.set_defaults(func=_cmd_intro)
