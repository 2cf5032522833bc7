"""Nonsense on the command line: a usage error (exit 2, one line saying what is allowed).

Every ``sqsocket serve ...`` and ``sqsocket example ...`` sub-command gets a table of
invocations that make no sense. In-process, whatever would run a server, an image or a
fork is replaced by a sentinel, so an invocation that is wrongly *accepted* fails at
once instead of serving; a sample also runs as real subprocesses, with short timeouts.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from sqsocket import cli

LONG_PATH = "/tmp/" + "p" * 103  # 108 bytes: one more than sun_path holds
NOT_UTF8 = b"caf\xe9".decode("utf-8", "surrogateescape")  # what argv gives for Latin-1 bytes

SERVE_ECHO = [
    [],
    ["--unix", ""],
    ["--unix", LONG_PATH],
    ["--unix", "@" + "a" * 200],
    ["--abstract", "a" * 200],
    ["--abstract", ""],
    ["--abstract", "@"],
    ["--abstract-padded", "b" * 108],
    ["--tcp", "abc"],
    ["--tcp", "99999"],
    ["--tcp", "65536"],
    ["--tcp", "127.0.0.1:-1"],
    ["--tcp", "127.0.0.1:"],
    ["--tcp", "127.0.0.1:+80"],
    ["--tcp", ":"],
    ["--tcp", "[::1"],
    ["--tcp", "::1"],
    ["--tcp", "[::1]:x"],
    ["--tcp", "[::1]"],
    ["--tcp", "[127.0.0.1]:5"],
    ["--tcp", "example.com:80"],
    ["--tcp", "1.2.3.4.5:80"],
    ["--tcp", "127.0.0.1:٨٠"],  # non-ASCII digits
    ["--tcp", "0", "--unix", "/tmp/x"],
    ["--tcp", "0", "--abstract", "x"],
    ["--tcp", "0", "--max-clients", "0"],
    ["--tcp", "0", "--max-clients", "-1"],
    ["--tcp", "0", "--max-clients", "abc"],
    ["--tcp", "0", "--max-clients", "1e3"],
    ["--tcp", "0", "--max-clients", "99999999999"],
    ["--tcp", "0", "--idle-timeout", "inf"],
    ["--tcp", "0", "--idle-timeout", "1e308"],
    ["--tcp", "0", "--idle-timeout", "nan"],
    ["--tcp", "0", "--idle-timeout", "0"],
    ["--tcp", "0", "--idle-timeout", "-1"],
    ["--tcp", "0", "--idle-timeout", ""],
    ["--tcp", "0", "--idle-timeout", "abc"],
    ["--unix", "/tmp/x", "--mode", "999"],
    ["--unix", "/tmp/x", "--mode", "8"],
    ["--unix", "/tmp/x", "--mode", "-1"],
    ["--unix", "/tmp/x", "--mode", "7777"],
    ["--unix", "/tmp/x", "--mode", "0o1777"],
    ["--unix", "/tmp/x", "--mode", "rw"],
    ["--tcp", "0", "--mode", "600"],
    ["--abstract", "x", "--mode", "600"],
    ["--unix", "/tmp/x", "--allow-uid", "abc"],
    ["--unix", "/tmp/x", "--allow-uid", "-1"],
    ["--unix", "/tmp/x", "--allow-uid", "4294967295"],
    ["--unix", "/tmp/x", "--allow-uid", "root"],
    ["--tcp", "0", "--allow-uid", "0"],
    ["--tcp", "0", "--insecure-dir"],
    ["--unix", "/tmp/x", "--allow-remote"],
    ["--unix", "/tmp/x", "--bogus"],
]
SERVE_DGRAM = [
    [],
    ["--udp", "abc"],
    ["--udp", "99999"],
    ["--udp", "127.0.0.1:-1"],
    ["--udp", "[::1"],
    ["--udp", "::1"],
    ["--udp", "[::1]:x"],
    ["--unix", LONG_PATH],
    ["--abstract", "d" * 200],
    ["--unix", "/tmp/x", "--mode", "9"],
    ["--unix", "/tmp/x", "--allow-uid", "x"],
    ["--udp", "0", "--allow-uid", "0"],
    ["--udp", "0", "--mode", "600"],
    ["--udp", "0", "--idle-timeout", "5"],  # datagrams have no connections to time out
]
SERVE_NETSTRING = [
    [],
    ["--tcp", "abc"],
    ["--tcp", "0", "--framing", "djb"],
    ["--tcp", "0", "--framing", ""],
    ["--tcp", "0", "--framing", "U32"],
    ["--tcp", "0", "--max-frame", "0"],
    ["--tcp", "0", "--max-frame", "-5"],
    ["--tcp", "0", "--max-frame", str(1 << 31)],
    ["--tcp", "0", "--max-frame", "1MB"],
    ["--tcp", "0", "--idle-timeout", "nan"],
    ["--unix", LONG_PATH],
]
SERVE_PAIR = [
    ["--timeout", "nan"],
    ["--timeout", "inf"],
    ["--timeout", "0"],
    ["--timeout", "-1"],
    ["--timeout", "1e9"],
    ["--timeout", "soon"],
    ["--message", NOT_UTF8],
    ["--unix", "/tmp/x"],
]
SERVE_INTRO = [
    [],
    ["--tcp", "0"],
    ["--unix", LONG_PATH],
    ["--abstract", "i" * 200],
    ["--unix", "/tmp/x", "--max-clients", "0"],
    ["--unix", "/tmp/x", "--max-pending", "0"],
    ["--unix", "/tmp/x", "--max-pending-per-peer", "x"],
    ["--unix", "/tmp/x", "--mode", "1000"],
    ["--abstract", "x", "--insecure-dir"],
]
EXAMPLE_WORKSPACE = [
    ["--path", ""],
    ["--path", LONG_PATH],
    ["--timeout", "nan"],
    ["--timeout", "inf"],
    ["--timeout", "0"],
    ["--timeout", "-1"],
    ["--message", NOT_UTF8],
]
EXAMPLE_TCP = [
    [],
    ["--port", "99999"],
    ["--port", "0"],
    ["--port", "-1"],
    ["--port", "abc"],
    ["--port", "1e3"],
    ["--port", "7", "--host", "bad host"],
    ["--port", "7", "--host", ""],
    ["--port", "7", "--host", "a..b"],
    ["--port", "7", "--host", "1.2.3.999"],
    ["--port", "7", "--host", "-leading"],
    ["--port", "7", "--timeout", "nan"],
    ["--port", "7", "--message", NOT_UTF8],
]
EXAMPLE_NETSTRING = [
    [],
    ["--path", LONG_PATH],
    ["--path", "/tmp/x", "--message", NOT_UTF8],
    ["--path", "/tmp/x", "--timeout", "inf"],
]
EXAMPLE_SERVE = [
    ["--backlog", "0"],
    ["--backlog", "-5"],
    ["--backlog", "abc"],
    ["--backlog", "99999"],
    ["--seconds", "nan"],
    ["--seconds", "inf"],
    ["--seconds", "0"],
    ["--seconds", "-1"],
    ["--path", LONG_PATH],
]

CASES = [
    (prefix, args)
    for prefix, table in [
        (["serve", "echo"], SERVE_ECHO),
        (["serve", "dgram"], SERVE_DGRAM),
        (["serve", "netstring"], SERVE_NETSTRING),
        (["serve", "pair"], SERVE_PAIR),
        (["serve", "intro"], SERVE_INTRO),
        (["example", "workspace"], EXAMPLE_WORKSPACE),
        (["example", "tcp"], EXAMPLE_TCP),
        (["example", "netstring"], EXAMPLE_NETSTRING),
        (["example", "serve"], EXAMPLE_SERVE),
    ]
    for args in table
]


class Accepted(Exception):
    """A nonsense invocation got past argument checking and would have run."""


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import sqsocket.commands.example as example
    import sqsocket.servers.cli as serve

    def refuse(*args: object, **kwargs: object) -> None:
        raise Accepted(f"accepted and about to run: {args!r:.200}")

    for module, name in [
        (serve, "run_server"),
        (serve, "ping_pong"),
        (serve, "taco_cat"),
        (example, "_run"),
        (example, "Image"),
    ]:
        monkeypatch.setattr(module, name, refuse)


def _ids(case: tuple[list[str], list[str]]) -> str:
    prefix, args = case
    return " ".join([*prefix, *args])[:60]


@pytest.mark.usefixtures("nothing_runs")
@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_nonsense_is_a_usage_error(
    case: tuple[list[str], list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    prefix, args = case
    with pytest.raises(SystemExit) as exited:
        cli.main([*prefix, *args])
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1, err
    # The sub-command's parser says what is wrong with a value; the top-level one
    # reports arguments no parser knows ("unrecognized arguments").
    assert errors[0].startswith(
        (f"sqsocket {' '.join(prefix)}: error: ", "sqsocket: error: unrecognized arguments")
    ), err


# Those that used to be *accepted* (and hang, spin or die later), plus a sample of the
# rest, as real processes: exit 2 within seconds, no traceback.
SUBPROCESS_SAMPLE = [
    ["serve", "echo", "--tcp", "0", "--idle-timeout", "inf"],
    ["serve", "echo", "--tcp", "0", "--idle-timeout", "1e308"],
    ["serve", "echo", "--tcp", "0", "--idle-timeout", "nan"],
    ["serve", "echo", "--tcp", "[::1]:x"],
    ["serve", "echo", "--unix", LONG_PATH],
    ["serve", "pair", "--timeout", "nan"],
    ["serve", "pair", "--message", NOT_UTF8],
    ["example", "serve", "--seconds", "nan"],
    ["example", "tcp", "--port", "99999"],
    ["example", "serve", "--backlog", "0"],
]


def test_nonsense_as_real_processes() -> None:
    procs = [
        (
            argv,
            subprocess.Popen(
                [sys.executable, "-m", "sqsocket", *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ),
        )
        for argv in SUBPROCESS_SAMPLE
    ]
    failures = []
    for argv, proc in procs:
        try:
            _, err_bytes = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            failures.append(f"{argv}: still running after 30 s")
            continue
        err = err_bytes.decode("utf-8", "replace")
        if proc.returncode != 2 or "Traceback" in err:
            failures.append(f"{argv}: exit {proc.returncode}: {err[-300:]}")
    assert not failures, "\n".join(failures)


def test_sensible_invocations_still_parse() -> None:
    parser = cli.build_parser()
    for argv in (
        ["serve", "echo", "--tcp"],
        ["serve", "echo", "--tcp", "localhost:0"],
        ["serve", "echo", "--tcp", "[::1]:0", "--idle-timeout", "2.5"],
        ["serve", "echo", "--unix", "/tmp/x", "--mode", "0660", "--allow-uid", "0"],
        ["serve", "echo", "--unix", "@name"],
        ["serve", "dgram", "--udp", "5000"],
        ["serve", "netstring", "--abstract", "n", "--framing", "line", "--max-frame", "10"],
        ["serve", "pair", "--message", "héllo", "--timeout", "1"],
        ["serve", "intro", "--abstract-padded", "i", "--max-pending", "10"],
        ["example", "tcp", "--port", "7", "--host", "localhost"],
        ["example", "serve", "--backlog", "1", "--seconds", "0.5"],
    ):
        args = parser.parse_args(argv)
        assert callable(args.func)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve", "intro", "--help"], ["Python to Python only", "without the descriptor"]),
        (["serve", "pair", "--help"], ["Python to Python only", "no socketpair primitive"]),
        (["serve", "echo", "--help"], ["SO_PEERCRED", "Smalltalk server cannot check them"]),
        (["serve", "dgram", "--help"], ["SO_PASSCRED", "a Smalltalk server"]),
        (["serve", "echo", "--help"], ["--abstract-padded", "unix-tightsocklen=0"]),
        (["serve", "netstring", "--help"], ["u32", "netstring", "line", "CRLF"]),
    ],
)
def test_help_says_what_is_python_only(
    argv: list[str], says: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for phrase in says:
        assert phrase in text, phrase
