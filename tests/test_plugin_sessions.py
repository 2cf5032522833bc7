"""Network sessions: initialise, shut down, and what a handle or address from another is worth."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from plugin_support import LOOPBACK, Harness, fails, open_fds, short_tmpdir

from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.layouts import SocketHandle, build_socket_address, sockaddr_in
from sqsocket.plugin import SocketPlugin

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


def aio_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqsocket-aio" and t.is_alive()]


def test_initialize_network_starts_a_session(harness: Harness) -> None:
    assert harness.session != 0
    assert -(1 << 31) <= harness.session < (1 << 31), "a C int"
    assert harness.p.primitiveResolverStatus() == 1


def test_a_second_initialize_is_a_no_op_keeping_the_first_resolver_semaphore(
    harness: Harness,
) -> None:
    session = harness.session
    other, index = harness.semaphore("other resolver")
    assert harness.p.primitiveInitializeNetwork(index) is None
    assert harness.session == session
    harness.p.primitiveResolverStartNameLookup("localhost")
    assert harness.resolver.signals == 1 and other.signals == 0


def test_before_initialize_nothing_but_the_resolver_works() -> None:
    with SocketPlugin() as plugin:
        assert plugin.session_id == 0
        assert plugin.primitiveResolverStatus() == 0, "ResolverUninitialised"
        fails(plugin.primitiveSocketCreate, NetDomain.INET4, SocketType.TCP, 0, 0, 0)
        fails(plugin.primitiveResolverGetAddressInfo, "127.0.0.1", "", 1, 0, 0, 0)
        fails(plugin.primitiveSocketConnectionStatus, bytearray(16))
        # the old resolver needs no session (and has no semaphore to signal)
        plugin.primitiveResolverStartNameLookup("localhost")
        assert plugin.primitiveResolverNameLookupResult() == LOOPBACK
        fails(plugin.primitiveInitializeNetwork, "1")
        fails(plugin.primitiveInitializeNetwork, 1 << 30)


def test_shutdown_invalidates_handles_and_addresses_even_after_a_new_session(
    harness: Harness,
) -> None:
    client, server, listener = harness.tcp_pair()
    old_session = harness.session
    port = harness.p.primitiveSocketLocalPort(listener.handle)
    old_address = harness.inet_address(port)
    before = len(open_fds())
    harness.p.shutdownModule()
    assert harness.session == 0
    assert len(open_fds()) <= before - 3, "sqNetworkShutdown closed every socket"
    assert harness.p.primitiveResolverStatus() == 0
    for s in (client, server, listener):
        fails(harness.p.primitiveSocketConnectionStatus, s.handle)
    fails(harness.p.primitiveSocketAddressGetPort, old_address)

    _sema, index = harness.semaphore("resolver 2")
    harness.p.primitiveInitializeNetwork(index)
    assert harness.session not in (0, old_session)
    for s in (client, server, listener):
        exc = fails(harness.p.primitiveSocketConnectionStatus, s.handle)
        assert "session" in exc.reason
        fails(harness.p.primitiveSocketDestroy, s.handle)
        fails(harness.p.primitiveSocketSendDataBufCount, s.handle, b"x", 1, 1)
    fails(harness.p.primitiveSocketAddressGetPort, old_address)
    fails(harness.p.primitiveResolverGetNameInfo, old_address, 1)
    fresh = harness.create(NetDomain.INET4, SocketType.TCP)
    fails(harness.p.primitiveSocketConnectTo, fresh.handle, old_address)
    assert harness.status(fresh) == 0


def test_shutdown_forgets_every_descriptor_and_init_starts_again(harness: Harness) -> None:
    harness.tcp_pair()
    aio = harness.p.vm.aio
    assert aio.descriptors(), "the connected sockets are enabled"
    harness.p.shutdownModule()
    assert aio.descriptors() == [], "aioFini: every socket disabled and closed"
    _sema, index = harness.semaphore("again")
    harness.p.primitiveInitializeNetwork(index)
    client, server, _ = harness.tcp_pair()
    harness.send_all(client, b"still works")
    assert harness.receive_exactly(server, 11) == b"still works"


def test_shutdown_twice_and_close_after_shutdown(harness: Harness) -> None:
    harness.p.shutdownModule()
    harness.p.shutdownModule()
    harness.p.close()
    assert harness.session == 0


def test_a_handle_from_another_vm_is_refused(harness: Harness) -> None:
    with Harness.started() as other:
        theirs = other.create(NetDomain.INET4, SocketType.UDP)
        # forge the session too: the pointer reaches no socket of this VM
        forged = bytearray(theirs.handle)
        forged[:4] = harness.session.to_bytes(4, "little", signed=True)
        for handle in (theirs.handle, forged):
            fails(harness.p.primitiveSocketConnectionStatus, handle)
            fails(harness.p.primitiveSocketDestroy, handle)
        assert other.status(theirs) == 2, "the other VM's socket is untouched"


def test_never_made_and_null_pointers_are_refused(harness: Harness) -> None:
    real = harness.create(NetDomain.INET4, SocketType.TCP)
    decoded = SocketHandle.parse(real.handle)
    for pointer in (0, decoded.private_ptr + 8, 0xDEADBEEF, (1 << 64) - 1):
        bogus = bytearray(SocketHandle(harness.session, SocketType.TCP, pointer).build())
        fails(harness.p.primitiveSocketConnectionStatus, bogus)
        fails(harness.p.primitiveSocketCloseConnection, bogus)
    assert harness.status(real) == 0


def test_session_zero_handles_are_refused(harness: Harness) -> None:
    real = harness.create(NetDomain.INET4, SocketType.TCP)
    zero = bytearray(real.handle)
    zero[:4] = bytes(4)
    fails(harness.p.primitiveSocketConnectionStatus, zero)


def test_addresses_carry_their_session(harness: Harness) -> None:
    mine = harness.inet_address(80)
    assert int.from_bytes(mine[:4], "little", signed=True) == harness.session
    theirs = bytearray(build_socket_address(harness.session + 1, sockaddr_in("127.0.0.1", 80)))
    assert harness.p.primitiveSocketAddressGetPort(mine) == 80
    fails(harness.p.primitiveSocketAddressGetPort, theirs)
    fails(harness.p.primitiveSocketAddressSetPort, theirs, 81)
    assert theirs[8:] == sockaddr_in("127.0.0.1", 80), "a failed SetPort writes nothing"


def test_unix_socket_file_stays_after_shutdown(harness: Harness) -> None:
    with short_tmpdir() as d:
        path = os.path.join(d, "s")
        harness.unix_listener(path)
        harness.p.shutdownModule()
        assert os.path.exists(path)
        with socket.socket(socket.AF_UNIX) as probe:
            assert probe.connect_ex(path) != 0, "but nobody listens on it"


def test_the_context_manager_shuts_down() -> None:
    before = len(aio_threads())
    with Harness.started() as h:
        h.tcp_pair()
        s = h.create(NetDomain.LOCAL, SocketType.UDP)
        assert h.status(s) == 2
    assert h.session == 0
    assert len(aio_threads()) <= before


def test_sessions_of_two_vms_work_side_by_side() -> None:
    with Harness.started() as a, Harness.started() as b:
        listener, port = a.tcp_listener()
        client = b.create(NetDomain.INET4, SocketType.TCP)
        b.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
        server = a.take(listener)
        assert b.wait_status(client, 2)
        b.send_all(client, b"across VMs")
        assert a.receive_exactly(server, 10) == b"across VMs"
        assert client.conn.signals == 1 and listener.conn.signals == 1
