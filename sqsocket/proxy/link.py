"""One proxied connection: the accepted client, its upstream socket, and two pipes.

A :class:`Link` is driven entirely by the relay's selector loop (one thread):
``on_event`` when one of its sockets is ready, ``pump`` when its timer fires
or the faults changed. It never blocks and never sleeps; every delay a fault
asks for becomes the link's single timer (:meth:`Link._reschedule`).

Each direction is a :class:`Pipe`: bytes read from its source wait in a
bounded queue (at most ``high_water`` bytes; beyond that the source is not
read, which is how back-pressure reaches the sender) until they are due
(latency) and the pipe may write (slicer pauses, bandwidth), and are written
to the destination in pieces no larger than the faults allow. A source's end
of stream is passed on as ``shutdown(SHUT_WR)`` once the queue is empty, as a
direct connection would; the link closes when both directions have ended.

Life of a link: ``held`` (an accept fault holds it), ``connecting`` (a
non-blocking connect upstream; the client is already read into the queue),
``open``, ``closed``.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import functools
import random
import selectors
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from sqsocket.proxy.dump import TrafficDump
from sqsocket.proxy.faults import Direction, DirectionFaults, FaultSet, Stall
from sqsocket.proxy.timers import Timer, Timers
from sqsocket.servers.address import Address

__all__ = ["Link", "LinkHost", "LinkInfo", "LinkState", "Pipe", "PipeInfo", "abort_socket"]

_RECV_SIZE = 65536
#: A bandwidth-limited pipe writes about this many seconds' worth of bytes at once.
BANDWIDTH_GRAIN = 0.05
#: Writes per pump and pipe before the loop gets a turn (other links, stop requests).
_MAX_WRITES = 64
#: Pause between connect attempts while a Unix-domain upstream's backlog is full.
_CONNECT_RETRY = 0.02
_LINGER_ABORT = struct.pack("ii", 1, 0)


class LinkState(enum.Enum):
    HELD = "held"
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


class LinkHost(Protocol):
    """What a link needs from the relay that runs it (:class:`~sqsocket.proxy.relay.Proxy`)."""

    timers: Timers
    rng: random.Random
    high_water: int
    connect_timeout: float

    @property
    def current_faults(self) -> FaultSet: ...

    @property
    def upstream(self) -> Address: ...

    @property
    def traffic_dump(self) -> TrafficDump | None: ...

    def watch(
        self, sock: socket.socket, events: int, handler: functools.partial[None] | None
    ) -> None: ...

    def link_closed(self, link: Link) -> None: ...


def abort_socket(sock: socket.socket) -> None:
    """Close ``sock`` abruptly: SO_LINGER {1, 0} first, so TCP sends an RST, not a FIN.

    A Unix-domain socket has no RST; closing it is all there is (its peer then
    sees end of stream, or ECONNRESET if this side left data unread).
    """
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
    sock.close()


@dataclass(eq=False)
class _Chunk:
    due: float
    data: bytes
    offset: int = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.offset


@dataclass(frozen=True)
class PipeInfo:
    """A snapshot of one direction's counters."""

    read: int  # bytes read from the sender
    forwarded: int  # bytes written to the receiver
    dropped: int  # bytes read and discarded (stall with drop, after a half-close)
    queued: int  # bytes read and not yet written
    eof: bool  # the sender ended its stream
    shut: bool  # the receiver was sent end of stream (passed on, or a half-close fault)
    writes: int  # send() calls that wrote something to the receiver
    largest_write: int  # the most bytes one of them wrote


@dataclass(eq=False)
class Pipe:
    """One direction of a link: source socket -> queue -> destination socket."""

    direction: Direction
    src: socket.socket
    dst: socket.socket
    queue: deque[_Chunk] = field(default_factory=deque)
    queued: int = 0
    read: int = 0
    forwarded: int = 0
    dropped: int = 0
    writes: int = 0
    largest_write: int = 0
    eof: bool = False
    shut: bool = False
    #: A half-close fault shut the destination: whatever still comes is dropped.
    half_closed: bool = False
    #: The last send would have blocked: wait for the destination to be writable.
    blocked: bool = False
    next_write_at: float = 0.0
    last_due: float = 0.0
    #: The stall fault in force and when it began (reset when the fault changes).
    stall: Stall | None = None
    stall_since: float | None = None

    @property
    def name(self) -> str:
        return self.direction.value

    def info(self) -> PipeInfo:
        return PipeInfo(
            self.read,
            self.forwarded,
            self.dropped,
            self.queued,
            self.eof,
            self.shut,
            self.writes,
            self.largest_write,
        )

    def discard_queue(self) -> None:
        self.dropped += self.queued
        self.queue.clear()
        self.queued = 0


