"""Every command example in a ``--help`` text, the README and docs/ is parsed, and run.

Where the examples are found and how each one runs: tests/cli_examples.py. Each is
parsed by the real parser (a wrong flag or a wrong shape fails here, whether or not
it can run); then each help text's or sh block's examples run in order against
throwaway servers in a private directory: ``/tmp/`` in an example becomes that
directory, abstract names get a unique suffix. Examples that need squeak-vm or
Docker skip naming what is missing (and fail in CI, CI=true); only the Pharo ones
are parsed and not run (no Pharo VM can be had on the project's machines).
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from ci_support import need
from cli_examples import (
    REPO,
    Example,
    How,
    Kind,
    Need,
    Plan,
    Script,
    help_scripts,
    markdown_scripts,
    parse_line,
    plan,
)

from sqsocket.cli import build_parser
from sqsocket.squeak import paths

SCRIPTS = help_scripts() + markdown_scripts()
EXAMPLES = [example for script in SCRIPTS for example in script.examples]
RUNNABLE = [s for s in SCRIPTS if any(plan(e).how is not How.PARSE for e in s.examples)]

#: Bounds: a command run to its end, a server's ready line, a server's stop.
RUN_TIMEOUT = 300.0
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
READY_PREFIX = "listening on "
ABSTRACT_OPTIONS = ("--abstract", "--abstract-padded")
#: Commands that ran to exit status 0 with no server of their script up: an example shown
#: in two places (bench load's, in bench's help too) runs once.
_RAN_ALONE: set[tuple[str, ...]] = set()


def _id(example: Example) -> str:
    return f"{example.source}: {example.line.split('#')[0].strip()}"


# -- found and parsed ----------------------------------------------------------------


def test_the_examples_are_found_where_they_are_shown() -> None:
    sources = {script.source for script in SCRIPTS}
    for expected in (
        "sqsocket serve --help",
        "sqsocket proxy --help",
        "sqsocket bench --help",
        "sqsocket example workspace --help",
        "sqsocket vm run --help",
        "sqsocket docker --help",
        "README.md:11",
    ):
        assert expected in sources, sorted(sources)
    lines = {example.line for example in EXAMPLES}
    # the one that was wrong: a server started with an option it does not have
    assert "sqsocket serve echo --path /tmp/sp" not in lines
    assert "sqsocket serve echo --unix /tmp/sp &" in lines
    assert sum(e.kind is Kind.MAKE for e in EXAMPLES) >= 3
    assert len(EXAMPLES) >= 50


def test_a_line_that_is_not_a_known_command_is_refused() -> None:
    with pytest.raises(ValueError, match="not a sqsocket"):
        parse_line("README.md:1", "rm -rf /tmp/x")
    example = parse_line("x", "python -m sqsocket serve echo --unix /tmp/sp &   # a comment")
    assert example.argv == ("serve", "echo", "--unix", "/tmp/sp") and example.background


def _parse(argv: list[str]) -> str:
    """Parse ``argv`` with the real parser; the usage error's text if it refuses it."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return err.getvalue().strip() or f"exit {exc.code}"
    if argv[:1] == ["trace"]:  # the traced command is parsed when trace runs: parse it now
        inner = list(args.argv)
        return _parse(inner[1:] if inner[:1] == ["--"] else inner)
    return ""


