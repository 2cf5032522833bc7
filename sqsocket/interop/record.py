"""How a step's outcome is written down, identically by the emulator and the Smalltalk side.

Raw lines: ``FAIL`` for a failed primitive, ``ok`` for a primitive that answers its
receiver (or a step shown as OK), ``true``/``false``, decimal integers, ``x:`` and
lowercase hex for byte objects, ``(a b c)`` for Arrays. :func:`normalize` then hides
what legitimately differs between two runs: the session id at the start of
handles and addresses, and fixture port numbers.
"""

from __future__ import annotations

import re
import struct
from typing import Any

FAIL = "FAIL"
OK = "ok"


def raw(value: Any) -> str:
    if value is None:
        return OK
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "x:" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return "(" + " ".join(raw(v) for v in value) + ")"
    return f"?{type(value).__name__}"


_HEX = re.compile(r"x:([0-9a-f]*)")
_INT = re.compile(r"(?<![\w:])(-?\d+)(?![\w])")


def normalize(line: str, session: int, ports: dict[str, int]) -> str:
    """Hide the session id and fixture ports so two runs can be compared."""
    session_hex = struct.pack("<i", session).hex() if session else None

    def hexsub(m: re.Match[str]) -> str:
        h = m.group(1)
        if session_hex and len(h) >= 16 and h.startswith(session_hex):
            h = "SESSION" + h[8:]
            if len(h) == len("SESSION") + 24:  # a 16-byte socket handle
                return "x:HANDLE"
        for name, port in ports.items():
            # a sockaddr_in/in6 after the header: family (2 bytes), then the port
            port_hex = struct.pack(">H", port).hex()
            for family_hex in ("0200", "0a00"):
                h = h.replace(family_hex + port_hex, family_hex + f"<{name}>")
        return "x:" + h

    line = _HEX.sub(hexsub, line)
    by_port = {str(v): k for k, v in ports.items()}

    def intsub(m: re.Match[str]) -> str:
        text = m.group(1)
        if text in by_port:
            return f"<port:{by_port[text]}>"
        return text

    return _INT.sub(intsub, line)
