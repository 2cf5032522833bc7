"""``sqsocket trace -- COMMAND`` and ``sqsocket conformance --trace SCENARIO``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sqsocket import cli
from sqsocket.plugin import SocketPlugin
from sqsocket.servers import UnixEchoServer
from sqsocket.vm.events import PrimitiveCalled, VMEvent

pytestmark = pytest.mark.timeout(60)

# a call line: time, optional lane, then the primitive and its opening parenthesis
CALL_LINE = re.compile(r"^\s*\d+\.\d{6}  (?:\[vm\d+ t\d+\] )?(primitive\w+)\(")


def _also_observed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The primitives every image-made plugin calls, seen by a second, plain observer."""
    import sqsocket.image.environment as environment

    calls: list[str] = []

    def observer(event: VMEvent) -> None:
        if isinstance(event, PrimitiveCalled):
            calls.append(event.name)

    def plugin(*args: Any, **kwargs: Any) -> SocketPlugin:
        made = SocketPlugin(*args, **kwargs)
        made.observe(observer)
        return made

    monkeypatch.setattr(environment, "SocketPlugin", plugin)
    return calls


def test_trace_of_the_workspace_example_has_every_primitive_and_transition(
    sockdir: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = os.path.join(sockdir, "echo.sock")
    observed = _also_observed(monkeypatch)
    with UnixEchoServer(path):
        assert cli.main(["trace", "--", "example", "workspace", "--path", path]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    traced = [m.group(1) for line in lines if (m := CALL_LINE.match(line))]
    # every primitive, in order, nothing else (how often the example asks whether data
    # has come depends on timing: both observers saw the same run)
    assert traced == observed
    essential = [
        "primitiveInitializeNetwork",
        "primitiveResolverGetAddressInfo",
        "primitiveResolverGetAddressInfoSize",
        "primitiveResolverGetAddressInfoResult",
        "primitiveSocketCreate3Semaphores",
        "primitiveSocketConnectTo",
        "primitiveSocketSendDataBufCount",
        "primitiveSocketReceiveDataBufCount",
        "primitiveSocketCloseConnection",
        "primitiveSocketDestroy",
    ]
    rest = iter(traced)
    assert all(name in rest for name in essential), traced  # in this order
    for transition in (
        "socket#1 new → Unconnected (CREATE_STREAM",
        "socket#1 Unconnected → Connected (CONNECT_SYNC",
        "socket#1 Connected → ThisEndClosed (CLOSE_BEGIN",
        "socket#1 ThisEndClosed → Unconnected (CLOSE_DONE",
    ):
        assert transition in out, transition
    assert f"primitiveSocketConnectTo(socket#1, unix:{path}) …" in out
    assert "bytes[22] 'Hello, from Smalltalk!'" in out
    assert "poll " in out and "signal semaphore" in out
    # the example's own transcript is still there, between the trace lines
    assert "7. Transcript: Hello, from Smalltalk!" in lines


def test_trace_json_owns_stdout(sockdir: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = os.path.join(sockdir, "echo.sock")
    with UnixEchoServer(path):
        assert cli.main(["trace", "--json", "--", "example", "workspace", "--path", path]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert {r["kind"] for r in records} >= {"call", "answer", "state", "signal", "poll"}
    connect = next(r for r in records if r.get("primitive") == "primitiveSocketConnectTo")
    assert connect["args"] == ["socket#1", f"unix:{path}"]
    assert "7. Transcript: Hello, from Smalltalk!" in captured.err


def test_trace_to_a_file_with_busy_polls_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "demo.trace"
    assert cli.main(["trace", "--output", str(output), "--polls", "busy", "--", "demo"]) == 0
    assert "demo passed" in capsys.readouterr().out
    text = output.read_text()
    assert "ACCEPT_QUEUED" in text  # the Smalltalk-side server's accepts
    assert "no handler ran" not in text
    assert re.search(r"poll (idle|periodic).*: \d+ handlers? ran", text)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["trace"], "one of example, demo (none given)"),
        (["trace", "--"], "one of example, demo (none given)"),
        (["trace", "--", "serve", "echo"], "one of example, demo (not 'serve')"),
        (["trace", "--polls", "some", "--", "demo"], "invalid choice: 'some'"),
        (["trace", "--", "example", "nonsense"], "invalid choice: 'nonsense'"),
        (["trace", "--output", "/nonexistent-dir/x", "--", "demo"], "cannot write the trace"),
    ],
)
def test_trace_usage_errors(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and says in errors[0], err


def test_trace_of_a_failing_example_exits_1(sockdir: str) -> None:
    missing = os.path.join(sockdir, "none.sock")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqsocket",
            "trace",
            "--",
            "example",
            "workspace",
            "--path",
            missing,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "primitiveResolverGetAddressInfoSize() → -1" in proc.stdout
    assert "error: no socket at" in proc.stderr and "Traceback" not in proc.stderr


# -- conformance --trace --------------------------------------------------------------------


def test_conformance_trace_emulator_only(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["conformance", "--emulator-only", "--trace", "connect-abstract-full-sockaddr"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "setup (SqConf setUp" in out
    assert "step 4: primitiveSocketConnectTo(s, ta)" in out
    # the step's trace: the padded name the full-length address carries, then the refusal
    assert re.search(r"primitiveSocketConnectTo\(socket#2, unix:@sqc-\w+-tight \(\+\d+ NULs", out)
    assert "socket#2 Unconnected → Unconnected (CONNECT_ERROR" in out
    assert "socket#3 Unconnected → Connected (CONNECT_SYNC" in out
    steps = out.split("\nstep ")
    assert steps[5].startswith("5: primitiveSocketConnectionStatus(s)")
    assert steps[5].rstrip().endswith("= 0")
    assert "(the step records nothing)" in steps[2]  # AbstractNameAddress


def test_conformance_trace_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["conformance", "--emulator-only", "--json", "--trace", "socket-access"]) == 0
    data = json.loads(capsys.readouterr().out)
    (step,) = data["steps"]
    assert step["emulator"] == "true" and step["vm"] is None
    assert [e["kind"] for e in step["trace"]][-2:] == ["call", "answer"]
    assert step["trace"][-1]["primitive"] == "primitiveHasSocketAccess"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--trace", "no-such-scenario"], "--trace takes one scenario name"),
        (["--trace", "socket-access", "--repeat", "2"], "no --scenario/--repeat"),
        (["--trace", "socket-access", "--scenario", "options"], "no --scenario/--repeat"),
    ],
)
def test_conformance_trace_usage_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["conformance", "--emulator-only", *argv])
    assert exited.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.squeakvm
def test_conformance_trace_beside_the_vm(
    squeak_vm: Path, squeak_image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        [
            "conformance",
            "--vm",
            str(squeak_vm),
            "--image",
            str(squeak_image),
            "--trace",
            "connect-abstract-full-sockaddr",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 difference(s)" in out
    steps = out.split("\nstep ")
    # both sides' values for the refused and the accepted connection
    assert steps[5].rstrip().endswith("= 0 | 0")
    assert steps[10].startswith("10: AwaitStatus") and steps[10].rstrip().endswith("= 2 | 2")
