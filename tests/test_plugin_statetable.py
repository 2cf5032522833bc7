"""Every row of the state table, driven with real sockets.

For each row of :data:`sqsocket.platform.statetable.TABLE` a scenario makes the
row's event happen on real sockets (Unix-domain sockets in a short /tmp
directory, or 127.0.0.1). A recorder sees every transition the emulator makes:
for rows applied to an existing socket it notes, at that very moment, what
``primitiveSocketConnectionStatus`` answers and which of the socket's three
semaphores the transition signalled. The test then checks both against the row.

Two events cannot happen on Linux, whose close() never answers EWOULDBLOCK:
CLOSE_DEFERRED and CLOSE_HANDLER are driven through the ``Sockets._close_fd``
seam, after which the deferred close really completes in the VM's next poll.
ACCEPT_ERROR needs no seam: listen() on an unbound Unix stream socket fails
(the plugin ignores that), epoll reports a hang-up, and accept() fails.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from plugin_support import (
    LOOPBACK,
    WAIT,
    Harness,
    Sock,
    can_create_raw_icmp,
    close_fails_once,
    fails,
    short_tmpdir,
)

from sqsocket.platform.constants import NetDomain, SocketStatus, SocketType
from sqsocket.platform.statetable import (
    BY_EVENT,
    TABLE,
    Event,
    IllegalTransition,
    Notify,
    StateChanged,
    Transition,
    render_markdown,
    rows_into,
    transition,
)
from sqsocket.plugin import SocketPlugin

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


# -- the recorder ------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """One transition of an existing socket, as seen the moment it happened."""

    event: Event
    before: SocketStatus | None
    status: int | None  # the state it left (None: Invalid, which the status primitive drops)
    signals: tuple[int, int, int]  # (conn, read, write) signals the transition gave


class Recorder:
    """Sees every transition through the plugin's public observer hook."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.events: list[Event] = []
        self.applied: list[Applied] = []
        self.stop = h.p.observe(self._seen)

    def _seen(self, record: object) -> None:
        if not isinstance(record, StateChanged):
            return
        self.events.append(record.event)
        if record.before is None:
            return  # a socket born in its state
        pss = self.h.p.net.sockets.get(record.socket)
        assert pss is not None, f"{record.event.name} on a socket the plugin does not know"
        signals = tuple(
            sum(1 for index in record.signalled if index == mine)
            for mine in (pss.conn_sema, pss.read_sema, pss.write_sema)
        )
        status = None if record.after == SocketStatus.INVALID else int(record.after)
        self.applied.append(
            Applied(record.event, record.before, status, (signals[0], signals[1], signals[2]))
        )

    def wait_for(self, event: Event, timeout: float = WAIT) -> bool:
        """Let the VM's idle process run (its polls run the handlers) until ``event`` is seen."""
        deadline = time.monotonic() + timeout
        while event not in self.events:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.h.p.vm.relinquish(min(remaining, 0.05))
        return True

    def applied_for(self, event: Event, timeout: float = WAIT) -> Applied:
        self.wait_for(event, timeout)
        record = next((a for a in self.applied if a.event is event), None)
        assert record is not None, f"{event.name} was never applied to an existing socket"
        return record


@pytest.fixture
def recorder(harness: Harness) -> Recorder:
    return Recorder(harness)


# -- scenarios: one per row, each answering the socket the row's event happened to ----


@dataclass
class Ctx:
    h: Harness
    rec: Recorder
    dir: str
    monkeypatch: pytest.MonkeyPatch
    cleanup: contextlib.ExitStack

    @property
    def p(self) -> SocketPlugin:
        return self.h.p


Scenario = Callable[[Ctx], Sock]


def _create_stream(c: Ctx) -> Sock:
    return c.h.create(NetDomain.INET4, SocketType.TCP)


def _create_dgram(c: Ctx) -> Sock:
    return c.h.create(NetDomain.INET4, SocketType.UDP)


def _create_raw(c: Ctx) -> Sock:
    if not can_create_raw_icmp():
        pytest.skip("raw ICMP sockets need CAP_NET_RAW, which this process lacks")
    conn, read, write, ci, ri, wi = c.h.semaphores("raw")
    handle = c.p.primitiveSocketCreateRAW(NetDomain.INET4, 1, 0, 0, ci, ri, wi)
    return Sock(handle, conn, read, write)


def _listen(c: Ctx) -> Sock:
    listener, _port = c.h.tcp_listener(backlog=1)
    return listener


def _unix_connect_sync(c: Ctx) -> Sock:
    """A Unix stream connect() to a listening path completes at once."""
    path = os.path.join(c.dir, "sync.sock")
    c.h.unix_listener(path)
    client = c.h.create(NetDomain.LOCAL, SocketType.TCP, "client")
    c.p.primitiveSocketConnectTo(client.handle, c.h.unix_address(path))
    return client


