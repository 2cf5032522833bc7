"""File-descriptor passing: an introduction server, as in the Goblins Unix netlayer.

Peers find each other without socket *paths*: peer A makes an anonymous
socketpair, hands one end to the introduction server over ``SCM_RIGHTS``, and
the server hands that very descriptor to the peer A asked for. From then on A
and B talk over the pair directly; the server is not a relay and sees none of
their traffic.

Wire protocol (all on one Unix-domain stream connection per client), each
message a :mod:`~sqsocket.servers.netstring` frame holding UTF-8 text:

=========================  =======================================  ===============
client sends               server answers                           descriptors
=========================  =======================================  ===============
``REGISTER <name>``        ``OK`` / ``ERR <reason>``                none
``INTRODUCE <name>``       ``OK`` / ``ERR <reason>``                one, with it
(nothing: server pushes)   ``INTRO <from>`` to the registered peer  one, with it
=========================  =======================================  ===============

``<from>`` is the introducer's registered name, or ``anonymous-<n>``. A name
is registered for as long as its connection stays open. Every descriptor the
server receives is either forwarded (and its own copy closed once sent) or
closed: after an ``ERR``, on a protocol error (a descriptor with no message
that takes one, more than one with a message, truncated control data), and
when a connection goes away with descriptors still queued.

Descriptors travel with the first byte of their frame, and the kernel never
merges a descriptor-carrying segment with data sent after it, so a FIFO of
received descriptors matched to frames in order is exact.
"""

from __future__ import annotations

import array
import collections
import contextlib
import itertools
import os
import selectors
import socket
import stat
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from sqsocket.servers.address import InetAddress
from sqsocket.servers.base import AddressLike, Handler, Server, connect
from sqsocket.servers.netstring import Decoder, FrameError, encode
from sqsocket.servers.paths import DEFAULT_SOCKET_MODE

__all__ = [
    "IntroClient",
    "IntroductionError",
    "IntroductionServer",
    "close_fds",
    "wait_registered",
]

#: Control messages are short; this bounds what a misbehaving client can make us buffer.
MAX_MESSAGE = 4096
#: Longest peer name, in UTF-8 bytes.
MAX_NAME = 255
#: Descriptors one recvmsg may take; more is a protocol error (the kernel closes the excess).
_MAX_FDS_PER_RECV = 4
#: Descriptors a client may have in flight to the server before sending their frames.
_MAX_QUEUED_FDS = 8
_RECV_SIZE = 65536


class IntroductionError(RuntimeError):
    """The introduction server answered ``ERR``, or broke the protocol."""


def close_fds(fds: list[int] | collections.deque[int]) -> None:
    """Close every descriptor in ``fds`` and empty it."""
    while fds:
        fd = fds.pop()
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass(eq=False)
class _Outgoing:
    """One queued frame; ``fd`` (owned until sent) rides on its first byte."""

    data: bytes
    fd: int | None = None


@dataclass(eq=False)
class _Peer:
    id: int
    sock: socket.socket
    decoder: Decoder
    name: str | None = None
    fds_in: collections.deque[int] = field(default_factory=collections.deque)
    out: collections.deque[_Outgoing] = field(default_factory=collections.deque)
    events: int = selectors.EVENT_READ
    closing: bool = False  # flush what is queued, then close (after a protocol error)

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"anonymous-{self.id}"


