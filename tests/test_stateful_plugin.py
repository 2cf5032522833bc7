"""A stateful test of the plugin against live peers (issue 10): whatever the image does --
create, connect, listen, accept, send, receive, close, abort, destroy, in any order,
over Unix-domain sockets and loopback TCP -- every byte it sent reaches the peer, every
byte the peer echoed reaches the image, exactly and in order, and the emulator never
raises an error of its own.

The peers are Python echo servers and echo clients in a thread of this process
(tests/echo_peers.py). The image side is one emulated VM driven as the image drives it:
to wait for data, ``primitiveSocketReceiveDataAvailable`` and then a wait on the
socket's read semaphore (the VM's idle process polls meanwhile); to wait for a
connection, the connection semaphore; to send, ``primitiveSocketSendDone`` and the write
semaphore. There is no background thread in the VM: nothing changes between two polls.

After each example the plugin is closed and the process has no more descriptors than
before it. Budgets come from the Hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from echo_peers import EchoPeers, Key
from fuzz_support import CALLS, fd_count
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)
from plugin_support import LOOPBACK, Harness, Sock, short_tmpdir

from sqsocket.errors import PrimitiveFailed
from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.layouts import ADDRESS_HEADER_SIZE
from sqsocket.vm.semaphores import Semaphore

pytestmark = pytest.mark.timeout(300)

SUITE = "stateful"
WAIT = 5.0  # the longest any single wait may take
PROFILES = ("squeak-4.10", "opensmalltalk", "strict")
TRANSPORTS = ("unix", "tcp")
MINIMUM_CALLS = 4000  # what `make test` (the ci profile) must reach in this suite

CONNECTED, OTHER_END_CLOSED = 2, 3
# how much one send rule sends: a few bytes, a few kilobytes, or more than a socket
# buffer takes at once (the rest waits for SendDone, while the echo is read)
SIZES = st.one_of(
    st.integers(1, 64), st.integers(1000, 20000), st.sampled_from([1, 4096, 65536, 300_000])
)


@dataclass(eq=False)
class Conn:
    """One connection as the image holds it, and everything that went through it."""

    sock: Sock
    transport: str
    key: Key
    sent: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)
    state: str = "open"  # open, peer-closed, closed, aborted

    def __repr__(self) -> str:
        return f"<{self.transport} {self.key} {self.state} {len(self.sent)}/{len(self.received)}>"


@dataclass(eq=False)
class Listener:
    sock: Sock
    transport: str
    pending: list[Key] = field(default_factory=list)  # peer clients not accepted yet

    def __repr__(self) -> str:
        return f"<listener {self.transport} {len(self.pending)} pending>"


class PluginAgainstPeers(RuleBasedStateMachine):
    conns = Bundle("conns")
    listeners = Bundle("listeners")

    def __init__(self) -> None:
        super().__init__()
        self.fds = fd_count()
        self.stack = contextlib.ExitStack()
        self.all_conns: list[Conn] = []
        self.all_listeners: list[Listener] = []
        self.live_listeners: list[Listener] = []
        self.paths = 0

    # -- set-up and helpers ---------------------------------------------------------

    @initialize(profile=st.sampled_from(PROFILES))
    def start(self, profile: str) -> None:
        directory = self.stack.enter_context(short_tmpdir("sqs-"))
        self.directory = directory
        self.h = self.stack.enter_context(Harness.started(profile))
        self.p = self.h.p
        self.peers = EchoPeers(directory)
        self.stack.callback(self.peers.stop)  # (runs before the plugin closes)
        self.stack.callback(self.p.observe(CALLS.observer(SUITE)))

    def path(self, what: str) -> str:
        self.paths += 1
        return os.path.join(self.directory, f"{what}{self.paths}")

    def wait(self, sema: Semaphore, done: Callable[[], bool], what: str) -> None:
        """Wait as the image does: ask, and while the answer is no, wait on the semaphore."""
        deadline = time.monotonic() + WAIT
        while not done():
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {what}"
            sema.wait(min(remaining, 0.5))

    def status(self, s: Sock) -> int:
        return int(self.p.primitiveSocketConnectionStatus(s.handle))

    def remote_key(self, s: Sock, transport: str) -> Key:
        if transport == "tcp":
            return ("tcp", self.p.primitiveSocketRemotePort(s.handle))
        size = self.p.primitiveSocketRemoteAddressSize(s.handle)
        address = bytearray(size)
        self.p.primitiveSocketRemoteAddressResult(s.handle, address)
        path = bytes(address[ADDRESS_HEADER_SIZE + 2 :]).split(b"\0", 1)[0]
        return ("unix", os.fsdecode(path))

    def read_available(self, conn: Conn) -> int:
        """Read what is there now, without waiting; answer how much."""
        got = 0
        buf = bytearray(8192)
        while self.p.primitiveSocketReceiveDataAvailable(conn.sock.handle):
            n = self.p.primitiveSocketReceiveDataBufCount(conn.sock.handle, buf, 1, len(buf))
            if n == 0:
                break
            conn.received += buf[:n]
            got += n
        self.check_prefix(conn)
        return got

    def check_prefix(self, conn: Conn) -> None:
        received, sent = bytes(conn.received), bytes(conn.sent)
        assert sent.startswith(received), (
            f"{conn}: the echo differs from what was sent at byte "
            f"{next(i for i, (a, b) in enumerate(zip(received, sent, strict=False)) if a != b)}"
            if len(received) <= len(sent)
            else f"{conn}: more came back than was sent"
        )

    def drain(self, conn: Conn) -> None:
        """Receive until everything sent has come back."""
        deadline = time.monotonic() + WAIT
        while len(conn.received) < len(conn.sent):
            assert time.monotonic() < deadline, f"{conn}: the echo did not all come back"
            if not self.read_available(conn):
                assert self.status(conn.sock) == CONNECTED, f"{conn}: closed while draining"
                conn.sock.read.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        assert bytes(conn.received) == bytes(conn.sent), f"{conn}: the echo is not what was sent"

    # -- rules ---------------------------------------------------------------------------

    @rule(target=conns, transport=st.sampled_from(TRANSPORTS))
    def connect(self, transport: str) -> Conn:
        """A client connecting to a peer's echo server."""
        if transport == "unix":
            s = self.h.create(NetDomain.LOCAL, SocketType.TCP)
            path = self.path("c")
            self.p.primitiveSocketBindTo(s.handle, self.h.unix_address(path))
            self.p.primitiveSocketConnectTo(s.handle, self.h.unix_address(self.peers.unix_path))
            key: Key = ("unix", path)
        else:
            s = self.h.create(NetDomain.INET4, SocketType.TCP)
            self.p.primitiveSocketConnectToPort(s.handle, LOOPBACK, self.peers.port)
        self.wait(s.conn, lambda: self.status(s) != 1, "the connection")
        assert self.status(s) == CONNECTED
        if transport == "tcp":
            key = ("tcp", self.p.primitiveSocketLocalPort(s.handle))
        conn = Conn(s, transport, key)
        self.all_conns.append(conn)
        return conn

    @rule(target=listeners, transport=st.sampled_from(TRANSPORTS), clients=st.integers(1, 3))
    def listen(self, transport: str, clients: int) -> Listener:
        """A listener (backlog 5) and peer clients connecting to it."""
        if transport == "unix":
            path = self.path("l")
            s = self.h.unix_listener(path, backlog=5)
            address: tuple[str, int] | str = path
        else:
            s, port = self.h.tcp_listener(backlog=5)
            address = ("127.0.0.1", port)
        listener = Listener(s, transport)
        listener.pending = [self.peers.connect(address) for _ in range(clients)]
        self.all_listeners.append(listener)
        self.live_listeners.append(listener)
        return listener

    @precondition(lambda self: any(x.pending for x in self.all_listeners))
    @rule(target=conns, listener=listeners.filter(lambda x: bool(x.pending)))
    def accept(self, listener: Listener) -> Conn:
        """Take the connection the listener parked (primitiveSocketAccept3Semaphores)."""
        self.wait(listener.sock.conn, lambda: self.status(listener.sock) == CONNECTED, "a client")
        s = self.h.accept(listener.sock)
        key = self.remote_key(s, listener.transport)
        assert key in listener.pending, f"accepted {key}, expected one of {listener.pending}"
        listener.pending.remove(key)
        conn = Conn(s, listener.transport, key)
        self.all_conns.append(conn)
        return conn

    @rule(target=conns, transport=st.sampled_from(TRANSPORTS))
    def listen_in_place(self, transport: str) -> Conn:
        """Backlog 1: the first connection replaces the listener in the same handle."""
        if transport == "unix":
            path = self.path("i")
            s = self.h.unix_listener(path, backlog=1)
            key = self.peers.connect(path)
        else:
            s, port = self.h.tcp_listener(backlog=1)
            key = self.peers.connect(("127.0.0.1", port))
        self.wait(s.conn, lambda: self.status(s) == CONNECTED, "the client")
        assert self.remote_key(s, transport) == key
        conn = Conn(s, transport, key)
        self.all_conns.append(conn)
        return conn

    @rule(conn=conns, size=SIZES, seed=st.integers(0, 2**32 - 1))
    def send(self, conn: Conn, size: int, seed: int) -> None:
        """Send it all (never nothing: a send of 0 bytes is a close to the plugin, quirk 21)."""
        if conn.state != "open":
            return
        data = random.Random(seed).randbytes(size)
        handle, sent = conn.sock.handle, 0
        deadline = time.monotonic() + WAIT
        while sent < len(data):
            n = self.p.primitiveSocketSendDataBufCount(handle, data, sent + 1, len(data) - sent)
            conn.sent += data[sent : sent + n]
            sent += n
            if n == 0:
                assert time.monotonic() < deadline, f"{conn}: the send did not finish"
                assert self.status(conn.sock) == CONNECTED, f"{conn}: closed while sending"
                # full: take what the peer echoed meanwhile, then wait for room
                self.read_available(conn)
                if not self.p.primitiveSocketSendDone(handle):
                    conn.sock.write.wait(0.05)

    @rule(conn=conns)
    def receive(self, conn: Conn) -> None:
        """Read what has come, without waiting."""
        if conn.state in ("open", "peer-closed"):
            self.read_available(conn)

    @rule(conn=conns)
    def wait_for_data(self, conn: Conn) -> None:
        """Wait until something more comes back, then read it."""
        if conn.state != "open" or len(conn.received) >= len(conn.sent):
            return
        before = len(conn.received)
        handle = conn.sock.handle

        def arrived() -> bool:
            return bool(self.p.primitiveSocketReceiveDataAvailable(handle))

        self.wait(conn.sock.read, arrived, f"data on {conn}")
        assert self.read_available(conn) > 0 and len(conn.received) > before

    @rule(conn=conns)
    def drain_and_close(self, conn: Conn) -> None:
        """Everything comes back; then an orderly close (status 0), the peer sees the end."""
        if conn.state != "open":
            return
        self.drain(conn)
        self.p.primitiveSocketCloseConnection(conn.sock.handle)
        assert self.status(conn.sock) == 0
        conn.state = "closed"

    @rule(conn=conns)
    def abort(self, conn: Conn) -> None:
        """Abort whatever is in flight."""
        if conn.state == "aborted":
            return
        self.p.primitiveSocketAbortConnection(conn.sock.handle)
        assert self.status(conn.sock) == 0
        conn.state = "aborted"

    @rule(conn=conns)
    def peer_closes(self, conn: Conn) -> None:
        """Everything comes back; the peer closes; the image sees OtherEndClosed (3)."""
        if conn.state != "open":
            return
        self.drain(conn)
        self.peers.close(conn.key)
        handle = conn.sock.handle

        def ended() -> bool:
            if self.p.primitiveSocketReceiveDataAvailable(handle):
                self.read_available(conn)
            return self.status(conn.sock) == OTHER_END_CLOSED

        self.wait(conn.sock.read, ended, f"the end of {conn}")
        assert bytes(conn.received) == bytes(conn.sent)
        conn.state = "peer-closed"

    @rule(conn=consumes(conns))
    def destroy(self, conn: Conn) -> None:
        if conn.state == "open":
            self.drain(conn)
        self.p.primitiveSocketDestroy(conn.sock.handle)
        assert conn.sock.handle[8:16] == bytes(8), "destroy nulls the handle's pointer"
        with pytest.raises(PrimitiveFailed):
            self.status(conn.sock)
        if conn.state == "open":
            conn.state = "closed"  # destroy aborts, after everything came back

    @precondition(lambda self: any(not x.pending for x in self.live_listeners))
    @rule(listener=consumes(listeners).filter(lambda x: not x.pending))
    def destroy_listener(self, listener: Listener) -> None:
        """A listener whose clients were all accepted."""
        self.p.primitiveSocketDestroy(listener.sock.handle)
        self.live_listeners.remove(listener)

    # -- after every step --------------------------------------------------------------------

    @invariant()
    def no_emulator_error_and_in_order(self) -> None:
        if not hasattr(self, "p"):
            return
        self.p.vm.relinquish(0)  # an error in an aio handler surfaces here
        assert not self.peers.errors, self.peers.errors
        for conn in self.all_conns:
            self.check_prefix(conn)

    def teardown(self) -> None:
        try:
            if hasattr(self, "p"):
                self.finish()
        finally:
            self.stack.close()
        assert fd_count() <= self.fds, "descriptors left after the plugin and peers closed"

    def finish(self) -> None:
        """Drain and close everything; the peers then saw exactly what the image sent."""
        for conn in self.all_conns:
            if conn.state == "open":
                self.drain(conn)
                self.p.primitiveSocketCloseConnection(conn.sock.handle)
                conn.state = "closed"
        for listener in self.all_listeners:
            for key in listener.pending:
                self.peers.close(key)
        self.p.vm.relinquish(0)
        self.peers.stop()
        assert not self.peers.errors, self.peers.errors
        for conn in self.all_conns:
            got = bytes(self.peers.received.get(conn.key, b""))
            if conn.state == "aborted":
                assert bytes(conn.sent).startswith(got), f"{conn}: the peer got other bytes"
            else:
                assert got == bytes(conn.sent), f"{conn}: the peer got {len(got)} bytes"


PluginAgainstPeers.TestCase.settings = settings(
    max_examples=max(10, settings().max_examples // 2),
    stateful_step_count=settings().stateful_step_count,
)
TestPluginAgainstPeers = PluginAgainstPeers.TestCase


def test_the_suite_made_enough_calls() -> None:
    """`make test` (the ci profile) makes at least MINIMUM_CALLS primitive calls here."""
    made = CALLS.by_suite.get(SUITE, 0)
    if made == 0 or settings().max_examples < 200:
        pytest.skip(f"{made} calls: the machine did not run, or a smaller profile ran")
    assert made >= MINIMUM_CALLS, f"only {made} primitive calls"