def _tcp_connect(c: Ctx) -> Sock:
    """A non-blocking TCP connect() answers EINPROGRESS; a later poll completes it."""
    _listener, port = c.h.tcp_listener()
    client = c.h.create(NetDomain.INET4, SocketType.TCP, "client")
    c.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
    return client


def _connect_error(c: Ctx) -> Sock:
    client = c.h.create(NetDomain.LOCAL, SocketType.TCP, "client")
    missing = os.path.join(c.dir, "nobody-listens-here.sock")
    c.p.primitiveSocketConnectTo(client.handle, c.h.unix_address(missing))
    return client


def _connect_refused(c: Ctx) -> Sock:
    """127.0.0.1 on a port that is bound but not listening: RST, after EINPROGRESS."""
    closed = c.cleanup.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    closed.bind(("127.0.0.1", 0))
    client = c.h.create(NetDomain.INET4, SocketType.TCP, "client")
    c.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, closed.getsockname()[1])
    return client


def _dgram_connect(c: Ctx) -> Sock:
    udp = c.h.create(NetDomain.INET4, SocketType.UDP, "udp")
    c.p.primitiveSocketBindToPort(udp.handle, LOOPBACK, 0)
    c.p.primitiveSocketConnectToPort(udp.handle, LOOPBACK, c.p.primitiveSocketLocalPort(udp.handle))
    return udp


def _connect_to(c: Ctx, listener_backlog: int) -> Sock:
    listener, port = c.h.tcp_listener(backlog=listener_backlog)
    client = c.h.create(NetDomain.INET4, SocketType.TCP, "client")
    c.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
    return listener


def _accept_in_place(c: Ctx) -> Sock:
    return _connect_to(c, 1)


def _accept_queued(c: Ctx) -> Sock:
    return _connect_to(c, 5)


def _accept_error(c: Ctx) -> Sock:
    """listen() on an unbound Unix stream socket fails (ignored); accept() then fails."""
    lonely = c.h.create(NetDomain.LOCAL, SocketType.TCP, "unbound")
    c.p.primitiveSocketListenWithBacklog(lonely.handle, 1)
    return lonely


def _accept_taken(c: Ctx) -> Sock:
    listener = _connect_to(c, 5)
    c.h.take(listener)
    return listener


def _accepted(c: Ctx) -> Sock:
    listener = _connect_to(c, 5)
    return c.h.take(listener)


def _unix_pair(c: Ctx) -> tuple[Sock, Sock]:
    client, server, _listener = c.h.unix_pair(c.dir)
    return client, server


def _peer_closed_read(c: Ctx) -> Sock:
    client, server = _unix_pair(c)
    c.p.primitiveSocketCloseConnection(server.handle)  # a Unix close is seen at once
    assert c.p.primitiveSocketReceiveDataBufCount(client.handle, bytearray(8), 1, 8) == 0
    return client


def _peer_closed_peek(c: Ctx) -> Sock:
    client, server = _unix_pair(c)
    c.p.primitiveSocketCloseConnection(server.handle)
    assert c.p.primitiveSocketReceiveDataAvailable(client.handle) is False
    return client


def _peer_closed_aio(c: Ctx) -> Sock:
    client, server = _unix_pair(c)
    assert c.p.primitiveSocketReceiveDataAvailable(client.handle) is False  # arms dataHandler
    c.p.primitiveSocketCloseConnection(server.handle)
    return client


def _send_failed(c: Ctx) -> Sock:
    client, server = _unix_pair(c)
    c.p.primitiveSocketCloseConnection(server.handle)
    assert c.p.primitiveSocketSendDataBufCount(client.handle, b"lost", 1, 4) == 0  # EPIPE
    return client


def _close(c: Ctx) -> Sock:
    client, _server = _unix_pair(c)
    c.p.primitiveSocketCloseConnection(client.handle)
    return client


def _close_fails(c: Ctx, err: int) -> Sock:
    """close() answers ``err`` once (through the seam) and leaves the descriptor open."""
    client, _server = _unix_pair(c)
    # the descriptor the failed close "kept": shut at the end of the test, whatever happens
    c.cleanup.enter_context(close_fails_once(c.p, c.monkeypatch, err))
    c.p.primitiveSocketCloseConnection(client.handle)
    return client


def _close_error(c: Ctx) -> Sock:
    return _close_fails(c, errno.EBADF)


def _close_deferred(c: Ctx) -> Sock:
    return _close_fails(c, errno.EWOULDBLOCK)


