"""``sqsocket bench load``: the load run from the command line.

The runner (workers, servers, /proc sampling) is imported when the command runs,
not with the parser.
"""

from __future__ import annotations

import argparse
import json
import sys

from sqsocket.commands.catalog import add_command
from sqsocket.servers import argtypes
from sqsocket.servers.stream import DEFAULT_MAX_BUFFER, MIN_MAX_BUFFER

__all__ = ["EXAMPLES", "register"]

EXIT_OK = 0
EXIT_FAILED = 1
MAX_CLIENTS = 5000
MAX_DURATION = 3600.0
MAX_SIZE = 16 << 20

EXAMPLES = """\
examples (without options: 1,000 clients on each server for 10 s):
  sqsocket bench load --clients 50 --duration 2 --only unix
  sqsocket bench load --clients 100 --duration 2 --max-buffer 8388608 --json
"""


def _transports(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names or any(n not in ("unix", "tcp") for n in names):
        raise argparse.ArgumentTypeError(f"give unix, tcp or unix,tcp, not {text!r}")
    return tuple(n for n in ("unix", "tcp") if n in names)


def _cmd_load(args: argparse.Namespace) -> int:
    from sqsocket.bench.load.runner import LoadSettings, format_outcome, run
    from sqsocket.ui import Progress

    settings = LoadSettings(
        clients=args.clients,
        duration=args.duration,
        max_size=args.max_size,
        max_buffer=args.max_buffer,
        seed=args.seed,
        transports=args.only,
    )
    outcomes = run(settings, Progress(enabled=not args.quiet))
    if args.json:
        payload = {
            "clients": settings.clients,
            "duration": settings.duration,
            "max_size": settings.max_size,
            "seed": settings.seed,
            "servers": [o.to_dict() for o in outcomes],
            "ok": all(o.ok for o in outcomes),
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        for outcome in outcomes:
            print(format_outcome(outcome))
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``load`` under ``sqsocket bench``."""
    load = add_command(sub, "bench load", epilog=EXAMPLES)
    load.add_argument(
        "--clients",
        type=argtypes.integer(10, MAX_CLIENTS),
        default=1000,
        metavar="N",
        help=f"concurrent clients per server, 10..{MAX_CLIENTS} (default 1000: 70%% good, "
        "10%% each abort, never-read, SIGKILLed)",
    )
    load.add_argument(
        "--duration",
        type=argtypes.seconds(MAX_DURATION),
        default=10.0,
        metavar="SECONDS",
        help="how long the churn lasts (default 10; good clients then finish their exchange)",
    )
    load.add_argument(
        "--max-size",
        type=argtypes.integer(1, MAX_SIZE),
        default=1 << 20,
        metavar="BYTES",
        help=f"largest message, 1..{MAX_SIZE} (default 1048576; sizes are log-uniform)",
    )
    load.add_argument(
        "--max-buffer",
        type=argtypes.integer(MIN_MAX_BUFFER, 1 << 40),
        metavar="BYTES",
        help=f"the servers' --max-buffer (default theirs: {DEFAULT_MAX_BUFFER})",
    )
    load.add_argument(
        "--only",
        type=_transports,
        default=("unix", "tcp"),
        metavar="unix|tcp",
        help="load only this server (default both, at the same time)",
    )
    load.add_argument(
        "--seed",
        type=argtypes.integer(0, 1 << 31),
        default=1,
        metavar="N",
        help="random seed (default 1)",
    )
    load.add_argument("--json", action="store_true", help="JSON on stdout instead of text")
    load.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    load.set_defaults(func=_cmd_load, parser_=load)
