"""The interop matrix: the emulator and the real VM against the Python servers, and back.

The squeak-vm rows need Debian's squeak-vm and the input image: they skip on a
machine without them (saying what is missing) and fail in CI, where both are there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from process_support import run_ok

from sqsocket.interop import matrix


@pytest.fixture
def vm_image(squeak_vm: Path, squeak_image: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SQSOCKET_IMAGE", str(squeak_image))
    monkeypatch.setenv("SQSOCKET_SQUEAKVM", str(squeak_vm))
    return squeak_image


@pytest.mark.parametrize("pair,fn", matrix.EMULATOR_ROWS, ids=[p for p, _ in matrix.EMULATOR_ROWS])
def test_emulator_rows(pair: str, fn: object) -> None:
    row = matrix._timed(pair, lambda: fn(10.0))  # type: ignore[operator]
    assert row.ok, row.detail


@pytest.mark.squeakvm
@pytest.mark.parametrize("pair,fn", matrix.VM_ROWS, ids=[p for p, _ in matrix.VM_ROWS])
def test_squeak_vm_rows(pair: str, fn: object, vm_image: Path) -> None:
    row = matrix._timed(pair, lambda: fn(20.0))  # type: ignore[operator]
    assert row.ok, row.detail


def test_a_failing_row_is_reported_not_raised() -> None:
    def boom() -> str:
        raise ConnectionRefusedError("nobody there")

    row = matrix._timed("x -> y", boom)
    assert not row.ok
    assert "ConnectionRefusedError: nobody there" in row.detail
    text = matrix.render([row, matrix.Row("a -> b", True, 0.1, "fine")])
    assert "FAIL" in text and "1 ok, 1 failed" in text


@pytest.mark.squeakvm
def test_interop_command_prints_the_table(vm_image: Path) -> None:
    proc = run_ok([sys.executable, "-m", "sqsocket", "interop", "--timeout", "20"], timeout=180)
    for pair, _fn in matrix.EMULATOR_ROWS + matrix.VM_ROWS:
        assert pair in proc.stdout
    assert "8 ok, 0 failed" in proc.stdout
