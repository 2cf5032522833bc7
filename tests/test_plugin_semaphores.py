"""Semaphores the plugin signals, and the aio layer that makes it signal them."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from plugin_support import LOOPBACK, WAIT, Harness

from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.vm.machine import VirtualMachine
from sqsocket.vm.semaphores import ExternalObjectsTable, Semaphore

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


# -- the semaphores themselves -------------------------------------------------------------


def test_semaphore_keeps_excess_signals_and_times_out() -> None:
    sema = Semaphore("s")
    assert sema.wait(0.01) is False
    sema.signal()
    sema.signal()
    assert sema.excess_signals == 2
    assert sema.wait(0) and sema.wait_timeout_ms(10)
    assert sema.wait_timeout_ms(10) is False
    assert sema.signals == 2
    sema.signal()
    sema.initialize_signals()
    assert sema.excess_signals == 0 and sema.signals == 3
    assert "excess=0" in repr(sema)


def test_semaphore_wakes_a_waiting_thread() -> None:
    sema = Semaphore()
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(sema.wait(WAIT)))
    waiter.start()
    time.sleep(0.02)
    sema.signal()
    waiter.join(WAIT)
    assert woke == [True]


def test_external_objects_are_indexed_from_one_and_slots_are_reused() -> None:
    table = ExternalObjectsTable()
    a, b, c = Semaphore("a"), Semaphore("b"), Semaphore("c")
    assert (table.register(a), table.register(b)) == (1, 2)
    assert table.register(a) == 1, "registering twice answers the same index"
    table.unregister(a)
    assert table.at(1) is None and len(table) == 1
    assert table.register(c) == 1, "a freed slot is reused"
    assert table.at(0) is None and table.at(3) is None and table.at(-1) is None


def test_signal_by_index_ignores_zero_and_unknown_indices() -> None:
    vm = VirtualMachine()
    sema, index = vm.new_semaphore("x")
    vm.signal_semaphore_with_index(0)
    vm.signal_semaphore_with_index(index + 5)
    vm.signal_semaphore_with_index(-3)
    assert sema.signals == 0
    vm.signal_semaphore_with_index(index)
    assert sema.signals == 1


# -- what the plugin signals ------------------------------------------------------------------


def test_connect_signals_the_connection_semaphore_once(harness: Harness) -> None:
    listener, port = harness.tcp_listener()
    client = harness.create(NetDomain.INET4, SocketType.TCP, "client")
    harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
    assert client.conn.wait(WAIT)
    assert harness.status(client) == 2
    assert client.signals() == (1, 0, 0)
    assert listener.conn.wait(WAIT), "the listener is signalled when it accepts"


def test_unix_connect_signals_at_once(harness: Harness, sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    harness.unix_listener(path)
    client = harness.create(NetDomain.LOCAL, SocketType.TCP, "client")
    harness.p.primitiveSocketConnectTo(client.handle, harness.unix_address(path))
    assert client.signals() == (1, 0, 0), "connect() == 0: notify(CONN) before returning"


def test_read_semaphore_after_no_data_then_data(harness: Harness) -> None:
    client, server, _ = harness.tcp_pair()
    assert harness.p.primitiveSocketReceiveDataAvailable(server.handle) is False
    assert server.read.wait(0.05) is False, "nothing to read: no signal yet"
    harness.send_all(client, b"ping")
    assert server.read.wait(WAIT), "dataHandler signals the read semaphore"
    assert harness.p.primitiveSocketReceiveDataAvailable(server.handle) is True
    assert server.signals()[1] == 1
    assert harness.receive_exactly(server, 4) == b"ping"


def test_read_handler_is_one_shot(harness: Harness) -> None:
    """aioHandle arms once: more data without another ReceiveDataAvailable signals nothing."""
    client, server, _ = harness.tcp_pair()
    assert harness.p.primitiveSocketReceiveDataAvailable(server.handle) is False
    harness.send_all(client, b"a")
    assert server.read.wait(WAIT)
    harness.send_all(client, b"b")
    assert server.read.wait(0.1) is False
    assert server.signals()[1] == 1


def test_peer_close_signals_read_once_and_shows_other_end_closed(
    harness: Harness, sockdir: str
) -> None:
    client, server, _ = harness.unix_pair(sockdir)
    assert harness.p.primitiveSocketReceiveDataAvailable(client.handle) is False
    before = client.signals()
    harness.p.primitiveSocketCloseConnection(server.handle)
    assert client.read.wait(WAIT)
    assert harness.status(client) == 3
    time.sleep(0.05)
    after = client.signals()
    # dataHandler: one notify(pss, READ_NOTIFY), however the peer's end was found
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (0, 1, 0)


def test_tcp_peer_close_is_seen_by_the_aio_thread(harness: Harness) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        client = harness.create(NetDomain.INET4, SocketType.TCP, "client")
        harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, listener.getsockname()[1])
        peer, _ = listener.accept()
        assert client.conn.wait(WAIT)
        assert harness.p.primitiveSocketReceiveDataAvailable(client.handle) is False
        peer.close()
        assert client.read.wait(WAIT)
        assert harness.status(client) == 3


def test_accept_in_place_signals_the_listener(harness: Harness) -> None:
    listener = harness.create(NetDomain.INET4, SocketType.TCP, "listener")
    harness.p.primitiveSocketListenOnPortBacklogInterface(listener.handle, 0, 1, LOOPBACK)
    port = harness.p.primitiveSocketLocalPort(listener.handle)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as peer:
        assert listener.conn.wait(WAIT)
        assert harness.status(listener) == 2, "the listener became the connection"
        peer.sendall(b"hi")
        assert harness.receive_exactly(listener, 2) == b"hi"


def test_accept_with_backlog_signals_the_listener_per_connection(harness: Harness) -> None:
    listener, port = harness.tcp_listener(backlog=4)
    peers = [socket.create_connection(("127.0.0.1", port), timeout=WAIT) for _ in range(2)]
    try:
        accepted = []
        for _ in peers:
            # waits on the listener's semaphore; taking a connection re-arms acceptHandler,
            # which may at once accept the next one (state 2 again) and signal again
            accepted.append(harness.take(listener))
        assert harness.status(listener) == 1, "nothing left waiting"
        assert listener.conn.signals == 2
        assert [harness.status(s) for s in accepted] == [2, 2]
    finally:
        for p in peers:
            p.close()


def test_send_done_false_then_write_semaphore(harness: Harness, sockdir: str) -> None:
    client, server, _ = harness.unix_pair(sockdir)
    harness.fill(client)
    assert harness.p.primitiveSocketSendDone(client.handle) is False
    assert client.write.wait(0.05) is False
    buf = bytearray(1 << 20)
    total = 0
    deadline = time.monotonic() + WAIT
    while not client.write.wait(0.01):
        total += harness.p.primitiveSocketReceiveDataBufCount(server.handle, buf, 1, len(buf))
        assert time.monotonic() < deadline, "the write semaphore was never signalled"
    assert total > 0
    assert harness.p.primitiveSocketSendDone(client.handle) is True
    assert client.signals() == (1, 0, 1)


@pytest.mark.profile("strict")  # its address lookup of 127.0.0.1 is answered by /etc/hosts
def test_resolver_semaphore_on_name_lookup_and_address_info(harness: Harness) -> None:
    harness.p.primitiveResolverStartNameLookup("localhost")
    assert harness.resolver.wait(WAIT)
    harness.p.primitiveResolverGetAddressInfo("127.0.0.1", "80", 1, 2, 1, 1)
    assert harness.resolver.wait(WAIT)
    address = bytearray(harness.p.primitiveResolverGetAddressInfoSize())
    harness.p.primitiveResolverGetAddressInfoResult(address)
    harness.p.primitiveResolverGetNameInfo(address, 1)
    assert harness.resolver.wait(WAIT)
    # an address lookup does not signal (sqResolverStartAddrLookup never did)
    harness.p.primitiveResolverStartAddressLookup(LOOPBACK)
    assert harness.resolver.wait(0.05) is False
    assert harness.resolver.signals == 3
