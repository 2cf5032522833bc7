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

Bounded, so that no client can exhaust the server's descriptors: every
descriptor the server holds is a client connection, a descriptor that arrived
with a frame not yet complete (at most one per client), or an introduction
queued for a peer that is not reading (at most ``max_pending_per_peer`` per
peer and ``max_pending`` in all, counting those sent but not yet read; over
either, the introducer gets ``ERR busy`` and the descriptor is closed at once).
The defaults are worked out from ``RLIMIT_NOFILE`` when the server binds, so
the sum stays below the limit; at ``max_clients`` further clients wait in the
backlog. Should ``accept`` still
fail (``EMFILE`` because something else used descriptors), the server stops
accepting for a moment instead of spinning, and says so rate-limited.

**Python to Python only.** The VM's SocketPlugin has no ``SCM_RIGHTS``
(``sendmsg``/``recvmsg`` with ancillary data), so a Smalltalk client can
neither send nor receive a descriptor. What it sees when it talks to this
server anyway, with plain ``sendData:``/``receiveData`` of the same frames:
``REGISTER`` works (``OK``); its ``INTRODUCE`` gets ``ERR INTRODUCE needs one
descriptor``; and when someone introduces themselves to it, it receives the
``INTRO <from>`` frame *without* the descriptor -- the kernel discards
descriptors that arrive at a receive call without room for them -- so the
introducer's end of the pair sees end of stream.
"""

from __future__ import annotations

import array
import collections
import contextlib
import errno
import fcntl
import itertools
import os
import resource
import selectors
import socket
import stat
import termios
import time
from dataclasses import dataclass, field
from typing import Unpack

from sqsocket.closing import Closing
from sqsocket.servers.address import InetAddress
from sqsocket.servers.base import AddressLike, Handler, Server, ServerOptions, connect
from sqsocket.servers.listener import Acceptor
from sqsocket.servers.netstring import Decoder, FrameError, encode
from sqsocket.servers.peercred import PeerCredentials

__all__ = [
    "DEFAULT_PENDING_PER_PEER",
    "IntroClient",
    "IntroductionError",
    "IntroductionServer",
    "close_fds",
    "fd_budget",
    "wait_registered",
]

#: Control messages are short; this bounds what a misbehaving client can make us buffer.
MAX_MESSAGE = 4096
#: Longest peer name, in UTF-8 bytes.
MAX_NAME = 255
#: Descriptors one recvmsg may take: the protocol sends one per message, and the kernel
#: closes any excess (MSG_CTRUNC), so a client cannot make us hold more per read.
_MAX_FDS_PER_RECV = 1
#: Descriptors a client may have with a frame not yet complete: the one of that frame.
_MAX_QUEUED_FDS = 1
#: Replies queued for a client that is not reading them, before we stop reading it.
_MAX_QUEUED_REPLIES = 64
_RECV_SIZE = 65536
#: Most introductions outstanding for one peer, whatever the budget allows.
DEFAULT_PENDING_PER_PEER = 64
#: Descriptors left alone by the budget: logging, the stale-socket probe, a racing accept.
_FD_RESERVE = 8
#: Caps on the worked-out defaults, however high RLIMIT_NOFILE is.
_MAX_DEFAULT_CLIENTS = 1024
_MAX_DEFAULT_PENDING = 4096


def fd_budget() -> int:
    """Descriptors the process may still open: ``RLIMIT_NOFILE`` - those open - a reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:
        in_use = 32  # a guess where /proc is missing; the accept back-off covers the rest
    return soft - in_use - _FD_RESERVE


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
    pending_fds: int = 0  # introductions queued in ``out`` (each holds a descriptor)
    # Introductions sent that the peer may not have read yet: their descriptors are in
    # flight in the kernel, which limits how many a user may have (ETOOMANYREFS).
    in_flight: int = 0
    lost: int = 0  # introductions the kernel would not pass (ETOOMANYREFS)

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"anonymous-{self.id}"


