"""``sqsocket bench`` and ``sqsocket bench load``: measure the emulator; load the servers.

``sqsocket bench`` prints a table of figures, each as a ratio to a baseline
measured in the same run (``--json`` for machines); progress goes to stderr.
``sqsocket bench load`` runs a thousand abusive and well-behaved clients
against the project's echo servers and reports failures, descriptors and
memory (:mod:`sqsocket.bench.load`). Bad arguments are a usage error: one
line on stderr, exit status 2.

Only what the parser needs is imported with this module; the suite, the report and
the servers' machinery load when the command runs, not for every ``sqsocket --help``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqsocket.bench import pinning
from sqsocket.bench.load import cli as load_cli
from sqsocket.bench.settings import SECTIONS, Mode, Settings
from sqsocket.cliparse import fail, usage_error
from sqsocket.commands.catalog import add_command
from sqsocket.servers import argtypes

__all__ = ["EXAMPLES", "register"]

EXIT_OK = 0
MAX_REPS = 1000

EXAMPLES = """\
examples (each runs in seconds; drop --quick for the real figures):
  sqsocket bench --quick --only client
  sqsocket bench --quick --only memory,growth --json results.json
  sqsocket bench --quick --only capacity --pin none --json
  sqsocket bench load --clients 50 --duration 2 --only unix
"""

ROWS_HELP = """\
sections (--only):
  client    one connection to an echo peer: round trips 16 B / 1 KiB over UDS and TCP,
            bulk echo 64 KiB / 1 MiB, connect + close; columns (a) raw CPython sockets
            (baseline), (b) emulator primitives, (c) image layer, (d) the real VM's
            semaphore and busy-poll loops (when squeak-vm is installed)
  capacity  echo servers at 1 / 100 / 1,000 concurrent clients: raw selectors server
            (baseline), native epoll server, sqsocket serve echo, image-layer UnixServer
  memory    bytes per connected socket: raw socket (baseline), emulated, image layer
  growth    round trip and create + destroy with 10 / 100 / 1,000 / 5,000 sockets open
"""


def _sections(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in SECTIONS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown section {', '.join(unknown) or repr(text)}: give a comma-separated list "
            f"of {', '.join(SECTIONS)}"
        )
    return tuple(n for n in SECTIONS if n in names)  # run order, no duplicates


def _pin(text: str) -> str | int:
    try:
        return pinning.parse_pin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check_json_path(args: argparse.Namespace) -> None:
    """A usage error now if ``--json PATH`` could not be written once the run is over."""
    path = Path(args.json)
    parent = path.parent
    if path.is_dir():
        usage_error(args, f"--json {args.json}: is a directory; give a file path")
    if not parent.is_dir():
        usage_error(args, f"--json {args.json}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        usage_error(args, f"--json {args.json}: directory {parent} is not writable")


def _cmd_bench(args: argparse.Namespace) -> int:
    from sqsocket.bench import report, suite
    from sqsocket.bench.peers import PeerUnavailable
    from sqsocket.ui import Progress

    if args.json not in (None, "-"):
        _check_json_path(args)  # before a minute of measuring, not after
    mode = Mode.QUICK if args.quick else Mode.LONG if args.long else Mode.DEFAULT
    settings = Settings.for_mode(mode)
    if args.reps is not None:
        settings = settings.with_reps(args.reps)
    if args.only is not None:
        settings = settings.with_sections(args.only)
    progress = Progress(enabled=not args.quiet)
    try:
        result = suite.run(settings, pinning.choose(args.pin), progress)
    except PeerUnavailable as exc:
        return fail("bench", exc)
    text = report.to_json(result)
    if args.json == "-":
        sys.stdout.write(text)
    else:
        sys.stdout.write(report.render_table(result))
        if args.json is not None:
            try:
                Path(args.json).write_text(text)
            except OSError as exc:
                return fail("bench", f"cannot write {args.json}: {exc}")
            print(f"JSON written to {args.json}", file=sys.stderr)
    sys.stdout.flush()
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bench`` (and ``bench load``) to the top-level parser."""
    bench = add_command(sub, "bench", epilog=ROWS_HELP + "\n" + EXAMPLES)
    length = bench.add_mutually_exclusive_group()
    length.add_argument(
        "--quick", action="store_true", help="2 repetitions, tiny counts (seconds, for tests)"
    )
    length.add_argument("--long", action="store_true", help="15 longer repetitions (minutes)")
    bench.add_argument(
        "--reps",
        type=argtypes.integer(1, MAX_REPS),
        metavar="N",
        help=f"repetitions per figure, 1..{MAX_REPS} (default 5; --quick 2; --long 15)",
    )
    bench.add_argument(
        "--only",
        type=_sections,
        metavar="SECTIONS",
        help=f"run only these sections, comma-separated: {', '.join(SECTIONS)}",
    )
    bench.add_argument(
        "--pin",
        type=_pin,
        default=pinning.AUTO,
        metavar="CPU|auto|none",
        help=(
            "put the measuring process and everything it starts on one CPU (default auto: "
            f"pinned to the last CPU on machines with at most {pinning.FEW_CORES})"
        ),
    )
    bench.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="also write the results as JSON to PATH; without PATH (or -), JSON on stdout "
        "instead of the table",
    )
    bench.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    bench.set_defaults(func=_cmd_bench, parser_=bench)
    commands = bench.add_subparsers(dest="bench_command", metavar="COMMAND")
    load_cli.register(commands)
