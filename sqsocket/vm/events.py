"""What an observer of an emulated VM is told: one small record per thing that happened.

Register a callable with :meth:`sqsocket.vm.machine.VirtualMachine.observe`; the
VM calls it synchronously, in order, for every record below (and the platform
layer's :class:`~sqsocket.platform.statetable.StateChanged`). With no observer
registered nothing is built, so observing costs nothing when unused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VMEvent:
    """Base of every record; ``at`` is the VM clock (seconds since the VM started)."""

    at: float


@dataclass(frozen=True)
class PrimitiveCalled(VMEvent):
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class PrimitiveAnswered(VMEvent):
    name: str
    result: Any


@dataclass(frozen=True)
class PrimitiveFailedEvent(VMEvent):
    name: str
    reason: str


@dataclass(frozen=True)
class SemaphoreSignalled(VMEvent):
    index: int
    name: str


@dataclass(frozen=True)
class Polled(VMEvent):
    """One ``aioPoll``: from the periodic check (``idle`` False) or the idle process."""

    idle: bool
    timeout: float | None
    handlers: int


Observer = Callable[[VMEvent], None]
