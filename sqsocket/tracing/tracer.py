"""The primitive trace: an observer of emulated VMs that writes down everything they report.

A :class:`Tracer` is a ``vm.observe`` callback (it uses nothing else): it turns
every :mod:`sqsocket.vm.events` record and every
:class:`~sqsocket.platform.statetable.StateChanged` into a :class:`TraceEntry` --
a primitive call with its arguments, its answer or failure, a state transition,
a semaphore signal, a poll -- stamped with the VM clock, and hands it to a sink:
readable text (:class:`~sqsocket.tracing.text.TextFormatter`), JSON lines, or a
callable. The entry is :mod:`~sqsocket.tracing.entry`'s.

Two reorderings make the text readable and are the same in every format:

* An aio handler runs inside a poll, but the VM reports the poll when it is over
  (the record says how many handlers ran). The entries a poll's handlers caused
  are held back and delivered after the poll's own entry, so a poll reads as a
  heading with its consequences under it; each entry keeps its own time.
* Entries inside a primitive call (a state change, a signal) carry ``within`` =
  the primitive's name; the text shows them indented between the call and its
  answer, and a call with nothing inside is one line: ``name(args) → answer``.

One tracer may observe several VMs (each attachment is numbered) and several
threads; socket numbers (``socket#N``) are per tracer, in the order sockets are born.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import IO, Any, Protocol

from sqsocket.closing import Closing
from sqsocket.platform.statetable import StateChanged
from sqsocket.tracing.entry import Kind, TraceEntry
from sqsocket.tracing.render import (
    handle_pointer,
    render_arguments,
    render_value,
    status_name,
    takes_handle_first,
)
from sqsocket.tracing.text import TextFormatter
from sqsocket.vm.events import (
    Polled,
    PrimitiveAnswered,
    PrimitiveCalled,
    PrimitiveFailedEvent,
    SemaphoreSignalled,
    VMEvent,
)


class PollFilter(Enum):
    """Which polls a trace shows: every one, those that ran a handler, or none."""

    ALL = "all"
    BUSY = "busy"
    NONE = "none"


class Observable(Protocol):
    """A VM or a plugin: anything with ``observe(callback) -> undo``."""

    def observe(self, observer: Callable[[VMEvent], None]) -> Callable[[], None]: ...


Sink = Callable[[TraceEntry], None]


class _StreamSink:
    """Writes entries to a text stream, as text lines or JSON lines, flushing each."""

    def __init__(self, stream: IO[str], as_json: bool, owned: bool) -> None:
        self.stream = stream
        self.as_json = as_json
        self.owned = owned
        self.formatter = TextFormatter()

    def __call__(self, entry: TraceEntry) -> None:
        lines = [entry.json_line()] if self.as_json else self.formatter.feed(entry)
        self._write(lines)

    def _write(self, lines: list[str]) -> None:
        if lines:
            self.stream.write("".join(line + "\n" for line in lines))
            self.stream.flush()

    def close(self) -> None:
        if not self.as_json:
            self._write(self.formatter.finish())
        if self.owned:
            self.stream.close()
        else:
            self.stream.flush()


TraceTarget = IO[str] | str | os.PathLike[str] | Sink
"""Where a trace goes: a text stream, a file path (created or truncated), or a callable
that is given each :class:`TraceEntry`."""


@dataclass
class _Thread:
    """Per thread: the primitive call in progress and a poll's held-back entries."""

    number: int
    call: PrimitiveCalled | None = None
    call_vm: int = 0
    snapshot: dict[int, bytes] = field(default_factory=dict)
    held: list[TraceEntry] = field(default_factory=list)