SCENARIOS: dict[Event, Scenario] = {
    Event.CREATE_STREAM: _create_stream,
    Event.CREATE_DGRAM: _create_dgram,
    Event.CREATE_RAW: _create_raw,
    Event.LISTEN: _listen,
    Event.CONNECT_SYNC: _unix_connect_sync,
    Event.CONNECT_PENDING: _tcp_connect,
    Event.CONNECT_ERROR: _connect_error,
    Event.CONNECT_DONE: _tcp_connect,
    Event.CONNECT_FAILED: _connect_refused,
    Event.DGRAM_CONNECT: _dgram_connect,
    Event.ACCEPT_IN_PLACE: _accept_in_place,
    Event.ACCEPT_QUEUED: _accept_queued,
    Event.ACCEPT_ERROR: _accept_error,
    Event.ACCEPT_TAKEN: _accept_taken,
    Event.ACCEPTED: _accepted,
    Event.PEER_CLOSED_READ: _peer_closed_read,
    Event.PEER_CLOSED_PEEK: _peer_closed_peek,
    Event.PEER_CLOSED_AIO: _peer_closed_aio,
    Event.SEND_FAILED: _send_failed,
    Event.CLOSE_BEGIN: _close,
    Event.CLOSE_DONE: _close,
    Event.CLOSE_ERROR: _close_error,
    Event.CLOSE_DEFERRED: _close_deferred,
    Event.CLOSE_HANDLER: _close_deferred,
}

EXPECTED_SIGNALS = {
    Notify.NONE: (0, 0, 0),
    Notify.CONN: (1, 0, 0),
    Notify.READ: (0, 1, 0),
    Notify.WRITE: (0, 0, 1),
}


@contextlib.contextmanager
def scenario_context(
    h: Harness, rec: Recorder, directory: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Ctx]:
    with contextlib.ExitStack() as stack:
        yield Ctx(h, rec, directory, monkeypatch, stack)


# -- the tests ----------------------------------------------------------------------------


def test_every_row_has_a_scenario() -> None:
    rows = [row.event for row in TABLE]
    assert len(rows) == len(set(rows)) == len(Event) == len(BY_EVENT)
    assert set(SCENARIOS) == set(rows), "a TABLE row without a scenario is not tested"


