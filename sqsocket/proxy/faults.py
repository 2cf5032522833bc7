"""The faults a proxy injects, as frozen dataclasses, and the set a proxy runs with.

Two kinds:

* **Direction faults** act on one direction of every proxied connection:
  ``up`` is client -> upstream, ``down`` is upstream -> client, ``both`` is
  the same fault on each direction independently (each direction counts its
  own bytes). :class:`Latency`, :class:`Bandwidth`, :class:`Slicer` shape the
  bytes; :class:`Stall`, :class:`Reset`, :class:`HalfClose`,
  :class:`LimitData`, :class:`CloseOnEof` end or suspend the flow.
* **Accept faults** act on a connection as the proxy accepts it, before any
  byte flows: :class:`AcceptDelay`, :class:`NeverRead`, :class:`Refuse`.

Byte thresholds (``after``) count bytes the proxy *forwarded* in that
direction (for :class:`Stall`: bytes it *read*), so ``LimitData(after=10)``
lets exactly ten bytes through. Times are milliseconds (``ms``, ``jitter``)
or seconds (``seconds``). Every value is checked at construction: negative,
NaN, infinite or absurdly large values raise :class:`FaultError`.

A :class:`FaultSet` is what a running proxy consults: validated (at most one
fault of each kind per direction, at most one of each accept fault) and
indexed by direction. Docs: ``docs/proxy.md``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

__all__ = [
    "ACCEPT_FAULTS",
    "DIRECTION_FAULTS",
    "FAULT_TYPES",
    "AcceptDelay",
    "AcceptFault",
    "Bandwidth",
    "CloseOnEof",
    "Direction",
    "DirectionFault",
    "DirectionFaults",
    "Fault",
    "FaultError",
    "FaultSet",
    "HalfClose",
    "Latency",
    "LimitData",
    "NeverRead",
    "Refuse",
    "Reset",
    "Slicer",
    "Stall",
]

#: Longest delay or duration a fault accepts: one day. Bounded so every timer the
#: relay sets fits ``select()``'s timeout and a typo (ms=1e12) fails loudly.
MAX_SECONDS = 86_400.0
MAX_MS = MAX_SECONDS * 1000.0
#: Largest byte count or size: far beyond anything a test sends, still an exact int.
MAX_BYTES = 1 << 48


class FaultError(ValueError):
    """A fault that cannot exist: a bad value, or two of a kind in one direction."""


class Direction(enum.Enum):
    """Which way the bytes a direction fault acts on travel."""

    UP = "up"  # client -> upstream
    DOWN = "down"  # upstream -> client
    BOTH = "both"  # each of the two, independently

    def expand(self) -> tuple[Direction, ...]:
        """The one-way directions this stands for."""
        return (Direction.UP, Direction.DOWN) if self is Direction.BOTH else (self,)

    @classmethod
    def coerce(cls, value: Direction | str) -> Direction:
        if isinstance(value, Direction):
            return value
        try:
            return cls(value)
        except ValueError:
            raise FaultError(f"direction must be up, down or both, not {value!r}") from None


# Kinds of parameter, for checking and for the command line (spec.py reads them).
BYTES = "bytes"  # a byte count, int >= 0
SIZE = "size"  # a piece size, int >= 1
RATE = "rate"  # bytes per second, > 0
MS = "ms"  # milliseconds, >= 0
SECONDS = "seconds"  # seconds, > 0
FLAG = "flag"  # a boolean


def _param(kind: str, help: str, default: Any = MISSING) -> Any:
    """A dataclass field with the metadata the checks and the CLI use (no default: required)."""
    return field(default=default, metadata={"kind": kind, "help": help})


def _check(name: str, kind: str, value: Any) -> None:
    if value is None:
        return
    if kind == FLAG:
        if not isinstance(value, bool):
            raise FaultError(f"{name} must be true or false, not {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"{name} must be a number, not {value!r}")
    if kind in (BYTES, SIZE):
        if not isinstance(value, int):
            raise FaultError(f"{name} must be a whole number of bytes, not {value!r}")
        low = 1 if kind == SIZE else 0
        if not low <= value <= MAX_BYTES:
            raise FaultError(f"{name} must be between {low} and {MAX_BYTES} bytes, not {value}")
        return
    if not math.isfinite(value):
        raise FaultError(f"{name} must be a finite number, not {value}")
    if kind == MS and not 0 <= value <= MAX_MS:
        raise FaultError(f"{name} must be between 0 and {MAX_MS:.0f} ms, not {value}")
    if kind == SECONDS and not 0 < value <= MAX_SECONDS:
        raise FaultError(f"{name} must be more than 0 and at most {MAX_SECONDS:.0f} s, not {value}")
    if kind == RATE and not 1 <= value <= MAX_BYTES:
        # below 1 byte/s a single byte's pause would exceed any sensible timer
        raise FaultError(f"{name} must be at least 1 byte/s, not {value}")


def param_text(kind: str, value: Any) -> str:
    """A parameter's value as ``--fault`` text: ``true``/``false``, ``5`` for 5.0, else str()."""
    if kind == FLAG:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Fault:
    """Base of every fault: checks each parameter against its kind."""

    #: The name on the command line (``--fault up:slicer:size=7``).
    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            kind = f.metadata.get("kind")
            if kind is not None:
                _check(f.name, kind, getattr(self, f.name))

    @classmethod
    def params(cls) -> list[tuple[str, str, str, Any]]:
        """``(name, kind, help, default)`` of each parameter, in order (not the direction);
        the default is ``dataclasses.MISSING`` for a required one."""
        return [
            (f.name, f.metadata["kind"], f.metadata["help"], f.default)
            for f in fields(cls)
            if "kind" in f.metadata
        ]

    def describe(self) -> str:
        """The fault as ``--fault`` text: ``up:slicer:size=7,ms=5``."""
        values = []
        for pname, kind, _help, default in self.params():
            value = getattr(self, pname)
            if value is None or value == default:
                continue
            values.append(f"{pname}={param_text(kind, value)}")
        prefix = f"{self.direction.value}:" if isinstance(self, DirectionFault) else ""
        return prefix + self.name + (":" + ",".join(values) if values else "")


