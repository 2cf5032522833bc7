"""What every ``sqsocket`` parser shares: the help layout, and groups that need a sub-command.

:class:`Parser` is the top-level parser's class, so every sub-parser is one too
(argparse makes sub-parsers of their parent's class). Its help wraps prose to
the terminal and keeps indented blocks (examples, lists) as written.

A command group -- a command that only holds sub-commands (``sqsocket docker``,
``serve``, ``vm``, ...), the top-level ``sqsocket`` included -- behaves alike
without its sub-command: the usage and one line naming the sub-commands on
stderr, exit status 2, never a run with nothing to do.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

__all__ = ["HelpFormatter", "Parser", "SubParsers", "add_commands", "missing_subcommand_message"]

SubParsers = argparse._SubParsersAction  # the type of add_subparsers' result


class HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description or epilog, except one with an indented
    line (an example, a list of sections): that one stays as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = text.strip("\n").split("\n\n")
        out = []
        for paragraph in paragraphs:
            if any(line[:1].isspace() for line in paragraph.splitlines()):
                out.append("\n".join(indent + line for line in paragraph.splitlines()))
            else:
                out.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(out)


class Parser(argparse.ArgumentParser):
    """An argument parser with :class:`HelpFormatter` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def missing_subcommand_message(commands: SubParsers, metavar: str) -> str:
    """``missing SUBCOMMAND: one of base, build, run (each has --help)``."""
    return f"missing {metavar}: one of {', '.join(commands.choices)} (each has --help)"


def add_commands(
    parser: argparse.ArgumentParser, dest: str, metavar: str = "SUBCOMMAND"
) -> SubParsers:
    """``parser.add_subparsers`` for a group: without a sub-command, a usage error.

    The group's own default ``func`` is the error; each sub-command sets its own
    ``func``, which wins (argparse applies a sub-parser's defaults last).
    """
    commands = parser.add_subparsers(dest=dest, metavar=metavar)

    def missing(args: argparse.Namespace) -> NoReturn:
        parser.error(missing_subcommand_message(commands, metavar))

    parser.set_defaults(func=missing)
    return commands
