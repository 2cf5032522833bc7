"""``sqsocket serve ...``: run one of the Python peers until Ctrl-C or SIGTERM.

Every server prints one ready line on stdout once it is bound -- ``listening
on unix:/tmp/x``, ``listening on tcp:127.0.0.1:41234`` -- and flushes, so a
parent process (the interop harness, a test) can wait for that line and read
the real address from it (:func:`sqsocket.servers.address.parse_ready_line`).
SIGINT and SIGTERM end the server cleanly: connections closed, the socket
file it created removed, exit status 0. Errors (address in use, a path that
is not a socket, an unsafe directory) go to stderr with exit status 1. An
argument that makes no sense -- a port out of range, an infinite timeout, a
path too long for ``sun_path`` -- is a usage error (exit status 2), found by
its parser type (:mod:`~sqsocket.servers.argtypes`) before anything runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence

from sqsocket.cliparse import EXIT_ERROR, SubParsers, add_commands, fail, usage_error
from sqsocket.commands.catalog import add_command
from sqsocket.servers import argtypes
from sqsocket.servers.address import AbstractAddress, Address, InetAddress, UnixAddress
from sqsocket.servers.base import Server
from sqsocket.servers.dgram import DatagramEchoServer
from sqsocket.servers.echo import EchoServer
from sqsocket.servers.fdpass import IntroductionServer
from sqsocket.servers.framing import DEFAULT_MAX_FRAME, Framing
from sqsocket.servers.netstring import NetstringServer
from sqsocket.servers.pair import ping_pong, taco_cat
from sqsocket.servers.paths import DEFAULT_SOCKET_MODE, SocketPathError
from sqsocket.servers.process import setup_logging, stop_on_signals
from sqsocket.servers.stream import (
    DEFAULT_MAX_BUFFER,
    MAX_IDLE_TIMEOUT,
    MIN_MAX_BUFFER,
    STALL_EVICTION,
    StreamServer,
)

__all__ = ["register", "run_server"]

EXIT_OK = 0

#: Upper bounds of the numeric options (a usage error beyond them).
MAX_CLIENTS = 65536
MAX_FRAME = 1 << 30
MAX_PAIR_TIMEOUT = 3600.0
MAX_BUFFER = 1 << 40

PYTHON_ONLY_PEERCRED = (
    "Peer credentials come from the kernel (SO_PEERCRED): a Smalltalk client needs nothing "
    "to be checked and is served if its uid is allowed; a refused client sees its "
    "connection accepted and closed without a byte (end of stream; ECONNRESET or EPIPE if "
    "it sends). The "
    "SocketPlugin cannot read credentials, so a Smalltalk server cannot check them."
)


def run_server(server: Server) -> int:
    """Bind, print the ready line, serve until a stop signal; the CLI's exit code."""
    with stop_on_signals(server.request_stop):
        try:
            server.bind()
        except (SocketPathError, OSError, ValueError) as exc:
            where = server.requested_address.describe(server.kind)
            status = fail("serve", f"cannot listen on {where}: {exc}")
            server.stop()
            return status
        print(server.ready_line, flush=True)
        server.serve_forever()
    print(f"stopped {server.url}{_queue_summary(server)}", file=sys.stderr, flush=True)
    return EXIT_OK


def _queue_summary(server: Server) -> str:
    """What a stream server queued at most, for the stop line (load runs read it)."""
    if not isinstance(server, StreamServer):
        return ""
    ceiling = "no ceiling" if server.max_buffer is None else f"ceiling {server.max_buffer}"
    return (
        f": {server.total_connections} connection(s), peak {server.peak_buffered} bytes "
        f"queued ({ceiling}), {server.evicted} closed at the ceiling"
    )


# -- address options -------------------------------------------------------


def _add_unix_options(
    parser: argparse.ArgumentParser,
    group: argparse._MutuallyExclusiveGroup,
    *,
    datagrams: bool = False,
) -> None:
    group.add_argument(
        "--unix",
        metavar="PATH",
        type=argtypes.unix_address,
        help="listen on a Unix-domain socket file (at most 107 bytes; '@NAME' = --abstract NAME)",
    )
    group.add_argument(
        "--abstract",
        metavar="NAME",
        type=argtypes.abstract_name,
        help="listen on a Linux abstract-namespace name, as Python clients spell it "
        "(no file, so no permissions: see --allow-uid)",
    )
    group.add_argument(
        "--abstract-padded",
        metavar="NAME",
        type=argtypes.abstract_name,
        help="listen on the abstract name NAME padded with NULs to all 108 bytes of "
        "sun_path: the name a Smalltalk client reaches (the SocketPlugin passes the full "
        "sockaddr_un), like socat's unix-tightsocklen=0",
    )
    parser.add_argument(
        "--mode",
        type=argtypes.octal_mode,
        default=None,
        metavar="OCTAL",
        help=f"permissions of the socket file, set as bind creates it (--unix only; "
        f"default: {DEFAULT_SOCKET_MODE:o})",
    )
    parser.add_argument(
        "--insecure-dir",
        action="store_true",
        help="bind even if a directory on the socket's path is writable by others without "
        "the sticky bit (refused by default: another user could replace the socket)",
    )
    if datagrams:
        uid_help = (
            "answer only datagrams from this numeric uid (repeatable; Unix-domain only: the "
            "kernel attaches each sender's credentials, SO_PASSCRED; others are dropped and "
            "counted). The SocketPlugin cannot read credentials, so a Smalltalk server "
            "cannot do this; a Smalltalk sender needs nothing to be checked."
        )
    else:
        uid_help = (
            "serve only peers with this numeric uid (repeatable; Unix-domain only, checked "
            "with SO_PEERCRED; others are closed at once and counted). " + PYTHON_ONLY_PEERCRED
        )
    parser.add_argument(
        "--allow-uid", metavar="UID", type=argtypes.uid, action="append", help=uid_help
    )


