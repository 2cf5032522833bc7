"""The connection-status state machine of the Unix SocketPlugin: every rule in one module.

Every assignment to ``pss->sockState`` in sqUnixSocket.c is one row of
:data:`TABLE`: the event that causes it, the states the C code can be in when it
happens, the state it leaves, the semaphore it signals, and where in the C code
it is. The conditions that *choose* an event (what a ``read()`` answered, the
errno of a ``connect()``, the outcome of an ``accept()``) are the small pure
functions below the table; the platform layer asks them and then applies the row
through :func:`transition`, and changes a socket's state nowhere else. So this
module is the behaviour, and it is tested without sockets.

The C code rarely looks at the state it changes: ``acceptHandler``,
``connectHandler`` and a failed ``write()`` assign their state whatever the socket
was doing. ``sources`` lists the states the C code's control flow allows (all of
them, for those rows); :func:`transition` refuses a row from any other state,
which can only be an emulator bug, and says so with :class:`IllegalTransition`.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from enum import Enum

from sqsocket.errors import EmulatorError
from sqsocket.platform.constants import SocketStatus as S
from sqsocket.platform.constants import SocketType
from sqsocket.vm.events import VMEvent


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


NEW = None
ANY = frozenset(S)  # the C code assigns without looking: any state, Invalid included
CONNECTED = frozenset({S.CONNECTED})
CLOSING = frozenset({S.THIS_END_CLOSED})
N = Notify

# fmt: off
TABLE: tuple[Transition, ...] = (
    Transition(Event.CREATE_STREAM,    NEW,       S.UNCONNECTED,            N.NONE,  "sqSocketCreateNetType...: TCPSocketType"),  # noqa: E501
    Transition(Event.CREATE_DGRAM,     NEW,       S.CONNECTED,              N.NONE,  "sqSocketCreateNetType...: 'UDP sockets are born connected'"),  # noqa: E501
    Transition(Event.CREATE_RAW,       NEW,       S.CONNECTED,              N.NONE,  "sqSocketCreateRawProtoType...: 'RAW sockets are born connected'"),  # noqa: E501
    Transition(Event.LISTEN,           ANY,       S.WAITING_FOR_CONNECTION, N.NONE,  "sqSocketListenOnPortBacklogSizeInterface / sqSocketListenBacklog: TCP only, listen()'s result ignored"),  # noqa: E501
    Transition(Event.CONNECT_SYNC,     ANY,       S.CONNECTED,              N.CONN,  "sqSocketConnectTo{Port,AddressSize}: connect() == 0"),  # noqa: E501
    Transition(Event.CONNECT_PENDING,  ANY,       S.WAITING_FOR_CONNECTION, N.NONE,  "sqSocketConnectTo{Port,AddressSize}: EINPROGRESS/EWOULDBLOCK, connectHandler armed"),  # noqa: E501
    Transition(Event.CONNECT_ERROR,    ANY,       S.UNCONNECTED,            N.CONN,  "sqSocketConnectTo{Port,AddressSize}: any other errno, read after perror()"),  # noqa: E501
    Transition(Event.CONNECT_DONE,     ANY,       S.CONNECTED,              N.CONN,  "connectHandler: writable and SO_ERROR == 0 (the state is not checked)"),  # noqa: E501
    Transition(Event.CONNECT_FAILED,   ANY,       S.UNCONNECTED,            N.CONN,  "connectHandler: exception, or SO_ERROR != 0"),  # noqa: E501
    Transition(Event.DGRAM_CONNECT,    ANY,       S.CONNECTED,              N.NONE,  "sqSocketConnectTo{Port,AddressSize}: UDP/RAW connect() == 0"),  # noqa: E501
    Transition(Event.ACCEPT_IN_PLACE,  ANY,       S.CONNECTED,              N.CONN,  "acceptHandler: !multiListen, listener closed, pss->s = new fd (the state is not checked)"),  # noqa: E501
    Transition(Event.ACCEPT_QUEUED,    ANY,       S.CONNECTED,              N.CONN,  "acceptHandler: multiListen, pss->acceptedSock = new fd"),  # noqa: E501
    Transition(Event.ACCEPT_ERROR,     ANY,       S.INVALID,                N.CONN,  "acceptHandler: exception, or accept() failed (not ECONNABORTED)"),  # noqa: E501
    Transition(Event.ACCEPT_TAKEN,     ANY,       S.WAITING_FOR_CONNECTION, N.NONE,  "sqSocketAcceptFrom...: server re-armed for the next connection"),  # noqa: E501
    Transition(Event.ACCEPTED,         NEW,       S.CONNECTED,              N.NONE,  "sqSocketAcceptFrom...: the new socket is born connected"),  # noqa: E501
    Transition(Event.PEER_CLOSED_READ, ANY,       S.OTHER_END_CLOSED,       N.CONN,  "sqSocketReceiveDataBufCount (TCP): read() <= 0 and not EWOULDBLOCK"),  # noqa: E501
    Transition(Event.PEER_CLOSED_PEEK, CONNECTED, S.OTHER_END_CLOSED,       N.NONE,  "sqSocketReceiveDataAvailable: Connected, and recv(MSG_PEEK) answered EOF/error"),  # noqa: E501
    Transition(Event.PEER_CLOSED_AIO,  ANY,       S.OTHER_END_CLOSED,       N.READ,  "dataHandler: readable but recv(MSG_PEEK) answered EOF/error (or, before 2020, would block)"),  # noqa: E501
    Transition(Event.SEND_FAILED,      ANY,       S.OTHER_END_CLOSED,       N.NONE,  "sqSocketSendDataBufCount (TCP): write() <= 0 and not EWOULDBLOCK"),  # noqa: E501
    Transition(Event.CLOSE_BEGIN,      ANY,       S.THIS_END_CLOSED,        N.NONE,  "sqSocketCloseConnection: before close()"),  # noqa: E501
    Transition(Event.CLOSE_DONE,       CLOSING,   S.UNCONNECTED,            N.NONE,  "sqSocketCloseConnection: close() == 0, pss->s = -1"),  # noqa: E501
    Transition(Event.CLOSE_ERROR,      CLOSING,   S.UNCONNECTED,            N.CONN,  "sqSocketCloseConnection: close() == -1, errno != EWOULDBLOCK"),  # noqa: E501
    Transition(Event.CLOSE_DEFERRED,   CLOSING,   S.THIS_END_CLOSED,        N.NONE,  "sqSocketCloseConnection: close() == -1 with EWOULDBLOCK, closeHandler armed (never on Linux)"),  # noqa: E501
    Transition(Event.CLOSE_HANDLER,    ANY,       S.UNCONNECTED,            N.CONN,  "closeHandler: deferred close finished, pss->s = -1"),  # noqa: E501
)
# fmt: on

BY_EVENT: dict[Event, Transition] = {row.event: row for row in TABLE}
assert len(BY_EVENT) == len(TABLE), "one row per event"


class IllegalTransition(EmulatorError):
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


@dataclass(frozen=True)
class StateChanged(VMEvent):
    """What an observer is told when a row is applied to a socket."""

    socket: int  # the socket's privateSocketPtr
    event: Event
    before: S | None
    after: S
    signalled: tuple[int, ...]  # the semaphore indices the row signalled


# -- the conditions that choose an event: pure functions of what the C code tested --------

_WOULD_BLOCK = errno.EWOULDBLOCK  # == EAGAIN on Linux; the C code tests EWOULDBLOCK


# UDP and RAW sockets are born connected; every other type (TCP) unconnected
_BORN_BY: dict[int, Event] = {SocketType.UDP: Event.CREATE_DGRAM, SocketType.RAW: Event.CREATE_RAW}


def create_event(socket_type: int) -> Event:
    """Which row a socket is born by: UDP and RAW sockets are born connected."""
    return _BORN_BY.get(socket_type, Event.CREATE_STREAM)


def connect_event(err: int) -> Event:
    """A TCP ``connect()``: ``err`` is 0 when it answered 0, else the errno it left."""
    if err == 0:
        return Event.CONNECT_SYNC
    if err in (errno.EINPROGRESS, _WOULD_BLOCK):
        # a Unix-domain connect on a full backlog answers EAGAIN: treated as in progress
        return Event.CONNECT_PENDING
    return Event.CONNECT_ERROR


def connect_handler_event(exception: bool, so_error: int) -> Event:
    """connectHandler: the exception flag, else SO_ERROR, decides."""
    if exception or so_error:
        return Event.CONNECT_FAILED
    return Event.CONNECT_DONE


def accept_event(exception: bool, accept_errno: int | None, multi_listen: bool) -> Event | None:
    """acceptHandler: None means "pretend this never happened" (ECONNABORTED, re-armed)."""
    if exception:
        return Event.ACCEPT_ERROR
    if accept_errno == errno.ECONNABORTED:
        return None
    if accept_errno is not None:
        return Event.ACCEPT_ERROR
    return Event.ACCEPT_QUEUED if multi_listen else Event.ACCEPT_IN_PLACE


def read_event(nread: int, err: int) -> Event | None:
    """sqSocketReceiveDataBufCount (TCP): ``read()`` answered ``nread`` (-1: it failed, ``err``)."""
    if nread > 0 or (nread == -1 and err == _WOULD_BLOCK):
        return None
    return Event.PEER_CLOSED_READ


def send_event(nsent: int, err: int) -> Event | None:
    """sqSocketSendDataBufCount (TCP): ``write()`` answered ``nsent`` (-1: failed with ``err``)."""
    if nsent > 0 or (nsent == -1 and err == _WOULD_BLOCK):
        return None
    return Event.SEND_FAILED


def peek_event(state: S, readable: int) -> Event | None:
    """sqSocketReceiveDataAvailable: only a Connected socket is peeked; -1 is EOF or error."""
    if state == S.CONNECTED and readable < 0:
        return Event.PEER_CLOSED_PEEK
    return None


def data_handler_event(readable: int, would_block_closes: bool = True) -> Event | None:
    """dataHandler, read flag: anything but "1 byte to read" counts as closed.

    The 2012-2017 code (``n != 1``) takes a peek that would block for a close too;
    OpenSmalltalk since 3f129f281 closes only on EOF or an error (``n < 0``):
    ``would_block_closes=False``.
    """
    if readable == 1 or (readable == 0 and not would_block_closes):
        return None
    return Event.PEER_CLOSED_AIO


def close_event(result: int, err: int) -> Event:
    """sqSocketCloseConnection: ``close()`` answered ``result`` (-1: failed with ``err``)."""
    if result == 0:
        return Event.CLOSE_DONE
    if err != _WOULD_BLOCK:
        return Event.CLOSE_ERROR
    return Event.CLOSE_DEFERRED


# -- reading the table --------------------------------------------------------------------


def rows_into(target: S) -> list[Transition]:
    """Every row that ends in ``target`` (used by tests and by the docs)."""
    return [row for row in TABLE if row.target == target]


def _sources_text(row: Transition) -> str:
    if row.sources is None:
        return "new"
    if row.sources == ANY:
        return "any"
    return ", ".join(s.name for s in sorted(row.sources))


#: The columns of :func:`table_rows`.
TABLE_HEADER = ("event", "from", "to", "signals", "where (sqUnixSocket.c)")


def table_rows() -> list[tuple[str, str, str, str, str]]:
    """The table as text cells under :data:`TABLE_HEADER`, one row per transition."""
    return [
        (
            row.event.name,
            _sources_text(row),
            f"{row.target.name} ({int(row.target)})",
            row.notify.value,
            row.where,
        )
        for row in TABLE
    ]


def render_markdown() -> str:
    """The table as Markdown, for the docs (docs/primitives.md)."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|---" * len(TABLE_HEADER) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows()]
    return "\n".join(lines)