class IntroductionServer(Server):
    """The introduction server on a Unix path or abstract name.

    ``introductions`` counts descriptors handed over; ``registered`` maps the
    names currently registered to their connections.
    """

    kind = "stream"

    def __init__(
        self,
        address: AddressLike,
        *,
        mode: int | None = DEFAULT_SOCKET_MODE,
        backlog: int = 128,
        verbose: bool = False,
    ) -> None:
        super().__init__(address, mode=mode, verbose=verbose)
        if isinstance(self.requested_address, InetAddress):
            raise ValueError("descriptor passing needs a Unix-domain address, not TCP")
        self.backlog = backlog
        self._peers: dict[int, _Peer] = {}
        self._ids = itertools.count(1)
        self.registered: dict[str, _Peer] = {}
        self.introductions = 0

    # -- accept / read / write -----------------------------------------------

    def _open(self) -> None:
        sock = self._bind_socket(socket.SOCK_STREAM)
        sock.listen(self.backlog)
        assert self._selector is not None
        self._selector.register(sock, selectors.EVENT_READ, self._on_accept)

    def _on_accept(self, mask: int) -> None:
        assert self._sock is not None and self._selector is not None
        while True:
            try:
                client, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.log.warning("accept failed: %s", exc)
                return
            client.setblocking(False)
            peer = _Peer(next(self._ids), client, Decoder(MAX_MESSAGE))
            self._peers[peer.id] = peer
            self._selector.register(client, selectors.EVENT_READ, self._handler(peer))
            self._info("client #%d connected (%s)", peer.id, _peer_credentials(client))

    def _handler(self, peer: _Peer) -> Handler:
        def handler(mask: int) -> None:
            try:
                if mask & selectors.EVENT_READ:
                    self._read(peer)
                if peer.id in self._peers and mask & selectors.EVENT_WRITE:
                    self._flush(peer)
            except OSError as exc:
                self._drop(peer, f"error: {exc}")

        return handler

    def _read(self, peer: _Peer) -> None:
        try:
            data, fds, flags, _ = socket.recv_fds(peer.sock, _RECV_SIZE, _MAX_FDS_PER_RECV)
        except (BlockingIOError, InterruptedError):
            return
        peer.fds_in.extend(fds)
        if flags & socket.MSG_CTRUNC:
            self._protocol_error(peer, "too many descriptors in one message")
            return
        if len(peer.fds_in) > _MAX_QUEUED_FDS:
            self._protocol_error(peer, "too many descriptors without their messages")
            return
        if not data:
            self._drop(peer, "closed by client")
            return
        try:
            frames = peer.decoder.feed(data)
        except FrameError as exc:
            self._protocol_error(peer, str(exc))
            return
        for frame in frames:
            self._handle(peer, frame)
            if peer.closing or peer.id not in self._peers:
                return
        if peer.fds_in and not peer.decoder.pending:
            # Every frame received is handled, yet descriptors are left over: they
            # came with messages that take none.
            self._protocol_error(peer, "descriptor sent with a message that takes none")
            return
        self._flush(peer)

    def _handle(self, peer: _Peer, frame: bytes) -> None:
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            self._protocol_error(peer, "message is not UTF-8")
            return
        command, _, arg = text.partition(" ")
        if command == "REGISTER":
            self._reply(peer, self._register(peer, arg))
        elif command == "INTRODUCE":
            fd = peer.fds_in.popleft() if peer.fds_in else None
            self._reply(peer, self._introduce(peer, arg, fd))
        else:
            self._reply(peer, f"ERR unknown command {command[:32]!r}")

    def _register(self, peer: _Peer, name: str) -> str:
        problem = _name_problem(name)
        if problem:
            return f"ERR {problem}"
        if peer.name is not None:
            return f"ERR already registered as {peer.name}"
        if name in self.registered:
            return f"ERR name {name} is taken"
        peer.name = name
        self.registered[name] = peer
        self._info("client #%d registered as %s", peer.id, name)
        return "OK"

    def _introduce(self, peer: _Peer, target_name: str, fd: int | None) -> str:
        if fd is None:
            return "ERR INTRODUCE needs one descriptor (a socket) sent with it"
        target = self.registered.get(target_name)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
                return "ERR the descriptor is not a socket"
        except OSError:
            os.close(fd)
            return "ERR bad descriptor"
        if target is None:
            os.close(fd)
            return f"ERR no peer named {target_name}"
        # The descriptor now belongs to the target's queue, which closes it once sent.
        target.out.append(_Outgoing(encode(f"INTRO {peer.label}".encode()), fd))
        self.introductions += 1
        self._info("introduced %s to %s", peer.label, target.label)
        if target is not peer:
            self._flush(target)
        return "OK"

    def _reply(self, peer: _Peer, text: str) -> None:
        peer.out.append(_Outgoing(encode(text.encode("utf-8"))))

    def _flush(self, peer: _Peer) -> None:
        while peer.out:
            item = peer.out[0]
            try:
                if item.fd is not None:
                    sent = socket.send_fds(peer.sock, [item.data], [item.fd])
                    # The kernel holds its own reference now; ours is done with.
                    os.close(item.fd)
                    item.fd = None
                else:
                    sent = peer.sock.send(item.data)
            except (BlockingIOError, InterruptedError):
                break
            if sent < len(item.data):
                item.data = item.data[sent:]
                continue
            peer.out.popleft()
        if peer.closing and not peer.out:
            self._drop(peer, "protocol error")
            return
        events = selectors.EVENT_WRITE if peer.out else 0
        if not peer.closing:
            events |= selectors.EVENT_READ
        if events != peer.events and self._selector is not None:
            self._selector.modify(peer.sock, events, self._selector.get_key(peer.sock).data)
            peer.events = events

    def _protocol_error(self, peer: _Peer, why: str) -> None:
        self.log.warning("client #%d (%s): %s", peer.id, peer.label, why)
        close_fds(peer.fds_in)
        self._reply(peer, f"ERR {why}")
        peer.closing = True
        self._flush(peer)

    def _drop(self, peer: _Peer, reason: str) -> None:
        if self._peers.pop(peer.id, None) is None:
            return
        if peer.name is not None and self.registered.get(peer.name) is peer:
            del self.registered[peer.name]
        if self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(peer.sock)
        peer.sock.close()
        close_fds(peer.fds_in)
        for item in peer.out:
            if item.fd is not None:
                os.close(item.fd)
        peer.out.clear()
        self._info("client #%d (%s) gone: %s", peer.id, peer.label, reason)

    def _close_peers(self) -> None:
        for peer in list(self._peers.values()):
            self._drop(peer, "server stopping")


