"""The aio layer (aio.c): one-shot handlers, run only inside a poll, in aio.c's order."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sqsocket.errors import EmulatorError
from sqsocket.vm.aio import AIO_RX, AIO_WX, Aio, AioFlag

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]

WAIT = 5.0


@pytest.fixture
def aio() -> Iterator[Aio]:
    a = Aio()
    yield a
    a.close()


def test_handlers_run_only_inside_a_poll_and_are_one_shot(aio: Aio) -> None:
    left, right = socket.socketpair()
    with left, right:
        calls: list[tuple[int, object, AioFlag]] = []
        aio.enable(left, "data")
        assert left.getblocking() is False, "aioEnable makes the descriptor non-blocking"
        aio.handle(left, lambda fd, data, flags: calls.append((fd, data, flags)), AIO_RX)
        assert aio.armed(left) == AIO_RX
        right.send(b"x")
        assert calls == [], "nothing runs until the VM polls"
        assert aio.poll(WAIT) == 1
        assert calls == [(left.fileno(), "data", AioFlag.R)]
        assert aio.armed(left) == AioFlag.X, "R fired and was disarmed; X stays armed"
        right.send(b"y")
        assert aio.poll(0) == 0, "the read handler is not armed any more"
        aio.handle(left, lambda fd, data, flags: calls.append((fd, data, flags)), AIO_WX)
        assert aio.poll(WAIT) == 1 and calls[1][2] == AioFlag.W
        assert left.fileno() in aio.descriptors()
        aio.disable(left)
        assert aio.armed(left) == AioFlag(0) and left.fileno() not in aio.descriptors()


def test_enable_twice_is_ignored(aio: Aio) -> None:
    left, right = socket.socketpair()
    with left, right:
        aio.enable(left, "first")
        aio.enable(left, "second")  # "descriptor already enabled": ignored
        seen: list[object] = []
        aio.handle(left, lambda fd, data, flags: seen.append(data), AioFlag.W)
        aio.poll(WAIT)
        assert seen == ["first"]


def test_ready_descriptors_run_in_ascending_order_read_before_write(aio: Aio) -> None:
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        order: list[tuple[int, AioFlag]] = []
        # arm in descending order, make them ready in a scrambled order
        for left, _right in reversed(pairs):
            aio.enable(left, None)
            aio.handle(left, lambda fd, data, flags: order.append((fd, flags)), AioFlag.W)
            aio.handle(left, lambda fd, data, flags: order.append((fd, flags)), AioFlag.R)
        for i in (2, 0, 1):
            pairs[i][1].send(b"x")
        assert aio.poll(WAIT) == 6
        fds = sorted(left.fileno() for left, _ in pairs)
        assert order == [(fd, flag) for fd in fds for flag in (AioFlag.R, AioFlag.W)]
    finally:
        for left, right in pairs:
            left.close()
            right.close()


def test_a_failing_handler_is_an_emulator_error(aio: Aio) -> None:
    left, right = socket.socketpair()
    with left, right:
        aio.enable(left, None)

        def broken(fd: int, data: object, flags: AioFlag) -> None:
            raise RuntimeError("boom")

        aio.handle(left, broken, AioFlag.W)
        with pytest.raises(EmulatorError, match=r"broken.*RuntimeError: boom") as info:
            aio.poll(WAIT)
        assert isinstance(info.value.__cause__, RuntimeError)


def test_a_hung_up_socket_with_only_x_armed_does_not_wake_the_poll(aio: Aio) -> None:
    """select()'s exceptfds ignore a hang-up: a poll with only X armed must not return."""
    left, right = socket.socketpair()
    with left, right:
        aio.enable(left, None)
        aio.handle(left, lambda fd, data, flags: None, AioFlag.X)
        right.close()  # left is now hung up (EPOLLHUP), with only X armed
        for _ in range(3):
            assert aio.poll(0.02) == 0


def test_a_hung_up_socket_is_readable_but_not_writable_by_itself(aio: Aio) -> None:
    """Linux's select(): HUP is in POLLIN_SET, not in POLLOUT_SET."""
    a, b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), socket.socket(socket.AF_UNIX)
    with a, b:
        # an unconnected Unix stream socket: EPOLLHUP and EPOLLOUT
        aio.enable(a, None)
        seen: list[AioFlag] = []
        aio.handle(a, lambda fd, data, flags: seen.append(flags), AioFlag.R)
        aio.poll(WAIT)
        assert seen == [AioFlag.R]


def test_a_descriptor_never_enabled_is_polled_only_below_max_fd(aio: Aio) -> None:
    """select(maxFd, ...): aioHandle on a descriptor above every enabled one is not seen."""
    pairs = [socket.socketpair() for _ in range(3)]  # descriptors in ascending order
    try:
        (below, _), (target, _), (above, _) = pairs
        seen: list[int] = []
        aio.handle(target, lambda fd, data, flags: seen.append(fd), AioFlag.W)
        assert aio.poll(0.02) == 0 and seen == [], "maxFd is 0: nothing is selected"
        aio.enable(below, None)
        assert aio.poll(0.02) == 0 and seen == [], "maxFd is still below it"
        aio.enable(above, None)
        assert aio.max_fd > target.fileno()
        assert aio.poll(WAIT) == 1 and seen == [target.fileno()]
    finally:
        for left, right in pairs:
            left.close()
            right.close()


def test_wake_ends_a_blocked_poll(aio: Aio) -> None:
    aio.wake()
    assert aio.poll(WAIT) == 0  # returned at once: the wake-up descriptor is drained
    assert aio.poll(0) == 0