# The table is the same under every profile; opensmalltalk's plugin has the raw socket
# primitive that CREATE_RAW needs (squeak-4.10's does not).
@pytest.mark.profile("opensmalltalk")
@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.event.name)
def test_row(
    row: Transition,
    harness: Harness,
    recorder: Recorder,
    sockdir: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scenario_context(harness, recorder, sockdir, monkeypatch) as ctx:
        subject = SCENARIOS[row.event](ctx)
        assert recorder.wait_for(row.event), f"{row.event.name} did not happen"

        if row.sources is None:
            # a socket born in this state: nothing signalled, the status is the target
            assert harness.status(subject) == row.target
            assert subject.signals() == (0, 0, 0)
            return

        applied = recorder.applied_for(row.event)
        assert applied.before in row.sources
        assert applied.signals == EXPECTED_SIGNALS[row.notify], (
            f"{row.event.name} signalled (conn, read, write) = {applied.signals}"
        )
        if row.target == SocketStatus.INVALID:
            # the status primitive drops an invalidated socket: it fails and nulls the handle
            assert applied.status is None
            fails(harness.p.primitiveSocketConnectionStatus, subject.handle)
            assert subject.handle[8:] == bytes(8)
            fails(harness.p.primitiveSocketConnectionStatus, subject.handle)
        else:
            assert applied.status == row.target
        # and the image, waiting on the semaphore, really is woken
        if row.notify is Notify.CONN:
            assert subject.conn.wait(WAIT)
        elif row.notify is Notify.READ:
            assert subject.read.wait(WAIT)
        elif row.notify is Notify.WRITE:
            assert subject.write.wait(WAIT)


def test_all_scenarios_together_exercise_every_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every scenario in one VM and collect the events seen: none may be missing."""
    seen: set[Event] = set()
    unreachable: set[Event] = set()
    done: set[Scenario] = set()
    for event, scenario in SCENARIOS.items():
        if scenario in done:
            continue
        done.add(scenario)
        with (
            Harness.started("opensmalltalk") as h,
            short_tmpdir() as d,
            pytest.MonkeyPatch.context() as mp,
            scenario_context(h, Recorder(h), d, mp) as ctx,
        ):
            try:
                scenario(ctx)
            except pytest.skip.Exception:
                unreachable.add(event)
                continue
            ctx.rec.wait_for(event)
            # events that follow in a later poll (connect completion, deferred close)
            for follower in (Event.CONNECT_DONE, Event.CONNECT_FAILED, Event.CLOSE_HANDLER):
                if follower in {e for e, s in SCENARIOS.items() if s is scenario}:
                    ctx.rec.wait_for(follower)
            seen.update(ctx.rec.events)
    missing = set(Event) - seen - unreachable
    assert missing == set(), f"events no scenario produced: {sorted(e.name for e in missing)}"
    assert unreachable <= {Event.CREATE_RAW}


def test_transition_refuses_states_the_c_code_cannot_be_in() -> None:
    every = [None, *SocketStatus]
    for row in TABLE:
        for state in every:
            legal = state is None if row.sources is None else state in row.sources
            if legal:
                assert transition(state, row.event) is row
            else:
                with pytest.raises(IllegalTransition):
                    transition(state, row.event)


def test_rows_into_and_the_markdown_rendering_cover_the_table() -> None:
    by_target = [row for status in SocketStatus for row in rows_into(status)]
    assert sorted(by_target, key=TABLE.index) == list(TABLE)
    text = render_markdown()
    for row in TABLE:
        assert f"| {row.event.name} |" in text
    assert len(text.splitlines()) == len(TABLE) + 2


def test_only_the_deferred_close_rows_leave_a_socket_this_end_closed() -> None:
    """State 4 is transient on Linux: only CLOSE_BEGIN (at once followed) and CLOSE_DEFERRED."""
    assert {row.event for row in rows_into(SocketStatus.THIS_END_CLOSED)} == {
        Event.CLOSE_BEGIN,
        Event.CLOSE_DEFERRED,
    }


def test_close_begin_is_visible_as_this_end_closed_while_close_runs(
    harness: Harness, recorder: Recorder, sockdir: str
) -> None:
    client, _server, _listener = harness.unix_pair(sockdir)
    harness.p.primitiveSocketCloseConnection(client.handle)
    begin, done = recorder.applied_for(Event.CLOSE_BEGIN), recorder.applied_for(Event.CLOSE_DONE)
    assert (begin.status, done.status) == (4, 0)
    assert harness.status(client) == 0
    assert recorder.events[-2:] == [Event.CLOSE_BEGIN, Event.CLOSE_DONE]


def test_deferred_close_completes_in_a_later_poll(
    harness: Harness, recorder: Recorder, sockdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scenario_context(harness, recorder, sockdir, monkeypatch) as ctx:
        client = _close_deferred(ctx)
        deferred = recorder.applied_for(Event.CLOSE_DEFERRED)
        assert deferred.status == 4
        assert client.conn.wait(WAIT), "closeHandler signals the connection semaphore"
        assert recorder.applied_for(Event.CLOSE_HANDLER).status == 0
        assert harness.status(client) == 0
        assert harness.pss(client).sock is None
        # a second close finds nothing to close
        harness.p.primitiveSocketCloseConnection(client.handle)
        assert recorder.events.count(Event.CLOSE_BEGIN) == 1


def test_close_error_keeps_the_error_and_signals(
    harness: Harness, recorder: Recorder, sockdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scenario_context(harness, recorder, sockdir, monkeypatch) as ctx:
        client = _close_error(ctx)
        assert harness.status(client) == 0
        assert harness.p.primitiveSocketError(client.handle) == errno.EBADF
        assert client.conn.wait(WAIT)
        # C leaves pss->s alone after a failed close: destroy closes it for good
        harness.p.primitiveSocketDestroy(client.handle)
        assert client.handle[8:] == bytes(8)


def test_a_socket_left_invalid_by_an_accept_error_still_takes_send_and_close() -> None:
    """C assigns states without checking the old one: a send on the Invalid socket
    (its descriptor closed by acceptHandler) fails with EBADF and marks it
    OtherEndClosed; nothing but PrimitiveFailed-free answers come back."""
    from sqsocket.plugin import SocketPlugin

    with SocketPlugin() as p:
        _s, ri = p.vm.new_semaphore("resolver")
        p.primitiveInitializeNetwork(ri)
        conn, ci = p.vm.new_semaphore("conn")
        h = p.primitiveSocketCreate3Semaphores(
            NetDomain.LOCAL, SocketType.TCP, 8000, 8000, ci, 0, 0
        )
        p.primitiveSocketListenWithBacklog(h, 1)  # unbound: listen() fails, accept() will
        assert conn.wait(WAIT)
        assert p.sockets.net.socket_of(h)[1].state == -1
        assert p.primitiveSocketSendDataBufCount(h, b"x", 1, 1) == 0
        assert p.primitiveSocketConnectionStatus(h) == 3
        assert p.primitiveSocketError(h) == errno.EBADF
        p.primitiveSocketCloseConnection(h)
        p.primitiveSocketDestroy(h)
