"""Run a Smalltalk script in Debian's squeak-vm with the headless image.

``squeakvm -vm-display-null -vm-sound-null IMAGE SCRIPT ARGS...``: the image's start-up
(see :mod:`sqsocket.squeak.builder`) files in SCRIPT, whose own arguments it reads
with ``Smalltalk getSystemAttribute: 3``, ``4``, ... Exit status 0 means the script
ran to the end; a Smalltalk error prints a report on stderr and ends the VM with
SIGTERM, i.e. exit status 143 (the VM has no quit-with-status primitive).

Every run has a timeout: the VM runs in its own process group, which is killed when
time is up, and the output so far is kept.

A VM killed by any other signal crashed (:attr:`VMResult.crashed`). The VM catches its
own SIGSEGV, prints "Segmentation fault" and the Smalltalk call stack on *stdout* and
calls abort(): a crash ends with SIGABRT (exit status 134). abort() does not flush
stdio, and stdout to a pipe is fully buffered, so that report used to be lost; the VM
therefore runs under ``stdbuf -oL`` (coreutils) when it is installed, which makes its
stdout line-buffered.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqsocket.squeak import paths

HEADLESS_OPTIONS: tuple[str, ...] = ("-vm-display-null", "-vm-sound-null")
# Exit status the VM ends with when a script fails (SIGTERM sent to itself).
FAILURE_STATUS = 128 + signal.SIGTERM
TIMEOUT_STATUS = 124  # as timeout(1) reports it
# The VM's own SIGSEGV handler ends in abort(): what a crash usually looks like.
CRASH_STATUS = 128 + signal.SIGABRT
# Run the VM with a line-buffered stdout, so what it prints before abort() survives.
LINE_BUFFERING: tuple[str, ...] = ("-oL",)


class SqueakVMError(RuntimeError):
    """The real VM cannot be run: binary, image or script missing."""


class VMNotFound(SqueakVMError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "squeak-vm not found"
            + (f" ({detail})" if detail else "")
            + f"; {paths.INSTALL_VM_HINT} (or pass --vm / set SQSOCKET_SQUEAKVM)"
        )


class ImageNotFound(SqueakVMError):
    def __init__(self, image: Path) -> None:
        super().__init__(f"headless image not found: {image}; {paths.BUILD_IMAGE_HINT}")
        self.image = image


def signal_name(number: int) -> str:
    """``SIGABRT`` for 6; ``signal 99`` for a number Python does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def crash_description(returncode: int) -> str | None:
    """``squeak-vm crashed: SIGABRT (exit -6/134)`` when ``returncode`` (as
    :attr:`subprocess.Popen.returncode`: -N for signal N) means the VM crashed, else
    None. SIGTERM is not a crash: it is how a failing script ends the VM (prelude.st).
    The caller must not pass a status from a kill of its own (e.g. at a timeout)."""
    if returncode >= 0 or -returncode == signal.SIGTERM:
        return None
    number = -returncode
    return f"squeak-vm crashed: {signal_name(number)} (exit {returncode}/{128 + number})"


@dataclass(frozen=True)
class VMResult:
    """How one VM run ended.

    ``exit_status`` is shell-style: a VM killed by signal N reports 128+N (143 for a
    script error, 137 when killed at the timeout, 134 for a crash). ``killed_by`` is
    the signal that ended the VM when the runner did not send it (a timeout kill is
    ``timed_out``, not ``killed_by``). The output is kept as the VM wrote it, bytes
    (``stdout_bytes``; the image's strings are Latin-1 or whatever it chose, not
    UTF-8); ``stdout`` and ``stderr`` are those bytes as UTF-8 text, undecodable bytes
    replaced, for matching and messages.
    """

    exit_status: int
    stdout_bytes: bytes
    stderr_bytes: bytes
    elapsed: float  # seconds from start to exit
    timed_out: bool
    command: tuple[str, ...]
    killed_by: int | None = None

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out

    @property
    def crashed(self) -> bool:
        """Killed by a signal other than the SIGTERM a failing script sends itself."""
        return self.crash_description is not None

    @property
    def crash_description(self) -> str | None:
        """``squeak-vm crashed: SIGABRT (exit -6/134)``, or None if it did not crash."""
        if self.killed_by is None or self.timed_out:
            return None
        return crash_description(-self.killed_by)

    def state(self) -> str:
        """How it ended, in a few words: crashed (with the signal), timed out, exit N."""
        if self.timed_out:
            return "timed out"
        return self.crash_description or f"exit status {self.exit_status}"

    def describe(self) -> str:
        """A one-paragraph summary for assertion messages and logs."""
        return (
            f"{' '.join(self.command)}: {self.state()} after {self.elapsed:.3f}s\n"
            f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"
        )


def _shell_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _killed_by(returncode: int, killed_here: bool) -> int | None:
    """The signal that ended the VM, unless this module sent it."""
    return -returncode if returncode < 0 and not killed_here else None


def line_buffering_prefix() -> list[str]:
    """``stdbuf -oL`` when coreutils' stdbuf is installed, else nothing (see the module
    docstring: the VM's crash report goes to stdout just before abort())."""
    stdbuf = shutil.which("stdbuf")
    return [stdbuf, *LINE_BUFFERING] if stdbuf else []


