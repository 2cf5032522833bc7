"""What a server process sets up around its loop: the signals that stop it, its log.

Shared by ``sqsocket serve ...`` and ``sqsocket proxy``: SIGINT, SIGTERM and SIGHUP
ask the loop to stop (so the loop's own cleanup runs and the socket file goes), and
the ``sqsocket.servers`` logger writes to stderr.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["STOP_SIGNALS", "setup_logging", "signals_wake", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def setup_logging(verbose: bool) -> None:
    """Log to stderr: connection events with --verbose, warnings always."""
    logger = logging.getLogger("sqsocket.servers")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT/SIGTERM/SIGHUP to ``stop`` while the block runs.

    The handler only sets a flag and wakes the loop, so the loop's own
    ``finally`` does the cleanup -- no KeyboardInterrupt raised at an arbitrary
    point. Signal handlers can only be installed from the main thread; from
    another thread (``main()`` called by a test's worker) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def signals_wake(sock: socket.socket | None) -> Iterator[None]:
    """While the block runs, every signal that arrives writes a byte to ``sock``.

    A Python signal handler runs only when the main thread next executes bytecode. A
    signal that lands after the loop last looked at its stop flag but before it enters
    epoll_wait() -- or that the kernel hands to another thread -- interrupts no wait:
    with no timer due the loop sleeps on and the stop its handler asks for is never
    seen (a proxy once ignored a SIGTERM so). With ``signal.set_wakeup_fd`` the C-level
    handler writes to the loop's (non-blocking) wake socket, the wait returns, and the
    Python handler runs. The interpreter allows this in the main thread only; in any
    other thread, or without a socket, this does nothing.
    """
    if sock is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.set_wakeup_fd(sock.fileno(), warn_on_full_buffer=False)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
