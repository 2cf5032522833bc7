"""Live Python peers for the stateful suite: echo servers and echo clients in one thread.

:class:`EchoPeers` runs, in a thread of the test process, an echo server on 127.0.0.1
and one on a Unix path, and -- on request -- echo clients that connect to the
emulated VM's listeners. Every connection echoes every byte back as it comes, never
blocking (partial sends are queued), and records what it received, under a key both
sides can name:

- a connection the server accepted: ``("tcp", the client's port)``, or
  ``("unix", the path the client bound)``;
- a client it made: ``("tcp", its own port)``, or ``("unix", the path it bound)``.

:meth:`EchoPeers.close` asks a connection to close once everything owed is sent (the
VM then sees the end of the stream). :meth:`EchoPeers.stop` ends the thread and closes
everything; :attr:`EchoPeers.received` then tells, per key, every byte that arrived.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Key = tuple[str, object]

_STOP_TIMEOUT = 5.0


@dataclass(eq=False)
class _Peer:
    sock: socket.socket
    key: Key
    out: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)
    closing: bool = False  # close once ``out`` is flushed
    connecting: bool = False


class EchoPeers:
    """Echo servers (TCP, Unix) and echo clients, served by one selector thread."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._sel = selectors.DefaultSelector()
        self._tcp = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port: int = self._tcp.getsockname()[1]
        self.unix_path = os.path.join(directory, "echo.sock")
        self._unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._unix.bind(self.unix_path)
        self._unix.listen(64)
        self._wake_r, self._wake_w = socket.socketpair()
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._peers: dict[socket.socket, _Peer] = {}
        #: Every connection's bytes, by key (kept after it closed).
        self.received: dict[Key, bytearray] = {}
        #: Keys whose connection closed (by either side).
        self.closed: set[Key] = set()
        #: Whatever went wrong in the thread (the suite fails on any).
        self.errors: list[BaseException] = []
        self._clients = 0
        self._close_on_accept: set[Key] = set()
        for sock in (self._tcp, self._unix, self._wake_r):
            sock.setblocking(False)
        self._sel.register(self._tcp, selectors.EVENT_READ, self._accept)
        self._sel.register(self._unix, selectors.EVENT_READ, self._accept)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._run_commands)
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="echo peers", daemon=True)
        self._thread.start()

    # -- requests from the test's thread -------------------------------------------------

    def _ask(self, command: Callable[[], None]) -> None:
        self._commands.put(command)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def connect(self, address: tuple[str, int] | str) -> Key:
        """Start an echo client towards ``address``; answer its key (known at once)."""
        self._clients += 1
        if isinstance(address, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            path = os.path.join(self.directory, f"peer{self._clients}.sock")
            sock.bind(path)
            key: Key = ("unix", path)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            key = ("tcp", sock.getsockname()[1])
        sock.setblocking(False)

        def start() -> None:
            err = sock.connect_ex(address)
            peer = _Peer(sock, key, connecting=err in (errno.EINPROGRESS, errno.EAGAIN))
            if err and not peer.connecting:
                sock.close()
                self.closed.add(key)
                self.received.setdefault(key, bytearray())
                return
            self._add(peer)

        self._ask(start)
        return key

    def close(self, key: Key) -> None:
        """Close that connection once what it owes is sent."""

        def close() -> None:
            found = False
            for peer in list(self._peers.values()):
                if peer.key == key:
                    found = True
                    peer.closing = True
                    self._flush(peer)
            if not found and key not in self.closed:
                # connected in the kernel but not accepted yet: close it when it is
                self._close_on_accept.add(key)

        self._ask(close)

    def stop(self) -> None:
        """End the thread; close every socket (servers, clients, connections)."""

        def stop() -> None:
            self._running = False

        if self._thread.is_alive():
            self._ask(stop)
            self._thread.join(_STOP_TIMEOUT)
        for peer in list(self._peers.values()):
            self._drop(peer)
        for sock in (self._tcp, self._unix, self._wake_r, self._wake_w):
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(sock)
            sock.close()
        self._sel.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.unix_path)
        if self._thread.is_alive():
            self.errors.append(RuntimeError("the echo peers' thread did not stop"))

    # -- the thread -------------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while self._running:
                for key, mask in self._sel.select(timeout=0.5):
                    key.data(key.fileobj, mask)
        except BaseException as exc:  # kept for the test: a thread cannot raise to it
            self.errors.append(exc)

    def _run_commands(self, sock: socket.socket, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            sock.recv(4096)
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            command()

    def _accept(self, listener: socket.socket, mask: int) -> None:
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        if listener is self._tcp:
            key: Key = ("tcp", addr[1])
        else:
            key = ("unix", addr if isinstance(addr, str) else os.fsdecode(addr))
        self._add(_Peer(sock, key))

    def _add(self, peer: _Peer) -> None:
        self._peers[peer.sock] = peer
        self.received[peer.key] = peer.received
        events = selectors.EVENT_WRITE if peer.connecting else selectors.EVENT_READ
        self._sel.register(peer.sock, events, self._event)
        if peer.key in self._close_on_accept:
            self._close_on_accept.discard(peer.key)
            peer.closing = True
            self._flush(peer)

    def _event(self, sock: socket.socket, mask: int) -> None:
        peer = self._peers.get(sock)
        if peer is None:
            return
        if peer.connecting:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._drop(peer)
                return
            peer.connecting = False
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self._drop(peer)
                return
            if data == b"":
                peer.closing = True  # the VM closed: finish sending, then close
            elif data:
                peer.received += data
                peer.out += data
        self._flush(peer)

    def _flush(self, peer: _Peer) -> None:
        while peer.out:
            try:
                sent = peer.sock.send(peer.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(peer)
                return
            del peer.out[:sent]
        if peer.closing and not peer.out:
            self._drop(peer)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if peer.out else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.modify(peer.sock, events, self._event)

    def _drop(self, peer: _Peer) -> None:
        if self._peers.pop(peer.sock, None) is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(peer.sock)
        peer.sock.close()
        self.closed.add(peer.key)
