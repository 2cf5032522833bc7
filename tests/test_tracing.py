"""The primitive trace: SocketPlugin(trace=...), Tracer, and the image layer's ambient trace."""

from __future__ import annotations

import io
import json
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from plugin_support import open_fds

from sqsocket.image import Image, NetNameResolver, Socket, SocketAddress
from sqsocket.platform.constants import SocketStatus as S
from sqsocket.platform.layouts import build_socket_address, sockaddr_un
from sqsocket.platform.statetable import Event, StateChanged
from sqsocket.plugin import SocketPlugin
from sqsocket.servers import UnixEchoServer
from sqsocket.tracing import Kind, PollFilter, TextFormatter, TraceEntry, Tracer, tracing
from sqsocket.vm.events import (
    Polled,
    PrimitiveAnswered,
    PrimitiveCalled,
    PrimitiveFailedEvent,
    SemaphoreSignalled,
    VMEvent,
)

pytestmark = pytest.mark.timeout(30)

WAIT = 5.0


class FakeVM:
    """Only the public observer hook: what a Tracer needs from a VM."""

    def __init__(self) -> None:
        self.observers: list[Callable[[VMEvent], None]] = []

    def observe(self, observer: Callable[[VMEvent], None]) -> Callable[[], None]:
        self.observers.append(observer)
        return lambda: self.observers.remove(observer)

    def emit(self, *events: VMEvent) -> None:
        for event in events:
            for observer in tuple(self.observers):
                observer(event)


def _handle(ptr: int) -> bytearray:
    from sqsocket.platform.layouts import SocketHandle

    return bytearray(SocketHandle(3, 0, ptr).build())


def test_every_kind_of_event_as_text_from_the_observer_hook_alone() -> None:
    vm = FakeVM()
    out = io.StringIO()
    tracer = Tracer(out)
    tracer.attach(vm)
    address = build_socket_address(3, sockaddr_un(b"/tmp/sp"))
    vm.emit(
        PrimitiveCalled(0.001, "primitiveSocketCreate3Semaphores", (1, 0, 8000, 8000, 2, 3, 4)),
        StateChanged(0.002, 5, Event.CREATE_STREAM, None, S.UNCONNECTED, ()),
        PrimitiveAnswered(0.003, "primitiveSocketCreate3Semaphores", _handle(5)),
        PrimitiveCalled(0.004, "primitiveSocketConnectTo", (_handle(5), address)),
        PrimitiveAnswered(0.005, "primitiveSocketConnectTo", None),
        # a handler ran in a poll: the VM reports the poll after its handlers' events
        SemaphoreSignalled(0.0061, 2, "conn"),
        StateChanged(0.0062, 5, Event.CONNECT_DONE, S.WAITING_FOR_CONNECTION, S.CONNECTED, (2,)),
        Polled(0.0063, True, 0.25, 1),
        PrimitiveCalled(0.007, "primitiveSocketError", (b"short",)),
        PrimitiveFailedEvent(0.008, "primitiveSocketError", "bad handle"),
        Polled(0.009, False, 0.0, 0),
    )
    tracer.close()
    assert not vm.observers  # close detached it
    assert out.getvalue().splitlines() == [
        "  0.001000  primitiveSocketCreate3Semaphores(1, 0, 8000, 8000, 2, 3, 4) …",
        "  0.002000      socket#1 new → Unconnected (CREATE_STREAM: create stream socket)",
        "  0.003000  … primitiveSocketCreate3Semaphores → socket#1",
        "  0.004000  primitiveSocketConnectTo(socket#1, unix:/tmp/sp) → ok",
        "  0.006300  poll idle (timeout 0.250 s): 1 handler ran",
        "  0.006100      signal semaphore 2 (conn)",
        "  0.006200      socket#1 WaitingForConnection → Connected "
        "(CONNECT_DONE: asynchronous connect completed, signals 2)",
        "  0.007000  primitiveSocketError(bytes[5] 'short') FAILED: bad handle",
        "  0.009000  poll periodic: no handler ran",
    ]


def test_json_lines_carry_the_same_facts() -> None:
    vm = FakeVM()
    out = io.StringIO()
    with Tracer(out, json=True) as tracer:
        tracer.attach(vm)
        vm.emit(
            PrimitiveCalled(0.5, "primitiveSocketConnectionStatus", (_handle(9),)),
            PrimitiveAnswered(0.5, "primitiveSocketConnectionStatus", 2),
            Polled(0.6, True, None, 0),
        )
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["kind"] for r in records] == ["call", "answer", "poll"]
    assert records[0]["args"] == ["socket(session 3, ptr 9)"]
    assert records[1]["result"] == "2 (Connected)"
    assert records[2] == {
        "at": 0.6,
        "kind": "poll",
        "mode": "idle",
        "timeout": None,
        "handlers": 0,
        "vm": 1,
        "thread": 1,
    }


