"""``sqsocket proxy`` as a subprocess: the ready line, signals, the --help examples, and
usage errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from plugin_support import short_tmpdir
from proxy_support import WAIT

from sqsocket.cli import main
from sqsocket.proxy.cli import EXAMPLES
from sqsocket.servers import UnixEchoServer, echo_once
from sqsocket.servers.address import parse_ready_line

pytestmark = pytest.mark.timeout(120)


def sqsocket(*args: str) -> list[str]:
    return [sys.executable, "-m", "sqsocket", *args]


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start ``sqsocket ARGS`` and answer it with its first stdout line; always reaped."""
    proc = subprocess.Popen(
        sqsocket(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a SIGABRT then prints every thread's stack (see stop())
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline().strip()
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        # Hung: make it show where (faulthandler dumps every thread's stack on SIGABRT)
        # rather than lose its stderr to running()'s kill.
        proc.send_signal(signal.SIGABRT)
        try:
            _out, err = proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
        pytest.fail(f"the proxy did not exit within {WAIT} s of signal {sig}; stderr:\n{err}")
    return proc.returncode, out, err


@pytest.fixture
def echo(sockdir: str) -> Iterator[UnixEchoServer]:
    with UnixEchoServer(os.path.join(sockdir, "echo.sock")) as srv:
        yield srv


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ready_line_relay_and_clean_stop(echo: UnixEchoServer, sockdir: str, sig: int) -> None:
    path = os.path.join(sockdir, "proxy.sock")
    assert echo.path is not None
    with running("proxy", f"unix:{path}", echo.path, "--fault", "up:slicer:size=3") as (
        proc,
        line,
    ):
        assert line == f"listening on unix:{path}"
        kind, address = parse_ready_line(line)
        assert kind == "stream"
        assert echo_once(address, b"through the proxy") == b"through the proxy"
        code, out, err = stop(proc, sig)
    assert code == 0, err
    assert out == ""  # stdout carries the ready line only
    assert "faults: up:slicer:size=3" in err and "1 connection(s)" in err
    assert "Traceback" not in err
    assert not os.path.exists(path)


def test_tcp_listener_on_an_ephemeral_port(echo: UnixEchoServer) -> None:
    assert echo.path is not None
    with running("proxy", "tcp:127.0.0.1:0", echo.path) as (proc, line):
        _kind, address = parse_ready_line(line)
        assert re.fullmatch(r"listening on tcp:127\.0\.0\.1:\d+", line)
        assert echo_once(address, b"tcp to unix") == b"tcp to unix"
        code, _out, err = stop(proc)
    assert code == 0, err


def example_commands() -> list[str]:
    return [
        line.strip() for line in EXAMPLES.splitlines() if line.strip().startswith("sqsocket proxy ")
    ]


def test_the_help_shows_the_examples() -> None:
    result = subprocess.run(
        sqsocket("proxy", "--help"), capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert result.returncode == 0
    for command in example_commands():
        assert command in result.stdout
    assert "sqsocket serve echo --unix /tmp/echo.sock &" in result.stdout
    for name in ("latency", "bandwidth", "slicer", "stall", "reset", "half-close", "refuse"):
        assert f"{name}\n" in result.stdout


@pytest.mark.parametrize("command", example_commands())
def test_every_help_example_works(command: str, sockdir: str) -> None:
    """Each example as printed, with /tmp/ replaced by a private directory."""
    args = shlex.split(command.replace("/tmp/", f"{sockdir}/"))[1:]
    with UnixEchoServer(os.path.join(sockdir, "echo.sock")):
        with running(*args) as (proc, line):
            _kind, address = parse_ready_line(line)
            faults = " ".join(args)
            if "refuse" in faults:  # closed (an RST over TCP) as soon as accepted
                try:
                    assert echo_once(address, b"ping") == b""
                except (ConnectionResetError, BrokenPipeError):
                    pass
            elif "stall" in faults:  # the client is never read: no echo
                with pytest.raises(TimeoutError):
                    echo_once(address, b"ping", timeout=0.5)
            else:  # delayed or sliced, but whole
                assert echo_once(address, b"ping") == b"ping"
            code, _out, err = stop(proc)
        assert code == 0, err
    if "--dump" in args:
        with open(args[args.index("--dump") + 1], encoding="utf-8") as f:
            text = f.read()
        assert text.startswith("# sqsocket proxy:") and "#1 accepted from" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: LISTEN, UPSTREAM"),
        (["/tmp/a"], "required: UPSTREAM"),
        (["/tmp/a", "tcp:8.8.8.8:53"], "argument UPSTREAM: host '8.8.8.8' is not loopback"),
        (["tcp:192.168.1.1:0", "/tmp/b"], "argument LISTEN: host '192.168.1.1' is not loopback"),
        (["/tmp/a", "tcp:127.0.0.1:70000"], "bad port '70000': give a number from 0 to 65535"),
        (["/tmp/a", "tcp:127.0.0.1:-1"], "bad port '-1'"),
        (["/tmp/a", "tcp:127.0.0.1:0"], "needs a port"),
        (["/tmp/a", "tcp:127.0.0.1:http"], "bad port"),
        (["/tmp/a", "udp:127.0.0.1:5000"], "datagram address"),
        (["/tmp/a", "/tmp/b", "--fault", "zork"], "unknown fault 'zork'"),
        (["/tmp/a", "/tmp/b", "--fault", "up:slicer:size=-1"], "size must be between 1"),
        (["/tmp/a", "/tmp/b", "--fault", "latency:ms=nan"], "finite"),
        (["/tmp/a", "/tmp/b", "--fault", "latency:ms=inf"], "finite"),
        (["/tmp/a", "/tmp/b", "-f", "latency:ms=1", "-f", "up:latency:ms=2"], "two latency"),
        (["/tmp/a", "/tmp/b", "--fault", "up:refuse"], "takes no direction"),
        (["/tmp/a", "/tmp/b", "--connect-timeout", "nan"], "bad duration 'nan'"),
        (["/tmp/a", "/tmp/b", "--connect-timeout", "-3"], "above 0 and at most 3600"),
        (["/tmp/a", "/tmp/b", "--mode", "999"], "bad mode '999'"),
        (["/tmp/a", "/tmp/b", "--seed", "x"], "bad number 'x'"),
        (["/tmp/a", "/tmp/b", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(args: list[str], message: str) -> None:
    result = subprocess.run(
        sqsocket("proxy", *args), capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sqsocket proxy: error: ") and message in lines[0]
    assert lines[0].endswith("(see sqsocket proxy --help)")


def test_an_address_it_cannot_listen_on_is_exit_status_1(sockdir: str) -> None:
    path = os.path.join(sockdir, "file")
    with open(path, "w") as f:
        f.write("keep me")
    result = subprocess.run(
        sqsocket("proxy", path, os.path.join(sockdir, "up")),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"sqsocket proxy: cannot listen on unix:{path}: ")
    assert "not a socket" in result.stderr and "Traceback" not in result.stderr
    with open(path) as f:
        assert f.read() == "keep me"


def test_an_unwritable_dump_is_exit_status_1(sockdir: str) -> None:
    listen = os.path.join(sockdir, "px")
    dump = os.path.join(sockdir, "no-such-dir", "d.dump")
    result = subprocess.run(
        sqsocket("proxy", listen, os.path.join(sockdir, "up"), "--dump", dump),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr
        == f"sqsocket proxy: cannot write the dump {dump}: No such file or directory\n"
    )
    assert not os.path.exists(listen)


def test_registered_in_the_top_level_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "proxy" in capsys.readouterr().out


def readme_example() -> list[str]:
    """The shell lines of the README's proxy section."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Misbehaving peers", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip().removesuffix("&").strip() for line in block.splitlines()]


def test_the_readme_example_works() -> None:
    """As written, with /tmp/ replaced by a private directory (one whose socket paths the
    emulator's default profile can resolve: docs/quirks.md, 1)."""
    serve, proxy, example = readme_example()
    assert serve.startswith("sqsocket serve echo") and proxy.startswith("sqsocket proxy")
    with short_tmpdir("sqrm-") as directory:

        def args(line: str) -> list[str]:
            return shlex.split(line.replace("/tmp/", f"{directory}/"))[1:]

        with running(*args(serve)) as (server, ready), running(*args(proxy)) as (relay, line):
            assert ready.startswith("listening on unix:") and line.startswith("listening on unix:")
            result = subprocess.run(
                sqsocket(*args(example)), capture_output=True, text=True, timeout=60, check=False
            )
            assert stop(relay)[0] == 0 and stop(server)[0] == 0
        assert result.returncode == 0, result.stderr
        assert "7. Transcript: Hello, from Smalltalk!" in result.stdout
