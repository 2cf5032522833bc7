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
    """A path in the fixture directory (see :mod:`sqsocket.interop.fixtures`).

    With ``nul``, the String passed carries its own terminating NUL byte, as an
    image may append one for the C code's sake.
    """

    name: str
    nul: bool = False


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
class AbstractNameAddress:
    """Bind ``bind`` to the 118-byte address the image builds for a fixture's Linux
    abstract name (``tight`` or ``padded``, see :mod:`sqsocket.interop.fixtures`): header
    {session of the handle ``handle``, 110}, then the full ``sockaddr_un`` the plugin
    always passes -- AF_UNIX, a NUL, the name, NULs to the end of ``sun_path``. The
    resolver cannot answer an abstract name (it stats a path), so the image builds it.

    With ``tight`` the image builds a short address instead: header size 3 + the name's
    length, the sockaddr ending with the name (the plugin hands ``connect()`` the size
    the header says)."""

    bind: str
    name: str
    handle: str
    tight: bool = False


@dataclass(frozen=True)
class Alloc:
    """Bind ``bind`` to a new zero-filled ByteArray (``ByteArray new: size``)."""

    bind: str
    size: int | Var


@dataclass(frozen=True)
class AwaitSignal:
    """Wait up to ``ms`` milliseconds for a semaphore's signal, the way the image waits.

    The emulator waits on its Semaphore (its idle process polls meanwhile); the
    Smalltalk side waits on the Semaphore with a timer process that signals it
    after ``ms`` (Squeak 2.2 has no ``waitTimeoutMSecs:``). Records ``signalled`` or
    ``timeout``; when the outcome is not ``expect`` the scenario did not reach what
    its name says and is reported broken.
    """

    sema: str
    ms: int = 2000
    expect: str = "signalled"
    show: Show = Show.VALUE


@dataclass(frozen=True)
class AwaitStatus:
    """Read ``primitiveSocketConnectionStatus`` until it answers ``status`` (at most ``ms``).

    Between two readings the image waits 5 ms on a Delay (the idle process polls).
    Records the last reading; not reaching ``status`` makes the scenario broken.
    ``status`` -1 waits until the status primitive fails (a socket left Invalid).
    """

    handle: str
    status: int
    ms: int = 2000
    show: Show = Show.VALUE


@dataclass(frozen=True)
class AwaitData:
    """``waitForDataFor:``: until ReceiveDataAvailable answers true, or the socket is no
    longer Connected, wait on the read semaphore (at most ``ms`` in all).

    Records ``data``, ``closed`` or ``timeout``; any outcome but ``expect`` makes the
    scenario broken.
    """

    handle: str
    sema: str
    ms: int = 2000
    expect: str = "data"
    show: Show = Show.VALUE


class Op(Enum):
    """How :class:`Expect` compares a variable with its value."""

    EQ = "="
    NE = "~="
    GT = ">"
    BOUND = "bound"  # the variable was bound: the call that binds it succeeded


@dataclass(frozen=True)
class Expect:
    """What the scenario must have reached for its result to count (records nothing).

    ``Expect("saSize", Op.GT, 0, "the path resolved")``: if the variable does not
    compare so, both sides print ``@@broken`` with ``why`` and the scenario is
    reported broken, not compared.
    """

    name: str
    op: Op
    value: int = 0
    why: str = ""

    @property
    def reason(self) -> str:
        """What ``@@broken`` says when the comparison fails: ``why``, or the comparison."""
        return self.why or f"{self.name} {self.op.value} {self.value}"


@dataclass(frozen=True)
class Peer:
    """Ask the harness to act as the peer.

    ``connect`` to a path or port; ``send`` bytes on the newest peer connection;
    ``close`` it; ``drop`` accepts the oldest connection waiting on a harness-owned
    listener (``closer``) and closes it at once. With ``ms`` > 0 the harness does
    the action that many milliseconds later, while the image goes on (a slow peer).
    """

    action: str
    target: Path | Port | None = None
    data: bytes = b""
    ms: int = 0


Step = (
    Call
    | ShowVar
    | Tweak
    | PathAddress
    | AbstractNameAddress
    | Alloc
    | AwaitSignal
    | AwaitStatus
    | AwaitData
    | Expect
    | Peer
)


@dataclass(frozen=True)
class Scenario:
    name: str
    about: str
    steps: tuple[Step, ...]
    tags: tuple[str, ...] = field(default_factory=tuple)
