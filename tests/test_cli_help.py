"""The ``sqsocket`` command surface as a whole: plain help, groups alike, no hidden command.

* Every help text is plain text: no reStructuredText or Markdown markup.
* Every command group without its sub-command (the top-level ``sqsocket`` too)
  prints its usage and a line naming the sub-commands on stderr, exit status 2.
* A command module that fails to import is an error, not a command left out; a
  missing optional package (the Docker SDK) is said when its command runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
from cli_examples import all_parsers

from sqsocket import cli

PARSERS = all_parsers()
#: Commands with sub-commands that also run without one.
RUN_WITHOUT_SUBCOMMAND = {("bench",)}  # the suite; 'bench load' is the other command
GROUPS = [
    (path, parser)
    for path, parser in PARSERS
    if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
    and path not in RUN_WITHOUT_SUBCOMMAND
]
MARKUP = ("`", "**")


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("sqsocket", *path))


@pytest.mark.parametrize("path,parser", PARSERS, ids=[_name(p) for p, _ in PARSERS])
def test_help_is_plain_text(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert text.startswith(f"usage: {_name(path)}")
    for line in text.splitlines():
        assert not any(mark in line for mark in MARKUP), f"{_name(path)} --help: {line!r}"


def test_the_groups_are_the_commands_that_hold_sub_commands() -> None:
    assert {path for path, _ in GROUPS} == {
        (),
        ("example",),
        ("serve",),
        ("image",),
        ("vm",),
        ("docker",),
    }


@pytest.mark.parametrize("path,parser", GROUPS, ids=[_name(p) for p, _ in GROUPS])
def test_a_group_without_its_sub_command_is_a_usage_error(
    path: tuple[str, ...], parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(list(path))
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    usage, message = err.splitlines()[0], err.splitlines()[-1]
    assert usage.startswith(f"usage: {_name(path)} ")
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert message.startswith(f"{_name(path)}: error: missing {commands.metavar}: one of ")
    for name in commands.choices:
        assert name in message


def test_plain_sqsocket_in_a_shell_exits_2_with_the_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sqsocket"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "error: missing COMMAND: one of demo, primitives" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_command_module_that_fails_to_import_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "sqsocket.no_such_cli"))
    with pytest.raises(ModuleNotFoundError) as raised:
        cli.build_parser()
    assert "sqsocket.no_such_cli adds sub-commands" in "".join(raised.value.__notes__)


def test_a_missing_docker_sdk_is_said_when_docker_runs() -> None:
    """The docker command is there without the SDK; running it says what is missing."""
    code = (
        "import sys; sys.modules['docker'] = None\n"  # makes 'import docker' fail
        "from sqsocket.cli import main\n"
        "sys.exit(main(['docker', 'run']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SQSOCKET_HIDE_DOCKER": ""},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "docker" in proc.stderr.lower() and "pip install" in proc.stderr


def test_a_reader_that_goes_away_is_no_traceback() -> None:
    """sqsocket reference --json | head -1: the rest (200 kB, more than a pipe holds)
    has nowhere to go."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqsocket", "reference", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away
    err = proc.stderr.read()
    proc.stderr.close()
    status = proc.wait(timeout=60)
    assert first == b"[\n"
    assert err == b""
    assert status == cli.EXIT_BROKEN_PIPE
