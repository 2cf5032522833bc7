"""The traffic dump: every chunk each side sent, in hex and as text, with timestamps.

One record per event, a header line then (for data) a hex dump, 16 bytes a
line, with the printable bytes on the right::

    # sqsocket proxy: unix:/tmp/p.sock -> unix:/tmp/echo.sock; up = client -> upstream
    12:00:01.250301 +0.000000 #1 accepted from (unnamed unix peer)
    12:00:01.250712 +0.000411 #1 connected to unix:/tmp/echo.sock
    12:00:01.251027 +0.000726 #1 up 22 bytes
        0000  48 65 6c 6c 6f 2c 20 66 72 6f 6d 20 53 6d 61 6c  Hello, from Smal
        0010  6c 74 61 6c 6b 21                                ltalk!
    12:00:01.252113 +0.001812 #1 down 22 bytes
        ...
    12:00:01.260004 +0.009703 #1 fault: down reset after 22 bytes
    12:00:01.260101 +0.009800 #1 closed (reset; 22 bytes up, 22 down)

Data is recorded as the proxy *reads* it (what that side sent, before any fault
changes it); what a fault then does is a ``fault:`` line. The wall-clock time
comes first, then seconds since the proxy started. Only the relay's thread
writes, and each record is flushed so ``tail -f`` follows it.
"""

from __future__ import annotations

import os
import time
from typing import TextIO

__all__ = ["TrafficDump", "hexdump"]

_WIDTH = 16


def _printable(byte: int) -> str:
    return chr(byte) if 0x20 <= byte < 0x7F else "."


def hexdump(data: bytes, indent: str = "    ") -> list[str]:
    """``OFFSET  HEX...  TEXT`` lines, 16 bytes each; non-printable bytes show as ``.``."""
    lines = []
    for offset in range(0, len(data), _WIDTH):
        row = data[offset : offset + _WIDTH]
        hex_part = " ".join(f"{b:02x}" for b in row).ljust(_WIDTH * 3 - 1)
        text = "".join(_printable(b) for b in row)
        lines.append(f"{indent}{offset:04x}  {hex_part}  {text}")
    return lines


class TrafficDump:
    """Write records to ``target``: a path (created or truncated) or an open text stream.

    A stream given by the caller stays open on :meth:`close`; a file this opened
    is closed.
    """

    def __init__(self, target: str | os.PathLike[str] | TextIO) -> None:
        if isinstance(target, str | os.PathLike):
            self._out: TextIO = open(target, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
            self._owned = True
        else:
            self._out = target
            self._owned = False
        self._started = time.monotonic()
        self.closed = False

    def _stamp(self) -> str:
        now = time.time()
        wall = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
        return f"{wall} +{time.monotonic() - self._started:.6f}"

    def _write(self, lines: list[str]) -> None:
        if self.closed:
            return
        try:
            self._out.write("\n".join(lines) + "\n")
            self._out.flush()
        except (OSError, ValueError):
            # A full disk or a closed stream must not take the relay down; stop dumping.
            self.closed = True

    def header(self, text: str) -> None:
        """A comment line (``# ...``): what is proxied to what."""
        self._write([f"# {text}"])

    def event(self, conn: int, text: str) -> None:
        """One line about connection ``conn``: accepted, connected, end of stream, a fault."""
        self._write([f"{self._stamp()} #{conn} {text}"])

    def data(self, conn: int, direction: str, data: bytes) -> None:
        """The bytes one side sent (``direction`` ``up`` or ``down``), hex and text."""
        self._write([f"{self._stamp()} #{conn} {direction} {len(data)} bytes", *hexdump(data)])

    def close(self) -> None:
        if self.closed and not self._owned:
            return
        self.closed = True
        if self._owned:
            self._out.close()
