"""The readable form of a trace: one line per entry, a call and its answer merged when
nothing happened between them, entries inside a call or a poll indented under it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqsocket.tracing.entry import Kind, TraceEntry


class TextFormatter:
    """Turns entries into text lines, merging a call with its answer when nothing came between.

    Feed entries in order with :meth:`feed`; :meth:`finish` gives the last line back
    (a call still waiting for its answer).
    """

    def __init__(self) -> None:
        self._pending: TraceEntry | None = None
        self._lanes = False  # once a second VM or thread appears, every line is labelled

    def _prefix(self, entry: TraceEntry, depth: int) -> str:
        if entry.vm > 1 or entry.thread > 1:
            self._lanes = True
        lane = f"[vm{entry.vm} t{entry.thread}] " if self._lanes else ""
        return f"{entry.at:10.6f}  {lane}{'    ' * depth}"

    def feed(self, entry: TraceEntry) -> list[str]:
        lines: list[str] = []
        pending = self._pending
        if pending is not None:
            self._pending = None
            if (
                entry.kind in (Kind.ANSWER, Kind.FAIL)
                and entry.fields.get("primitive") == pending.fields.get("primitive")
                and entry.thread == pending.thread
                and entry.vm == pending.vm
            ):
                return [self._prefix(pending, 0) + pending.text + self._tail(entry)]
            lines.append(self._prefix(pending, 0) + pending.text + " …")
        if entry.kind is Kind.CALL:
            self._pending = entry
            return lines
        depth = 0 if entry.within is None else 1
        if entry.kind in (Kind.ANSWER, Kind.FAIL):
            lines.append(
                self._prefix(entry, 0) + "… " + entry.fields["primitive"] + self._tail(entry)
            )
        else:
            lines.append(self._prefix(entry, depth) + entry.text)
        return lines

    @staticmethod
    def _tail(entry: TraceEntry) -> str:
        if entry.kind is Kind.FAIL:
            return f" FAILED: {entry.fields['reason']}"
        filled = entry.fields.get("filled") or {}
        into = "".join(f"; arg {i} now {v}" for i, v in filled.items())
        return f" → {entry.fields['result']}{into}"

    def finish(self) -> list[str]:
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        return [self._prefix(pending, 0) + pending.text + " …"]

    def format_all(self, entries: Iterable[TraceEntry]) -> Iterator[str]:
        for entry in entries:
            yield from self.feed(entry)
        yield from self.finish()