def test_poll_filter() -> None:
    busy, quiet = Polled(0.1, True, 1.0, 2), Polled(0.2, False, 0.0, 0)
    for polls, kept in ((PollFilter.ALL, 2), (PollFilter.BUSY, 1), (PollFilter.NONE, 0)):
        entries: list[TraceEntry] = []
        vm = FakeVM()
        with Tracer(entries.append, polls=polls) as tracer:
            tracer.attach(vm)
            vm.emit(SemaphoreSignalled(0.05, 4, ""), busy, quiet)
        assert sum(e.kind is Kind.POLL for e in entries) == kept, polls
        # the handler's signal is there whatever the filter says
        (signal,) = [e for e in entries if e.kind is Kind.SIGNAL]
        assert signal.within == ("poll" if kept else None)


def test_a_bad_target_is_refused() -> None:
    with pytest.raises(TypeError, match="stream, a path or a callable"):
        Tracer(42)  # type: ignore[arg-type]


# -- on the emulated plugin ---------------------------------------------------------------


def _connect_and_echo(plugin: SocketPlugin, path: str) -> bytes:
    """The workspace example's primitives, straight on the plugin."""
    _sema, index = plugin.vm.new_semaphore("resolver")
    plugin.primitiveInitializeNetwork(index)
    read_sema, read_index = plugin.vm.new_semaphore("read")
    h = plugin.primitiveSocketCreate3Semaphores(1, 0, 8000, 8000, 0, read_index, 0)
    session = int.from_bytes(bytes(h[:4]), "little", signed=True)
    address = bytearray(build_socket_address(session, sockaddr_un(path.encode())))
    plugin.primitiveSocketConnectTo(h, address)
    plugin.primitiveSocketSendDataBufCount(h, b"traced", 1, 6)
    buf = bytearray(16)
    while not plugin.primitiveSocketReceiveDataAvailable(h):
        assert read_sema.wait(WAIT), "no data within the time-out"
    n = plugin.primitiveSocketReceiveDataBufCount(h, buf, 1, 16)
    plugin.primitiveSocketDestroy(h)
    return bytes(buf[:n])


def test_plugin_trace_to_a_stream(sockdir: str) -> None:
    path = os.path.join(sockdir, "echo.sock")
    out = io.StringIO()
    with UnixEchoServer(path), SocketPlugin(trace=out) as plugin:
        assert _connect_and_echo(plugin, path) == b"traced"
    text = out.getvalue()
    assert "socket#1 new → Unconnected (CREATE_STREAM" in text
    assert f"primitiveSocketConnectTo(socket#1, unix:{path}) …" in text
    assert "socket#1 Unconnected → Connected (CONNECT_SYNC: connect() completed at once" in text
    assert "primitiveSocketSendDataBufCount(socket#1, bytes[6] 'traced', 1, 6) → 6" in text
    assert re.search(
        r"primitiveSocketReceiveDataBufCount\(socket#1, bytes\[16\] \(zeros\), 1, 16\)"
        r" → 6; arg 2 now bytes\[16\] 'traced' \+ 10 zeros",
        text,
    )
    assert "primitiveSocketReceiveDataAvailable(socket#1) → true" in text
    assert "… primitiveSocketDestroy → ok; arg 1 now socket(destroyed)" in text
    # every line starts with the VM clock, and the clock does not go back within a call
    assert all(re.match(r"\s*\d+\.\d{6}  ", line) for line in text.splitlines())


def test_plugin_trace_to_a_path_is_closed_with_the_plugin(sockdir: str, tmp_path: Path) -> None:
    path = os.path.join(sockdir, "echo.sock")
    trace = tmp_path / "trace.txt"
    with UnixEchoServer(path):
        plugin = SocketPlugin(trace=str(trace))
        try:
            assert str(trace) in open_fds().values()
            _connect_and_echo(plugin, path)
        finally:
            plugin.close()
    assert str(trace) not in open_fds().values()  # the plugin made the tracer: it closed the file
    text = trace.read_text()
    assert "primitiveInitializeNetwork(" in text
    assert text.rstrip().endswith("primitiveSocketDestroy → ok; arg 1 now socket(destroyed)")


def test_a_json_trace_to_a_path(sockdir: str, tmp_path: Path) -> None:
    path = os.path.join(sockdir, "echo.sock")
    trace = tmp_path / "trace.jsonl"
    with (
        UnixEchoServer(path),
        Tracer(trace, json=True) as tracer,
        SocketPlugin(trace=tracer) as plugin,
    ):
        _connect_and_echo(plugin, path)
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    calls = [r["primitive"] for r in records if r["kind"] == "call"]
    assert calls[:2] == ["primitiveInitializeNetwork", "primitiveSocketCreate3Semaphores"]
    assert calls[-1] == "primitiveSocketDestroy"
    states = [(r["event"], r["before"], r["after"]) for r in records if r["kind"] == "state"]
    assert ("CONNECT_SYNC", "Unconnected", "Connected") in states
    assert states[-1] == ("CLOSE_DONE", "ThisEndClosed", "Unconnected")
    # a state change inside a primitive names it
    inside = {r.get("within") for r in records if r["kind"] == "state"}
    assert "primitiveSocketConnectTo" in inside


