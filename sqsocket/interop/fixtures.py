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

from sqsocket.interop.dsl import Path, Port
from sqsocket.servers.address import abstract_supported
from sqsocket.servers.dgram import UDPEchoServer
from sqsocket.servers.echo import AbstractEchoServer, TCPEchoServer, UnixEchoServer

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
    "full": "full.sock",  # a listener with backlog 0 that never accepts
    "nul": "nul-x.sock",  # 16 bytes with its own NUL: a multiple of 4 that still resolves
}


# Linux abstract names (no file): "tight" is bound as Python spells it, "padded" NUL-padded
# to all of sun_path, as a Smalltalk client's full-length sockaddr_un names it (quirk 22).
_ABSTRACT = ("tight", "padded")

#: What a Peer step may ask the harness to do.
PEER_ACTIONS = ("connect", "send", "close", "drop")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Fixture:
    root: str = ""
    paths: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    #: abstract-namespace echo servers by key (``tight``, ``padded``): the name, without NUL
    abstract: dict[str, str] = field(default_factory=dict)
    _servers: list[UnixEchoServer | TCPEchoServer | UDPEchoServer | AbstractEchoServer] = field(
        default_factory=list
    )
    # ``closer``: a listener the harness owns; a ``drop`` peer step accepts one connection
    # and closes it, so a scenario knows exactly when its peer went away
    _closer: socket.socket | None = None
    _full: socket.socket | None = None
    _peers: list[socket.socket] = field(default_factory=list)
    _later: list[threading.Timer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        for name, file_name in _NAMES.items():
            p[name] = os.path.join(self.root, file_name)
            # squeak-4.10 cannot resolve a path whose length is a multiple of 4 (quirk 1):
            # only "nul" is one, for the scenario that passes it with its own NUL
            assert (len(p[name]) % 4 == 0) == (name == "nul"), (name, p[name])
        for name, length in _PATH_LENGTHS.items():
            prefix = os.path.join(self.root, name + "-")
            p[name] = prefix + "x" * (length - len(prefix) - 5) + ".sock"
            assert len(p[name]) == length, (name, len(p[name]))
        echo_paths = [p["echo"], p["nul"], *(p[n] for n in _PATH_LENGTHS)]
        for path in echo_paths:
            if len(path) <= 107:
                self._servers.append(UnixEchoServer(path, mode=0o666).start())
        if abstract_supported():
            # named after the directory, so two fixtures at once never share a name
            for key in _ABSTRACT:
                name = f"{os.path.basename(self.root)}-{key}"
                self._servers.append(AbstractEchoServer(name, padded=key == "padded").start())
                self.abstract[key] = name
        closer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        closer.bind(p["closer"])
        closer.listen(16)
        self._closer = closer
        # Linux queues backlog + 1 connections: with 0, the second connect finds it full
        full = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        full.bind(p["full"])
        full.listen(0)
        self._full = full
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
        """The fixture's path (the String an argument passes adds a NUL if ``ref.nul``).

        A name starting with ``new`` that is not a fixture yet is a fresh path for a
        server the image makes (one per scenario: a socket file stays after destroy),
        padded so that its length is not a multiple of 4.
        """
        path = self.paths.get(ref.name)
        if path is None:
            if not ref.name.startswith("new"):
                raise KeyError(f"no fixture path named {ref.name!r}")
            path = os.path.join(self.root, ref.name + ".sock")
            while len(path) % 4 == 0:
                path = path[: -len(".sock")] + "_.sock"
            self.paths[ref.name] = path
        return path

    def port(self, ref: Port) -> int:
        return self.ports[ref.name]

    def abstract_name(self, key: str) -> str:
        """The abstract name (no leading NUL) of the ``tight`` or ``padded`` echo server."""
        if key not in _ABSTRACT:
            raise KeyError(f"no fixture abstract name {key!r}: {', '.join(_ABSTRACT)}")
        if key not in self.abstract:
            raise RuntimeError("abstract socket names exist only on Linux")
        return self.abstract[key]

    # -- the harness as a peer --------------------------------------------------------------

    def peer(self, action: str, target: Path | Port | None, data: bytes, ms: int = 0) -> None:
        """Act as the peer now, or ``ms`` milliseconds from now (the image goes on meanwhile)."""
        if action not in PEER_ACTIONS:
            raise ValueError(f"unknown peer action {action!r}")
        if ms > 0:
            timer = threading.Timer(ms / 1000, self._act, (action, target, data))
            timer.daemon = True
            self._later.append(timer)
            timer.start()
            return
        self._act(action, target, data)

    def _act(self, action: str, target: Path | Port | None, data: bytes) -> None:
        with self._lock:
            if action == "connect":
                self._connect(target)
            elif action == "send":
                if self._peers:
                    self._peers[-1].sendall(data)
            elif action == "close":
                if self._peers:
                    self._peers.pop().close()
            elif action == "drop":
                self._drop()

    def _connect(self, target: Path | Port | None) -> None:
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

    def _drop(self) -> None:
        """Accept the oldest connection waiting on the closer and close it at once."""
        if self._closer is None:
            return
        self._closer.settimeout(2.0)
        try:
            conn, _ = self._closer.accept()
        except OSError:
            return  # nothing was waiting: the scenario records what the image saw
        conn.close()

    def reset_peers(self) -> None:
        for timer in self._later:
            timer.cancel()
            timer.join(2.0)
        self._later.clear()
        with self._lock:
            while self._peers:
                self._peers.pop().close()
            # connections the image made to the harness's listeners and no step dropped
            for listener in (self._closer, self._full):
                if listener is None:
                    continue
                listener.setblocking(False)
                while True:
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        break
                    conn.close()

    def reset_paths(self) -> None:
        """Remove what a run left behind (socket files the image bound), before the next run."""
        for name, path in self.paths.items():
            if not name.startswith("new"):
                continue
            if os.path.lexists(path) and stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)  # only a socket: never a file or a link someone put there

    def close(self) -> None:
        self.reset_peers()
        for server in self._servers:
            server.stop()
        self._servers.clear()
        for listener in (self._closer, self._full):
            if listener is not None:
                listener.close()
        self._closer = self._full = None
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __exit__(self, *exc_info: object) -> None:
        self.close()
