"""Shared helpers for the tests/test_squeak_*.py files (the real Squeak VM).

A missing prerequisite (Debian's squeak-vm, the input image) skips the test on a
developer's machine, naming what is missing, and fails it loudly in CI (``CI=true``),
where both are installed on purpose (:func:`ci_support.need`). The session fixtures
that build the image once live in tests/conftest.py and use these helpers.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from ci_support import need

from sqsocket.squeak import paths

REPO = Path(__file__).resolve().parents[1]
SMALLTALK_DIR = REPO / "images" / "squeak"
# A VM run that has not exited after this many seconds is broken (runs take ~0.2 s).
VM_TIMEOUT = 30.0


def require_source_image() -> Path:
    """The input squeakjs.image, or skip/fail naming where it was looked for."""
    found = paths.locate_source_image_offline()
    if found is None:
        need(paths.missing_requirements()[-1])
    return found


def require_vm() -> Path:
    """Debian's squeakvm, or skip/fail with the install hint."""
    found = paths.find_vm()
    if found is None:
        need(f"squeak-vm not installed: {paths.INSTALL_VM_COMMAND}")
    return found


@contextlib.contextmanager
def short_tmpdir() -> Iterator[Path]:
    """A private directory under /tmp: socket paths must fit 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="sqsq-", dir="/tmp") as name:
        yield Path(name)


class EchoServer:
    """A Python AF_UNIX stream echo server on ``path`` (one thread, bounded waits),
    like the one in the workspace example's article; records what it received."""

    def __init__(self, path: Path, connections: int = 1) -> None:
        self.path = path
        self.received: list[bytes] = []
        self.error: BaseException | None = None
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen(4)
        self._sock.settimeout(VM_TIMEOUT)
        self._thread = threading.Thread(target=self._serve, args=(connections,), daemon=True)
        self._thread.start()

    def _serve(self, connections: int) -> None:
        try:
            for _ in range(connections):
                conn, _ = self._sock.accept()
                with conn:
                    conn.settimeout(VM_TIMEOUT)
                    while data := conn.recv(65536):
                        self.received.append(data)
                        conn.sendall(data)
        except BaseException as exc:  # reported by close()
            self.error = exc

    def close(self) -> None:
        self._sock.close()
        self._thread.join(timeout=VM_TIMEOUT)


def echo_client(path: Path, payload: bytes, timeout: float = 10.0) -> bytes:
    """Connect to ``path``, send ``payload``, read the same number of bytes back."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(str(path))
        client.sendall(payload)
        with client.makefile("rb") as reply:
            return reply.read(len(payload))  # fewer bytes only if the server closed first
