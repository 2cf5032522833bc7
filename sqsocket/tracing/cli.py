"""``sqsocket trace [--json] -- COMMAND ...``: run an image-layer command with a primitive trace.

The command (``sqsocket example ...`` or ``sqsocket demo``) runs in this process;
every plugin the image layer makes meanwhile is traced (:func:`sqsocket.tracing.tracing`):
each primitive call with its arguments and its answer or failure, each state
transition, semaphore signal and poll, stamped with the VM clock.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import IO

from sqsocket.cliparse import usage_error
from sqsocket.commands.catalog import add_command
from sqsocket.tracing import PollFilter, Tracer, tracing

#: The sub-commands that run on the image layer, and so can be traced.
TRACEABLE = ("example", "demo")

EXAMPLES = """\
examples:
  sqsocket trace -- demo
  sqsocket trace --json --polls busy -- demo
  sqsocket serve echo --unix /tmp/sp &
  sqsocket trace --output /tmp/trace.txt -- example workspace --path /tmp/sp
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(sub, "trace", epilog=EXAMPLES)
    parser.add_argument("--json", action="store_true", help="write JSON lines, not text")
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="write the trace to FILE (created or truncated) instead of stdout",
    )
    parser.add_argument(
        "--polls",
        choices=[f.value for f in PollFilter],
        default=PollFilter.ALL.value,
        help="which polls to show: all, busy (those that ran a handler), none (all)",
    )
    parser.add_argument(
        "argv",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND ...",
        help="the command to run: example ... or demo",
    )
    parser.set_defaults(func=run, parser_=parser)


def run(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv or argv[0] not in TRACEABLE:
        given = f"not {argv[0]!r}" if argv else "none given"
        usage_error(args, f"give the command after --: one of {', '.join(TRACEABLE)} ({given})")
    # sqsocket.cli lists this module: import it only when a command runs
    from sqsocket.cli import build_parser

    # a bad command line, or a group without its sub-command, exits 2 with its usage
    inner = build_parser().parse_args(argv)
    out: IO[str]
    if args.output is not None:
        try:
            out = open(args.output, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            usage_error(args, f"cannot write the trace to {args.output}: {exc.strerror}")
    else:
        out = sys.stdout
    redirect: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if args.json and args.output is None:
        # the JSON lines own stdout; the command's transcript goes to stderr
        redirect = contextlib.redirect_stdout(sys.stderr)
    tracer = Tracer(out, json=args.json, polls=args.polls)
    try:
        with redirect, tracing(tracer):
            return int(inner.func(inner) or 0)
    finally:
        tracer.close()
        if out is not sys.stdout:
            out.close()
