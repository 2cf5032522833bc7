"""sqsocket.ui: one table look everywhere, plain in logs; progress lines on stderr."""

from __future__ import annotations

import io
import os
import pty
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import pytest

from sqsocket import ui

COLUMNS = ("pair", ui.Column("result", status=True), ui.Column("seconds", ui.Justify.RIGHT))
ROWS = [("emulator -> echo", "ok", "0.12"), ("[BROKEN] :x: x", "FAIL", "10.50")]
ANSI = re.compile(r"\x1b\[")


@contextmanager
def _terminal() -> Iterator[TextIO]:
    """A text stream on a pseudo-terminal, as a user's shell gives one."""
    main, secondary = pty.openpty()
    try:
        with os.fdopen(secondary, "w", encoding="utf-8") as tty:
            yield tty
    finally:
        os.close(main)


def test_a_plain_table_is_ascii_aligned_and_unstyled() -> None:
    text = ui.render_table(COLUMNS, ROWS, stream=io.StringIO())
    assert text.splitlines() == [
        "pair              result  seconds",
        "----------------- ------- -------",
        "emulator -> echo  ok         0.12",
        "[BROKEN] :x: x    FAIL      10.50",  # data, not markup or emoji
    ]
    assert text.isascii() and not ANSI.search(text)


def test_a_plain_table_is_never_wrapped() -> None:
    long = "x" * 500
    text = ui.render_table(("a", "b"), [("1", long)], stream=io.StringIO())
    assert text.splitlines()[-1] == f"1  {long}"


def test_a_column_can_cut_its_cells_and_keep_its_width() -> None:
    text = ui.render_table(
        (ui.Column("a", width=5), "b"), [("abcdefgh", "1"), ("ab", "2")], stream=io.StringIO()
    )
    assert text.splitlines()[2:] == ["abcd…  1", "ab     2"]


def test_a_row_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="a row of 2 cells in a table of 3 columns"):
        ui.render_table(COLUMNS, [("a", "b")], stream=io.StringIO())


def test_on_a_terminal_the_table_is_styled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    with _terminal() as tty:
        assert ui.is_terminal(tty)
        text = ui.render_table(COLUMNS, ROWS, stream=tty)
    assert ANSI.search(text) and "─" in text
    assert "emulator -> echo" in text and "[BROKEN] :x: x" in text


def test_a_dumb_terminal_gets_the_plain_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    with _terminal() as tty:
        assert not ui.is_terminal(tty)
        assert not ANSI.search(ui.render_table(COLUMNS, ROWS, stream=tty))


def test_print_table_writes_the_rendering_and_a_newline() -> None:
    out = io.StringIO()
    ui.print_table(COLUMNS, ROWS, stream=out)
    assert out.getvalue() == ui.render_table(COLUMNS, ROWS, stream=io.StringIO()) + "\n"


def test_progress_is_one_timestamped_line_per_step_when_not_a_terminal() -> None:
    err = io.StringIO()
    progress = ui.Progress(err)
    progress.say("first")
    with progress.step("second"):
        pass
    lines = err.getvalue().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\[ +\d+\.\d s\] first", lines[0])
    assert re.fullmatch(r"\[ +\d+\.\d s\] second", lines[1])
    assert not ANSI.search(err.getvalue())


def test_disabled_progress_prints_nothing() -> None:
    err = io.StringIO()
    progress = ui.Progress(err, enabled=False)
    progress.say("x")
    with progress.step("y"):
        pass
    assert err.getvalue() == ""


def test_a_step_on_a_terminal_keeps_its_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    main, secondary = pty.openpty()
    try:
        with os.fdopen(secondary, "w", encoding="utf-8") as tty, ui.Progress(tty).step("x"):
            pass
        os.set_blocking(main, False)
        shown = os.read(main, 65536).decode("utf-8", "replace")
    finally:
        os.close(main)
    assert "] x" in shown