class Tracer(Closing):
    """A primitive trace: attach it to VMs or plugins; it writes every event they report.

    ``target`` is a text stream, a path, or a callable given each entry; ``json``
    writes JSON lines instead of text (streams and paths only); ``polls`` says
    which polls to show (:class:`PollFilter`).
    """

    def __init__(
        self,
        target: TraceTarget,
        *,
        json: bool = False,
        polls: PollFilter | str = PollFilter.ALL,
    ) -> None:
        self.polls = PollFilter(polls)
        self._sink: Sink
        self._stream: _StreamSink | None = None
        if isinstance(target, str | os.PathLike):
            stream = open(target, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
            self._stream = _StreamSink(stream, json, owned=True)
            self._sink = self._stream
        elif isinstance(target, io.IOBase) or hasattr(target, "write"):
            self._stream = _StreamSink(target, json, owned=False)  # type: ignore[arg-type]
            self._sink = self._stream
        elif callable(target):
            self._sink = target
        else:
            raise TypeError(f"a trace goes to a stream, a path or a callable, not {target!r}")
        self._lock = threading.RLock()
        self._sockets: dict[tuple[int, int], str] = {}  # (vm, privateSocketPtr) -> socket#N
        self._born = 0
        self._threads: dict[int, _Thread] = {}
        self._vms = 0
        self._detach: list[Callable[[], None]] = []
        self.closed = False

    # -- attaching --------------------------------------------------------------------

    def attach(self, target: Observable) -> Callable[[], None]:
        """Observe a VM or a plugin (``target.observe``); answer an undo."""
        with self._lock:
            self._vms += 1
            vm = self._vms
        undo = target.observe(lambda event: self.record(event, vm))
        self._detach.append(undo)
        return undo

    def close(self) -> None:
        """Stop observing, deliver what is held back, close a file this tracer opened."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            for undo in self._detach:
                undo()
            self._detach.clear()
            self.flush()
            if self._stream is not None:
                self._stream.close()

    def flush(self) -> None:
        """Deliver the entries held back for a poll that has not reported (yet)."""
        with self._lock:
            for state in self._threads.values():
                held, state.held = state.held, []
                for entry in held:
                    self._sink(entry)

    # -- the observer ---------------------------------------------------------------------

    def record(self, event: VMEvent, vm: int = 1) -> None:
        """Turn one VM event into an entry (the callback :meth:`attach` registers)."""
        with self._lock:
            if self.closed:
                return
            state = self._thread()
            entry = self._entry(event, vm, state)
            if entry is None:
                return
            if entry.kind is Kind.POLL:
                held, state.held = state.held, []
                shown = self._shows(event)
                if shown:
                    self._sink(entry)
                for inner in held:
                    self._sink(replace(inner, within="poll") if shown else inner)
            elif entry.within is None and entry.kind in (Kind.STATE, Kind.SIGNAL):
                state.held.append(entry)  # a handler's: its poll reports after it
            else:
                self._sink(entry)

    def _shows(self, event: VMEvent) -> bool:
        if self.polls is PollFilter.ALL:
            return True
        return self.polls is PollFilter.BUSY and isinstance(event, Polled) and event.handlers > 0

    def _thread(self) -> _Thread:
        ident = threading.get_ident()
        state = self._threads.get(ident)
        if state is None:
            state = self._threads[ident] = _Thread(len(self._threads) + 1)
        return state

    def socket_label(self, vm: int, ptr: int) -> str | None:
        """``socket#N`` for a socket this trace saw born in VM ``vm`` (None otherwise)."""
        return self._sockets.get((vm, ptr))

    def _name(self, vm: int, ptr: int) -> str:
        self._born += 1
        label = self._sockets[(vm, ptr)] = f"socket#{self._born}"
        return label

    def _entry(self, event: VMEvent, vm: int, state: _Thread) -> TraceEntry | None:
        def namer(ptr: int) -> str | None:
            return self.socket_label(vm, ptr)

        def make(
            at: float, kind: Kind, text: str, fields: dict[str, Any], within: str | None = None
        ) -> TraceEntry:
            return TraceEntry(at, kind, text, fields, within, vm, state.number)

        if isinstance(event, PrimitiveCalled):
            state.call, state.call_vm = event, vm
            state.snapshot = {
                i: bytes(a) for i, a in enumerate(event.args) if isinstance(a, bytearray)
            }
            args = render_arguments(event.name, event.args, namer)
            return make(
                event.at,
                Kind.CALL,
                f"{event.name}({', '.join(args)})",
                {"primitive": event.name, "args": args},
            )
        if isinstance(event, PrimitiveAnswered | PrimitiveFailedEvent):
            call = state.call if state.call_vm == vm else None
            state.call = None
            if isinstance(event, PrimitiveFailedEvent):
                fields: dict[str, Any] = {"primitive": event.name, "reason": event.reason}
                return make(event.at, Kind.FAIL, f"{event.name} FAILED: {event.reason}", fields)
            # only create and accept answer a handle; any other 16 bytes are data
            makes_socket = "Create" in event.name or "Accept" in event.name
            ptr = handle_pointer(event.result) if makes_socket else None
            if ptr and namer(ptr) is None:
                self._name(vm, ptr)  # the born event names it; this is a safety net
            result = render_value(event.result, namer, handle=ptr is not None, primitive=event.name)
            fields = {"primitive": event.name, "result": result}
            filled = self._filled(call, state, namer) if call is not None else {}
            if filled:
                fields["filled"] = filled
            return make(event.at, Kind.ANSWER, f"{event.name} → {result}", fields)
        within = None
        if state.call is not None and state.call_vm == vm:
            within = state.call.name
        if isinstance(event, StateChanged):
            if event.before is None:
                label = self._name(vm, event.socket)
            else:
                label = namer(event.socket) or f"socket(ptr {event.socket})"
            before, after = status_name(event.before), status_name(event.after)
            signals = "".join(f", signals {i}" for i in event.signalled)
            text = f"{label} {before} → {after} ({event.event.name}: {event.event.value}{signals})"
            fields = {
                "socket": label,
                "event": event.event.name,
                "why": event.event.value,
                "before": before,
                "after": after,
                "signalled": list(event.signalled),
            }
            return make(event.at, Kind.STATE, text, fields, within)
        if isinstance(event, SemaphoreSignalled):
            name = f" ({event.name})" if event.name else ""
            fields = {"index": event.index, "name": event.name}
            text = f"signal semaphore {event.index}{name}"
            return make(event.at, Kind.SIGNAL, text, fields, within)
        if isinstance(event, Polled):
            mode = "idle" if event.idle else "periodic"
            ran = f"{event.handlers} handler{'s' * (event.handlers != 1)} ran"
            if event.handlers == 0:
                ran = "no handler ran"
            wait = ""
            if event.idle:
                wait = (
                    " (no timeout)"
                    if event.timeout is None
                    else f" (timeout {event.timeout:.3f} s)"
                )
            fields = {"mode": mode, "timeout": event.timeout, "handlers": event.handlers}
            return make(event.at, Kind.POLL, f"poll {mode}{wait}: {ran}", fields)
        return None

    def _filled(
        self, call: PrimitiveCalled, state: _Thread, namer: Callable[[int], str | None]
    ) -> dict[str, str]:
        """Arguments the primitive wrote into (a result address, a receive buffer), 1-based,
        against the snapshot ``state`` (the calling thread's) took at the call."""
        filled: dict[str, str] = {}
        for i, before in state.snapshot.items():
            now = call.args[i]
            if isinstance(now, bytearray) and bytes(now) != before:
                # destroy clears the handle's pointer in place: still a handle
                handle = i == 0 and takes_handle_first(call.name)
                filled[str(i + 1)] = render_value(now, namer, handle=handle)
        state.snapshot = {}
        return filled


def as_tracer(target: Tracer | TraceTarget, **options: Any) -> tuple[Tracer, bool]:
    """``target`` as a Tracer, and whether it was made here (then its owner closes it)."""
    if isinstance(target, Tracer):
        return target, False
    return Tracer(target, **options), True
