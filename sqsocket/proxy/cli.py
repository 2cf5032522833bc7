"""``sqsocket proxy LISTEN UPSTREAM [--fault SPEC]...``: the fault-injecting proxy.

Prints ``listening on <address>`` on stdout once bound (the servers' ready
line, :func:`sqsocket.servers.address.parse_ready_line` reads it) and relays
until Ctrl-C or SIGTERM, then closes every connection and removes the socket
file it created: exit status 0. Bad arguments are a usage error, one line on
stderr, exit status 2; an address it cannot listen on (in use, not a
socket), exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import NoReturn

from sqsocket.cliparse import EXIT_USAGE, fail, usage_error
from sqsocket.commands.catalog import add_command
from sqsocket.proxy.faults import Fault, FaultError
from sqsocket.proxy.relay import DumpError, Proxy, stream_address
from sqsocket.proxy.spec import faults_help, parse_fault
from sqsocket.servers import argtypes
from sqsocket.servers.address import Address
from sqsocket.servers.paths import DEFAULT_SOCKET_MODE, SocketPathError
from sqsocket.servers.process import setup_logging, stop_on_signals

__all__ = ["register"]

EXIT_OK = 0
MAX_CONNECT_TIMEOUT = 3600.0
MAX_SEED = (1 << 64) - 1

EXAMPLES = """\
examples:
  sqsocket serve echo --unix /tmp/echo.sock &
  sqsocket proxy unix:/tmp/proxy.sock unix:/tmp/echo.sock --fault up:slicer:size=7,ms=5
  sqsocket proxy tcp:127.0.0.1:0 /tmp/echo.sock --fault down:latency:ms=200,jitter=50
  sqsocket proxy /tmp/proxy.sock /tmp/echo.sock --fault up:stall:after=0 --dump /tmp/proxy.dump
  sqsocket proxy /tmp/proxy.sock /tmp/echo.sock --fault down:reset:after=100 --fault refuse:rst
"""

ADDRESSES = """\
addresses (both sides, any combination; TCP on loopback only):
  unix:/tmp/x.sock  /tmp/x.sock  ./x.sock       a Unix-domain socket file
  abstract:name     @name                       a Linux abstract name (no file)
  tcp:127.0.0.1:5000  127.0.0.1:5000  [::1]:5000  localhost:5000   TCP (LISTEN port 0: ephemeral)
"""


def _usage_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """Exit 2 with one line: what was wrong, and where to look."""
    parser.exit(EXIT_USAGE, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")


def _address_type(role: str) -> Callable[[str], Address]:
    def convert(text: str) -> Address:
        try:
            address = stream_address(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if role == "UPSTREAM" and getattr(address, "port", None) == 0:
            raise argparse.ArgumentTypeError(f"{text!r} needs a port (0 is for listening)")
        return address

    convert.__name__ = role  # argparse names the argument by it in messages
    return convert


def _fault_type(text: str) -> Fault:
    try:
        return parse_fault(text)
    except FaultError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmd_proxy(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    try:
        proxy = Proxy(
            args.upstream,
            args.listen,
            faults=args.fault or (),
            dump=args.dump,
            mode=args.mode,
            seed=args.seed,
            connect_timeout=args.connect_timeout,
            verbose=args.verbose,
        )
    except ValueError as exc:  # FaultError: two faults of a kind on one direction
        usage_error(args, str(exc))
    with stop_on_signals(proxy.request_stop):
        try:
            proxy.bind()
        except DumpError as exc:
            status = fail("proxy", exc.strerror)
            proxy.stop()
            return status
        except (SocketPathError, OSError, ValueError) as exc:
            status = fail("proxy", f"cannot listen on {args.listen}: {exc}")
            proxy.stop()
            return status
        print(proxy.ready_line, flush=True)
        print(
            f"proxying {proxy.url} -> {proxy.upstream.describe()}; faults: "
            f"{' '.join(f.describe() for f in proxy.faults) or 'none'}",
            file=sys.stderr,
            flush=True,
        )
        proxy.serve_forever()
    stats = proxy.stats()
    print(
        f"stopped {proxy.url}: {stats.accepted} connection(s), "
        f"{stats.bytes_up} bytes up, {stats.bytes_down} down",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``proxy`` to the top-level ``sqsocket`` parser."""
    parser = add_command(
        sub,
        "proxy",
        epilog=ADDRESSES
        + "\nfaults, --fault [up|down|both:]NAME[:PARAM=VALUE,...] (repeatable):\n"
        + _wrapped_faults_help()
        + "\n\n"
        + EXAMPLES,
    )

    _one_line_usage(parser)
    parser.add_argument(
        "listen",
        type=_address_type("LISTEN"),
        metavar="LISTEN",
        help="where clients connect (see addresses below)",
    )
    parser.add_argument(
        "upstream",
        type=_address_type("UPSTREAM"),
        metavar="UPSTREAM",
        help="the server every connection is relayed to",
    )
    parser.add_argument(
        "--fault",
        "-f",
        action="append",
        type=_fault_type,
        metavar="SPEC",
        help="a fault, e.g. up:slicer:size=7,ms=5 (see below; repeat for more)",
    )
    parser.add_argument(
        "--dump", metavar="FILE", help="write every chunk both ways (hex + text, timestamps)"
    )
    parser.add_argument(
        "--mode",
        type=argtypes.octal_mode,
        default=DEFAULT_SOCKET_MODE,
        metavar="OCTAL",
        help="permissions of a LISTEN socket file (default: 600)",
    )
    parser.add_argument(
        "--seed",
        type=argtypes.integer(0, MAX_SEED),
        metavar="N",
        help=f"seed for the latency jitter, 0..{MAX_SEED} (reproducible runs)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=argtypes.seconds(MAX_CONNECT_TIMEOUT),
        default=5.0,
        metavar="SECONDS",
        help="give up connecting upstream after this long (above 0, at most "
        f"{MAX_CONNECT_TIMEOUT:g}; default 5)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections to stderr")
    parser.set_defaults(func=_cmd_proxy, parser_=parser)


def _one_line_usage(parser: argparse.ArgumentParser) -> None:
    """Make every usage error of ``parser`` one line (argparse prints its usage block
    first, and leaves unknown options to the top-level parser, which does the same)."""
    parse_known = parser.parse_known_args

    def error(message: str) -> NoReturn:
        _usage_error(parser, message)

    def strict_parse_known_args(
        args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = parse_known(args, namespace)
        if extras:
            error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    parser.error = error  # type: ignore[method-assign]
    parser.parse_known_args = strict_parse_known_args  # type: ignore[method-assign,assignment]


def _wrapped_faults_help() -> str:
    out = []
    for line in faults_help().splitlines():
        indent = len(line) - len(line.lstrip())
        out.extend(
            textwrap.wrap(line, width=94, initial_indent="", subsequent_indent=" " * (indent + 2))
            or [""]
        )
    return "\n".join(out)
