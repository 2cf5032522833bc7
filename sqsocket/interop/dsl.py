"""The little language conformance scenarios are written in.

A scenario is data: a list of steps, each a primitive call with arguments that
are literals or references resolved at run time (a fixture path, a fixture
port, a variable bound by an earlier step, a fresh buffer). The same data is
executed by the emulator directly and, translated to Smalltalk, by a real VM;
both print one line per recorded step, and the lines are compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True)
class Var:
    """The value an earlier step bound with ``bind=``."""

    name: str


@dataclass(frozen=True)
class Path:
    """A path in the fixture directory (see :mod:`sqsocket.interop.fixtures`)."""

    name: str


@dataclass(frozen=True)
class Port:
    """A fixture port on 127.0.0.1 (``echo``, ``udp``, ``closed``, ``listen``)."""

    name: str


@dataclass(frozen=True)
class Buf:
    """A new zero-filled byte buffer of a literal size or of the size a variable holds."""

    size: int | Var


@dataclass(frozen=True)
class Str:
    """A String literal."""

    text: str


@dataclass(frozen=True)
class Bytes:
    """A ByteArray literal (an IPv4 address, say)."""

    data: bytes


@dataclass(frozen=True)
class Sema:
    """A registered semaphore's external-object index, by name (made on first use)."""

    name: str


Arg = int | Var | Path | Port | Buf | Str | Bytes | Sema


class Show(Enum):
    """What a step records."""

    VALUE = "value"  # the answer (or FAIL)
    OK = "ok"  # only whether it succeeded
    NONE = "none"  # nothing: setup whose result is recorded elsewhere


@dataclass(frozen=True)
class Call:
    prim: str
    args: tuple[Arg, ...] = ()
    bind: str | None = None
    show: Show = Show.VALUE


@dataclass(frozen=True)
class ShowVar:
    """Record a variable's current contents (an address filled in by a primitive)."""

    name: str


@dataclass(frozen=True)
class Tweak:
    """Add ``delta`` (mod 256) to byte ``index`` (1-based) of a variable's bytes."""

    name: str
    index: int
    delta: int = 1


@dataclass(frozen=True)
class PathAddress:
    """Bind ``bind`` to a 118-byte local address for a fixture path, built by the image
    (session id from the handle ``handle``): what a server must do for a path that does
    not exist yet, since the resolver answers nothing for it."""

    bind: str
    path: Path
    handle: str


@dataclass(frozen=True)
class Alloc:
    """Bind ``bind`` to a new zero-filled ByteArray (``ByteArray new: size``)."""

    bind: str
    size: int | Var


@dataclass(frozen=True)
class Sleep:
    ms: int


@dataclass(frozen=True)
class Peer:
    """Ask the harness to act as the peer: ``connect`` to a path or port, ``send`` bytes
    on the newest peer connection, ``close`` it."""

    action: str
    target: Path | Port | None = None
    data: bytes = b""


Step = Call | ShowVar | Tweak | PathAddress | Alloc | Sleep | Peer


@dataclass(frozen=True)
class Scenario:
    name: str
    about: str
    steps: tuple[Step, ...]
    tags: tuple[str, ...] = field(default_factory=tuple)
