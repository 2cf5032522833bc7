"""The C helpers under ``benchmarks/``: compiled with gcc on first use, cached by hash.

``epoll_echo.c`` is the native ceiling of the capacity rows and the echo peer of
the client rows; ``epoll_load.c`` is the load generator of the capacity rows
(a client that costs little next to the server under test). Both are the
project's own code. The binaries go to ``var/bench/`` (not committed), named
after the hash of their source and of the compiler, so an edited source is
rebuilt and an unchanged one is not.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from sqsocket.squeak.paths import repo_root

__all__ = ["NativeUnavailable", "available", "binary", "source_dir"]

#: Seconds gcc may take for one file.
COMPILE_TIMEOUT = 60.0
CFLAGS = ("-O2", "-Wall", "-std=gnu11")


class NativeUnavailable(RuntimeError):
    """No compiler, no source, or the compile failed: the reason is the message."""


def source_dir() -> Path:
    return repo_root() / "benchmarks"


def _cache_dir() -> Path:
    return Path(os.environ.get("SQSOCKET_BENCH_CACHE", repo_root() / "var" / "bench"))


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")


def binary(name: str) -> Path:
    """The compiled ``benchmarks/NAME.c`` (compiled now if needed); NativeUnavailable if not."""
    source = source_dir() / f"{name}.c"
    if not source.is_file():
        raise NativeUnavailable(f"{source} not found (a checkout of the project has it)")
    cc = _compiler()
    if cc is None:
        raise NativeUnavailable("no C compiler (gcc) on PATH")
    digest = hashlib.sha256(source.read_bytes() + cc.encode() + " ".join(CFLAGS).encode())
    target = _cache_dir() / f"{name}-{digest.hexdigest()[:12]}"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".tmp{os.getpid()}")
    try:
        done = subprocess.run(
            [cc, *CFLAGS, "-o", str(partial), str(source)],
            capture_output=True,
            text=True,
            timeout=COMPILE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NativeUnavailable(f"{cc} failed on {source.name}: {exc}") from None
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise NativeUnavailable(f"{cc} failed on {source.name}: {done.stderr.strip()[:400]}")
    partial.replace(target)  # atomic: a concurrent run sees the old file or the new one
    return target


def available(name: str) -> str | None:
    """None when ``benchmarks/NAME.c`` can be built and run here, else why not."""
    try:
        binary(name)
    except NativeUnavailable as exc:
        return str(exc)
    return None