class IntroductionServer(Server):
    """The introduction server on a Unix path or abstract name.

    ``introductions`` counts descriptors handed over; ``registered`` maps the
    names currently registered to their connections. ``max_clients`` and
    ``max_pending`` default to what ``RLIMIT_NOFILE`` allows (see the module
    docstring); ``allow_uids`` and ``insecure_dir`` as for every server.
    """

    kind = "stream"

    def __init__(
        self,
        address: AddressLike,
        *,
        backlog: int = 128,
        max_clients: int | None = None,
        max_pending: int | None = None,
        max_pending_per_peer: int | None = None,
        **options: Unpack[ServerOptions],
    ) -> None:
        super().__init__(address, **options)
        if isinstance(self.requested_address, InetAddress):
            raise ValueError("descriptor passing needs a Unix-domain address, not TCP")
        for name, value in (
            ("backlog", backlog),
            ("max_clients", max_clients),
            ("max_pending", max_pending),
            ("max_pending_per_peer", max_pending_per_peer),
        ):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        self.backlog = backlog
        self._requested_limits = (max_clients, max_pending, max_pending_per_peer)
        #: Worked out at bind (see :meth:`_plan_limits`).
        self.max_clients = max_clients or 1
        self.max_pending = max_pending or 1
        self.max_pending_per_peer = max_pending_per_peer or 1
        self._peers: dict[int, _Peer] = {}
        self._ids = itertools.count(1)
        self.registered: dict[str, _Peer] = {}
        self.introductions = 0
        #: Introductions queued for peers and not yet sent (each holds one descriptor).
        self.pending = 0
        #: Introductions sent but possibly not yet read by their peers (in the kernel).
        self.in_flight = 0
        #: Introductions refused because a queue was full.
        self.refused_introductions = 0
        self._acceptor = Acceptor(
            self._on_client, self._has_room, self.warnings, allow_uids=self.allow_uids
        )

    @property
    def refused_connections(self) -> int:
        """Connections closed at once because the peer's uid is not in ``allow_uids``."""
        return self._acceptor.refused

    def _plan_limits(self) -> None:
        """Fit clients and queued descriptors into the descriptors the process may open.

        Each client costs its connection plus at most one descriptor with a frame
        not yet complete; each queued introduction one. Introductions sent but not
        yet read count as outstanding too: their descriptors are in flight in the
        kernel, which allows a user only RLIMIT_NOFILE of those (``ETOOMANYREFS``).
        One peer may hold a quarter of the outstanding total, so that one peer that
        never reads cannot starve the others.
        """
        budget = fd_budget()
        clients, pending, per_peer = self._requested_limits
        if clients is None:
            clients = max(1, min(_MAX_DEFAULT_CLIENTS, budget // 4))
        if pending is None:
            pending = max(1, min(_MAX_DEFAULT_PENDING, budget - 2 * clients))
        if 2 * clients + pending > budget:
            self.log.warning(
                "max_clients=%d and max_pending=%d need %d descriptors, but RLIMIT_NOFILE "
                "leaves %d: accepts will back off when descriptors run out",
                clients,
                pending,
                2 * clients + pending,
                budget,
            )
        if per_peer is None:
            per_peer = max(1, min(DEFAULT_PENDING_PER_PEER, pending // 4))
        self.max_clients, self.max_pending, self.max_pending_per_peer = clients, pending, per_peer

    # -- accept / read / write -----------------------------------------------

    def _open(self) -> None:
        self._plan_limits()
        sock = self._bind_socket(socket.SOCK_STREAM)
        sock.listen(self.backlog)
        assert self._selector is not None
        self._acceptor.attach(self._selector, sock)

    def _has_room(self) -> bool:
        return len(self._peers) < self.max_clients

    def _on_client(
        self, client: socket.socket, addr: object, creds: PeerCredentials | None
    ) -> None:
        assert self._selector is not None
        peer = _Peer(next(self._ids), client, Decoder(MAX_MESSAGE))
        self._peers[peer.id] = peer
        self._selector.register(client, selectors.EVENT_READ, self._handler(peer))
        self._info("client #%d connected (%s)", peer.id, creds or "peer credentials unavailable")

    def _next_timeout(self) -> float | None:
        retry_at = self._acceptor.next_deadline()
        return None if retry_at is None else max(0.0, retry_at - time.monotonic())

    def _tick(self, now: float) -> None:
        self._acceptor.tick(now)

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
            self._protocol_error(
                peer,
                "descriptors lost: more than one sent with a message (or none could be received)",
            )
            return
        if len(peer.fds_in) > _MAX_QUEUED_FDS + 1:
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
        if len(peer.fds_in) > (_MAX_QUEUED_FDS if peer.decoder.pending else 0):
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
        refusal = None
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                refusal = "ERR the descriptor is not a socket"
        except OSError:
            refusal = "ERR bad descriptor"
        if refusal is None and target is None:
            refusal = f"ERR no peer named {target_name}"
        if refusal is None and target is not None:
            waiting = target.pending_fds + self._unread(target)
            if waiting >= self.max_pending_per_peer:
                refusal = f"ERR busy: {target_name} has {waiting} introductions not yet taken"
            elif self.pending + self.in_flight >= self.max_pending:
                refusal = f"ERR busy: {self.pending + self.in_flight} introductions outstanding"
            if refusal is not None:
                self.refused_introductions += 1
                self.warnings.warning(
                    "introduction refused",
                    "refused an introduction from %s: %s",
                    peer.label,
                    refusal[4:],
                )
        if refusal is not None:
            os.close(fd)
            return refusal
        assert target is not None
        # The descriptor now belongs to the target's queue, which closes it once sent.
        target.out.append(_Outgoing(encode(f"INTRO {peer.label}".encode()), fd))
        target.pending_fds += 1
        self.pending += 1
        self.introductions += 1
        if target is not peer:
            lost = target.lost
            self._flush(target)
            if target.lost > lost:
                # Found out at once: the introducer hears it, rather than a false OK.
                self.introductions -= 1
                return "ERR busy: the kernel would not pass the descriptor (too many in flight)"
        self._info("introduced %s to %s", peer.label, target.label)
        return "OK"

    def _reply(self, peer: _Peer, text: str) -> None:
        peer.out.append(_Outgoing(encode(text.encode("utf-8"))))

    def _unread(self, peer: _Peer) -> int:
        """Introductions sent to ``peer`` that it may not have read (0 once it has read all).

        ``SIOCOUTQ`` on a Unix stream socket is what the peer has not yet read of what
        we sent; at 0, every descriptor we passed has reached it.
        """
        if peer.in_flight:
            unread = array.array("i", [1])
            with contextlib.suppress(OSError):
                fcntl.ioctl(peer.sock.fileno(), termios.TIOCOUTQ, unread, True)
            if unread[0] == 0:
                self.in_flight -= peer.in_flight
                peer.in_flight = 0
        return peer.in_flight

    def _flush(self, peer: _Peer) -> None:
        """Send what ``peer``'s socket takes now; a send error drops ``peer`` (only)."""
        try:
            self._send_queued(peer)
        except OSError as exc:
            self._drop(peer, f"error: {exc}")
            return
        if peer.closing and not peer.out:
            self._drop(peer, "protocol error")
            return
        events = selectors.EVENT_WRITE if peer.out else 0
        # Keep reading only while the client also takes its replies (back-pressure).
        if not peer.closing and len(peer.out) < _MAX_QUEUED_REPLIES:
            events |= selectors.EVENT_READ
        if events != peer.events and self._selector is not None:
            self._selector.modify(peer.sock, events, self._selector.get_key(peer.sock).data)
            peer.events = events

    def _send_queued(self, peer: _Peer) -> None:
        while peer.out:
            item = peer.out[0]
            try:
                if item.fd is not None:
                    sent = socket.send_fds(peer.sock, [item.data], [item.fd])
                    # The kernel holds its own reference now; ours is done with.
                    self._release(peer, item)
                    peer.in_flight += 1
                    self.in_flight += 1
                else:
                    sent = peer.sock.send(item.data)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno != errno.ETOOMANYREFS or item.fd is None:
                    raise
                # The kernel's limit on descriptors in flight for our user (RLIMIT_NOFILE):
                # this introduction cannot be delivered now, and waiting would spin (the
                # socket stays writable). Drop it, and say so.
                self.warnings.warning(
                    "introduction lost",
                    "could not pass a descriptor to %s: %s; introduction dropped",
                    peer.label,
                    exc.strerror,
                )
                self._release(peer, item)
                peer.out.popleft()
                peer.lost += 1
                continue
            if sent < len(item.data):
                item.data = item.data[sent:]
                continue
            peer.out.popleft()

    def _release(self, peer: _Peer, item: _Outgoing) -> None:
        """Close a queued introduction's descriptor (sent, or never to be sent)."""
        if item.fd is None:
            return
        with contextlib.suppress(OSError):
            os.close(item.fd)
        item.fd = None
        peer.pending_fds -= 1
        self.pending -= 1

    def _protocol_error(self, peer: _Peer, why: str) -> None:
        self.warnings.warning("protocol error", "client #%d (%s): %s", peer.id, peer.label, why)
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
            self._release(peer, item)
        peer.out.clear()
        self.in_flight -= peer.in_flight
        peer.in_flight = 0
        self._info("client #%d (%s) gone: %s", peer.id, peer.label, reason)
        self._acceptor.resume()

    def _close_peers(self) -> None:
        for peer in list(self._peers.values()):
            self._drop(peer, "server stopping")
        self._acceptor.detach()


def _name_problem(name: str) -> str | None:
    if not name:
        return "empty name"
    if len(name.encode("utf-8")) > MAX_NAME:
        return f"name longer than {MAX_NAME} bytes"
    if any(ch.isspace() for ch in name):
        return "name contains whitespace"
    return None


class IntroClient(Closing):
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


def wait_registered(server: IntroductionServer, name: str, timeout: float = 5.0) -> bool:
    """Poll until ``name`` is registered on an in-process server (for tests and demos)."""
    deadline = time.monotonic() + timeout
    while name not in server.registered:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True
