"""The real VM through the proxy: Debian's squeak-vm runs the workspace example
(``sqsocket vm run images/squeak/workspace.st PATH``) against a Python echo server,
with the proxy in between.

Skipped (failed in CI) without squeak-vm or the input image; see squeak_support.

What the slicer shows: ``workspace.st`` calls ``receiveData`` once, and a stream has no
message boundaries, so through a slicer with pauses it prints only what had arrived --
usually the first 7-byte piece. ``tcp_client.st`` loops until the whole echo came and
prints all of it. ``down:stall:after=7`` makes the first case deterministic.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from squeak_support import SMALLTALK_DIR, VM_TIMEOUT, short_tmpdir

from sqsocket.proxy import Direction, Latency, Proxy, Slicer, Stall
from sqsocket.servers import UnixEchoServer
from sqsocket.servers.address import UnixAddress, parse_ready_line
from sqsocket.squeak import runner

pytestmark = [pytest.mark.squeakvm, pytest.mark.timeout(180)]

HELLO = "Hello, from Smalltalk!"


def vm_run(vm: Path, image: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``sqsocket vm run SCRIPT ARGS`` with this session's VM and image."""
    command = [sys.executable, "-m", "sqsocket", "vm", "run", "--vm", str(vm)]
    command += ["--image", str(image), str(SMALLTALK_DIR / script), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=VM_TIMEOUT + 30, check=False
    )


@contextmanager
def echo_and_dir() -> Iterator[tuple[UnixEchoServer, Path]]:
    with short_tmpdir() as tmp, UnixEchoServer(str(tmp / "echo")) as echo:
        yield echo, tmp


@contextmanager
def proxy_command(*args: str) -> Iterator[str]:
    """``sqsocket proxy ARGS`` as a subprocess; answers the path from its ready line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqsocket", "proxy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        _kind, address = parse_ready_line(proc.stdout.readline())
        assert isinstance(address, UnixAddress)
        yield address.path
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0


def test_workspace_example_through_the_latency_fault(squeak_vm: Path, squeak_image: Path) -> None:
    with echo_and_dir() as (echo, tmp):
        assert echo.path is not None
        with proxy_command(str(tmp / "px"), echo.path, "--fault", "latency:ms=200") as path:
            started = time.monotonic()
            result = vm_run(squeak_vm, squeak_image, "workspace.st", path)
            elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout == HELLO + "\n"
    assert elapsed >= 0.39  # 200 ms each way


def test_workspace_example_through_the_slicer(squeak_vm: Path, squeak_image: Path) -> None:
    """The echo arrives in 7-byte pieces 5 ms apart; the example's one ``receiveData``
    prints what had arrived by then (a whole number of pieces, usually one)."""
    with (
        echo_and_dir() as (echo, tmp),
        Proxy(echo.address, str(tmp / "px"), faults=[Slicer(7, ms=5)]) as p,
    ):
        assert p.path is not None
        result = vm_run(squeak_vm, squeak_image, "workspace.st", p.path)
        assert p.wait_until(lambda q: q.stats().closed == 1, VM_TIMEOUT)
        info = p.connections()[-1]
    assert result.returncode == 0, result.stderr
    printed = result.stdout.removesuffix("\n")
    assert printed and HELLO.startswith(printed)
    assert len(printed) % 7 == 0 or printed == HELLO
    # the VM closes after its one receive, so the rest of the echo may meet a closed socket
    assert info.up.read == len(HELLO) and info.up.largest_write <= 7
    assert info.down.writes >= 1 and info.down.largest_write <= 7


def test_workspace_example_prints_only_what_one_receive_got(
    squeak_vm: Path, squeak_image: Path
) -> None:
    """The deterministic form of the slicer's lesson: 7 bytes, then nothing more."""
    with echo_and_dir() as (echo, tmp):
        faults = [Stall(after=7, direction=Direction.DOWN)]
        with Proxy(echo.address, str(tmp / "px"), faults=faults) as p:
            assert p.path is not None
            result = vm_run(squeak_vm, squeak_image, "workspace.st", p.path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, \n"


def test_tcp_client_through_the_slicer_prints_the_whole_echo(
    squeak_vm: Path, squeak_image: Path
) -> None:
    """tcp_client.st (the example over TCP) receives until the message is complete:
    TCP into the proxy, Unix-domain out to the echo server."""
    with (
        echo_and_dir() as (echo, _tmp),
        Proxy(echo.address, "tcp:127.0.0.1:0", faults=[Slicer(7, ms=5)]) as p,
    ):
        assert p.port is not None
        result = runner.run_script(
            SMALLTALK_DIR / "tcp_client.st",
            [str(p.port)],
            VM_TIMEOUT,
            vm=squeak_vm,
            image=squeak_image,
        )
        assert p.wait_until(lambda q: q.stats().closed == 1, VM_TIMEOUT)
        info = p.connections()[-1]
    assert result.ok, result.describe()
    assert result.stdout == HELLO + "\n"
    assert info.down.writes >= 4 and info.down.largest_write <= 7


def test_workspace_example_through_latency_in_process(squeak_vm: Path, squeak_image: Path) -> None:
    """The same as the first test with the Python API, checking what the proxy saw."""
    with (
        echo_and_dir() as (echo, tmp),
        Proxy(echo.address, str(tmp / "px"), faults=[Latency(100, jitter=50)], seed=1) as p,
    ):
        assert p.path is not None
        result = vm_run(squeak_vm, squeak_image, "workspace.st", p.path)
        assert p.wait_until(lambda q: q.stats().closed == 1, VM_TIMEOUT)
        stats = p.stats()
    assert result.returncode == 0, result.stderr
    assert result.stdout == HELLO + "\n"
    assert stats.bytes_up == stats.bytes_down == len(HELLO) and stats.reasons == {"done": 1}
