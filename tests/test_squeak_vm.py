"""The real VM: Debian's squeak-vm running scripts in the built headless image.

Skipped (failed in CI) without squeak-vm or the input image; see squeak_support.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from squeak_support import (
    SMALLTALK_DIR,
    VM_TIMEOUT,
    EchoServer,
    echo_client,
    short_tmpdir,
)

from sqsocket.cli import main
from sqsocket.plugin.exports import EXPORTED_PRIMITIVES
from sqsocket.squeak import builder, runner
from sqsocket.squeak.imagefile import SqueakImage

pytestmark = pytest.mark.squeakvm


# run(source, *args, timeout=...): write a script, run it, answer the VMResult.
Run = Callable[..., runner.VMResult]


@pytest.fixture
def run(squeak_vm: Path, squeak_image: Path, tmp_path: Path) -> Run:
    """Write a script with the given source, run it with the given args."""

    def run_source(source: str, *args: str, timeout: float = VM_TIMEOUT) -> runner.VMResult:
        script = tmp_path / "script.st"
        script.write_text(source, encoding="latin-1")
        return runner.run_script(script, list(args), timeout, vm=squeak_vm, image=squeak_image)

    return run_source


def test_hello(run: Run) -> None:
    result = run("Transcript show: 'hello'; cr.\nTranscript show: (3 + 4) printString; cr!\n")
    assert result.ok, result.describe()
    assert result.stdout == "hello\n7\n"
    assert result.stderr == ""
    assert result.elapsed < 5


def test_arguments(run: Run) -> None:
    result = run(
        "Transcript show: (Smalltalk getSystemAttribute: 3); cr.\n"
        "Transcript show: (SqBoot argumentAt: 2); cr.\n"
        "Transcript print: SqBoot arguments size; cr.\n"
        "Transcript print: (Smalltalk getSystemAttribute: 5); cr!\n",
        "first",
        "second arg",
    )
    assert result.ok, result.describe()
    assert result.stdout == "first\nsecond arg\n2\nnil\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("self error: 'boom'!\n", "Error: boom"),
        ("3 zork!\n", "Error: Message not understood: zork"),
        ("3 + !\n", "syntax error in UndefinedObject"),
        ("!Object methodsFor: 'x'!\nzork\n\t^3 +\n! !\n", "syntax error in Object"),
        ("SqBoot fail: 'given up'!\n", "Error: given up"),
        ("SqSocketPlugin primSocketError: (ByteArray new: 3)!\n", "primitiveSocketError failed"),
        ("(Array new: 2) at: 5!\n", "Error:"),
        ("self halt!\n", "Halt"),
        ("self confirm: 'sure?'!\n", "a menu would open"),
        ("FillInTheBlank request: 'name?'!\n", "input requested"),
    ],
)
def test_errors_exit_non_zero_with_a_report(run: Run, source: str, message: str) -> None:
    result = run("Transcript show: 'before'; cr!\n" + source + "Transcript show: 'after'; cr!\n")
    assert not result.timed_out, result.describe()
    assert result.exit_status == runner.FAILURE_STATUS, result.describe()
    assert message in result.stderr
    assert "While filing in:" in result.stderr
    assert result.stdout == "before\n"


def test_error_in_a_forked_process(run: Run) -> None:
    result = run("[nil foo] fork.\nSqBoot sleep: 2000.\nTranscript show: 'not reached'; cr!\n")
    assert result.exit_status == runner.FAILURE_STATUS, result.describe()
    assert "Message not understood: foo" in result.stderr
    assert "not reached" not in result.stdout


def test_try_if_fail_and_at_exit(run: Run, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    marker.write_text("x")
    result = run(
        "| r |\n"
        "SqBoot atExit: [SqBoot deleteFile: (SqBoot argumentAt: 1)].\n"
        "r := SqBoot try: [3 zork] ifFail: [:message | message].\n"
        "Transcript show: r; cr.\n"
        "r := SqBoot try: [3 + 4] ifFail: [:message | message].\n"
        "Transcript print: r; cr.\n"
        "3 zork!\n",
        str(marker),
    )
    assert result.exit_status == runner.FAILURE_STATUS, result.describe()
    assert result.stdout == "Message not understood: zork\n7\n"
    assert not marker.exists()


def test_timeout_kills_the_vm(run: Run) -> None:
    result = run("Transcript show: 'spinning'; cr.\n[true] whileTrue: []!\n", timeout=2)
    assert result.timed_out
    assert not result.ok
    assert result.stdout == "spinning\n"
    assert 2 <= result.elapsed < 10


def test_wait_on_semaphore_times_out(run: Run) -> None:
    result = run(
        "| s t0 got |\n"
        "s := Semaphore new.\n"
        "t0 := Time millisecondClockValue.\n"
        "got := SqBoot waitOn: s ms: 200.\n"
        "Transcript print: got; show: ' '; print: (Time millisecondClockValue - t0) >= 190; cr.\n"
        "[SqBoot sleep: 50. s signal] fork.\n"
        "got := SqBoot waitOn: s ms: 5000.\n"
        "Transcript print: got; cr!\n"
    )
    assert result.ok, result.describe()
    assert result.stdout == "false true\ntrue\n"


def test_missing_script_is_a_vm_error(squeak_vm: Path, squeak_image: Path) -> None:
    with pytest.raises(runner.SqueakVMError, match="script not found"):
        runner.run_script("/nonexistent/x.st", vm=squeak_vm, image=squeak_image)


def test_missing_vm_and_image_errors(tmp_path: Path, squeak_image: Path) -> None:
    script = tmp_path / "s.st"
    script.write_text("nil!")
    with pytest.raises(runner.VMNotFound, match="apt-get install squeak-vm"):
        runner.run_script(script, vm=tmp_path / "no-vm", image=squeak_image)
    # the image is checked whether or not a VM is installed: give it a stand-in VM
    fake_vm = tmp_path / "squeakvm"
    fake_vm.write_text("#!/bin/sh\nexit 0\n")
    fake_vm.chmod(0o755)
    with pytest.raises(runner.ImageNotFound, match="sqsocket image build"):
        runner.run_script(script, vm=fake_vm, image=tmp_path / "none.image")


def test_all_socket_primitives_are_defined(run: Run) -> None:
    result = run(
        "SqSocketPlugin primitives do: [:each |\n"
        "\tTranscript show: each key; show: ' '; show: each value; cr].\n"
        "#(port port:) do: [:each |\n"
        "\t(SocketAddress includesSelector: each) ifTrue: [Transcript show: each; cr]]!\n"
    )
    assert result.ok, result.describe()
    lines = result.stdout.splitlines()
    assert lines[-2:] == ["port", "port:"]
    pairs = [line.split() for line in lines[:-2]]
    names = {prim for _, prim in pairs} | {
        "primitiveSocketAddressGetPort",
        "primitiveSocketAddressSetPort",
    }
    assert names == set(EXPORTED_PRIMITIVES)
    assert len(pairs) == len({sel for sel, _ in pairs}) == 61


def test_simple_primitives_answer(run: Run) -> None:
    result = run(
        "Socket initializeNetwork.\n"
        "Transcript print: SqSocketPlugin primitiveHasSocketAccess; cr.\n"
        "Transcript print: SqSocketPlugin primNameResolverStatus; cr.\n"
        "Transcript show: NetNameResolver localHostName; cr!\n"
    )
    assert result.ok, result.describe()
    assert result.stdout.splitlines() == ["true", "1", socket.gethostname()]


def test_built_local_address_equals_the_resolvers(run: Run) -> None:
    """SocketAddress forLocalPath: lays out what the resolver answers for a socket."""
    with short_tmpdir() as tmp:
        path = tmp / "s.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        try:
            result = run(
                "| path built resolved |\n"
                "path := SqBoot argumentAt: 1.\n"
                "built := SocketAddress forLocalPath: path.\n"
                "resolved := NetNameResolver addressForLocalPath: path.\n"
                "Transcript print: built size; show: ' '; print: built = resolved; show: ' ';"
                " print: built family; show: ' '; show: built pathName; cr!\n",
                str(path),
            )
        finally:
            listener.close()
    assert result.ok, result.describe()
    assert result.stdout == f"118 true 1 {path}\n"


@pytest.mark.parametrize("name_length", [1, 2, 3, 4])
def test_workspace_example_against_python_echo_server(
    squeak_vm: Path, squeak_image: Path, name_length: int
) -> None:
    """Every path length modulo 4: the plugin stat()s the path as if NUL-terminated,
    which the String only is when its length is not a multiple of 4 (workspace.st
    appends a NUL)."""
    with short_tmpdir() as tmp:
        path = tmp / ("s" * name_length)
        server = EchoServer(path)
        try:
            result = runner.run_script(
                SMALLTALK_DIR / "workspace.st",
                [str(path)],
                VM_TIMEOUT,
                vm=squeak_vm,
                image=squeak_image,
            )
        finally:
            server.close()
    assert result.ok, result.describe()
    assert result.stdout == "Hello, from Smalltalk!\n"
    assert server.received == [b"Hello, from Smalltalk!"]
    assert server.error is None


def test_workspace_without_server_fails(squeak_vm: Path, squeak_image: Path) -> None:
    with short_tmpdir() as tmp:
        result = runner.run_script(
            SMALLTALK_DIR / "workspace.st",
            [str(tmp / "nobody-here")],
            VM_TIMEOUT,
            vm=squeak_vm,
            image=squeak_image,
        )
    assert result.exit_status == runner.FAILURE_STATUS, result.describe()
    assert "the resolver found no address" in result.stderr


def test_uds_server_answers_python_clients(squeak_vm: Path, squeak_image: Path) -> None:
    with short_tmpdir() as tmp:
        path = tmp / "srv.sock"
        with runner.start_script(
            SMALLTALK_DIR / "uds_server.st", [str(path), "3"], vm=squeak_vm, image=squeak_image
        ) as server:
            assert server.wait_for_line("READY", VM_TIMEOUT) == f"READY {path}"
            payloads = [b"ping", bytes(range(256)) * 200, b"Hello, from Python!"]
            for payload in payloads:
                assert echo_client(path, payload) == payload
            result = server.finish(VM_TIMEOUT)
        assert not path.exists()
    assert result.ok, result.describe()
    assert result.stdout.splitlines() == [
        f"READY {path}",
        "SERVED 1",
        "SERVED 2",
        "SERVED 3",
        "DONE",
    ]


def test_uds_server_times_out_and_cleans_up(squeak_vm: Path, squeak_image: Path) -> None:
    with short_tmpdir() as tmp:
        path = tmp / "srv.sock"
        result = runner.run_script(
            SMALLTALK_DIR / "uds_server.st",
            [str(path), "1", "300"],
            VM_TIMEOUT,
            vm=squeak_vm,
            image=squeak_image,
        )
        assert not path.exists()
    assert result.exit_status == runner.FAILURE_STATUS, result.describe()
    assert "no connection to accept within 300 ms" in result.stderr


def test_vm_process_reports_early_exit(squeak_vm: Path, squeak_image: Path, tmp_path: Path) -> None:
    script = tmp_path / "quick.st"
    script.write_text("Transcript show: 'bye'; cr!\n")
    with runner.start_script(script, vm=squeak_vm, image=squeak_image) as proc:
        with pytest.raises(TimeoutError, match="the VM exited"):
            proc.wait_for_line("READY", VM_TIMEOUT)
        assert proc.finish(VM_TIMEOUT).stdout == "bye\n"


def test_killed_group_leaves_no_vm(squeak_vm: Path, squeak_image: Path, tmp_path: Path) -> None:
    script = tmp_path / "spin.st"
    script.write_text("Transcript show: 'READY'; cr.\n[true] whileTrue: []!\n")
    with runner.start_script(script, vm=squeak_vm, image=squeak_image) as proc:
        proc.wait_for_line("READY", VM_TIMEOUT)
        pid = proc.pid
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # signal 0: does the process group still exist?


def test_little_endian_image_runs(
    squeak_vm: Path, squeak_source_image: Path, tmp_path: Path
) -> None:
    """The VM byte-swaps a little-endian image on load: the swap is done right."""
    little = tmp_path / "little.image"
    data, _ = builder.build_bytes(
        SqueakImage.from_bytes(squeak_source_image.read_bytes()).to_bytes("little")
    )
    little.write_bytes(data)
    script = tmp_path / "s.st"
    script.write_text("Transcript show: 'little ' , (6 * 7) printString; cr!\n")
    result = runner.run_script(script, [], VM_TIMEOUT, vm=squeak_vm, image=little)
    assert result.ok, result.describe()
    assert result.stdout == "little 42\n"


def test_cli_vm_run(
    squeak_vm: Path, squeak_image: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "s.st"
    script.write_text("Transcript show: (SqBoot argumentAt: 1); cr!\n")
    argv = ["vm", "run", "--vm", str(squeak_vm), "--image", str(squeak_image), str(script)]
    assert main([*argv, "--flag-like-arg"]) == 0
    assert capfd.readouterr().out == "--flag-like-arg\n"
    script.write_text("nil foo!\n")
    assert main(argv) == runner.FAILURE_STATUS
    assert "Message not understood: foo" in capfd.readouterr().err
    script.write_text("[true] whileTrue: []!\n")
    assert main([*argv[:2], "--timeout", "1", *argv[2:]]) == runner.TIMEOUT_STATUS
    assert "killed after 1 s" in capfd.readouterr().err
    assert main(["vm", "run", "--image", str(tmp_path / "none.image"), str(script)]) == 1
    assert "sqsocket image build" in capfd.readouterr().err