@dataclass(frozen=True)
class LinkInfo:
    """A snapshot of one connection, for :meth:`~sqsocket.proxy.relay.Proxy.connections`."""

    id: int
    peer: str
    state: LinkState
    up: PipeInfo
    down: PipeInfo
    #: Why it closed ("done", "reset", "limit-data", "cannot connect to upstream ...") or None.
    reason: str | None


class Link:
    """A client connection and everything the proxy does for it."""

    def __init__(self, host: LinkHost, ident: int, client: socket.socket, peer: str) -> None:
        self.host = host
        self.id = ident
        self.peer = peer
        self.client = client
        self.upstream: socket.socket | None = None
        self.accepted_at = time.monotonic()
        self.state = LinkState.HELD
        self.reason: str | None = None
        self.up: Pipe | None = None
        self.down: Pipe | None = None
        self._timer: Timer | None = None
        self._connect_deadline = 0.0
        self._retry_connect_at: float | None = None
        self._held_reported = False
        self._events: dict[int, int] = {}

    # -- reporting ------------------------------------------------------------------

    def _dump(self, text: str) -> None:
        dump = self.host.traffic_dump
        if dump is not None:
            dump.event(self.id, text)

    def info(self) -> LinkInfo:
        empty = PipeInfo(0, 0, 0, 0, False, False, 0, 0)
        return LinkInfo(
            self.id,
            self.peer,
            self.state,
            self.up.info() if self.up else empty,
            self.down.info() if self.down else empty,
            self.reason,
        )

    # -- accept, hold, connect --------------------------------------------------------

    def start(self, now: float) -> None:
        """Just accepted: refuse it, hold it, or connect upstream, as the faults say."""
        faults = self.host.current_faults
        self._dump(f"accepted from {self.peer}")
        if faults.refuse is not None:
            self._dump(f"fault: {faults.refuse.describe()}")
            self.close("refused", abort=faults.refuse.rst)
            return
        self._hold_or_release(now)

    def _hold_until(self, faults: FaultSet) -> float | None:
        """When a held link may go on (inf: never read; None: now)."""
        if faults.never_read is not None:
            return float("inf")
        if faults.accept_delay is not None:
            return self.accepted_at + faults.accept_delay.ms / 1000.0
        return None

    def _hold_or_release(self, now: float) -> None:
        until = self._hold_until(self.host.current_faults)
        if until is not None and until > now:
            if not self._held_reported:
                self._held_reported = True
                self._dump(f"fault: held ({self.host.current_faults.describe()})")
            self.state = LinkState.HELD
            self._reschedule(now)
            return
        self._connect(now)

    def _connect(self, now: float) -> None:
        target = self.host.upstream
        self.state = LinkState.CONNECTING
        self._connect_deadline = now + self.host.connect_timeout
        try:
            up = socket.socket(target.family, socket.SOCK_STREAM)
        except OSError as exc:  # out of descriptors: this client cannot be served
            self._dump(f"cannot create the upstream socket: {exc}")
            self.close(f"no upstream socket: {exc.strerror}")
            return
        up.setblocking(False)
        if target.family != socket.AF_UNIX:
            # Small writes must leave as written (the slicer), not wait for Nagle.
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.upstream = up
        self.up = Pipe(Direction.UP, self.client, up)
        self.down = Pipe(Direction.DOWN, up, self.client)
        self._try_connect(now)

    def _try_connect(self, now: float) -> None:
        assert self.upstream is not None
        self._retry_connect_at = None
        code = self.upstream.connect_ex(self.host.upstream.sockaddr)
        if code in (0, errno.EISCONN):
            self._opened(now)
            return
        if code == errno.EAGAIN:
            # A Unix-domain listener with a full backlog: try again shortly (the
            # timer), until the connect timeout.
            self._retry_connect_at = now + _CONNECT_RETRY
        elif code not in (errno.EINPROGRESS, errno.EALREADY):
            self._connect_failed(code)
            return
        # in progress (TCP): writability says when it is done
        self._update(now)
        self._reschedule(now)

    def _connect_failed(self, code: int) -> None:
        error = errno.errorcode.get(code, str(code))
        reason = f"cannot connect to upstream {self.host.upstream}: {error}"
        self._dump(reason)
        self.close(reason)

    def _connect_done(self, now: float) -> None:
        assert self.upstream is not None
        code = self.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._connect_failed(code)
            return
        try:
            self.upstream.getpeername()  # writable is not proof of being connected
        except OSError:
            self._try_connect(now)
            return
        self._opened(now)

    def _opened(self, now: float) -> None:
        self.state = LinkState.OPEN
        self._dump(f"connected to {self.host.upstream}")
        self.pump(now)

    # -- events -------------------------------------------------------------------------

    def on_event(self, sock: socket.socket, mask: int) -> None:
        """The selector says ``sock`` (client or upstream) is ready for ``mask``."""
        now = time.monotonic()
        connecting = self.state is LinkState.CONNECTING and sock is self.upstream
        if connecting and mask & selectors.EVENT_WRITE:
            self._connect_done(now)
            return
        if self.up is None or self.down is None:
            return
        if mask & selectors.EVENT_READ and self.state is not LinkState.CLOSED:
            self._read(self.up if sock is self.client else self.down, now)
        if mask & selectors.EVENT_WRITE and self.state is LinkState.OPEN:
            pipe = self.down if sock is self.client else self.up
            pipe.blocked = False
        self.pump(now)

    def pump(self, now: float) -> None:
        """Write what is due in both directions, apply thresholds, re-arm events and timer."""
        if self.state is LinkState.HELD:
            self._hold_or_release(now)
            return
        if self.up is None or self.down is None:
            return
        for pipe in (self.up, self.down):
            if self.state is LinkState.OPEN:
                self._flush(pipe, now)
        if self.state is LinkState.CLOSED:
            return
        if self.up.eof and self.down.eof and self.up.shut and self.down.shut:
            self.close("done")
            return
        self._update(now)
        self._reschedule(now)

    def _on_timer(self, now: float) -> None:
        self._timer = None
        if self.state is LinkState.CONNECTING:
            if now >= self._connect_deadline:
                self._connect_failed(errno.ETIMEDOUT)
            elif self._retry_connect_at is not None and now >= self._retry_connect_at:
                self._try_connect(now)
            else:
                self._reschedule(now)
            return
        self.pump(now)

    # -- reading --------------------------------------------------------------------

    def _faults(self, pipe: Pipe) -> DirectionFaults:
        return self.host.current_faults.direction(pipe.direction)

    def _stalled(self, pipe: Pipe, stall: Stall | None, now: float) -> bool:
        """Is ``stall`` in force on ``pipe`` now? Starts its clock the first time it is."""
        if stall is None or pipe.read < stall.after:
            return False
        if pipe.stall is not stall:
            pipe.stall, pipe.stall_since = stall, now
            self._dump(f"fault: {stall.describe()} in force after {pipe.read} bytes")
        assert pipe.stall_since is not None
        return stall.seconds is None or now < pipe.stall_since + stall.seconds

    def _wants_read(self, pipe: Pipe, now: float) -> bool:
        if pipe.eof or self.state is LinkState.CLOSED:
            return False
        if pipe.direction is Direction.DOWN and self.state is not LinkState.OPEN:
            return False  # upstream not connected yet
        if pipe.half_closed:
            return True  # drain and drop, so the sender never blocks on us
        if pipe.queued >= self.host.high_water:
            return False
        stall = self._faults(pipe).stall
        return not (stall is not None and not stall.drop and self._stalled(pipe, stall, now))

    def _read(self, pipe: Pipe, now: float) -> None:
        if not self._wants_read(pipe, now):
            return
        faults = self._faults(pipe)
        stall = faults.stall
        limit = _RECV_SIZE
        if stall is not None and not stall.drop and not self._stalled(pipe, stall, now):
            # read no further than the stall point, so the sender's next bytes stay unread
            limit = min(limit, max(1, stall.after - pipe.read))
        try:
            data = pipe.src.recv(limit)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._peer_error(pipe.src, exc)
            return
        if not data:
            pipe.eof = True
            self._dump(f"{pipe.name} end of stream after {pipe.read} bytes")
            return
        before = pipe.read
        pipe.read += len(data)
        dump = self.host.traffic_dump
        if dump is not None:
            dump.data(self.id, pipe.name, data)
        if pipe.half_closed:
            pipe.dropped += len(data)
            return
        if stall is not None and stall.drop and self._stalled(pipe, stall, now):
            keep = max(0, stall.after - before)
            pipe.dropped += len(data) - keep
            data = data[:keep]
            if not data:
                return
        due = now
        if faults.latency is not None:
            lat = faults.latency
            delay = lat.ms + (self.host.rng.uniform(-lat.jitter, lat.jitter) if lat.jitter else 0)
            due = now + max(0.0, delay) / 1000.0
        # jitter must not reorder the stream: a chunk is never due before the one ahead
        due = max(due, pipe.last_due)
        pipe.last_due = due
        pipe.queue.append(_Chunk(due, data))
        pipe.queued += len(data)

    # -- writing --------------------------------------------------------------------

    def _thresholds(self, pipe: Pipe, faults: DirectionFaults, now: float) -> bool:
        """Apply reset / limit-data / half-close once their point is reached.

        Answers True when this pipe must not write now (closed, or half-closed).
        """
        reset = faults.reset
        if reset is not None:
            after = 0 if reset.after is None and reset.seconds is None else reset.after
            by_bytes = after is not None and pipe.forwarded >= after
            by_time = reset.seconds is not None and now >= self.accepted_at + reset.seconds
            if by_bytes or by_time:
                why = f"after {pipe.forwarded} bytes" if by_bytes else f"after {reset.seconds:g}s"
                self._dump(f"fault: {reset.describe()}: reset {why}")
                self.close("reset", abort=True)
                return True
        limit = faults.limit
        if limit is not None and pipe.forwarded >= limit.after:
            self._dump(f"fault: {limit.describe()}: close after {pipe.forwarded} bytes")
            self.close("limit-data")
            return True
        half = faults.half_close
        if half is not None and not pipe.half_closed and pipe.forwarded >= half.after:
            self._dump(f"fault: {half.describe()}: shutdown after {pipe.forwarded} bytes")
            pipe.half_closed = True
            pipe.discard_queue()
            self._shutdown(pipe)
        return pipe.half_closed

    def _piece(self, pipe: Pipe, faults: DirectionFaults, chunk: _Chunk) -> int:
        """How many bytes of ``chunk`` the next write may take."""
        n = chunk.left
        if faults.slicer is not None:
            n = min(n, faults.slicer.size)
        if faults.bandwidth is not None:
            n = min(n, max(1, int(faults.bandwidth.rate * BANDWIDTH_GRAIN)))
        reset = faults.reset
        for point in (
            reset.after if reset is not None else None,
            faults.limit.after if faults.limit is not None else None,
            faults.half_close.after if faults.half_close is not None else None,
        ):
            if point is not None:
                # stop exactly at the point, so "after N bytes" lets N bytes through
                n = min(n, max(1, point - pipe.forwarded))
        return n

    def _flush(self, pipe: Pipe, now: float) -> None:
        faults = self._faults(pipe)
        for _ in range(_MAX_WRITES):
            if self.state is not LinkState.OPEN or self._thresholds(pipe, faults, now):
                return
            if not pipe.queue:
                break
            chunk = pipe.queue[0]
            if pipe.blocked or chunk.due > now or pipe.next_write_at > now:
                return
            n = self._piece(pipe, faults, chunk)
            try:
                sent = pipe.dst.send(
                    memoryview(chunk.data)[chunk.offset : chunk.offset + n], socket.MSG_NOSIGNAL
                )
            except (BlockingIOError, InterruptedError):
                pipe.blocked = True
                return
            except OSError as exc:
                self._peer_error(pipe.dst, exc)
                return
            pipe.forwarded += sent
            pipe.writes += 1
            pipe.largest_write = max(pipe.largest_write, sent)
            pipe.queued -= sent
            chunk.offset += sent
            if not chunk.left:
                pipe.queue.popleft()
            pause = 0.0
            if faults.slicer is not None:
                pause = faults.slicer.ms / 1000.0
            if faults.bandwidth is not None:
                pause = max(pause, sent / faults.bandwidth.rate)
            if pause:
                pipe.next_write_at = now + pause
        else:
            return  # wrote _MAX_WRITES pieces: the timer (due now) brings us back
        if self.state is LinkState.OPEN and pipe.eof and not pipe.shut and not pipe.queue:
            if faults.close_on_eof is not None:
                self._dump(f"fault: {faults.close_on_eof.describe()}: close at end of stream")
                self.close("close-on-eof")
                return
            self._shutdown(pipe)

    def _shutdown(self, pipe: Pipe) -> None:
        """End of stream towards ``pipe``'s receiver; the other direction goes on."""
        if pipe.shut:
            return
        pipe.shut = True
        try:
            pipe.dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the receiver is gone already: nothing left to tell it
        else:
            self._dump(f"{pipe.name} shutdown(SHUT_WR) after {pipe.forwarded} bytes")

    def _peer_error(self, sock: socket.socket, exc: OSError) -> None:
        side = "client" if sock is self.client else "upstream"
        self._dump(f"{side} error: {exc.strerror or exc}")
        # Pass an abort on as an abort: a reset peer makes the proxy reset the other side.
        self.close(f"{side} {errno.errorcode.get(exc.errno or 0, exc)}", abort=True)

    # -- selector interest and the timer -------------------------------------------------

    def _update(self, now: float) -> None:
        """Register each socket for what its pipes wait for (nothing: unregistered)."""
        if self.state is LinkState.CLOSED:
            return
        wanted: list[tuple[socket.socket, int]] = []
        if self.up is not None and self.down is not None and self.upstream is not None:
            client_ev = selectors.EVENT_READ if self._wants_read(self.up, now) else 0
            if self.down.blocked:
                client_ev |= selectors.EVENT_WRITE
            up_ev = selectors.EVENT_READ if self._wants_read(self.down, now) else 0
            # While retrying a Unix-domain connect (full backlog) the socket is not
            # connecting at all, and an unconnected one polls writable: the timer retries.
            connecting = self.state is LinkState.CONNECTING and self._retry_connect_at is None
            if self.up.blocked or connecting:
                up_ev |= selectors.EVENT_WRITE
            wanted = [(self.client, client_ev), (self.upstream, up_ev)]
        for sock, events in wanted:
            if self._events.get(sock.fileno(), 0) != events:
                self._events[sock.fileno()] = events
                self.host.watch(sock, events, functools.partial(self.on_event, sock))

    def _next_wake(self, now: float) -> float | None:
        times: list[float] = []
        if self.state is LinkState.HELD:
            until = self._hold_until(self.host.current_faults)
            if until is not None and until != float("inf"):
                times.append(until)
        for pipe in (self.up, self.down):
            if pipe is None or self.state is not LinkState.OPEN:
                continue
            faults = self._faults(pipe)
            if pipe.queue and not pipe.blocked:
                times.append(max(pipe.queue[0].due, pipe.next_write_at))
            stall = faults.stall
            if stall is not None and stall.seconds is not None and pipe.stall is stall:
                assert pipe.stall_since is not None
                end = pipe.stall_since + stall.seconds
                if end > now:
                    times.append(end)
            if faults.reset is not None and faults.reset.seconds is not None:
                times.append(self.accepted_at + faults.reset.seconds)
        if self.state is LinkState.CONNECTING:
            times.append(self._connect_deadline)
            if self._retry_connect_at is not None:
                times.append(self._retry_connect_at)
        return min(times) if times else None

    def _reschedule(self, now: float) -> None:
        wake = self._next_wake(now)
        if self._timer is not None:
            if wake is not None and self._timer.at == wake:
                return
            self._timer.cancel()
            self._timer = None
        if wake is not None:
            self._timer = self.host.timers.schedule(wake, self._on_timer)

    # -- closing --------------------------------------------------------------------

    def close(self, reason: str, *, abort: bool = False) -> None:
        """Close both sockets (``abort``: with an RST on TCP) and tell the host; idempotent."""
        if self.state is LinkState.CLOSED:
            return
        self.state = LinkState.CLOSED
        self.reason = reason
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            if self._events.pop(sock.fileno(), 0):
                self.host.watch(sock, 0, None)
            if abort:
                abort_socket(sock)
            else:
                sock.close()
        up, down = self.info().up, self.info().down
        self._dump(f"closed ({reason}; {up.forwarded} bytes up, {down.forwarded} down)")
        self.host.link_closed(self)
