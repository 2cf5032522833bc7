"""The Python peers and filesystem objects the conformance scenarios run against.

One fixture serves both runs (emulator and real VM) so that paths and ports are
the same and the recorded lines can be compared as they are.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from types import TracebackType

from sqsocket.interop.dsl import Path, Port
from sqsocket.servers.dgram import UDPEchoServer
from sqsocket.servers.echo import TCPEchoServer, UnixEchoServer

# The dir is /tmp/sqc-XXXXXXXX (17 bytes) so that the padded names below give
# socket paths of exactly the lengths the scenarios are about.
_PATH_LENGTHS = {"len40": 40, "len41": 41, "len63": 63, "len64": 64, "len65": 65}
# File names for the other fixtures, chosen so that no path is a multiple of 4 bytes
# long (on squeak-4.10 such a path cannot be resolved: see docs/quirks.md).
_NAMES = {
    "echo": "echo.sock",
    "closer": "closer.sock",
    "stale": "stale-1.sock",
    "file": "file",
    "dir": "dir",
    "missing": "missing.sock",
    "new": "new.sock",
    "new2": "new2.sock",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Closer(threading.Thread):
    """A Unix-domain server that closes every connection as soon as it accepts it."""

    def __init__(self, path: str) -> None:
        super().__init__(name="sqsocket-closer", daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=2)
        self.sock.close()


@dataclass
class Fixture:
    root: str = ""
    paths: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    _servers: list[UnixEchoServer | TCPEchoServer | UDPEchoServer] = field(default_factory=list)
    _closer: _Closer | None = None
    _peers: list[socket.socket] = field(default_factory=list)

    def __enter__(self) -> Fixture:
        self.root = tempfile.mkdtemp(prefix="sqc-", dir="/tmp")
        if len(self.root) != 17:  # mkdtemp's suffix is 8 characters today; be sure
            shutil.rmtree(self.root)
            raise RuntimeError(f"unexpected temporary directory name {self.root!r}")
        try:
            self._populate()
        except BaseException:
            self.close()
            raise
        return self

    def _populate(self) -> None:
        p = self.paths
        for name in ("echo", "closer", "stale", "file", "dir", "missing", "new", "new2"):
            p[name] = os.path.join(
                self.root, name + (".sock" if name not in {"file", "dir"} else "")
            )
        for name, length in _PATH_LENGTHS.items():
            prefix = os.path.join(self.root, name + "-")
            p[name] = prefix + "x" * (length - len(prefix) - 5) + ".sock"
            assert len(p[name]) == length, (name, len(p[name]))
        echo_paths = [p["echo"], *(p[n] for n in _PATH_LENGTHS)]
        for path in echo_paths:
            if len(path) <= 107:
                self._servers.append(UnixEchoServer(path, mode=0o666).start())
        self._closer = _Closer(p["closer"])
        self._closer.start()
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(p["stale"])
        stale.close()  # the file stays: a socket nobody listens on
        with open(p["file"], "w") as f:
            f.write("not a socket\n")
        os.mkdir(p["dir"])
        tcp = TCPEchoServer(port=0).start()
        udp = UDPEchoServer(port=0).start()
        self._servers += [tcp, udp]
        self.ports = {
            "echo": int(tcp.port or 0),
            "udp": int(udp.port or 0),
            "closed": _free_port(),
            "listen": _free_port(),
        }

    # -- what the scenarios refer to -----------------------------------------------------

    def path(self, ref: Path) -> str:
        return self.paths[ref.name]

    def port(self, ref: Port) -> int:
        return self.ports[ref.name]

    # -- the harness as a peer --------------------------------------------------------------

    def peer(self, action: str, target: Path | Port | None, data: bytes) -> None:
        if action == "connect":
            if isinstance(target, Path):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                address: str | tuple[str, int] = self.path(target)
            elif isinstance(target, Port):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                address = ("127.0.0.1", self.port(target))
            else:
                raise ValueError("connect needs a path or a port")
            s.settimeout(2.0)
            try:
                s.connect(address)
            except OSError:
                s.close()
                return  # the scenario's recorded status shows the failure
            self._peers.append(s)
        elif action == "send":
            if self._peers:
                self._peers[-1].sendall(data)
        elif action == "close":
            if self._peers:
                self._peers.pop().close()
        else:
            raise ValueError(f"unknown peer action {action!r}")

    def reset_peers(self) -> None:
        while self._peers:
            self._peers.pop().close()

    def reset_paths(self) -> None:
        """Remove what a run left behind (socket files the image bound), before the next run."""
        for name in ("new", "new2"):
            path = self.paths[name]
            if os.path.lexists(path) and stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)  # only a socket: never a file or a link someone put there

    def close(self) -> None:
        self.reset_peers()
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if self._closer is not None:
            self._closer.stop()
            self._closer = None
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
