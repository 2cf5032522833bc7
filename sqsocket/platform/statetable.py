"""The connection-status state machine of the Unix SocketPlugin, as an explicit table.

Every assignment to ``pss->sockState`` in sqUnixSocket.c is one row here: the
event that causes it, the C function (and condition) where it happens, the
states it can happen in, the state it leaves, and which semaphore it signals.
The platform layer changes a socket's state only through :func:`transition`, so
this table *is* the behaviour, and tests read it row by row.

The C code rarely checks the state it starts from (a failed ``write()`` marks
any socket OtherEndClosed), so ``sources`` lists the states in which the event
can actually arise; :func:`transition` refuses a row applied from any other
state, which catches emulator bugs rather than imitating them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqsocket.platform.constants import SocketStatus as S


class Notify(Enum):
    """Which of the socket's semaphores the transition signals (``notify(pss, MASK)``)."""

    NONE = "none"
    CONN = "conn"
    READ = "read"
    WRITE = "write"


class Event(Enum):
    CREATE_STREAM = "create stream socket"
    CREATE_DGRAM = "create datagram socket"
    CREATE_RAW = "create raw socket"
    LISTEN = "listen (TCP)"
    CONNECT_SYNC = "connect() completed at once"
    CONNECT_PENDING = "connect() in progress"
    CONNECT_ERROR = "connect() failed at once"
    CONNECT_DONE = "asynchronous connect completed"
    CONNECT_FAILED = "asynchronous connect failed"
    DGRAM_CONNECT = "datagram connect() set the default peer"
    ACCEPT_IN_PLACE = "accept, backlog 1: client replaces listener in place"
    ACCEPT_QUEUED = "accept, backlog > 1: connection parked for primitiveSocketAccept"
    ACCEPT_ERROR = "accept() failed: listener invalidated"
    ACCEPT_TAKEN = "primitiveSocketAccept took the parked connection"
    ACCEPTED = "new socket made by primitiveSocketAccept"
    PEER_CLOSED_READ = "read() answered EOF or an error"
    PEER_CLOSED_PEEK = "receiveDataAvailable's peek saw EOF"
    PEER_CLOSED_AIO = "aio data handler's peek saw EOF"
    SEND_FAILED = "write() failed"
    CLOSE_BEGIN = "close() called"
    CLOSE_DONE = "close() completed at once"
    CLOSE_ERROR = "close() failed"
    CLOSE_DEFERRED = "close() would block"
    CLOSE_HANDLER = "deferred close completed"


@dataclass(frozen=True)
class Transition:
    event: Event
    sources: frozenset[S] | None  # None: a brand-new socket (no previous state)
    target: S
    notify: Notify
    where: str  # the C function and the condition, for readers and for docs


_ANY_LIVE = frozenset(
    {S.UNCONNECTED, S.WAITING_FOR_CONNECTION, S.CONNECTED, S.OTHER_END_CLOSED, S.THIS_END_CLOSED}
)
# The C code assigns most states without looking at the old one, so these events can
# also reach a socket an accept error left Invalid (before the image asks its status,
# which drops it): its descriptor is closed, so a send or read fails and a close runs.
_ANY = _ANY_LIVE | {S.INVALID}

