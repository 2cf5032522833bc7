"""A non-blocking stream server: accept many clients, read, answer, never lose bytes.

:class:`StreamServer` does the socket work for every connection-oriented
server here (echo, netstring); a subclass only says what to answer to the
bytes that arrived (:meth:`StreamServer.handle_data`) and what to do at the
client's end of stream (:meth:`StreamServer.handle_eof`).

Why a selector and not a thread per client: 200+ concurrent clients are
routine in the tests, and one thread with per-connection output buffers
handles partial sends exactly -- whatever ``send`` did not take stays queued
until the socket is writable again. A connection whose client stops reading
stops being read as well once its buffer passes ``high_water`` (back-pressure),
and the optional ``idle_timeout`` closes peers that stall altogether.

``max_buffer`` bounds what all connections together may have queued (default
:data:`DEFAULT_MAX_BUFFER`; the queues never exceed it by more than one read):
without it, a thousand clients that never read would each pin ``high_water``
plus one read (about 1.1 MiB) in the server. Past seven eighths of it, only
connections with nothing queued -- clients that keep up -- are still read, so
clients that never read stall themselves, not the others; at the ceiling no
connection is read. Connections paused that way are read again once the
queues drained below three quarters. And connections that hold queued bytes
without taking any for :data:`STALL_EVICTION` seconds while past seven eighths
are closed, largest queue first, to make room.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Unpack

from sqsocket.servers.address import describe_peer
from sqsocket.servers.base import AddressLike, Handler, Server, ServerOptions
from sqsocket.servers.listener import Acceptor
from sqsocket.servers.peercred import PeerCredentials

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "MAX_IDLE_TIMEOUT",
    "STALL_EVICTION",
    "Connection",
    "StreamOptions",
    "StreamServer",
]

_RECV_SIZE = 65536

#: Default ceiling on the bytes queued for all clients together (``max_buffer``).
DEFAULT_MAX_BUFFER = 64 << 20
#: Smallest ceiling accepted: one read of every connection must fit at least once.
MIN_MAX_BUFFER = _RECV_SIZE
#: Seconds a connection may hold queued bytes without taking any, while the ceiling
#: is reached, before it is closed to make room.
STALL_EVICTION = 1.0

#: Longest idle timeout accepted: a week. A bound, because the loop's wake-up is
#: computed from it and the kernel's wait takes at most ~24 days (epoll: INT_MAX ms).
MAX_IDLE_TIMEOUT = 7 * 24 * 3600.0


@dataclass(eq=False)
class Connection:
    """One accepted client and what is still owed to it."""

    id: int
    sock: socket.socket
    peer: str
    last_active: float
    out: bytearray = field(default_factory=bytearray)
    #: The client shut down its sending side (recv returned b""): flush, then close.
    eof: bool = False
    bytes_in: int = 0
    bytes_out: int = 0
    events: int = selectors.EVENT_READ


class StreamOptions(ServerOptions, total=False):
    """What every stream server takes besides its address: :class:`StreamServer`'s own
    options and those of every server (:class:`~sqsocket.servers.base.ServerOptions`)."""

    max_clients: int | None
    idle_timeout: float | None
    backlog: int
    high_water: int
    max_buffer: int | None


class StreamServer(Server):
    """Base for stream servers on a Unix path, an abstract name, or TCP.

    ``max_clients`` caps concurrent connections: at the cap the server stops
    accepting, so further clients wait in the kernel's backlog until a slot
    frees up (rather than being refused). ``idle_timeout`` (seconds, None = no
    limit) closes a connection that has neither sent nor taken data for that
    long. ``allow_uids`` and ``insecure_dir``: see :class:`~sqsocket.servers.base.Server`.
    """

    kind = "stream"

    def __init__(
        self,
        address: AddressLike,
        *,
        max_clients: int | None = None,
        idle_timeout: float | None = None,
        backlog: int = 1024,
        high_water: int = 1 << 20,
        max_buffer: int | None = DEFAULT_MAX_BUFFER,
        **options: Unpack[ServerOptions],
    ) -> None:
        super().__init__(address, **options)
        if max_clients is not None and max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        if idle_timeout is not None and not (
            math.isfinite(idle_timeout) and 0 < idle_timeout <= MAX_IDLE_TIMEOUT
        ):
            # inf and 1e308 overflowed the loop's wait; nan made every wait zero (a spin).
            raise ValueError(
                f"idle_timeout must be a number of seconds in (0, {MAX_IDLE_TIMEOUT:g}]"
            )
        if backlog < 1:
            raise ValueError("backlog must be at least 1")
        if max_buffer is not None and max_buffer < MIN_MAX_BUFFER:
            raise ValueError(f"max_buffer must be at least {MIN_MAX_BUFFER} bytes")
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self.backlog = backlog
        self.high_water = high_water
        self.max_buffer = max_buffer
        #: Bytes queued for all connections now, and the most there ever were.
        self.buffered = 0
        self.peak_buffered = 0
        #: Connections closed because they stalled while the ceiling was reached.
        self.evicted = 0
        self._paused: set[int] = set()  # not read only because of the ceiling
        self._conns: dict[int, Connection] = {}
        self._ids = itertools.count(1)
        self._acceptor = Acceptor(
            self._on_client, self._has_room, self.warnings, allow_uids=self.allow_uids
        )
        #: Connections accepted since bind (a plain counter, read by tests and demos).
        self.total_connections = 0
        #: Most connections open at the same time since bind.
        self.peak_clients = 0

    @property
    def client_count(self) -> int:
        """Connections currently open."""
        return len(self._conns)

    @property
    def refused_connections(self) -> int:
        """Connections closed at once because the peer's uid is not in ``allow_uids``."""
        return self._acceptor.refused

    # -- what subclasses provide ---------------------------------------------

    def handle_data(self, conn: Connection, data: bytes) -> bytes:
        """Return the bytes to send back for ``data`` just received on ``conn``."""
        raise NotImplementedError

    def handle_eof(self, conn: Connection) -> bytes:
        """The client closed its side; return any last bytes to send before closing."""
        return b""

    # -- socket plumbing -----------------------------------------------------

    def _open(self) -> None:
        sock = self._bind_socket(socket.SOCK_STREAM)
        sock.listen(self.backlog)
        assert self._selector is not None
        self._acceptor.attach(self._selector, sock)

    def _has_room(self) -> bool:
        # at the ceiling a new client could not be read: let it wait in the backlog
        if self.max_buffer is not None and self.buffered >= self.max_buffer:
            return False
        return self.max_clients is None or len(self._conns) < self.max_clients

    def _on_client(
        self, client: socket.socket, addr: object, creds: PeerCredentials | None
    ) -> None:
        assert self._selector is not None
        conn = Connection(
            id=next(self._ids),
            sock=client,
            peer=describe_peer(addr),
            last_active=time.monotonic(),
        )
        self._conns[conn.id] = conn
        self.total_connections += 1
        self.peak_clients = max(self.peak_clients, len(self._conns))
        self._selector.register(client, selectors.EVENT_READ, self._make_handler(conn))
        self._info("connection #%d from %s%s", conn.id, conn.peer, f" ({creds})" if creds else "")

    def _make_handler(self, conn: Connection) -> Handler:
        def handler(mask: int) -> None:
            self._on_conn_event(conn, mask)

        return handler

    def _set_events(self, conn: Connection, events: int) -> None:
        selector = self._selector
        if events == conn.events or selector is None:
            return
        # A connection paused at the ceiling with nothing to send waits for nothing: a
        # selector cannot watch for no event, so it leaves the selector until resumed.
        if not events:
            selector.unregister(conn.sock)
        elif not conn.events:
            selector.register(conn.sock, events, self._make_handler(conn))
        else:
            selector.modify(conn.sock, events, selector.get_key(conn.sock).data)
        conn.events = events

    def _on_conn_event(self, conn: Connection, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ:
                self._read(conn)
            if conn.id in self._conns and mask & selectors.EVENT_WRITE:
                self._flush(conn)
        except (ConnectionError, TimeoutError) as exc:
            self._close(conn, f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            self._close(conn, f"error: {exc}")

    def _read(self, conn: Connection) -> None:
        if not self._may_read(conn):
            # registered for reading before the queues filled up: not now (else every
            # ready connection of one select() would add a read beyond the ceiling)
            self._set_events(conn, self._events_for(conn))
            return
        try:
            data = conn.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        conn.last_active = time.monotonic()
        if data:
            conn.bytes_in += len(data)
            reply = self.handle_data(conn, data)
        else:
            conn.eof = True
            reply = self.handle_eof(conn)
            self._info("connection #%d: end of stream after %d bytes in", conn.id, conn.bytes_in)
        if conn.id not in self._conns:
            return  # handle_* closed it (protocol error)
        if reply:
            conn.out += reply
            self.buffered += len(reply)
            self.peak_buffered = max(self.peak_buffered, self.buffered)
        self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        """Send what the socket takes now; queue the rest; pick the events to wait for."""
        while conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                break
            del conn.out[:sent]
            self.buffered -= sent
            conn.bytes_out += sent
            conn.last_active = time.monotonic()
        if conn.eof and not conn.out:
            self._close(conn, "done")
            return
        self._set_events(conn, self._events_for(conn))
        self._resume_paused()

    def _crowded(self) -> bool:
        """Past seven eighths of the ceiling: connections with queued bytes are not read."""
        ceiling = self.max_buffer
        return ceiling is not None and self.buffered >= ceiling - ceiling // 8

    def _may_read(self, conn: Connection) -> bool:
        """Whether the queues leave room to read ``conn`` now (one read at most)."""
        ceiling = self.max_buffer
        if ceiling is None or self.buffered < ceiling - ceiling // 8:
            return True
        return not conn.out and self.buffered < ceiling

    def _events_for(self, conn: Connection) -> int:
        events = 0
        if conn.out:
            events |= selectors.EVENT_WRITE
        # Keep reading only while the client also keeps taking what we owe it, and
        # while all the queues together leave room.
        if not conn.eof and len(conn.out) < self.high_water:
            if self._may_read(conn):
                events |= selectors.EVENT_READ
            else:
                self._paused.add(conn.id)
        return events

    def _resume_paused(self) -> None:
        """Read the connections the ceiling paused again, once the queues drained to 3/4
        (and accept again once they are under the ceiling)."""
        if self.max_buffer is None:
            return
        if self._paused and self.buffered < self.max_buffer * 3 // 4:
            paused, self._paused = self._paused, set()
            for conn_id in paused:
                conn = self._conns.get(conn_id)
                if conn is not None:
                    self._set_events(conn, self._events_for(conn))
        self._acceptor.resume()  # does nothing while it is watching or there is no room

    def _shed_stalled(self, now: float) -> None:
        """Past 7/8 of the ceiling, close connections that took nothing for STALL_EVICTION s."""
        if not self._crowded():
            return
        stalled = [
            c for c in self._conns.values() if c.out and now - c.last_active >= STALL_EVICTION
        ]
        stalled.sort(key=lambda c: len(c.out), reverse=True)
        for conn in stalled:
            if not self._crowded():
                break
            self.evicted += 1
            self.warnings.log(
                "buffer ceiling",
                "closing connection #%d from %s: %d bytes queued and none taken for %.1fs "
                "while all queues neared the %d-byte ceiling",
                conn.id,
                conn.peer,
                len(conn.out),
                now - conn.last_active,
                self.max_buffer,
            )
            self._close(conn, "stalled at the buffer ceiling")

    def close_connection(self, conn: Connection, reason: str) -> None:
        """Close ``conn`` now, discarding anything still queued for it (for subclasses)."""
        self._close(conn, reason)

    def _close(self, conn: Connection, reason: str) -> None:
        if self._conns.pop(conn.id, None) is None:
            return
        self.buffered -= len(conn.out)
        # free the queue now: the Connection may outlive this call (the rest of the
        # loop's ready list still refers to it), and its bytes are no longer counted
        conn.out = bytearray()
        self._paused.discard(conn.id)
        if self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
        conn.sock.close()
        self._info(
            "connection #%d from %s closed (%s; %d bytes in, %d out)",
            conn.id,
            conn.peer,
            reason,
            conn.bytes_in,
            conn.bytes_out,
        )
        self._acceptor.resume()
        self._resume_paused()

    # -- timers and shutdown ---------------------------------------------------

    def _next_timeout(self) -> float | None:
        deadlines = []
        retry_at = self._acceptor.next_deadline()
        if retry_at is not None:
            deadlines.append(retry_at)
        if self.idle_timeout is not None and self._conns:
            deadlines.append(min(c.last_active for c in self._conns.values()) + self.idle_timeout)
        if self._crowded():
            # look again soon: a stalled connection becomes closable within STALL_EVICTION
            deadlines.append(time.monotonic() + STALL_EVICTION / 4)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _tick(self, now: float) -> None:
        self._acceptor.tick(now)
        self._shed_stalled(now)
        if self.idle_timeout is None:
            return
        for conn in [c for c in self._conns.values() if now - c.last_active >= self.idle_timeout]:
            self._close(conn, f"idle for {self.idle_timeout:g}s")

    def _close_peers(self) -> None:
        for conn in list(self._conns.values()):
            self._close(conn, "server stopping")
        self._acceptor.detach()
