"""A run's results as a table for people and as JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqsocket import ui
from sqsocket.bench.results import Cell, Row, Section, Target, Unit

__all__ = ["JSON_VERSION", "Report", "format_figure", "render_table", "to_json"]

JSON_VERSION = 1
_MIB = float(1 << 20)


@dataclass
class Report:
    """Everything a run prints: what was measured how, and the sections."""

    mode: str
    reps: int
    pinning: str
    pinned_cpu: int | None
    machine: dict[str, Any]
    sections: list[Section] = field(default_factory=list)
    elapsed: float = 0.0


def format_figure(value: float, unit: Unit) -> str:
    """``89.2k`` op/s, ``2,150.3`` MiB/s, ``4,639`` B."""
    if unit is Unit.BYTES_PER_SECOND:
        return f"{value / _MIB:,.1f}"
    if unit is Unit.BYTES:
        return f"{value:,.0f}"
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return (
                f"{value / factor:.3g}{suffix}"
                if value < 100 * factor
                else (f"{value / factor:.0f}{suffix}")
            )
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def describe_target(target: Target, row: Row) -> str:
    """``≥ 0.6× raw: not met (0.39×)``, ``≤ 2048 B: met (1,210 B)``, ``... : n/a``."""
    verdict = target.evaluate(row)
    if verdict is None:
        return f"target {target.text}: n/a"
    if target.at_most is not None:
        cell = row.cell(target.column)
        assert cell is not None and cell.median is not None
        shown = format_figure(cell.median, row.unit) + " " + row.unit.value
    else:
        shown = f"{target.ratio(row):.2f}×"
    return f"target {target.text}: {'met' if verdict else 'NOT met'} ({shown})"


#: The columns of each row's table; fixed widths, so the rows of a report line up.
_COLUMNS = (
    ui.Column("column", width=38),
    ui.Column("median", ui.Justify.RIGHT, width=10),
    ui.Column("min–max", ui.Justify.RIGHT, width=21),
    ui.Column("ratio", ui.Justify.RIGHT, width=8),
    ui.Column("target, or why the figure is missing"),
)


def _cells(cell: Cell, row: Row, is_baseline: bool) -> tuple[str, str, str, str, str]:
    if cell.sample is None:
        return (cell.label, "", "", "", f"missing: {cell.missing}")
    s = cell.sample
    median = format_figure(s.median, row.unit)
    spread = f"{format_figure(s.low, row.unit)}–{format_figure(s.high, row.unit)}"
    ratio = "baseline" if is_baseline else (f"{cell.ratio:.2f}×" if cell.ratio else "n/a")
    targets = "; ".join(describe_target(t, row) for t in row.targets_for(cell.column))
    return (cell.label, median, spread, ratio, targets)


def _row_lines(row: Row) -> Iterable[str]:
    yield f"{row.title}  [{row.unit.value}; {row.detail}]"
    yield ui.render_table(
        _COLUMNS,
        [_cells(row.baseline, row, True)] + [_cells(cell, row, False) for cell in row.cells],
    )


def render_table(report: Report) -> str:
    """The whole report as text: a header, then each section's rows."""
    lines = [
        f"sqsocket bench ({report.mode}: medians of {report.reps} repetitions, with min–max; "
        "every ratio is against a baseline measured in this run)",
        report.pinning,
        ", ".join(f"{k} {v}" for k, v in report.machine.items()),
    ]
    for section in report.sections:
        lines += ["", f"== {section.title} ==", section.description]
        lines += [f"note: {note}" for note in section.notes]
        for row in section.rows:
            lines.append("")
            lines.extend(_row_lines(row))
    lines += ["", f"{report.elapsed:.1f} s"]
    return "\n".join(lines) + "\n"


def _cell_json(cell: Cell) -> dict[str, Any]:
    data: dict[str, Any] = {"column": cell.column, "label": cell.label}
    if cell.sample is None:
        data["missing"] = cell.missing
        return data
    data.update(
        median=cell.sample.median,
        min=cell.sample.low,
        max=cell.sample.high,
        values=list(cell.sample.values),
        ratio=cell.ratio,
    )
    return data


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "key": row.key,
        "title": row.title,
        "unit": row.unit.value,
        "detail": row.detail,
        "baseline": _cell_json(row.baseline),
        "cells": [_cell_json(c) for c in row.cells],
        "targets": [
            {
                "column": t.column,
                "text": t.text,
                "against": t.against,
                "at_least": t.at_least,
                "at_most": t.at_most,
                "met": t.evaluate(row),
            }
            for t in row.targets
        ],
    }


def to_json(report: Report) -> str:
    data = {
        "version": JSON_VERSION,
        "mode": report.mode,
        "reps": report.reps,
        "pinning": report.pinning,
        "pinned_cpu": report.pinned_cpu,
        "machine": report.machine,
        "elapsed": report.elapsed,
        "sections": [
            {
                "key": s.key,
                "title": s.title,
                "description": s.description,
                "notes": s.notes,
                "rows": [_row_json(r) for r in s.rows],
            }
            for s in report.sections
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