TABLE: tuple[Transition, ...] = (
    Transition(
        Event.CREATE_STREAM,
        None,
        S.UNCONNECTED,
        Notify.NONE,
        "sqSocketCreateNetType...: TCPSocketType",
    ),
    Transition(
        Event.CREATE_DGRAM,
        None,
        S.CONNECTED,
        Notify.NONE,
        "sqSocketCreateNetType...: 'UDP sockets are born connected'",
    ),
    Transition(
        Event.CREATE_RAW,
        None,
        S.CONNECTED,
        Notify.NONE,
        "sqSocketCreateRawProtoType...: 'RAW sockets are born connected'",
    ),
    Transition(
        Event.LISTEN,
        _ANY,
        S.WAITING_FOR_CONNECTION,
        Notify.NONE,
        "sqSocketListenOnPortBacklogSizeInterface / sqSocketListenBacklog: TCP only",
    ),
    Transition(
        Event.CONNECT_SYNC,
        _ANY,
        S.CONNECTED,
        Notify.CONN,
        "sqSocketConnectTo{Port,AddressSize}: connect() == 0",
    ),
    Transition(
        Event.CONNECT_PENDING,
        _ANY,
        S.WAITING_FOR_CONNECTION,
        Notify.NONE,
        "sqSocketConnectTo{Port,AddressSize}: EINPROGRESS/EWOULDBLOCK, connectHandler armed",
    ),
    Transition(
        Event.CONNECT_ERROR,
        _ANY,
        S.UNCONNECTED,
        Notify.CONN,
        "sqSocketConnectTo{Port,AddressSize}: any other errno, kept as the socket error",
    ),
    Transition(
        Event.CONNECT_DONE,
        frozenset({S.WAITING_FOR_CONNECTION}),
        S.CONNECTED,
        Notify.CONN,
        "connectHandler: writable and SO_ERROR == 0",
    ),
    Transition(
        Event.CONNECT_FAILED,
        frozenset({S.WAITING_FOR_CONNECTION}),
        S.UNCONNECTED,
        Notify.CONN,
        "connectHandler: SO_ERROR != 0",
    ),
    Transition(
        Event.DGRAM_CONNECT,
        _ANY,
        S.CONNECTED,
        Notify.NONE,
        "sqSocketConnectTo{Port,AddressSize}: UDP/RAW connect() == 0",
    ),
    Transition(
        Event.ACCEPT_IN_PLACE,
        frozenset({S.WAITING_FOR_CONNECTION}),
        S.CONNECTED,
        Notify.CONN,
        "acceptHandler: !multiListen, listener closed, pss->s = new fd",
    ),
    Transition(
        Event.ACCEPT_QUEUED,
        frozenset({S.WAITING_FOR_CONNECTION}),
        S.CONNECTED,
        Notify.CONN,
        "acceptHandler: multiListen, pss->acceptedSock = new fd",
    ),
    Transition(
        Event.ACCEPT_ERROR,
        frozenset({S.WAITING_FOR_CONNECTION}),
        S.INVALID,
        Notify.CONN,
        "acceptHandler: accept() failed (not ECONNABORTED)",
    ),
    Transition(
        Event.ACCEPT_TAKEN,
        _ANY,
        S.WAITING_FOR_CONNECTION,
        Notify.NONE,
        "sqSocketAcceptFrom...: server re-armed for the next connection",
    ),
    Transition(
        Event.ACCEPTED,
        None,
        S.CONNECTED,
        Notify.NONE,
        "sqSocketAcceptFrom...: the new socket is born connected",
    ),
    Transition(
        Event.PEER_CLOSED_READ,
        _ANY,
        S.OTHER_END_CLOSED,
        Notify.CONN,
        "sqSocketReceiveDataBufCount (TCP): read() <= 0 and not EWOULDBLOCK",
    ),
    Transition(
        Event.PEER_CLOSED_PEEK,
        frozenset({S.CONNECTED}),
        S.OTHER_END_CLOSED,
        Notify.NONE,
        "sqSocketReceiveDataAvailable: recv(MSG_PEEK) answered EOF/error",
    ),
    Transition(
        Event.PEER_CLOSED_AIO,
        _ANY,
        S.OTHER_END_CLOSED,
        Notify.READ,
        "dataHandler: readable but recv(MSG_PEEK) answered EOF/error",
    ),
    Transition(
        Event.SEND_FAILED,
        _ANY,
        S.OTHER_END_CLOSED,
        Notify.NONE,
        "sqSocketSendDataBufCount (TCP): write() <= 0 and not EWOULDBLOCK",
    ),
    Transition(
        Event.CLOSE_BEGIN,
        _ANY,
        S.THIS_END_CLOSED,
        Notify.NONE,
        "sqSocketCloseConnection: before close()",
    ),
    Transition(
        Event.CLOSE_DONE,
        frozenset({S.THIS_END_CLOSED}),
        S.UNCONNECTED,
        Notify.NONE,
        "sqSocketCloseConnection: close() == 0, pss->s = -1",
    ),
    Transition(
        Event.CLOSE_ERROR,
        frozenset({S.THIS_END_CLOSED}),
        S.UNCONNECTED,
        Notify.CONN,
        "sqSocketCloseConnection: close() == -1, errno != EWOULDBLOCK",
    ),
    Transition(
        Event.CLOSE_DEFERRED,
        frozenset({S.THIS_END_CLOSED}),
        S.THIS_END_CLOSED,
        Notify.NONE,
        "sqSocketCloseConnection: close() == -1 with EWOULDBLOCK, closeHandler armed "
        "(Linux's close() never answers that, so the VM never shows state 4 for long)",
    ),
    Transition(
        Event.CLOSE_HANDLER,
        frozenset({S.THIS_END_CLOSED}),
        S.UNCONNECTED,
        Notify.CONN,
        "closeHandler: deferred close finished, pss->s = -1",
    ),
)

BY_EVENT: dict[Event, Transition] = {row.event: row for row in TABLE}
assert len(BY_EVENT) == len(TABLE), "one row per event"


class IllegalTransition(AssertionError):
    """The emulator tried an event from a state in which the C code cannot reach it."""


def transition(current: S | None, event: Event) -> Transition:
    """Answer the row for ``event`` after checking it can happen in ``current``."""
    row = BY_EVENT[event]
    if row.sources is None:
        if current is not None:
            raise IllegalTransition(f"{event.name} only applies to a new socket")
    elif current not in row.sources:
        raise IllegalTransition(f"{event.name} cannot happen in state {current!r}")
    return row


def rows_into(target: S) -> list[Transition]:
    """Every row that ends in ``target`` (used by tests and by the docs)."""
    return [row for row in TABLE if row.target == target]


def render_markdown() -> str:
    """The table as Markdown, for ``sqsocket primitives --states`` and docs."""
    lines = ["| event | from | to | signals | where (sqUnixSocket.c) |", "|---|---|---|---|---|"]
    for row in TABLE:
        src = "new" if row.sources is None else ", ".join(s.name for s in sorted(row.sources))
        lines.append(
            f"| {row.event.name} | {src} | {row.target.name} ({int(row.target)}) "
            f"| {row.notify.value} | {row.where} |"
        )
    return "\n".join(lines)