def _address_from(args: argparse.Namespace, inet_scheme: str | None = "tcp") -> Address:
    """The address the options name, after checking the options that go with it."""
    address: Address | None = args.unix
    if args.abstract is not None:
        address = AbstractAddress(args.abstract)
    elif args.abstract_padded is not None:
        address = AbstractAddress(args.abstract_padded, padded=True)
    elif inet_scheme is not None and getattr(args, inet_scheme, None) is not None:
        address = getattr(args, inet_scheme)
    if address is None:  # the group is required: argparse has said so already
        usage_error(args, "give an address (see --help)")
    is_file = isinstance(address, UnixAddress)
    if args.mode is not None and not is_file:
        usage_error(
            args, "--mode applies to --unix PATH only: abstract and TCP sockets have no file"
        )
    if args.insecure_dir and not is_file:
        usage_error(args, "--insecure-dir applies to --unix PATH only")
    if args.allow_uid and isinstance(address, InetAddress):
        usage_error(args, "--allow-uid needs a Unix-domain address: TCP/UDP peers have no uid")
    if getattr(args, "allow_remote", False) and not isinstance(address, InetAddress):
        usage_error(args, "--allow-remote applies to --tcp/--udp only")
    return address


def _mode(args: argparse.Namespace) -> int:
    return DEFAULT_SOCKET_MODE if args.mode is None else int(args.mode)


def _uids(args: argparse.Namespace) -> frozenset[int] | None:
    return None if args.allow_uid is None else frozenset(args.allow_uid)


def _add_inet_option(group: argparse._MutuallyExclusiveGroup, scheme: str) -> None:
    group.add_argument(
        f"--{scheme}",
        nargs="?",
        const=InetAddress("127.0.0.1", 0),
        type=argtypes.inet_address(scheme),
        metavar="[HOST:]PORT",
        help=f"listen on {scheme.upper()} (HOST: an IP address or localhost, default "
        "127.0.0.1; PORT 0..65535, 0 or none = ephemeral)",
    )


# -- each server's own options ----------------------------------------------
#
# Each adder returns the options it added: the server takes each by its dest, as a
# keyword argument (``--max-clients N`` -> ``max_clients=N``).

Options = Callable[[argparse.ArgumentParser], Sequence[argparse.Action]]


def _count_option(parser: argparse.ArgumentParser, flag: str, help: str) -> argparse.Action:
    """An option that bounds how many clients (or introductions): 1..MAX_CLIENTS."""
    return parser.add_argument(flag, type=argtypes.integer(1, MAX_CLIENTS), metavar="N", help=help)


def _stream_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The stream servers' own options (echo, netstring)."""
    return [
        _count_option(
            parser,
            "--max-clients",
            f"serve at most N (1..{MAX_CLIENTS}) clients at once; others wait in the backlog",
        ),
        parser.add_argument(
            "--idle-timeout",
            type=argtypes.seconds(MAX_IDLE_TIMEOUT),
            metavar="SECONDS",
            help=f"close a connection idle this long (above 0, at most {MAX_IDLE_TIMEOUT:g}; "
            "default: never)",
        ),
        parser.add_argument(
            "--max-buffer",
            type=argtypes.integer(MIN_MAX_BUFFER, MAX_BUFFER),
            default=DEFAULT_MAX_BUFFER,
            metavar="BYTES",
            help=f"most bytes queued for all clients together ({MIN_MAX_BUFFER}..{MAX_BUFFER}; "
            f"default {DEFAULT_MAX_BUFFER}, 64 MiB): at the ceiling no client is read, and "
            f"clients that took nothing for {STALL_EVICTION:g} s are closed, largest queue first",
        ),
        parser.add_argument(
            "--allow-remote",
            action="store_true",
            help="allow a TCP host that is not loopback (off: these are test servers)",
        ),
    ]


