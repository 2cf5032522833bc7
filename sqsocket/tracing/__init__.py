"""Primitive traces of the emulated VM, built only on the observer hook (``vm.observe``).

::

    from sqsocket.plugin import SocketPlugin

    with SocketPlugin(trace=sys.stdout) as plugin:   # or a path, or a callable
        ...

    # every plugin the image layer makes while this is active is traced
    with Tracer(sys.stdout) as tracer, tracing(tracer):
        run_workspace_example("/tmp/sp")

:mod:`~.render` spells values (``socket#N``, ``unix:/path``, ``bytes[22] '…'``);
:mod:`~.tracer` turns events into :mod:`~.entry` records and writes them, as
:mod:`~.text` lines or JSON lines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqsocket.tracing.entry import Kind, TraceEntry
from sqsocket.tracing.text import TextFormatter
from sqsocket.tracing.tracer import PollFilter, Tracer, TraceTarget, as_tracer

__all__ = [
    "Kind",
    "PollFilter",
    "TextFormatter",
    "TraceEntry",
    "TraceTarget",
    "Tracer",
    "ambient",
    "as_tracer",
    "tracing",
]

_ambient: Tracer | None = None
_ambient_lock = threading.Lock()


def ambient() -> Tracer | None:
    """The tracer every new image-layer plugin attaches to (None: no tracing)."""
    return _ambient


@contextmanager
def tracing(tracer: Tracer) -> Iterator[Tracer]:
    """While active, each :class:`~sqsocket.image.Image` that makes its own plugin
    traces it with ``tracer`` (``sqsocket trace -- COMMAND`` runs the command so)."""
    global _ambient
    with _ambient_lock:
        previous, _ambient = _ambient, tracer
    try:
        yield tracer
    finally:
        with _ambient_lock:
            _ambient = previous