@dataclass(frozen=True)
class DirectionFault(Fault):
    """A fault on one direction (or both) of each connection."""

    direction: Direction = field(default=Direction.BOTH, kw_only=True)

    def __post_init__(self) -> None:
        # frozen: the one sanctioned way to normalize a field is object.__setattr__
        object.__setattr__(self, "direction", Direction.coerce(self.direction))
        super().__post_init__()


@dataclass(frozen=True)
class AcceptFault(Fault):
    """A fault on accepting a connection (no direction: nothing has flowed yet)."""


# -- direction faults: shaping --------------------------------------------------------


@dataclass(frozen=True)
class Latency(DirectionFault):
    """Deliver each chunk ``ms`` later (± up to ``jitter`` ms, uniformly); order is kept."""

    name: ClassVar[str] = "latency"
    ms: float = _param(MS, "delay of every chunk, milliseconds")
    jitter: float = _param(MS, "random extra delay in [-jitter, +jitter] ms", 0.0)


@dataclass(frozen=True)
class Bandwidth(DirectionFault):
    """Forward at most ``rate`` bytes per second (writes of about 1/20 s worth each)."""

    name: ClassVar[str] = "bandwidth"
    rate: float = _param(RATE, "bytes per second")


@dataclass(frozen=True)
class Slicer(DirectionFault):
    """Forward in separate writes of at most ``size`` bytes, ``ms`` apart."""

    name: ClassVar[str] = "slicer"
    size: int = _param(SIZE, "largest write, bytes")
    ms: float = _param(MS, "pause after each write, milliseconds", 0.0)


# -- direction faults: suspending and ending ------------------------------------------------


@dataclass(frozen=True)
class Stall(DirectionFault):
    """After ``after`` bytes, stop reading from the sender (its sends block once the
    kernel buffers are full); with ``drop``, keep reading but forward nothing.
    Lasts ``seconds`` (default: until the fault is removed)."""

    name: ClassVar[str] = "stall"
    after: int = _param(BYTES, "bytes let through before the stall", 0)
    seconds: float | None = _param(SECONDS, "how long it lasts (unset: until removed)", None)
    drop: bool = _param(FLAG, "keep reading and discard instead of not reading", False)


@dataclass(frozen=True)
class Reset(DirectionFault):
    """Abort the connection after ``after`` bytes or ``seconds`` (whichever first; with
    neither, at once): SO_LINGER {1, 0} + close, so TCP peers get an RST; a Unix-domain
    peer sees the socket close (ECONNRESET if it had data unread by the proxy)."""

    name: ClassVar[str] = "reset"
    after: int | None = _param(BYTES, "bytes forwarded before the reset (unset: no limit)", None)
    seconds: float | None = _param(SECONDS, "seconds after accept before the reset", None)


@dataclass(frozen=True)
class HalfClose(DirectionFault):
    """After ``after`` bytes, shut down the receiver's read side: ``shutdown(SHUT_WR)``
    towards it, so it sees end of stream while the other direction goes on. Later
    bytes in this direction are read and discarded."""

    name: ClassVar[str] = "half-close"
    after: int = _param(BYTES, "bytes forwarded before the shutdown")


