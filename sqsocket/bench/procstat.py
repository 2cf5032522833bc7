"""What /proc says about a process: open descriptors, resident and peak memory (Linux)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["descriptor_count", "peak_rss", "rss", "status_kib"]


def descriptor_count(pid: int) -> int | None:
    """Entries in /proc/PID/fd (None when the process is gone or not readable)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def status_kib(pid: int, field: str) -> int | None:
    """A ``kB`` field of /proc/PID/status (``VmRSS``, ``VmHWM``...), in KiB."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            parts = value.split()
            return int(parts[0]) if parts else None
    return None


def rss(pid: int | None = None) -> int | None:
    """Resident set size in bytes (this process when ``pid`` is None)."""
    kib = status_kib(os.getpid() if pid is None else pid, "VmRSS")
    return None if kib is None else kib * 1024


def peak_rss(pid: int | None = None) -> int | None:
    """Peak resident set size (VmHWM) in bytes."""
    kib = status_kib(os.getpid() if pid is None else pid, "VmHWM")
    return None if kib is None else kib * 1024
