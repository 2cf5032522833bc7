"""``sqsocket vm run`` passes the VM's output through as bytes, not as decoded text.

A Squeak image's strings are bytes (Latin-1 in this one), not UTF-8: every byte the
VM writes, 0x80..0xff included, must reach our stdout and stderr unchanged, not as
U+FFFD. A fake VM (a shell script, runs everywhere) and the real one (squeak-vm).
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sqsocket.squeak import runner

HIGH_BYTES = bytes(range(0x80, 0x100))
# A command's output in a subprocess: bounded, the VM itself is bounded by --timeout.
RUN_TIMEOUT = 60.0


def _printf_escapes(data: bytes) -> str:
    return "".join(f"\\{byte:03o}" for byte in data)


def _vm_run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sqsocket", "vm", "run", "--timeout", "30", *argv],
        capture_output=True,
        timeout=RUN_TIMEOUT,
    )


def test_a_fake_vms_high_bytes_reach_stdout_and_stderr_unchanged(tmp_path: Path) -> None:
    vm = tmp_path / "fake-squeakvm"
    escapes = _printf_escapes(HIGH_BYTES)
    vm.write_text(f"#!/bin/sh\nprintf '{escapes}'\nprintf 'err:{escapes}' >&2\n")
    vm.chmod(vm.stat().st_mode | stat.S_IXUSR)
    image = tmp_path / "fake.image"
    image.write_bytes(b"\0" * 64)
    script = tmp_path / "script.st"
    script.write_text("nil!\n")
    proc = _vm_run("--vm", str(vm), "--image", str(image), str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == HIGH_BYTES
    assert proc.stderr == b"err:" + HIGH_BYTES
    # the runner keeps the bytes; its text view is for matching and messages only
    result = runner.run_script(script, [], 30.0, vm=vm, image=image)
    assert result.stdout_bytes == HIGH_BYTES
    assert result.stdout == HIGH_BYTES.decode("utf-8", "replace")


@pytest.mark.squeakvm
def test_the_real_vms_latin1_string_reaches_stdout_unchanged(
    squeak_vm: Path, squeak_image: Path, tmp_path: Path
) -> None:
    script = tmp_path / "high.st"
    script.write_text(
        "| s | s := String new: 128. "
        "1 to: 128 do: [:i | s at: i put: (Character value: 127 + i)]. "
        "Transcript show: s!\n"
    )
    proc = _vm_run("--vm", str(squeak_vm), "--image", str(squeak_image), str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == HIGH_BYTES