def _help(argv: list[str]) -> str:
    """``argv --help`` with the real parser: its help text (exit status 0), else ''."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args([*argv, "--help"])
    except SystemExit as exc:
        return out.getvalue() if exc.code == 0 else ""
    return ""


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, re.MULTILINE))


@pytest.mark.parametrize("example", EXAMPLES, ids=_id)
def test_every_example_parses(example: Example) -> None:
    if example.kind is Kind.MAKE:
        assert set(example.argv) <= _make_targets(), f"no such make target: {example.line}"
        return
    problem = _parse(list(example.argv))
    assert not problem, f"{example.source}: {example.line}\n{problem}"


def test_a_wrong_example_fails_to_parse() -> None:
    assert "error: one of the arguments --unix" in _parse(["serve", "echo", "--path", "/tmp/sp"])
    assert "unrecognized arguments: --path" in _parse(
        ["serve", "echo", "--unix", "/x", "--path", "/y"]
    )
    assert "invalid choice" in _parse(["trace", "--", "example", "nope"])


def test_only_the_pharo_examples_are_not_run() -> None:
    not_run = [e.line for e in EXAMPLES if plan(e).how is How.PARSE]
    assert not_run, "the README shows Pharo examples: they are parsed, not run"
    assert all("pharo" in line for line in not_run), not_run


def test_the_long_commands_run_a_fast_variant() -> None:
    perf = next(s for s in SCRIPTS if s.source.startswith("docs/performance.md"))
    plans = {e.argv: plan(e) for e in perf.examples}
    assert plans[("bench", "--long")] == Plan(
        How.FAST, ("bench", "--quick", "--only", "memory"), why=plans[("bench", "--long")].why
    )
    assert plans[("bench", "load")].argv[-4:] == ("--clients", "20", "--duration", "1")
    real_vm = next(s for s in SCRIPTS if s.source == "sqsocket vm run --help")
    assert {Need.SQUEAK_VM} == {n for e in real_vm.examples for n in plan(e).needs}


# -- run -------------------------------------------------------------------------------


@contextlib.contextmanager
def _private_dir() -> Iterator[Path]:
    """A directory under /tmp whose name is a multiple of 4 long, as ``/tmp`` is: an
    example's socket path keeps its length modulo 4, and so stays one that the
    squeak-4.10 resolver finds (docs/quirks.md: lengths that are multiples of 4 fail)."""
    with tempfile.TemporaryDirectory(prefix="sqe", dir="/tmp") as name:
        assert len(name) % 4 == 0, name
        (Path(name) / "images").symlink_to(REPO / "images")  # scripts named relatively
        yield Path(name)


class Runner:
    """Runs one script's examples in ``directory``; servers started with '&' stay up."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.suffix = directory.name
        self.background: list[tuple[Example, subprocess.Popen[str], IO[str]]] = []

    def rewrite(self, argv: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for word in argv:
            if out and out[-1] in ABSTRACT_OPTIONS:
                word = f"{word}-{self.suffix}"  # abstract names are machine-wide
            out.append(word.replace("/tmp/", f"{self.directory}/"))
        return out

    def command(self, argv: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-m", "sqsocket", *self.rewrite(argv)]

    def run(self, example: Example, how: Plan) -> None:
        if how.how is How.PARSE:
            return  # parsed by test_every_example_parses
        if how.how is How.MAKE:
            self._finish(example, ["make", "-n", "-C", str(REPO), *how.argv])
        elif how.how is How.RUN or how.how is How.FAST:
            if how.how is How.FAST:
                assert _help(list(example.argv)).startswith("usage: "), example.line
            if self.background or how.argv not in _RAN_ALONE:
                self._finish(example, self.command(how.argv))
            if not self.background:
                _RAN_ALONE.add(how.argv)
        else:
            self._serve(example, self.command(how.argv))

    def _start(self, command: list[str], stderr: int | IO[str]) -> subprocess.Popen[str]:
        """An example's process: in the private directory, nothing on stdin, text out."""
        return subprocess.Popen(
            command,
            cwd=self.directory,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            errors="replace",
        )

    def _finish(self, example: Example, command: list[str]) -> None:
        with self._start(command, subprocess.PIPE) as proc:
            try:
                out, err = proc.communicate(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()  # as subprocess.run does; leaving the with waits for it
                raise
        assert proc.returncode == 0, _report(example, command, proc.returncode, out, err)

    def _serve(self, example: Example, command: list[str]) -> None:
        # closed by _stop or kill_all, which every test reaches (try/finally)
        errors = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        proc = self._start(command, errors)
        self.background.append((example, proc, errors))
        lines = _lines(proc)
        seen = []
        while True:
            try:
                line = lines.get(timeout=READY_TIMEOUT)
            except queue.Empty:
                line = None
            if line is None:  # no ready line in time, or the server exited first
                pytest.fail(_report(example, command, proc.poll(), "".join(seen), _read(errors)))
            seen.append(line)
            if line.startswith(READY_PREFIX):
                break
        if not example.background:
            self._stop(example, proc, errors)

    def _stop(self, example: Example, proc: subprocess.Popen[str], errors: IO[str]) -> None:
        self.background = [entry for entry in self.background if entry[1] is not proc]
        proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
            pytest.fail(f"{example.source}: {example.line}: did not stop on SIGTERM")
        finally:
            text = _read(errors)
            errors.close()
        assert status == 0, _report(example, proc.args, status, "", text)  # type: ignore[arg-type]

    def stop_all(self) -> None:
        """Stop the servers started with '&', last first: each must exit 0."""
        while self.background:
            example, proc, errors = self.background[-1]
            self._stop(example, proc, errors)

    def kill_all(self) -> None:
        for _, proc, errors in self.background:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
            errors.close()
        self.background = []


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """The process's stdout lines as they come (None at the end), read by a thread."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read(stream: IO[str]) -> str:
    stream.seek(0)
    return stream.read()


def _report(example: Example, command: object, status: int | None, out: str, err: str) -> str:
    return (
        f"{example.source}: {example.line}\nran {command}: exit {status}\n"
        f"--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-3000:]}"
    )


def _missing(wanted: Need) -> str | None:
    """Why ``wanted`` cannot be had on this machine, or None when it can."""
    if wanted is Need.SQUEAK_VM:
        found = paths.find_vm()
        return None if found else f"squeak-vm not installed: {paths.INSTALL_VM_COMMAND}"
    if wanted is Need.SOURCE_IMAGE:
        found_image = paths.locate_source_image_offline()
        return None if found_image else paths.missing_requirements()[-1]
    from sqsocket.dockerharness.engine import engine_problem

    return engine_problem()


def _environment(
    script: Script, directory: Path, request: pytest.FixtureRequest
) -> tuple[dict[str, str], dict[Need, str]]:
    """The examples' environment, and the needs this machine lacks (with the reason)."""
    needs = {n for example in script.examples for n in plan(example).needs}
    lacking = {n: why for n in needs if (why := _missing(n)) is not None}
    env = dict(os.environ)
    if Need.SOURCE_IMAGE in needs:
        assert Need.SQUEAK_VM not in needs, "image build would rewrite the session's image"
        # where image build writes by default: not var/squeak/ of the checkout
        env["SQSOCKET_IMAGE"] = str(directory / "default.image")
    if Need.SQUEAK_VM in needs and Need.SQUEAK_VM not in lacking:
        # the session's image: the examples must not build or rewrite var/squeak/
        env["SQSOCKET_IMAGE"] = str(request.getfixturevalue("squeak_image"))
    return env, lacking


def _sockets_in(directory: Path) -> list[Path]:
    return [
        path
        for path in directory.rglob("*")
        if not path.is_symlink() and stat.S_ISSOCK(path.lstat().st_mode)
    ]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("script", RUNNABLE, ids=lambda s: s.source)
def test_the_examples_run(script: Script, request: pytest.FixtureRequest) -> None:
    """The examples run in order; one that needs what this machine lacks is left out,
    the others still run, and then the test skips naming what was not run (or fails,
    in CI)."""
    not_run = []
    with _private_dir() as directory:
        env, lacking = _environment(script, directory, request)
        runner = Runner(directory, env)
        try:
            for example in script.examples:
                how = plan(example)
                missing = sorted(n.value for n in how.needs if n in lacking)
                if missing:
                    not_run.append(
                        f"{example.line.split('#')[0].strip()} (no {', '.join(missing)})"
                    )
                    continue
                runner.run(example, how)
            runner.stop_all()
        finally:
            runner.kill_all()
        # every server removed its socket file as it stopped
        assert _sockets_in(directory) == []
    if not_run:
        why = "; ".join(f"{n.value}: {reason}" for n, reason in sorted(lacking.items(), key=str))
        need(f"{script.source}: not run: {', '.join(not_run)} [{why}]")