@dataclass(frozen=True)
class LimitData(DirectionFault):
    """Close the whole connection (both sockets, no RST asked for) once ``after`` bytes
    were forwarded in this direction."""

    name: ClassVar[str] = "limit-data"
    after: int = _param(BYTES, "bytes forwarded before the close")


@dataclass(frozen=True)
class CloseOnEof(DirectionFault):
    """At the sender's end of stream, close both sockets instead of passing the
    half-close on (what proxies without half-close support do)."""

    name: ClassVar[str] = "close-on-eof"


# -- accept faults --------------------------------------------------------------------


@dataclass(frozen=True)
class AcceptDelay(AcceptFault):
    """Hold each accepted connection ``ms`` before connecting upstream and reading."""

    name: ClassVar[str] = "accept-delay"
    ms: float = _param(MS, "milliseconds before the connection is served")


@dataclass(frozen=True)
class NeverRead(AcceptFault):
    """Accept connections and never read from them or connect upstream (until removed)."""

    name: ClassVar[str] = "never-read"


@dataclass(frozen=True)
class Refuse(AcceptFault):
    """Close each connection as soon as it is accepted (with ``rst``: an abort, RST on TCP)."""

    name: ClassVar[str] = "refuse"
    rst: bool = _param(FLAG, "abort (SO_LINGER 0) instead of a plain close", False)


DIRECTION_FAULTS: tuple[type[DirectionFault], ...] = (
    Latency,
    Bandwidth,
    Slicer,
    Stall,
    Reset,
    HalfClose,
    LimitData,
    CloseOnEof,
)
ACCEPT_FAULTS: tuple[type[AcceptFault], ...] = (AcceptDelay, NeverRead, Refuse)
#: Every fault by its command-line name.
FAULT_TYPES: dict[str, type[Fault]] = {t.name: t for t in (*DIRECTION_FAULTS, *ACCEPT_FAULTS)}


@dataclass(frozen=True)
class DirectionFaults:
    """The faults acting on one direction, at most one of each kind (None: absent)."""

    latency: Latency | None = None
    bandwidth: Bandwidth | None = None
    slicer: Slicer | None = None
    stall: Stall | None = None
    reset: Reset | None = None
    half_close: HalfClose | None = None
    limit: LimitData | None = None
    close_on_eof: CloseOnEof | None = None


_SLOT = {
    Latency: "latency",
    Bandwidth: "bandwidth",
    Slicer: "slicer",
    Stall: "stall",
    Reset: "reset",
    HalfClose: "half_close",
    LimitData: "limit",
    CloseOnEof: "close_on_eof",
}


@dataclass(frozen=True)
class FaultSet:
    """An immutable, checked collection of faults, as a running proxy reads it.

    Raises :class:`FaultError` for two faults of the same kind acting on the same
    direction (``both:latency`` and ``up:latency``, say) or two accept faults of
    a kind: which one would win is not obvious, so it is refused.
    """

    faults: tuple[Fault, ...] = ()
    up: DirectionFaults = DirectionFaults()
    down: DirectionFaults = DirectionFaults()
    accept_delay: AcceptDelay | None = None
    never_read: NeverRead | None = None
    refuse: Refuse | None = None

    @classmethod
    def of(cls, faults: Iterable[Fault]) -> FaultSet:
        items = tuple(faults)
        slots: dict[Direction, dict[str, DirectionFault]] = {Direction.UP: {}, Direction.DOWN: {}}
        accept: dict[str, AcceptFault] = {}
        for fault in items:
            if isinstance(fault, DirectionFault):
                slot = _SLOT[type(fault)]
                for direction in fault.direction.expand():
                    if slot in slots[direction]:
                        raise FaultError(
                            f"two {fault.name} faults act on {direction.value}: "
                            f"{slots[direction][slot].describe()} and {fault.describe()}"
                        )
                    slots[direction][slot] = fault
            elif isinstance(fault, AcceptFault):
                key = fault.name.replace("-", "_")
                if key in accept:
                    raise FaultError(f"two {fault.name} faults: give one")
                accept[key] = fault
            else:
                raise FaultError(f"not a fault: {fault!r}")
        return cls(
            faults=items,
            up=DirectionFaults(**slots[Direction.UP]),  # type: ignore[arg-type]
            down=DirectionFaults(**slots[Direction.DOWN]),  # type: ignore[arg-type]
            **accept,  # type: ignore[arg-type]
        )

    def direction(self, direction: Direction) -> DirectionFaults:
        """The faults on ``up`` or ``down``."""
        return self.up if direction is Direction.UP else self.down

    def describe(self) -> str:
        return " ".join(f.describe() for f in self.faults) or "(no faults)"
