"""The command examples the project shows, and how a test can run each (tests/test_cli_examples.py).

Where examples are: in ``--help`` texts, every description or epilog line that is
indented and starts with ``sqsocket``, and every ``'sqsocket ...'`` quoted in a
description, epilog or option help (:func:`help_scripts`); in the Markdown files,
every line of a fenced ``sh`` block (:func:`markdown_scripts`). The examples of one
help text or one block form a :class:`Script`: they run in order, in one private
directory, and a line ending in ``&`` keeps running for the lines after it.

How each runs is decided by :func:`plan`, from the command alone: servers wait for
their ready line and stop on SIGTERM; the long commands run a fast variant; what
cannot run on any of the project's machines (Pharo) is parsed only, saying why.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from sqsocket.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
#: The Markdown files whose sh blocks are examples.
MARKDOWN = (
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "docker" / "README.md",
)

_INDENTED = re.compile(r"^\s+(sqsocket\s.*?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"'(sqsocket\s[^']*)'")
_FENCE = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


class Kind(Enum):
    SQSOCKET = "sqsocket"  # sqsocket ARGS or python -m sqsocket ARGS
    MAKE = "make"


@dataclass(frozen=True)
class Example:
    """One command line as shown, and what it means."""

    source: str  # where it is shown: "sqsocket proxy --help", "README.md:68"
    line: str
    kind: Kind
    argv: tuple[str, ...]  # after "sqsocket" (or "make")
    background: bool  # ends with '&'


@dataclass
class Script:
    source: str
    examples: list[Example] = field(default_factory=list)


def parse_line(source: str, line: str) -> Example:
    """A shown command line as an :class:`Example`; ValueError for anything else."""
    words = shlex.split(line, comments=True)
    background = words[-1:] == ["&"]
    if background:
        words = words[:-1]
    if words[:1] == ["sqsocket"]:
        return Example(source, line, Kind.SQSOCKET, tuple(words[1:]), background)
    if words[:3] == ["python", "-m", "sqsocket"]:
        return Example(source, line, Kind.SQSOCKET, tuple(words[3:]), background)
    if words[:1] == ["make"]:
        return Example(source, line, Kind.MAKE, tuple(words[1:]), background)
    raise ValueError(f"{source}: not a sqsocket, python -m sqsocket or make command: {line!r}")


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def all_parsers() -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of ``sqsocket``, top-level first, with its command path."""
    return list(_parsers(build_parser()))


def _help_strings(parser: argparse.ArgumentParser) -> list[str]:
    texts = [parser.description or "", parser.epilog or ""]
    for action in parser._actions:
        texts.append(str(action.help or ""))
        if isinstance(action, argparse._SubParsersAction):
            texts += [str(choice.help or "") for choice in action._choices_actions]
    return texts


def help_scripts() -> list[Script]:
    """One script per help text that shows examples, in the order the text shows them."""
    scripts = []
    for path, parser in all_parsers():
        script = Script(" ".join(("sqsocket", *path, "--help")))
        for text in _help_strings(parser):
            found = [(m.start(), m.group(1)) for m in _INDENTED.finditer(text)]
            found += [(m.start(), m.group(1)) for m in _QUOTED.finditer(text)]
            for _, line in sorted(found):
                script.examples.append(parse_line(script.source, line))
        if script.examples:
            scripts.append(script)
    return scripts


def markdown_scripts(files: Sequence[Path] = MARKDOWN) -> list[Script]:
    """One script per fenced sh block; every line of one is an example."""
    scripts = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            first = text.count("\n", 0, match.start(1)) + 1
            script = Script(f"{path.relative_to(REPO)}:{first}")
            for offset, line in enumerate(match.group(1).splitlines()):
                if line.strip() and not line.lstrip().startswith("#"):
                    where = f"{path.relative_to(REPO)}:{first + offset}"
                    script.examples.append(parse_line(where, line))
            scripts.append(script)
    return scripts


# -- how each runs -----------------------------------------------------------------------


class How(Enum):
    RUN = "run"  # as shown, to its end: exit status 0
    SERVE = "serve"  # a server: its ready line, then SIGTERM: exit status 0
    FAST = "fast"  # long as shown: its --help, and a fast variant run to its end
    MAKE = "make"  # make -n TARGET: the target exists and its recipe expands
    PARSE = "parse"  # cannot run on any of the project's machines: parsed only


class Need(Enum):
    SQUEAK_VM = "squeak-vm"  # Debian's squeak-vm and the session's headless image
    SOURCE_IMAGE = "squeakjs.image"  # the input of sqsocket image build
    DOCKER = "docker"


@dataclass(frozen=True)
class Plan:
    how: How
    argv: tuple[str, ...]  # what runs: the example's, or the fast variant's
    needs: frozenset[Need] = frozenset()
    why: str = ""


PHARO_ONLY = (
    "needs Pharo: no Pharo VM or image can be had on the project's machines "
    "(README: Conformance on your own VM)"
)


def _value(argv: Sequence[str], option: str) -> str | None:
    """The last value given for ``option`` (argparse keeps the last)."""
    value = None
    for index, word in enumerate(argv[:-1]):
        if word == option:
            value = argv[index + 1]
    return value


def _bench_plan(argv: tuple[str, ...]) -> Plan:
    if argv[1:2] == ("load",):
        duration, clients = _value(argv, "--duration"), _value(argv, "--clients")
        if duration is not None and float(duration) <= 2 and int(clients or 1000) <= 100:
            return Plan(How.RUN, argv)
        # later options win: the example's own, at a size that runs in a second or two
        return Plan(
            How.FAST, (*argv, "--clients", "20", "--duration", "1"), why="1,000 clients for 10 s"
        )
    if "--quick" in argv and "--only" in argv:
        return Plan(How.RUN, argv)
    variant = (*(word for word in argv if word not in ("--long", "--quick")), "--quick")
    if "--only" not in argv:
        variant += ("--only", "memory")
    return Plan(
        How.FAST,
        variant,
        why="the suite takes a minute (--long: minutes; tests/test_bench.py runs all of --quick)",
    )


def plan(example: Example) -> Plan:
    """How the test runs ``example``, decided from its command alone."""
    argv = example.argv
    if example.kind is Kind.MAKE:
        return Plan(How.MAKE, argv)
    command = argv[:1]
    needs: set[Need] = set()
    if "--pharo" in argv or _value(argv, "--dialect") == "pharo":
        return Plan(How.PARSE, argv, why=PHARO_ONLY)
    if command == ("docker",) or (command == ("interop",) and "--docker" in argv):
        needs.add(Need.DOCKER)
    if command == ("vm",):
        needs.add(Need.SQUEAK_VM)
    if argv[:2] == ("image", "build"):
        needs.add(Need.SOURCE_IMAGE)
    if command == ("interop",) and "--skip-vm" not in argv:
        needs.add(Need.SQUEAK_VM)
    if command == ("conformance",) and "--emulator-only" not in argv:
        needs.add(Need.SQUEAK_VM)
    if command == ("bench",):
        return _bench_plan(argv)
    servers = argv[:1] == ("proxy",) or argv[:2] == ("example", "serve")
    if servers or (command == ("serve",) and argv[1:2] != ("pair",)):
        return Plan(How.SERVE, argv, frozenset(needs))
    return Plan(How.RUN, argv, frozenset(needs))
