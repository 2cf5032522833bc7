"""The conditions that choose a state-table event, tested without sockets."""

from __future__ import annotations

import errno

import pytest

from sqsocket.platform.constants import SocketStatus as S
from sqsocket.platform.constants import SocketType
from sqsocket.platform.statetable import (
    ANY,
    BY_EVENT,
    TABLE,
    Event,
    IllegalTransition,
    accept_event,
    close_event,
    connect_event,
    connect_handler_event,
    create_event,
    data_handler_event,
    peek_event,
    read_event,
    send_event,
    transition,
)

EAGAIN = errno.EAGAIN


def test_creation_rows() -> None:
    assert create_event(SocketType.TCP) is Event.CREATE_STREAM
    assert create_event(SocketType.UDP) is Event.CREATE_DGRAM
    assert create_event(SocketType.RAW) is Event.CREATE_RAW
    for event in (Event.CREATE_STREAM, Event.CREATE_DGRAM, Event.CREATE_RAW, Event.ACCEPTED):
        assert BY_EVENT[event].sources is None
    assert transition(None, Event.CREATE_DGRAM).target == S.CONNECTED


@pytest.mark.parametrize(
    ("err", "event"),
    [
        (0, Event.CONNECT_SYNC),
        (errno.EINPROGRESS, Event.CONNECT_PENDING),
        (EAGAIN, Event.CONNECT_PENDING),  # a full Unix-domain backlog: "in progress"
        (errno.ECONNREFUSED, Event.CONNECT_ERROR),
        (errno.EISCONN, Event.CONNECT_ERROR),
        (errno.ENOENT, Event.CONNECT_ERROR),
    ],
)
def test_connect_event(err: int, event: Event) -> None:
    assert connect_event(err) is event


def test_connect_handler_event() -> None:
    assert connect_handler_event(False, 0) is Event.CONNECT_DONE
    assert connect_handler_event(False, errno.ECONNREFUSED) is Event.CONNECT_FAILED
    assert connect_handler_event(True, 0) is Event.CONNECT_FAILED


def test_accept_event() -> None:
    assert accept_event(False, None, False) is Event.ACCEPT_IN_PLACE
    assert accept_event(False, None, True) is Event.ACCEPT_QUEUED
    assert accept_event(False, errno.ECONNABORTED, True) is None, "pretend it never happened"
    # only ECONNABORTED is forgiven: a spurious readiness (EAGAIN) invalidates the listener
    assert accept_event(False, EAGAIN, True) is Event.ACCEPT_ERROR
    assert accept_event(False, errno.EINVAL, False) is Event.ACCEPT_ERROR
    assert accept_event(True, None, False) is Event.ACCEPT_ERROR


@pytest.mark.parametrize(
    ("nread", "err", "event"),
    [
        (5, 0, None),
        (-1, EAGAIN, None),
        (0, EAGAIN, Event.PEER_CLOSED_READ),  # EOF whatever errno holds
        (0, 0, Event.PEER_CLOSED_READ),
        (-1, errno.ECONNRESET, Event.PEER_CLOSED_READ),
        (-1, errno.ENOTCONN, Event.PEER_CLOSED_READ),
    ],
)
def test_read_event(nread: int, err: int, event: Event | None) -> None:
    assert read_event(nread, err) is event


def test_send_event() -> None:
    assert send_event(3, 0) is None
    assert send_event(-1, EAGAIN) is None
    assert send_event(0, EAGAIN) is Event.SEND_FAILED, "a send of 0 bytes looks like a closed peer"
    assert send_event(-1, errno.EPIPE) is Event.SEND_FAILED


def test_peek_and_data_handler_events() -> None:
    assert peek_event(S.CONNECTED, 1) is None
    assert peek_event(S.CONNECTED, 0) is None
    assert peek_event(S.CONNECTED, -1) is Event.PEER_CLOSED_PEEK
    assert peek_event(S.WAITING_FOR_CONNECTION, -1) is None, "only a Connected socket is peeked"
    assert data_handler_event(1) is None
    assert data_handler_event(0) is Event.PEER_CLOSED_AIO, "would block: 'why?', closed anyway"
    assert data_handler_event(-1) is Event.PEER_CLOSED_AIO


def test_close_event() -> None:
    assert close_event(0, 0) is Event.CLOSE_DONE
    assert close_event(-1, errno.EBADF) is Event.CLOSE_ERROR
    assert close_event(-1, EAGAIN) is Event.CLOSE_DEFERRED


def test_the_handlers_rows_accept_any_state_as_the_c_code_does() -> None:
    """acceptHandler and connectHandler never look at the state they change."""
    for event in (
        Event.ACCEPT_IN_PLACE,
        Event.ACCEPT_QUEUED,
        Event.ACCEPT_ERROR,
        Event.CONNECT_DONE,
        Event.CONNECT_FAILED,
        Event.PEER_CLOSED_AIO,
    ):
        assert BY_EVENT[event].sources == ANY
        for state in S:
            transition(state, event)


def test_an_illegal_transition_is_an_emulator_bug() -> None:
    from sqsocket.errors import EmulatorError

    with pytest.raises(EmulatorError):
        transition(S.WAITING_FOR_CONNECTION, Event.PEER_CLOSED_PEEK)
    with pytest.raises(IllegalTransition):
        transition(S.CONNECTED, Event.CREATE_STREAM)


def test_the_table_is_one_row_per_line() -> None:
    """The source declares TABLE with one Transition per line, so it reads as a table."""
    import inspect

    from sqsocket.platform import statetable

    source = inspect.getsource(statetable)
    start = source.index("TABLE: tuple[Transition, ...] = (")
    block = source[start : source.index("\n)\n", start)]
    rows = [line for line in block.splitlines() if line.strip().startswith("Transition(")]
    assert len(rows) == len(TABLE)
    assert all(line.rstrip().endswith("# noqa: E501") for line in rows)
