"""The ``sqsocket`` command: one sub-command for each thing the project runs.

Each module below contributes its sub-commands through a ``register(sub)``
function; the list is the whole command surface, so ``sqsocket --help`` lists
it all. Where commands live: a feature package's own commands in its
``<feature>/cli.py`` (``sqsocket.servers.cli``, ``sqsocket.tracing.cli``, ...);
``sqsocket/commands/`` only for those that cut across features (``demo``,
``primitives``, ``example``: the image layer against the Python peers). What a
command is called and what its help says are rows of one table,
:mod:`sqsocket.commands.catalog`; its module adds its options, examples and run
function to the parser the catalog makes.

A command module must import without the optional packages (the Docker SDK, ...):
it imports them where its command runs, which then says what is missing. So a
module that fails to import is a bug, and an error here, not a hidden command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from sqsocket.cliparse import Parser, add_commands

#: Exit status when stdout's reader went away, as a shell reports a SIGPIPE death.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE

# Modules that add sub-commands, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "sqsocket.commands.demo",
    "sqsocket.commands.primitives",
    "sqsocket.reference.cli",
    "sqsocket.commands.example",
    "sqsocket.tracing.cli",
    "sqsocket.servers.cli",
    "sqsocket.proxy.cli",
    "sqsocket.squeak.cli",
    "sqsocket.interop.cli",
    "sqsocket.dockerharness.cli",
    "sqsocket.bench.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sqsocket",
        description=(
            "An executable reference of the Squeak/Pharo VM SocketPlugin: the primitives, "
            "Python peers for them, and real Smalltalk VMs run against those peers."
        ),
    )
    from sqsocket import __version__

    parser.add_argument("--version", action="version", version=f"sqsocket {__version__}")
    sub = add_commands(parser, "command", "COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            exc.add_note(
                f"sqsocket.cli: {name} adds sub-commands and must import without optional "
                "packages (import them where the command runs)"
            )
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (sqsocket ... | head): no traceback. Python would still
        # fail flushing stdout at exit, so point it at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
