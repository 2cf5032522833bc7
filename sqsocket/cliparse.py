"""What every ``sqsocket`` parser shares: the help layout, and groups that need a sub-command.

:class:`Parser` is the top-level parser's class, so every sub-parser is one too
(argparse makes sub-parsers of their parent's class). Its help wraps prose to
the terminal and keeps indented blocks (examples, lists) as written.

A command group -- a command that only holds sub-commands (``sqsocket docker``,
``serve``, ``vm``, ...), the top-level ``sqsocket`` included -- behaves alike
without its sub-command: the usage and one line naming the sub-commands on
stderr, exit status 2, never a run with nothing to do.

What every command does with a failure, alike: a combination of options argparse
cannot check itself is a usage error of that command's parser (:func:`usage_error`,
from the parser a command keeps as ``parser_``), exit status 2; a failure while it
runs is one line ``sqsocket COMMAND: why`` on stderr and its exit status
(:func:`fail`), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

__all__ = [
    "EXIT_ERROR",
    "EXIT_USAGE",
    "HelpFormatter",
    "Parser",
    "SubParsers",
    "add_commands",
    "fail",
    "missing_subcommand_message",
    "usage_error",
]

#: A command that ran and failed (nothing listening, a build that broke, ...).
EXIT_ERROR = 1
#: A command line that makes no sense; argparse's own status for its errors.
EXIT_USAGE = 2

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


def usage_error(args: argparse.Namespace, message: str) -> NoReturn:
    """A usage error (exit 2) of the command that runs, for a combination of options
    argparse cannot check itself: its parser (``parser_``) prints it and exits."""
    parser: argparse.ArgumentParser = args.parser_
    parser.error(message)


def fail(command: str, message: object, status: int = EXIT_ERROR) -> int:
    """Say in one line on stderr why ``sqsocket COMMAND`` failed; the exit status to return."""
    print(f"sqsocket {command}: {message}", file=sys.stderr)
    return status