def vm_command(
    script: Path | str,
    args: Sequence[str] = (),
    *,
    vm: Path | str | None = None,
    image: Path | str | None = None,
) -> list[str]:
    """The argv for running ``script``; checks that VM, image and script exist.

    It starts with ``stdbuf -oL`` where stdbuf is installed (see the module docstring).
    """
    binary = paths.find_vm(vm)
    if binary is None:
        raise VMNotFound(f"no executable at {vm}" if vm is not None else "")
    image_path = Path(image) if image is not None else paths.default_image()
    if not image_path.is_file():
        raise ImageNotFound(image_path)
    script_path = Path(script)
    if not script_path.is_file():
        raise SqueakVMError(f"script not found: {script_path}")
    # Absolute paths: the VM resolves relative ones against its own working directory.
    return [
        *line_buffering_prefix(),
        str(binary),
        *HEADLESS_OPTIONS,
        str(image_path.resolve()),
        str(script_path.resolve()),
        *args,
    ]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_script(
    script: Path | str,
    args: Sequence[str] = (),
    timeout: float = 30.0,
    *,
    vm: Path | str | None = None,
    image: Path | str | None = None,
    cwd: Path | str | None = None,
) -> VMResult:
    """Run ``script`` to completion (or ``timeout`` seconds) and answer the result."""
    command = vm_command(script, args, vm=vm, image=image)
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        start_new_session=True,  # its own process group, killed as a whole on timeout
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        # The pipes close once the group is dead, so this returns promptly.
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait(timeout=10)
    return VMResult(
        exit_status=_shell_status(proc.returncode),
        stdout_bytes=out,
        stderr_bytes=err,
        elapsed=time.perf_counter() - started,
        timed_out=timed_out,
        command=tuple(command),
        killed_by=_killed_by(proc.returncode, killed_here=timed_out),
    )


class VMProcess:
    """A VM running in the background (a server script), with its output collected.

    Use as a context manager; leaving the block kills the VM if it still runs::

        with start_script(server_st, [path, "2"]) as server:
            server.wait_for_line("READY", timeout=10)
            ...  # talk to it
            result = server.finish(timeout=10)
    """

    def __init__(self, command: list[str], cwd: Path | str | None = None) -> None:
        self.command = tuple(command)
        self.started = time.perf_counter()
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
        )
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(self._proc.stdout, self._stdout, True)),
            threading.Thread(target=self._pump, args=(self._proc.stderr, self._stderr, False)),
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()
        self._timed_out = False
        self._killed_here = False  # kill() or the timeout in finish() ended it

    def _pump(self, stream: IO[bytes], sink: list[bytes], feed: bool) -> None:
        for raw in iter(stream.readline, b""):
            sink.append(raw)
            if feed:
                self._lines.put(raw.decode("utf-8", "replace"))
        if feed:
            self._lines.put(None)  # end of stdout

    @property
    def pid(self) -> int:
        return self._proc.pid

    def poll(self) -> int | None:
        return self._proc.poll()

    def wait_for_line(self, prefix: str, timeout: float) -> str:
        """The first (next) stdout line starting with ``prefix``; raises TimeoutError,
        with the output so far, when none comes in time or the VM exits first."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._waiting_error(prefix, f"no such line within {timeout}s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise self._waiting_error(prefix, "the VM exited")
            if line.startswith(prefix):
                return line.rstrip("\n")

    def _waiting_error(self, prefix: str, why: str) -> TimeoutError:
        return TimeoutError(
            f"waiting for a line {prefix!r} from the VM: {why}\n"
            f"--- stdout ---\n{b''.join(self._stdout).decode('utf-8', 'replace')}"
            f"--- stderr ---\n{b''.join(self._stderr).decode('utf-8', 'replace')}"
        )

    def finish(self, timeout: float) -> VMResult:
        """Wait for the VM to exit (killing it after ``timeout``) and answer the result."""
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._timed_out = True
            self._killed_here = True
            _kill_group(self._proc)
            self._proc.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=10)
        return VMResult(
            exit_status=_shell_status(self._proc.returncode),
            stdout_bytes=b"".join(self._stdout),
            stderr_bytes=b"".join(self._stderr),
            elapsed=time.perf_counter() - self.started,
            timed_out=self._timed_out,
            command=self.command,
            killed_by=_killed_by(self._proc.returncode, killed_here=self._killed_here),
        )

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._killed_here = True
            _kill_group(self._proc)
            self._proc.wait(timeout=10)

    def __enter__(self) -> VMProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
        for reader in self._readers:
            reader.join(timeout=10)


def start_script(
    script: Path | str,
    args: Sequence[str] = (),
    *,
    vm: Path | str | None = None,
    image: Path | str | None = None,
    cwd: Path | str | None = None,
) -> VMProcess:
    """Start ``script`` in the background; see :class:`VMProcess`."""
    return VMProcess(vm_command(script, args, vm=vm, image=image), cwd=cwd)
