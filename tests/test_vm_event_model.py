"""The VM's event model: I/O is seen only where the VM polls, on the caller's thread.

No thread runs besides the caller's; a handler runs only in the periodic check
(at primitive entry, when due) or in the idle process (a semaphore wait); two
primitive calls with no poll between them see the same state. errno is a cell
of the VM process that failing calls, the idle sleep's signals, console writes
and glibc's perror() change as they change it in the VM.
"""

from __future__ import annotations

import errno
import os
import socket
import threading

import pytest
from plugin_support import LOOPBACK, WAIT, Harness

from sqsocket.errors import EmulatorError, PrimitiveFailed
from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.profiles import COG_EVENTS, SQUEAK_4_10_EVENTS
from sqsocket.plugin import SocketPlugin
from sqsocket.vm.cruntime import CRuntime, CStderr, StderrMode, StdoutKind
from sqsocket.vm.events import Polled, VMEvent
from sqsocket.vm.machine import VirtualMachine

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


class FrozenClock:
    """A VM clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _plugin(events: object, clock: FrozenClock) -> SocketPlugin:
    vm = VirtualMachine(events, clock=clock)  # type: ignore[arg-type]
    plugin = SocketPlugin(vm)
    _s, index = vm.new_semaphore("resolver")
    plugin.primitiveInitializeNetwork(index)
    return plugin


def test_no_thread_runs_besides_the_callers(sockdir: str) -> None:
    before = set(threading.enumerate())
    with Harness.started() as h:
        client, server, _listener = h.unix_pair(sockdir)
        h.tcp_pair()
        h.send_all(client, b"ping")
        assert h.receive_exactly(server, 4) == b"ping"
        assert set(threading.enumerate()) == before, "the emulator started a thread"


@pytest.mark.parametrize("events", [COG_EVENTS, SQUEAK_4_10_EVENTS], ids=lambda e: e.name)
def test_a_status_read_twice_with_no_poll_between_never_changes(events: object) -> None:
    clock = FrozenClock()
    plugin = _plugin(events, clock)
    polls: list[VMEvent] = []
    plugin.observe(lambda e: polls.append(e) if isinstance(e, Polled) else None)
    try:
        conn, ci = plugin.vm.new_semaphore("listener")
        h = plugin.primitiveSocketCreate3Semaphores(NetDomain.INET4, SocketType.TCP, 0, 0, ci, 0, 0)
        plugin.primitiveSocketListenOnPortBacklogInterface(h, 0, 5, LOOPBACK)
        port = plugin.primitiveSocketLocalPort(h)
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT):
            # the kernel has the connection queued now; the listener changes only in a poll
            first = plugin.primitiveSocketConnectionStatus(h)
            polled = len(polls)
            second = plugin.primitiveSocketConnectionStatus(h)
            assert len(polls) == polled, "nothing was due: the second read did not poll"
            assert second == first
            if events is COG_EVENTS:
                # no SIGIO-forced poll, and the frozen clock never makes the 20 ms check due
                assert (first, polls) == (1, [])
            else:
                # 4.10: SIGIO from the connection reset the poll timer; the first read's
                # check polled and the accept handler ran
                assert first == 2 and polls and not polls[0].idle  # type: ignore[attr-defined]
            assert conn.wait(WAIT), "the idle process polls and the handler signals"
            assert plugin.primitiveSocketConnectionStatus(h) == 2
    finally:
        plugin.close()
        plugin.vm.close()


def test_the_periodic_check_polls_once_the_interval_has_passed() -> None:
    clock = FrozenClock()
    plugin = _plugin(COG_EVENTS, clock)
    polls: list[Polled] = []
    plugin.observe(lambda e: polls.append(e) if isinstance(e, Polled) else None)
    try:
        plugin.primitiveHasSocketAccess()
        assert polls == []
        clock.now += COG_EVENTS.poll_interval or 0
        plugin.primitiveHasSocketAccess()
        assert [p.idle for p in polls] == [False]
        plugin.primitiveHasSocketAccess()
        assert len(polls) == 1, "the next check is due only after another interval"
    finally:
        plugin.close()
        plugin.vm.close()


def test_the_idle_sleep_leaves_eintr_when_the_interval_timer_fired() -> None:
    clock = FrozenClock()
    vm = VirtualMachine(SQUEAK_4_10_EVENTS, clock=clock)
    try:
        vm.c.errno = errno.EAGAIN
        vm.relinquish(0)  # no tick during a sleep that took no time
        assert vm.c.errno == errno.EAGAIN
        real_poll = vm.aio.poll

        def slow_poll(timeout: float | None) -> int:
            clock.now += 0.025  # the sleep spans a 20 ms SIGALRM
            return real_poll(0)

        vm.aio.poll = slow_poll  # type: ignore[method-assign]
        vm.relinquish(0.025)
        assert vm.c.errno == errno.EINTR
    finally:
        vm.close()


def test_a_cog_vm_idle_sleep_is_not_interrupted() -> None:
    clock = FrozenClock()
    vm = VirtualMachine(COG_EVENTS, clock=clock)
    try:
        vm.c.errno = errno.EAGAIN
        clock.now += 1.0
        vm.relinquish(0)
        assert vm.c.errno == errno.EAGAIN, "the threaded heartbeat sends no signal"
    finally:
        vm.close()


def test_glibc_perror_changes_errno_once_on_a_write_only_stderr() -> None:
    lines: list[str] = []
    c = CRuntime(stderr=CStderr(StderrMode.WRITE_ONLY, sink=lines.append))
    c.errno = errno.ECONNREFUSED
    c.perror("sqConnectToAddressSize")
    assert c.errno == errno.EINVAL, "fdopen(dup(2), 'w+') fails on a write-only descriptor"
    assert lines == ["sqConnectToAddressSize: Connection refused\n"]
    c.errno = errno.ECONNREFUSED
    c.perror("again")
    assert c.errno == errno.ECONNREFUSED, "stderr is oriented now: errno is left alone"


@pytest.mark.parametrize("mode", [StderrMode.READ_WRITE, StderrMode.WRITE_ONLY])
def test_perror_after_stderr_output_or_on_a_terminal_keeps_errno(mode: StderrMode) -> None:
    c = CRuntime(stderr=CStderr(mode, sink=lambda text: None))
    if mode is StderrMode.WRITE_ONLY:
        c.fprintf("getaddrinfo: ai_family not supported\n")  # orients stderr
    for _ in range(2):
        c.errno = errno.ECONNREFUSED
        c.perror("sqConnectToPort")
        assert c.errno == errno.ECONNREFUSED


def test_a_console_write_to_a_pipe_leaves_espipe() -> None:
    pipe = CRuntime(stdout=StdoutKind.PIPE)
    pipe.console_write()
    assert pipe.errno == errno.ESPIPE
    file = CRuntime(stdout=StdoutKind.SEEKABLE)
    file.errno = errno.EINTR
    file.console_write()
    assert file.errno == errno.EINTR


def test_stderr_and_stdout_kinds_are_read_from_the_descriptors(tmp_path: object) -> None:
    r, w = os.pipe()
    try:
        assert StderrMode.of_descriptor(w) is StderrMode.WRITE_ONLY
        assert StdoutKind.of_descriptor(w) is StdoutKind.PIPE
    finally:
        os.close(r)
        os.close(w)
    fd = os.open(os.devnull, os.O_RDWR)
    try:
        assert StderrMode.of_descriptor(fd) is StderrMode.READ_WRITE
    finally:
        os.close(fd)
    assert StderrMode.of_descriptor(9999) is StderrMode.CLOSED


def test_the_socket_error_after_eof_is_the_errno_left_by_the_last_failing_call(
    sockdir: str,
) -> None:
    with Harness.started() as h:
        client, server, _ = h.unix_pair(sockdir)
        h.p.primitiveSocketCloseConnection(server.handle)
        h.p.vm.c.errno = errno.ESPIPE  # as a console write to a pipe leaves it
        assert h.p.primitiveSocketReceiveDataBufCount(client.handle, bytearray(4), 1, 4) == 0
        assert h.status(client) == 3
        assert h.p.primitiveSocketError(client.handle) == errno.ESPIPE


def test_a_platform_bug_is_an_emulator_error_not_a_primitive_failure(
    sockdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Harness.started() as h:
        client, _server, _ = h.unix_pair(sockdir)

        def broken(sock: socket.socket | None) -> int:
            raise RuntimeError("injected bug")

        monkeypatch.setattr(h.p.sockets, "_readable", broken)
        with pytest.raises(EmulatorError) as info:
            h.p.primitiveSocketReceiveDataAvailable(client.handle)
        assert not isinstance(info.value, PrimitiveFailed)
        assert isinstance(info.value.__cause__, RuntimeError)
        assert "primitiveSocketReceiveDataAvailable" in str(info.value)


def test_a_bug_in_an_aio_handler_fails_the_wait_loudly(
    sockdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Harness.started() as h:
        client, server, _ = h.unix_pair(sockdir)
        assert h.p.primitiveSocketReceiveDataAvailable(client.handle) is False  # arms dataHandler

        def broken(sock: socket.socket | None) -> int:
            raise ValueError("injected handler bug")

        monkeypatch.setattr(h.p.sockets, "_readable", broken)
        h.send_all(server, b"x")
        with pytest.raises(EmulatorError, match=r"_data_handler"):
            client.read.wait(WAIT)


def test_a_wrong_argument_count_fails_as_the_declaration_says() -> None:
    with SocketPlugin() as p:
        with pytest.raises(PrimitiveFailed, match="takes 1 argument, not 2"):
            p.primitiveInitializeNetwork(0, 0)
        with pytest.raises(PrimitiveFailed, match="positional"):
            p.primitiveInitializeNetwork(resolverSemaIndex=0)
        with pytest.raises(PrimitiveFailed, match="no such primitive"):
            p.lookup(["primitiveSocketError"])  # type: ignore[arg-type]


def test_waiting_threads_hand_the_poll_over(sockdir: str) -> None:
    """Two threads wait on one VM's semaphores: one polls for both, then hands over."""
    with Harness.started() as h:
        a_client, a_server, _ = h.unix_pair(sockdir)
        b_client, b_server, _ = h.tcp_pair()
        for s in (a_server, b_server):
            assert h.p.primitiveSocketReceiveDataAvailable(s.handle) is False
        results: dict[str, bool] = {}
        threads = [
            threading.Thread(target=lambda: results.__setitem__("a", a_server.read.wait(WAIT))),
            threading.Thread(target=lambda: results.__setitem__("b", b_server.read.wait(WAIT))),
        ]
        for t in threads:
            t.start()
        h.send_all(b_client, b"second")
        h.send_all(a_client, b"first")
        for t in threads:
            t.join(WAIT * 2)
        assert results == {"a": True, "b": True}


def test_a_local_socket_is_polled_like_any_other(sockdir: str) -> None:
    with Harness.started() as h:
        path = os.path.join(sockdir, "p.sock")
        listener = h.unix_listener(path, backlog=1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as peer:
            peer.connect(path)
            assert listener.conn.wait(WAIT)
            assert h.status(listener) == 2
