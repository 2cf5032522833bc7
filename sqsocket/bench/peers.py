"""Servers in their own processes: start one, read its address, stop it.

Every server a benchmark talks to runs in a child process, never in a thread
of the measuring process: a thread would share the interpreter lock with the
loop being timed, and the figure would be of the two of them together.

Each server prints the servers' ready line (``listening on unix:PATH``,
``listening on tcp:127.0.0.1:PORT``) on stdout; :class:`ServerProcess` waits
for it (bounded), parses the address, and on exit sends SIGTERM, then SIGKILL
if the server does not end in time. The kinds:

* ``native`` -- ``benchmarks/epoll_echo.c``, compiled with gcc (the ceiling);
* ``raw`` -- :mod:`sqsocket.bench.rawserver`, a bare selectors server;
* ``project`` -- ``sqsocket serve echo`` (:class:`sqsocket.servers.echo.EchoServer`);
* ``image`` -- :mod:`sqsocket.bench.imageserver`, the image-layer ``UnixServer``.
"""

from __future__ import annotations

import contextlib
import enum
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqsocket.bench import native, procstat
from sqsocket.servers.address import Address, InetAddress, UnixAddress, parse_ready_line

__all__ = [
    "PeerKind",
    "PeerUnavailable",
    "ServerProcess",
    "server_command",
    "socket_dir",
    "unix_path",
]

#: Seconds a server may take to print its ready line.
READY_TIMEOUT = 20.0
#: Seconds between SIGTERM and SIGKILL at stop.
STOP_TIMEOUT = 5.0


class PeerKind(enum.Enum):
    """The echo servers the benchmarks run (see the module docstring)."""

    NATIVE = "native"
    RAW = "raw"
    PROJECT = "project"
    IMAGE = "image"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    PeerKind.NATIVE: "native epoll (C)",
    PeerKind.RAW: "raw selectors (Python)",
    PeerKind.PROJECT: "sqsocket serve echo",
    PeerKind.IMAGE: "image-layer UnixServer",
}


class PeerUnavailable(RuntimeError):
    """A server that cannot run here (no compiler, TCP asked of a Unix-only server...)."""


def server_command(kind: PeerKind, address: str) -> list[str]:
    """The argv that runs ``kind`` on ``address`` (``unix:PATH`` or ``tcp:127.0.0.1:0``)."""
    python = sys.executable
    if kind is PeerKind.NATIVE:
        try:
            binary = native.binary("epoll_echo")
        except native.NativeUnavailable as exc:
            raise PeerUnavailable(str(exc)) from None
        return [str(binary), address]
    if kind is PeerKind.RAW:
        return [python, "-m", "sqsocket.bench.rawserver", address]
    if kind is PeerKind.PROJECT:
        scheme, _, rest = address.partition(":")
        option = "--unix" if scheme == "unix" else "--tcp"
        return [python, "-m", "sqsocket", "serve", "echo", option, rest]
    scheme, _, rest = address.partition(":")
    if scheme != "unix":
        raise PeerUnavailable("the image-layer UnixServer serves Unix-domain sockets only")
    return [python, "-m", "sqsocket.bench.imageserver", rest]


class ServerProcess:
    """One server in a child process (a context manager: stopped on exit)."""

    def __init__(self, command: Sequence[str], label: str) -> None:
        self.command = tuple(command)
        self.label = label
        # closed in stop(), which __init__ calls itself if the server never gets ready
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr_final: str | None = None
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,  # a Ctrl-C at the terminal is ours to pass on
        )
        try:
            self.address: Address = self._await_ready(READY_TIMEOUT)
        except BaseException:
            self.stop()
            raise

    @classmethod
    def start(cls, kind: PeerKind, address: str, extra: Sequence[str] = ()) -> ServerProcess:
        """Run ``kind`` on ``address`` (extra arguments appended)."""
        return cls([*server_command(kind, address), *extra], kind.label)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def spec(self) -> str:
        """The address as epoll_load.c and the VM scripts take it: ``unix:P``, ``tcp:H:P``."""
        if isinstance(self.address, UnixAddress):
            return f"unix:{self.address.path}"
        assert isinstance(self.address, InetAddress)
        return f"tcp:{self.address.host}:{self.address.port}"

    def _await_ready(self, timeout: float) -> Address:
        stdout = self.proc.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PeerUnavailable(f"{self.label}: no ready line within {timeout:g} s")
                if not selector.select(remaining):
                    continue
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    self.proc.wait(STOP_TIMEOUT)
                    raise PeerUnavailable(
                        f"{self.label} exited ({self.proc.returncode}): {self.stderr_tail()}"
                    )
                buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode("utf-8", "replace")
        _kind, address = parse_ready_line(line)
        return address

    def stderr_text(self) -> str:
        """What the server wrote on stderr so far (kept after :meth:`stop`)."""
        if self._stderr_final is not None:
            return self._stderr_final
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def stderr_tail(self, limit: int = 600) -> str:
        """The end of what the server wrote on stderr (for error messages)."""
        return self.stderr_text()[-limit:].strip()

    def descriptors(self) -> int | None:
        return procstat.descriptor_count(self.pid)

    def rss(self) -> int | None:
        return procstat.rss(self.pid)

    def peak_rss(self) -> int | None:
        return procstat.peak_rss(self.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT`; answer the exit status."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._stderr_final is None:
            self._stderr_final = self.stderr_text()
            self._stderr.close()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def socket_dir() -> tempfile.TemporaryDirectory[str]:
    """A private directory under /tmp for socket files (sun_path holds 107 bytes)."""
    return tempfile.TemporaryDirectory(prefix="sqbench-", dir="/tmp")


def unix_path(directory: str | Path, stem: str) -> str:
    """``DIRECTORY/STEM.sock``, lengthened so its length is not a multiple of 4.

    The squeak-4.10 resolver cannot find such a path (docs/quirks.md, 1): the
    image layer looks the path up through it, so every bench path avoids that.
    """
    path = f"{Path(directory) / stem}.sock"
    while len(path) % 4 == 0:
        path = f"{Path(directory) / stem}_.sock"
        stem += "_"
    return path