def _dgram_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    ]


def _netstring_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        parser.add_argument(
            "--framing",
            type=argtypes.framing,
            default=Framing.U32,
            metavar="{" + ",".join(f.value for f in Framing) + "}",
            help="how frames are cut (default u32, the seed's 4-byte native-order length)",
        ),
        parser.add_argument(
            "--max-frame",
            type=argtypes.integer(1, MAX_FRAME),
            default=DEFAULT_MAX_FRAME,
            metavar="BYTES",
            help=f"largest frame (or line) accepted, 1..{MAX_FRAME} (default {DEFAULT_MAX_FRAME})",
        ),
        *_stream_options(parser),
    ]


def _intro_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        _count_option(
            parser, "--max-clients", "clients served at once (default: what RLIMIT_NOFILE allows)"
        ),
        _count_option(
            parser,
            "--max-pending",
            "introductions outstanding in all -- queued, or sent and not yet read -- each "
            "holding a descriptor (default: what RLIMIT_NOFILE allows)",
        ),
        _count_option(
            parser,
            "--max-pending-per-peer",
            "introductions outstanding for one peer that is not reading (default: a "
            "quarter of --max-pending, at most 64)",
        ),
    ]


# -- sub-commands ----------------------------------------------------------


def _add_server(
    kinds: SubParsers,
    name: str,
    make: Callable[..., Server],
    inet_scheme: str | None,
    own_options: Options,
    *,
    datagrams: bool = False,
    fill: Mapping[str, str] | None = None,
) -> None:
    """``serve NAME`` (its texts from the catalog, ``fill`` for its placeholders):
    where it listens -- the Unix-domain options, and ``--tcp`` or ``--udp`` as
    ``inet_scheme`` says (None: Unix only) --, its ``own_options``, and --verbose;
    it runs ``make(address, ...)``."""
    parser = add_command(kinds, f"serve {name}", fill=fill)
    where = parser.add_mutually_exclusive_group(required=True)
    _add_unix_options(parser, where, datagrams=datagrams)
    if inet_scheme is not None:
        _add_inet_option(where, inet_scheme)
    options = [action.dest for action in own_options(parser)]
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections to stderr")
    parser.set_defaults(func=_server_command(make, inet_scheme, *options), parser_=parser)


def _server_command(
    make: Callable[..., Server], inet_scheme: str | None, *options: str
) -> Callable[[argparse.Namespace], int]:
    """The sub-command running ``make(address, ...)``: the address from the options
    (``inet_scheme``: ``tcp``, ``udp`` or None for Unix-domain only), the named
    ``options`` as keyword arguments, plus those every server takes."""

    def command(args: argparse.Namespace) -> int:
        address = _address_from(args, inet_scheme)
        setup_logging(args.verbose)
        return run_server(
            make(
                address,
                verbose=args.verbose,
                mode=_mode(args),
                insecure_dir=args.insecure_dir,
                allow_uids=_uids(args),
                **{name: getattr(args, name) for name in options},
            )
        )

    return command


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


EXAMPLES = """\
examples:
  sqsocket serve echo --unix /tmp/sp
  sqsocket serve echo --tcp 127.0.0.1:0 --max-clients 100 --idle-timeout 30
  sqsocket serve echo --abstract-padded sqsocket-echo --allow-uid 10001
  sqsocket serve netstring --unix /tmp/nstr.sock --framing netstring
  sqsocket serve dgram --udp
  sqsocket serve dgram --unix /tmp/dgram.sock
  sqsocket serve intro --unix /tmp/intro.sock --max-clients 8
  sqsocket serve pair --message 'taco cat'
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and its sub-commands to the top-level ``sqsocket`` parser."""
    serve = add_command(sub, "serve", epilog=EXAMPLES)
    kinds = add_commands(serve, "server", "SERVER")
    _add_server(kinds, "echo", EchoServer, "tcp", _stream_options)
    _add_server(kinds, "dgram", DatagramEchoServer, "udp", _dgram_options, datagrams=True)
    framings = "; ".join(f"{f.value}: {f.summary}" for f in Framing)
    _add_server(
        kinds, "netstring", NetstringServer, "tcp", _netstring_options, fill={"framings": framings}
    )

    pair = add_command(kinds, "serve pair")
    pair.add_argument(
        "--message",
        type=argtypes.utf8_text,
        default="taco cat",
        help="payload for the netstring round trip (UTF-8 text, at most 1 MiB)",
    )
    pair.add_argument(
        "--timeout",
        type=argtypes.seconds(MAX_PAIR_TIMEOUT),
        default=5.0,
        help=f"seconds before giving up (above 0, at most {MAX_PAIR_TIMEOUT:g}; default 5)",
    )
    pair.set_defaults(func=_cmd_pair, parser_=pair)

    _add_server(kinds, "intro", IntroductionServer, None, _intro_options)
