"""Progress of a long run, on stderr: ``[  12.3 s] client: round trip 16 B, UDS -- image``."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Timestamped progress lines (nothing at all when ``enabled`` is false)."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        if self.enabled:
            print(f"[{self.elapsed:6.1f} s] {text}", file=self.stream, flush=True)