def _name_problem(name: str) -> str | None:
    if not name:
        return "empty name"
    if len(name.encode("utf-8")) > MAX_NAME:
        return f"name longer than {MAX_NAME} bytes"
    if any(ch.isspace() for ch in name):
        return "name contains whitespace"
    return None


def _peer_credentials(sock: socket.socket) -> str:
    """``pid=… uid=… gid=…`` of a Unix-domain peer (for logs), where the OS tells."""
    if not hasattr(socket, "SO_PEERCRED"):
        return "peer credentials unavailable"
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    except OSError:
        return "peer credentials unavailable"
    pid, uid, gid = array.array("i", raw)
    return f"pid={pid} uid={uid} gid={gid}"


class IntroClient:
    """A blocking client of :class:`IntroductionServer`.

    A peer that wants to be found calls :meth:`register` and then
    :meth:`accept_introduction`; a peer that wants to talk calls
    :meth:`introduce`. Both get a connected socket to the other peer. Keep the
    client open while registered: closing it withdraws the name.
    """

    def __init__(self, address: AddressLike, *, timeout: float | None = 5.0) -> None:
        self.sock = connect(address, timeout=timeout)
        self.timeout = timeout
        self._decoder = Decoder(MAX_MESSAGE)
        self._frames: collections.deque[bytes] = collections.deque()
        self._fds: collections.deque[int] = collections.deque()
        # Introductions that arrived while we were waiting for an OK.
        self._intros: collections.deque[tuple[str, int]] = collections.deque()

    def _next_message(self) -> tuple[str, int | None]:
        """The next control message and, for ``INTRO``, its descriptor."""
        while not self._frames:
            data, fds, flags, _ = socket.recv_fds(self.sock, _RECV_SIZE, _MAX_FDS_PER_RECV)
            self._fds.extend(fds)
            if flags & socket.MSG_CTRUNC:
                raise IntroductionError("descriptors lost: control data truncated")
            if not data:
                raise IntroductionError("introduction server closed the connection")
            self._frames.extend(self._decoder.feed(data))
        text = self._frames.popleft().decode("utf-8", "replace")
        fd = None
        if text.startswith("INTRO "):
            if not self._fds:
                raise IntroductionError("INTRO arrived without its descriptor")
            fd = self._fds.popleft()
        return text, fd

    def _expect_reply(self) -> None:
        while True:
            text, fd = self._next_message()
            if fd is not None:
                self._intros.append((text.partition(" ")[2], fd))
                continue
            if text == "OK":
                return
            if text.startswith("ERR "):
                raise IntroductionError(text[4:])
            raise IntroductionError(f"unexpected message {text!r}")

    def register(self, name: str) -> None:
        """Register under ``name`` (raises :class:`IntroductionError` if refused)."""
        self.sock.sendall(encode(f"REGISTER {name}".encode()))
        self._expect_reply()

    def introduce(self, name: str) -> socket.socket:
        """A socket connected directly to the peer registered as ``name``."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with theirs:
                socket.send_fds(
                    self.sock, [encode(f"INTRODUCE {name}".encode())], [theirs.fileno()]
                )
            # Our copy of their end is closed now: the peer's end-of-stream must
            # depend on the peer alone.
            self._expect_reply()
        except BaseException:
            mine.close()
            raise
        mine.settimeout(self.timeout)
        return mine

    def accept_introduction(self, timeout: float | None = None) -> tuple[str, socket.socket]:
        """Wait for an introduction; return the introducer's name and the connected socket."""
        if not self._intros:
            previous = self.sock.gettimeout()
            self.sock.settimeout(self.timeout if timeout is None else timeout)
            try:
                text, fd = self._next_message()
            finally:
                self.sock.settimeout(previous)
            if fd is None:
                raise IntroductionError(f"expected INTRO, got {text!r}")
            self._intros.append((text.partition(" ")[2], fd))
        name, fd = self._intros.popleft()
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            os.close(fd)
            raise
        sock.settimeout(self.timeout)
        return name, sock

    def close(self) -> None:
        """Close the connection (withdrawing any registration) and any unclaimed descriptors."""
        self.sock.close()
        close_fds(self._fds)
        while self._intros:
            _, fd = self._intros.popleft()
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def wait_registered(server: IntroductionServer, name: str, timeout: float = 5.0) -> bool:
    """Poll until ``name`` is registered on an in-process server (for tests and demos)."""
    deadline = time.monotonic() + timeout
    while name not in server.registered:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True
