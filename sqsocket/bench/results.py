"""What a bench run found: sections of rows, each a baseline and cells with ratios.

Every figure is compared with a baseline measured in the same run: a
:class:`Row` holds the baseline :class:`Cell` and the other columns' cells, and
:attr:`Cell.ratio` is the cell's median over the baseline's. For rates
(operations or bytes per second) a ratio above 1 is faster than the baseline;
for sizes (bytes per socket) below 1 is smaller. A cell that could not be
measured keeps the reason instead of a sample (the VM column without
squeak-vm, say), so the JSON always has every row and every column.

A :class:`Target` is a goal printed next to the figures (never asserted): a
ratio of one column to another (or to the baseline) at least some value, or a
figure at most some bound.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sqsocket.bench.stats import Sample

__all__ = ["Cell", "Row", "Section", "Target", "Unit"]


class Unit(enum.Enum):
    """How a row's figures are counted; the value is the unit the report prints."""

    OPS = "op/s"
    BYTES_PER_SECOND = "MiB/s"
    BYTES = "B"


@dataclass
class Cell:
    """One column's figure in a row: a sample, or the reason there is none."""

    column: str
    label: str
    sample: Sample | None = None
    missing: str | None = None
    ratio: float | None = None  # median / the row baseline's median, set by Row

    @property
    def median(self) -> float | None:
        return None if self.sample is None else self.sample.median


@dataclass(frozen=True)
class Target:
    """A goal for ``column``: ``ratio`` of it to ``against`` (None: the baseline) at
    least ``at_least``, or its median at most ``at_most`` (a size bound)."""

    column: str
    text: str
    at_least: float | None = None
    against: str | None = None
    at_most: float | None = None

    def ratio(self, row: Row) -> float | None:
        """The column's median over ``against``'s (or the baseline's); None when one is missing."""
        cell = row.cell(self.column)
        other = row.baseline if self.against is None else row.cell(self.against)
        if cell is None or other is None or cell.median is None or not other.median:
            return None
        return cell.median / other.median

    def evaluate(self, row: Row) -> bool | None:
        """True/False when both figures exist, None when one is missing."""
        if self.at_most is not None:
            cell = row.cell(self.column)
            if cell is None or cell.median is None:
                return None
            return cell.median <= self.at_most
        ratio = self.ratio(row)
        if ratio is None:
            return None
        assert self.at_least is not None
        return ratio >= self.at_least


@dataclass
class Row:
    """One benchmark: what it measures, its baseline and the other columns."""

    key: str
    title: str
    unit: Unit
    baseline: Cell
    cells: list[Cell] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    detail: str = ""

    def cell(self, column: str) -> Cell | None:
        if column == self.baseline.column:
            return self.baseline
        for cell in self.cells:
            if cell.column == column:
                return cell
        return None

    def compute_ratios(self) -> None:
        base = self.baseline.median
        self.baseline.ratio = 1.0 if base else None
        for cell in self.cells:
            median = cell.median
            cell.ratio = None if median is None or not base else median / base

    def targets_for(self, column: str) -> list[Target]:
        return [t for t in self.targets if t.column == column]


@dataclass
class Section:
    """Rows sharing a baseline kind and a set of columns (client, capacity...)."""

    key: str
    title: str
    description: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
