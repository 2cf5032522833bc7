"""Tables and progress for every command: one look, plain text when not on a terminal.

Both go through rich. A table is columns separated by spaces under a header
underlined with dashes; on a terminal the header is bold, the underline a line
and the status words (``ok``, ``FAIL``, ...) coloured, and rich wraps a table
wider than the window. When the stream is not a terminal (a pipe, a CI log, a
test's capture) the table is plain ASCII: no colour, no escape sequence, no
box-drawing character, never wrapped, every line right-stripped, so logs read
and diff well.

Progress goes to stderr, one timestamped line per step (``[  12.3 s] image
sqsocket/squeak``); on a terminal a spinner below the last line shows that the
step still runs, and is erased when it ends (the only cursor movement, and only
on a terminal).

rich is imported where a table is rendered or a spinner starts, not with this
module: every command module imports it, and ``sqsocket --help`` or a command
that prints no table must not pay for rich.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, TextIO, TypedDict, Unpack

if TYPE_CHECKING:
    from rich.box import Box
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

__all__ = ["Column", "Justify", "Progress", "is_terminal", "print_table", "render_table"]


@cache
def _plain_box() -> Box:
    """The plain table's box: only the line under the header, in ASCII dashes."""
    from rich.box import Box

    return Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


#: A plain table is never wrapped: this is wider than any row the project prints.
PLAIN_WIDTH = 100_000

#: Words a status column colours on a terminal.
GOOD_WORDS = frozenset({"ok", "same", "met", "yes"})
BAD_WORDS = frozenset({"FAIL", "FAILED", "DIFF", "BROKEN", "UNSTABLE", "MISSING", "NOT met"})


class Justify(Enum):
    LEFT = "left"
    RIGHT = "right"


@dataclass(frozen=True)
class Column:
    """One column: its header, alignment and width limits.

    ``width`` fixes the width (so tables printed one after another line up);
    a cell longer than ``max_width`` (or ``width``) is cut with an ellipsis;
    ``status`` colours the words of :data:`GOOD_WORDS` and :data:`BAD_WORDS`.
    """

    header: str
    justify: Justify = Justify.LEFT
    width: int | None = None
    max_width: int | None = None
    status: bool = False


def is_terminal(stream: TextIO | None) -> bool:
    """Whether ``stream`` is a terminal that takes colour and cursor movement."""
    if stream is None or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # a closed stream
        return False


def _console(stream: TextIO, terminal: bool) -> Console:
    from rich.console import Console

    # markup, emoji and highlighting off: cells are data ("[BROKEN]", ":x:"), not markup
    return Console(
        file=stream,
        force_terminal=terminal,
        color_system="auto" if terminal else None,
        no_color=not terminal,
        width=None if terminal else PLAIN_WIDTH,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )


def _cell(text: str, column: Column, terminal: bool) -> Text:
    from rich.text import Text

    if terminal and column.status:
        if text in GOOD_WORDS:
            return Text(text, style="green")
        if text in BAD_WORDS:
            return Text(text, style="bold red")
    return Text(text)


def _as_column(column: Column | str) -> Column:
    return column if isinstance(column, Column) else Column(column)


class TableOptions(TypedDict, total=False):
    """How a table is laid out: for which stream (default stdout: styled if a terminal)."""

    stream: TextIO | None
    show_header: bool  # default true


def render_table(
    columns: Sequence[Column | str], rows: Iterable[Sequence[str]], **options: Unpack[TableOptions]
) -> str:
    """The table as text for ``stream`` (default stdout): styled if it is a terminal."""
    from rich.box import SIMPLE_HEAD
    from rich.table import Table

    target = options.get("stream") or sys.stdout
    show_header = options.get("show_header", True)
    terminal = is_terminal(target)
    specs = [_as_column(c) for c in columns]
    table = Table(
        box=SIMPLE_HEAD if terminal else _plain_box(),
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        show_header=show_header,
        header_style="bold" if terminal else "",
    )
    for spec in specs:
        limit = spec.width or spec.max_width
        table.add_column(
            spec.header,
            justify=spec.justify.value,
            width=spec.width,
            max_width=limit,
            no_wrap=limit is not None or not terminal,
            overflow="ellipsis" if limit is not None else "fold",
        )
    for row in rows:
        if len(row) != len(specs):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(specs)} columns")
        table.add_row(
            *(_cell(str(cell), spec, terminal) for cell, spec in zip(row, specs, strict=True))
        )
    buffer = io.StringIO()
    console = _console(target if terminal else buffer, terminal)
    if terminal:
        with console.capture() as captured:
            console.print(table)
        text = captured.get()
    else:
        console.print(table)
        text = buffer.getvalue()
    return "\n".join(line.rstrip() for line in text.rstrip("\n").split("\n"))


def print_table(
    columns: Sequence[Column | str], rows: Iterable[Sequence[str]], **options: Unpack[TableOptions]
) -> None:
    """Print :func:`render_table`'s text on ``stream`` (default stdout)."""
    target = options.get("stream") or sys.stdout
    target.write(render_table(columns, rows, **options) + "\n")
    target.flush()


class Progress:
    """Timestamped progress lines on stderr (nothing at all when ``enabled`` is false).

    ``say(text)`` prints ``[  12.3 s] text``; ``with step(text):`` prints the same
    line when the step starts and, on a terminal, shows a spinner while it runs.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self._live: Live | None = None  # the spinner of the step that runs, on a terminal

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        if not self.enabled:
            return
        line = f"[{self.elapsed:6.1f} s] {text}"
        if self._live is not None:
            from rich.text import Text

            self._live.console.print(Text(line))  # above the spinner
        else:
            print(line, file=self.stream, flush=True)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """One step of a long run: its line now; on a terminal, a spinner until it ends."""
        self.say(text)
        if not self.enabled or not is_terminal(self.stream) or self._live is not None:
            yield
            return
        from rich.live import Live
        from rich.spinner import Spinner
        from rich.text import Text

        # What the step prints on stdout goes above the spinner only when stdout is a
        # terminal as well; redirected, it must reach its file, not the terminal.
        self._live = Live(
            Spinner("line", Text(f"{text} ...")),
            console=_console(self.stream, terminal=True),
            transient=True,
            redirect_stdout=is_terminal(sys.stdout),
            redirect_stderr=False,
        )
        try:
            with self._live:
                yield
        finally:
            self._live = None
