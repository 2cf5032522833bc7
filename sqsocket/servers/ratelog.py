"""Warnings that a misbehaving peer cannot turn into a flood.

A server logs one WARNING per bad client, bad frame or bad datagram -- useful
for the first few, and a denial of service when a peer sends a hundred
thousand: the log fills the disk and the formatting eats the CPU the server
needs. :class:`RateLimitedLog` logs the first ``burst`` messages of each kind
in every ``interval`` seconds and counts the rest; the count is reported as
one ``suppressed K similar messages`` line when the interval is over (on the
next message of that kind, on :meth:`RateLimitedLog.tick`, which the server
loop calls, or on :meth:`RateLimitedLog.flush` at shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_BURST", "DEFAULT_INTERVAL", "RateLimitedLog"]

#: Messages of one kind logged per interval before the rest are only counted.
DEFAULT_BURST = 5
#: Seconds per interval.
DEFAULT_INTERVAL = 10.0


@dataclass
class _Window:
    started: float
    logged: int = 0
    suppressed: int = 0


class RateLimitedLog:
    """Log at most ``burst`` messages per ``kind`` per ``interval``; count the rest.

    ``kind`` is a short fixed label ("accept failed", "bad frame"), never text a
    peer chose, so a peer cannot make each message a kind of its own.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = DEFAULT_BURST,
        interval: float = DEFAULT_INTERVAL,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.interval = interval
        self.level = level
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        #: Every message seen (logged or suppressed), by kind, since creation.
        self.counts: Counter[str] = Counter()
        #: Messages counted but not logged, by kind, since creation.
        self.suppressed: Counter[str] = Counter()

    def log(
        self,
        kind: str,
        msg: str,
        *args: object,
        level: int | None = None,
        exc_info: bool = False,
    ) -> bool:
        """Log ``msg % args`` unless this kind is over its burst; True if it was logged.

        ``level`` overrides the instance's level for this message; ``exc_info`` adds
        the traceback of the exception being handled, as ``Logger.log`` does.
        """
        now = self._clock()
        with self._lock:
            self.counts[kind] += 1
            window = self._windows.get(kind)
            if window is not None and now - window.started >= self.interval:
                self._report(kind, window)
                window = None
            if window is None:
                window = self._windows[kind] = _Window(now)
            if window.logged >= self.burst:
                window.suppressed += 1
                self.suppressed[kind] += 1
                return False
            window.logged += 1
        self.logger.log(self.level if level is None else level, msg, *args, exc_info=exc_info)
        return True

    # ``warning`` reads better at the call sites; the level is the instance's.
    warning = log

    def tick(self, now: float | None = None) -> None:
        """Report the counts of every interval that is over (the server loop calls this)."""
        now = self._clock() if now is None else now
        with self._lock:
            for kind, window in list(self._windows.items()):
                if now - window.started >= self.interval:
                    self._report(kind, window)
                    del self._windows[kind]

    def flush(self) -> None:
        """Report every count still pending (at shutdown)."""
        with self._lock:
            for kind, window in self._windows.items():
                self._report(kind, window)
            self._windows.clear()

    def _report(self, kind: str, window: _Window) -> None:
        if window.suppressed:
            self.logger.log(
                self.level,
                "suppressed %d similar messages (%s) in %.0fs",
                window.suppressed,
                kind,
                max(self._clock() - window.started, 0.0),
            )
