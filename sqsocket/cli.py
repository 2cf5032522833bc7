"""The ``sqsocket`` command: one sub-command for each thing the project runs.

Each feature module contributes its sub-commands through a ``register(sub)``
function; the list below is the whole command surface, so ``sqsocket --help``
lists it all.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that add sub-commands, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "sqsocket.commands.demo",
    "sqsocket.commands.primitives",
    "sqsocket.reference.cli",
    "sqsocket.commands.example",
    "sqsocket.commands.trace",
    "sqsocket.servers.cli",
    "sqsocket.proxy.cli",
    "sqsocket.squeak.cli",
    "sqsocket.interop.cli",
    "sqsocket.dockerharness.cli",
    "sqsocket.bench.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqsocket",
        description=(
            "An executable reference of the Squeak/Pharo VM SocketPlugin: the primitives, "
            "Python peers for them, and real Smalltalk VMs run against those peers."
        ),
    )
    from sqsocket import __version__

    parser.add_argument("--version", action="version", version=f"sqsocket {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only a module that is not written yet is skipped; a broken import is an error.
            if exc.name is None or not name.startswith(exc.name):
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