def test_plugin_trace_to_a_callable_in_order(sockdir: str) -> None:
    path = os.path.join(sockdir, "echo.sock")
    entries: list[TraceEntry] = []
    with UnixEchoServer(path), SocketPlugin(trace=entries.append) as plugin:
        _connect_and_echo(plugin, path)
    kinds = [(e.kind, e.fields.get("primitive")) for e in entries[:5]]
    assert kinds == [
        (Kind.CALL, "primitiveInitializeNetwork"),
        (Kind.ANSWER, "primitiveInitializeNetwork"),
        (Kind.CALL, "primitiveSocketCreate3Semaphores"),
        (Kind.STATE, None),
        (Kind.ANSWER, "primitiveSocketCreate3Semaphores"),
    ]
    times = [e.at for e in entries if e.within is None and e.kind is not Kind.POLL]
    assert times == sorted(times)


def test_an_accept_in_a_poll_is_shown_under_the_poll(sockdir: str) -> None:
    """The handler's transition comes after the poll that ran it, indented (within 'poll')."""
    path = os.path.join(sockdir, "srv.sock")
    entries: list[TraceEntry] = []
    with SocketPlugin(trace=entries.append) as plugin:
        _s, index = plugin.vm.new_semaphore("resolver")
        plugin.primitiveInitializeNetwork(index)
        conn, conn_index = plugin.vm.new_semaphore("conn")
        h = plugin.primitiveSocketCreate3Semaphores(1, 0, 8000, 8000, conn_index, 0, 0)
        session = int.from_bytes(bytes(h[:4]), "little", signed=True)
        plugin.primitiveSocketBindTo(h, build_socket_address(session, sockaddr_un(path.encode())))
        plugin.primitiveSocketListenWithBacklog(h, 1)
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
            assert conn.wait(WAIT)
            plugin.primitiveSocketDestroy(h)
        os.unlink(path)
    accepted = [i for i, e in enumerate(entries) if e.fields.get("event") == "ACCEPT_IN_PLACE"]
    assert len(accepted) == 1
    entry = entries[accepted[0]]
    assert entry.within == "poll"
    poll = max(i for i, e in enumerate(entries[: accepted[0]]) if e.kind is Kind.POLL)
    assert entries[poll].fields["handlers"] >= 1
    assert all(e.within == "poll" for e in entries[poll + 1 : accepted[0]])
    lines = list(TextFormatter().format_all(entries))
    text = "\n".join(lines)
    assert re.search(
        r"poll (idle|periodic)[^\n]*handler[s]? ran\n(.*\n)*?\s+\d\.\d+      socket#1 "
        r"WaitingForConnection → Connected \(ACCEPT_IN_PLACE",
        text,
    )


def test_one_tracer_numbers_sockets_across_vms() -> None:
    entries: list[TraceEntry] = []
    tracer = Tracer(entries.append)
    with SocketPlugin(trace=tracer) as a, SocketPlugin(trace=tracer) as b:
        for plugin in (a, b):
            plugin.primitiveInitializeNetwork(0)
            plugin.primitiveSocketCreate3Semaphores(1, 0, 8000, 8000, 0, 0, 0)
    assert not tracer.closed  # a tracer given to a plugin is not the plugin's to close
    tracer.close()
    born = [(e.vm, e.fields["socket"]) for e in entries if e.kind is Kind.STATE]
    assert born == [(1, "socket#1"), (2, "socket#2")]
    lines = list(TextFormatter().format_all(entries))
    assert any("[vm2 t1]" in line for line in lines)


def test_the_ambient_trace_covers_images_that_make_their_plugin(sockdir: str) -> None:
    path = os.path.join(sockdir, "echo.sock")
    entries: list[TraceEntry] = []
    with UnixEchoServer(path), Tracer(entries.append) as tracer:
        with tracing(tracer), Image() as image:
            NetNameResolver.initialize_network(image=image)
            with Socket.new_ipc(image=image) as sock:
                sock.connect_to(SocketAddress.for_socket_path(path, sock.session_id, image))
        traced = len(entries)
        assert traced > 0
        # outside the block, and an image given its plugin, are not traced
        with Image() as image:
            NetNameResolver.initialize_network(image=image)
        with tracing(tracer), Image(SocketPlugin(), owns_plugin=True) as image:
            NetNameResolver.initialize_network(image=image)
        assert len(entries) == traced
    calls = [e.fields["primitive"] for e in entries if e.kind is Kind.CALL]
    assert "primitiveSocketConnectTo" in calls and "primitiveSocketDestroy" in calls
