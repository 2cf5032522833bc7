"""The profiles: every flag has a source, and every flag changes what its C code changes.

Each VM-specific behaviour is checked under the profile that has it and under one that
does not, so a flag that stops being read fails a test. Only squeak-4.10 runs here
(``sqsocket conformance``); the others are built from the sources their Source names.
"""

from __future__ import annotations

import errno
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from plugin_support import (
    LOOPBACK,
    WAIT,
    Harness,
    Sock,
    close_fails_once,
    fails,
    short_tmpdir,
    wait_until,
)

from sqsocket.errors import PrimitiveFailed
from sqsocket.interop.scenarios import BY_NAME
from sqsocket.platform import libc
from sqsocket.platform.constants import AddressFamily, NetDomain, SocketType
from sqsocket.platform.libc import IFF_BROADCAST, IFF_LOOPBACK, IFF_RUNNING, IFF_UP, Interface
from sqsocket.platform.options import CORK_OPTIONS, KEEPALIVE_OPTIONS, SOCKET_OPTIONS
from sqsocket.platform.profiles import (
    PROFILES,
    Evidence,
    LocalAddressRule,
    Profile,
    flag_names,
    get_profile,
    profile,
)
from sqsocket.platform.resolver import choose_local_address
from sqsocket.platform.statetable import Event, data_handler_event
from sqsocket.plugin import EXPORTED_PRIMITIVES
from sqsocket.vm.aio import AioFlag
from sqsocket.vm.cruntime import StderrMode
from sqsocket.vm.machine import VirtualMachine

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]

NUMERIC = 1
UNKNOWN = "a" * 64  # one 64-byte label: the DNS resolver refuses to query it (no packet)
HEX_COMMIT = re.compile(r"^[0-9a-f]{9,40}\b")


# -- every flag has a source ---------------------------------------------------------------


@pytest.mark.parametrize("prof", PROFILES.values(), ids=lambda p: p.name)
def test_every_flag_has_a_source(prof: Profile) -> None:
    assert set(prof.sources) == set(flag_names()) == set(prof.flags())
    for flag in flag_names():
        source = prof.source(flag)
        assert source.repository and source.file and source.function, flag
        # a commit hash, or a hash plus the pull requests it stands for
        assert HEX_COMMIT.match(source.commit), f"{prof.name}.{flag}: {source.commit!r}"
        if source.evidence is Evidence.PR_THREAD:
            assert "PR " in source.commit, f"{prof.name}.{flag}: which pull request?"
        for name in source.scenarios:
            assert name in BY_NAME, f"{prof.name}.{flag} cites no scenario {name!r}"
        assert prof.description and prof.stands_for


def test_a_flag_without_a_source_is_refused() -> None:
    base = get_profile("strict")
    flags = {name: (base.flags()[name], base.source(name)) for name in flag_names()}
    del flags["max_name_length"]
    with pytest.raises(TypeError, match=r"missing.*max_name_length"):
        profile("x", "x", "x", **flags)


def test_squeak_4_10_flags_are_measured_where_a_scenario_shows_them() -> None:
    sq = get_profile("squeak-4.10")
    measured = [f for f in flag_names() if sq.source(f).evidence is Evidence.MEASURED]
    assert len(measured) >= 15
    assert all(sq.source(f).scenarios for f in measured)
    others = [p for p in PROFILES.values() if p.name != "squeak-4.10"]
    assert all(p.source(f).evidence is not Evidence.MEASURED for p in others for f in flag_names())


def test_pharo_vm_is_pinned_and_current_opensmalltalk_names_its_pull_requests() -> None:
    pvm = get_profile("pharo-vm")
    assert pvm.source("local_lookup_stat").commit == "ecf29954a6814e6b5012db219d1f9910bd59f80a"
    osvm = get_profile("opensmalltalk")
    assert "PR 691" in osvm.source("local_lookup_stat").commit
    assert "PR 709" in osvm.source("resolver_checks").commit
    assert osvm.source("max_name_length").commit.startswith("ebc591451")


# -- exports ----------------------------------------------------------------------------


def test_pharo_vm_exports_60_primitives() -> None:
    pvm = get_profile("pharo-vm")
    exported = [n for n in EXPORTED_PRIMITIVES if n not in pvm.missing_primitives]
    assert len(exported) == 60
    assert "primitiveSocketCreateRAW" in exported
    with Harness.started("pharo-vm") as h:
        fails(h.p.primitiveHasSocketAccess)
        fails(h.p.primitiveDisableSocketAccess)
    with Harness.started("opensmalltalk") as h:
        assert h.p.primitiveHasSocketAccess() is True


# -- name limits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "limit"),
    [("squeak-4.10", 64), ("pharo5-vm", 64), ("opensmalltalk", 253), ("pharo-vm", 256)],
)
def test_getaddressinfo_takes_names_up_to_the_limit(name: str, limit: int) -> None:
    """A numeric lookup of a non-numeric host: no result, no DNS, but no failure either."""
    with Harness.started(name) as h:
        assert get_profile(name).max_name_length == limit
        h.p.primitiveResolverGetAddressInfo("a" * limit, "", NUMERIC, AddressFamily.INET4, 0, 0)
        assert h.p.primitiveResolverGetAddressInfoSize() == -1
        fails(
            h.p.primitiveResolverGetAddressInfo,
            "a" * (limit + 1),
            "",
            NUMERIC,
            AddressFamily.INET4,
            0,
            0,
        )


def test_start_name_lookup_truncates_at_the_limit() -> None:
    with Harness.started("opensmalltalk") as h:
        h.p.primitiveResolverStartNameLookup("localhost" + "x" * 300)
        assert h.p.net.resolver_sema and len(h.p.resolver.last_name) == 253


# -- the LOCAL shortcut -------------------------------------------------------------------


def test_current_opensmalltalk_resolves_any_path_and_a_server_binds_to_it() -> None:
    """PR 691: no stat(), so a Smalltalk Unix-domain server resolves its own path first."""
    with short_tmpdir() as d, Harness.started("opensmalltalk") as h:
        path = os.path.join(d, "s" * (104 - len(d) - 1))  # 104 bytes: a multiple of 8, too
        assert len(path) == 104 and not os.path.exists(path)
        h.p.primitiveResolverGetAddressInfo("", path, 0, AddressFamily.LOCAL, 0, 0)
        size = h.p.primitiveResolverGetAddressInfoSize()
        assert size == 118
        address = bytearray(size)
        h.p.primitiveResolverGetAddressInfoResult(address)
        listener = h.create(NetDomain.LOCAL, SocketType.TCP, "server")
        h.p.primitiveSocketBindTo(listener.handle, address)
        h.p.primitiveSocketListenWithBacklog(listener.handle, 5)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            served = h.take(listener)
            assert h.status(served) == 2


@pytest.mark.parametrize("name", ["squeak-4.10", "opensmalltalk-2022", "pharo-vm"])
def test_a_missing_path_does_not_resolve_where_the_vm_stats_it(name: str) -> None:
    with short_tmpdir() as d, Harness.started(name) as h:
        # stream/TCP: opensmalltalk-2022 fails type and protocol 0 once the shortcut is missed
        h.p.primitiveResolverGetAddressInfo(
            "", os.path.join(d, "nothing.sock"), 0, AddressFamily.LOCAL, 1, 1
        )
        assert h.p.primitiveResolverGetAddressInfoSize() == -1


@pytest.mark.parametrize(("length", "found"), [(99, True), (100, True), (104, False)])
def test_pharo_vm_paths_up_to_107_bytes_except_multiples_of_8(length: int, found: bool) -> None:
    """pharo-vm: MAXHOSTNAMELEN 256, so sun_path's 107 is the limit; a 64-bit image's
    String fills its last 8-byte slot at multiples of 8 (unterminated_path_word)."""
    with short_tmpdir() as d, Harness.started("pharo-vm") as h:
        path = os.path.join(d, "p" * (length - len(d) - 1))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(path)
            h.p.primitiveResolverGetAddressInfo("", path, 0, AddressFamily.LOCAL, 0, 0)
            assert (h.p.primitiveResolverGetAddressInfoSize() == 118) is found


# -- getAddressInfo's checks -----------------------------------------------------------------


def test_opensmalltalk_2022_fails_unspecified_type_or_protocol() -> None:
    """eb2d9e2d1: the switches have no case for 0 (PR 709 added them back)."""
    for name, fail in (("opensmalltalk-2022", True), ("opensmalltalk", False), ("pharo-vm", False)):
        with Harness.started(name) as h:
            call = h.p.primitiveResolverGetAddressInfo
            args = ("127.0.0.1", "80", NUMERIC, AddressFamily.INET4)
            if fail:
                fails(call, *args, 0, 1)
                fails(call, *args, 1, 0)
                call(*args, 1, 1)
            else:
                call(*args, 0, 0)
            assert h.p.primitiveResolverGetAddressInfoSize() > 0


@pytest.mark.parametrize(("name", "passes"), [("opensmalltalk", True), ("pharo5-vm", False)])
def test_the_local_shortcut_comes_before_the_checks_since_2020(name: str, passes: bool) -> None:
    """eb2d9e2d1 moved the range checks after the LOCAL shortcut: type 5 resolves a path."""
    with short_tmpdir() as d, Harness.started(name) as h:
        path = os.path.join(d, "x.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(path)
            if passes:
                h.p.primitiveResolverGetAddressInfo("", path, 0, AddressFamily.LOCAL, 5, 0)
                assert h.p.primitiveResolverGetAddressInfoSize() == 118
            else:
                fails(h.p.primitiveResolverGetAddressInfo, "", path, 0, AddressFamily.LOCAL, 5, 0)
        fails(
            h.p.primitiveResolverGetAddressInfo,
            "127.0.0.1",
            "80",
            NUMERIC,
            AddressFamily.INET4,
            5,
            0,
        )


# -- the old resolver ----------------------------------------------------------------------------


def test_opensmalltalk_address_lookup_passes_4_bytes() -> None:
    """3023fbc21: uint32_t, so gethostbyaddr is asked properly and answers."""
    expected = socket.gethostbyaddr("127.0.0.1")[0].encode()
    with Harness.started("opensmalltalk") as h:
        h.p.primitiveResolverStartAddressLookup(LOOPBACK)
        assert h.p.primitiveResolverStatus() == 1
        assert h.p.primitiveResolverAddressLookupResult() == expected


def test_pharo_vm_name_lookup_uses_getaddrinfo_and_its_result_fails_on_error() -> None:
    with Harness.started("pharo-vm") as h:
        h.p.primitiveResolverStartNameLookup(UNKNOWN)
        assert h.resolver.wait(WAIT)
        assert h.p.primitiveResolverStatus() == 3
        assert h.p.primitiveResolverError() == socket.EAI_NONAME < 0
        fails(h.p.primitiveResolverNameLookupResult)
        h.p.primitiveResolverStartNameLookup("localhost")
        assert h.p.primitiveResolverError() == 0
        assert h.p.primitiveResolverNameLookupResult() == LOOPBACK
    with Harness.started("pharo5-vm") as h:
        h.p.primitiveResolverStartNameLookup(UNKNOWN)
        assert h.p.primitiveResolverError() == libc.HOST_NOT_FOUND
        assert h.p.primitiveResolverNameLookupResult() == b"\0\0\0\0"


@pytest.mark.parametrize(("name", "status"), [("pharo-vm", 1), ("opensmalltalk", 3)])
def test_host_lookup_at_network_init(
    monkeypatch: pytest.MonkeyPatch, name: str, status: int
) -> None:
    """d46d3678a: pharo-vm no longer looks the host name up in sqNetworkInit."""
    monkeypatch.setattr(socket, "gethostname", lambda: UNKNOWN)
    with Harness.started(name) as h:
        assert h.p.primitiveResolverStatus() == status


def test_local_address_rules() -> None:
    up = IFF_UP | IFF_BROADCAST | IFF_RUNNING
    lo = Interface(b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING, socket.AF_INET, 0x7F000001)
    link = Interface(b"eth0", up, socket.AF_PACKET, None)
    wlan = Interface(b"wlan0", up, socket.AF_INET, 0x0A000002)
    eth = Interface(b"eth0", up, socket.AF_INET, 0x0A000001)
    down = Interface(b"enp3s0", 0, socket.AF_INET, 0x0A000003)
    only_running = Interface(b"enp4s0", IFF_RUNNING, socket.AF_INET, 0x0A000004)
    eth0_wlan0, flags = LocalAddressRule.ETH0_WLAN0, LocalAddressRule.INTERFACE_FLAGS
    # eth0/wlan0: whichever comes first in getifaddrs order, nothing else
    assert choose_local_address([lo, link, wlan, eth], eth0_wlan0) == 0x0A000002
    assert choose_local_address([lo, only_running], eth0_wlan0) == 0
    # PR 458: not loopback, any one of UP/BROADCAST/RUNNING, whatever its name
    assert choose_local_address([lo, down, only_running, eth], flags) == 0x0A000004
    assert choose_local_address([lo, down], flags) == 0


@pytest.mark.parametrize("name", ["pharo-vm", "opensmalltalk", "pharo5-vm"])
def test_local_address_from_this_hosts_interfaces(name: str) -> None:
    rule = get_profile(name).local_address_rule
    expected = choose_local_address(libc.getifaddrs(), rule).to_bytes(4, "big")
    with Harness.started(name) as h:
        assert h.p.primitiveResolverLocalAddress() == expected


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROFILES)
def test_each_profile_has_its_option_table(name: str) -> None:
    prof = get_profile(name)
    with Harness.started(name) as h:
        tcp = h.create(NetDomain.INET4, SocketType.TCP)
        for option in SOCKET_OPTIONS:
            present = option.flag is None or bool(getattr(prof, option.flag))
            try:
                h.p.primitiveSocketGetOptions(tcp.handle, option.name)
            except PrimitiveFailed as exc:
                # known but refused by getsockopt (IP_ADD_MEMBERSHIP), or not in the table
                assert ("unknown socket option" in exc.reason) is not present, option.name
            else:
                assert present, f"{name} should not know {option.name}"
    names = {o.name for o in SOCKET_OPTIONS}
    if name == "pharo5-vm":
        assert names >= KEEPALIVE_OPTIONS and prof.tcp_keepalive_options
    if name in ("opensmalltalk", "pharo-vm"):
        assert not prof.tcp_keepalive_options and prof.tcp_cork_option
    if name == "squeak-4.10":
        assert not prof.tcp_cork_option and names >= CORK_OPTIONS


def test_opensmalltalk_compares_option_names_whole() -> None:
    for name, found in (("opensmalltalk", False), ("pharo-vm", True)):
        with Harness.started(name) as h:
            tcp = h.create(NetDomain.INET4, SocketType.TCP)
            padded = "TCP_NODELAY\0x"
            if found:
                assert h.p.primitiveSocketSetOptions(tcp.handle, padded, "1") == [0, 1]
            else:
                fails(h.p.primitiveSocketSetOptions, tcp.handle, padded, "1")


# -- sendDone ----------------------------------------------------------------------------------


@contextmanager
def full_unix_pair(name: str) -> Iterator[tuple[Harness, Sock, Sock]]:
    """Under profile ``name``: a connected Unix pair whose client's send buffer is full."""
    with short_tmpdir() as d, Harness.started(name) as h:
        client, server, _listener = h.unix_pair(d)
        h.fill(client)
        yield h, client, server


def test_pharo_vm_send_done_answers_true_while_connected() -> None:
    """34319c6f0: no writability test and nothing armed (pharo-vm issue 939)."""
    with full_unix_pair("pharo-vm") as (h, client, server):
        assert h.p.primitiveSocketSendDone(client.handle) is True
        h.drain(server)
        h.p.vm.sleep(0.05)
        assert client.write.signals == 0, "nothing was armed to signal it"


def test_squeak_send_done_waits_for_room_and_signals_the_write_semaphore() -> None:
    with full_unix_pair("squeak-4.10") as (h, client, server):
        assert h.p.primitiveSocketSendDone(client.handle) is False
        h.drain(server)
        assert client.write.wait(WAIT)
        assert h.p.primitiveSocketSendDone(client.handle) is True


def test_opensmalltalk_send_done_trusts_the_handlers_notice_until_the_next_send() -> None:
    with full_unix_pair("opensmalltalk") as (h, client, server):
        assert h.p.primitiveSocketSendDone(client.handle) is False
        h.drain(server)
        assert client.write.wait(WAIT)
        assert h.pss(client).notified_writable
        h.fill(client)  # every send clears the notice first; then poll() says "full"
        assert not h.pss(client).notified_writable
        assert h.p.primitiveSocketSendDone(client.handle) is False


# -- the data handler -------------------------------------------------------------------------


def test_data_handler_event_rule() -> None:
    assert data_handler_event(0) is Event.PEER_CLOSED_AIO
    assert data_handler_event(0, would_block_closes=False) is None
    assert data_handler_event(-1, would_block_closes=False) is Event.PEER_CLOSED_AIO
    assert data_handler_event(1) is None


@pytest.mark.parametrize(
    ("name", "status", "read_signals", "rearmed"),
    [("squeak-4.10", 3, 1, False), ("opensmalltalk", 2, 1, False), ("pharo-vm", 2, 0, True)],
)
def test_data_handler_called_when_a_peek_would_block(
    name: str, status: int, read_signals: int, rearmed: bool
) -> None:
    """dataHandler(AIO_R) with nothing to read: closed (2012-2017), ignored (OpenSmalltalk),
    or re-armed without a signal (pharo-vm 826736844)."""
    with short_tmpdir() as d, Harness.started(name) as h:
        client, _server, _listener = h.unix_pair(d)
        pss = h.pss(client)
        assert pss.sock is not None
        before = client.read.signals
        h.p.sockets._data_handler(pss.fd, pss, AioFlag.R)
        assert client.read.signals - before == read_signals
        assert h.status(client) == status
        entry = h.p.vm.aio._entries[pss.fd]
        assert bool(entry.mask & int(AioFlag.R)) is rearmed


# -- close and end of file ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "read_signalled"), [("pharo-vm", True), ("opensmalltalk", False)])
def test_close_handler_signals(
    monkeypatch: pytest.MonkeyPatch, name: str, read_signalled: bool
) -> None:
    """A close() that would block arms closeHandler; pharo-vm's signals READ | CONN."""
    with short_tmpdir() as d, Harness.started(name) as h:
        client, _server, _listener = h.unix_pair(d)
        with close_fails_once(h.p, monkeypatch, errno.EWOULDBLOCK):
            reads, conns = client.read.signals, client.conn.signals
            h.p.primitiveSocketCloseConnection(client.handle)
            assert h.status(client) == 4, "ThisEndClosed until closeHandler runs"
            assert wait_until(lambda: h.status(client) == 0, WAIT, h.p.vm.sleep)
            assert client.conn.signals == conns + 1
            assert (client.read.signals > reads) is read_signalled


@pytest.mark.parametrize(("name", "expected"), [("squeak-4.10", 29), ("opensmalltalk", 0)])
def test_socket_error_after_end_of_file(name: str, expected: int) -> None:
    """3f34f58f0: OpenSmalltalk reads errno only when read() failed; others keep errno."""
    with short_tmpdir() as d, Harness.started(name) as h:
        client, server, _listener = h.unix_pair(d)
        h.p.primitiveSocketCloseConnection(server.handle)
        h.p.vm.c.errno = errno.ESPIPE  # what the VM process's last failing call left
        buf = bytearray(8)
        assert h.p.primitiveSocketReceiveDataBufCount(client.handle, buf, 1, 8) == 0
        assert h.status(client) == 3
        assert h.p.primitiveSocketError(client.handle) == expected


def test_pharo_vm_every_poll_leaves_eagain() -> None:
    """aio_handle_events ends with aio_flush_pipe: a read() of the empty pipe (EAGAIN)."""
    with short_tmpdir() as d, Harness.started("pharo-vm") as h:
        client, server, _listener = h.unix_pair(d)
        h.p.primitiveSocketCloseConnection(server.handle)
        h.p.vm.c.errno = errno.ESPIPE
        h.p.vm.sleep(0.03)  # a Delay: the idle process polls
        buf = bytearray(8)
        assert h.p.primitiveSocketReceiveDataBufCount(client.handle, buf, 1, 8) == 0
        assert h.p.primitiveSocketError(client.handle) == errno.EAGAIN


@pytest.mark.parametrize(
    ("name", "after_idle"),
    [("pharo5-vm", errno.EINTR), ("pharo-vm", errno.EAGAIN), ("opensmalltalk", errno.ESPIPE)],
)
def test_what_an_idle_wait_leaves_in_errno(name: str, after_idle: int) -> None:
    """pharo5-vm's 2 ms SIGALRM interrupts the idle select(); a threaded heartbeat does not."""
    vm = VirtualMachine(get_profile(name).events)
    try:
        vm.c.errno = errno.ESPIPE
        vm.sleep(0.05)
        assert vm.c.errno == after_idle
    finally:
        vm.close()


@pytest.mark.parametrize(("name", "first_error"), [("squeak-4.10", 22), ("pharo-vm", 111)])
def test_the_first_refused_connect_and_perror(name: str, first_error: int) -> None:
    """perror() on a fresh write-only stderr leaves EINVAL; pharo-vm's logger calls none."""
    with short_tmpdir() as d, Harness.started(name, StderrMode.WRITE_ONLY) as h:
        path = os.path.join(d, "stale.sock")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()  # the file stays: nobody listens (ECONNREFUSED)
        client = h.create(NetDomain.LOCAL, SocketType.TCP)
        h.p.primitiveSocketConnectTo(client.handle, h.unix_address(path))
        assert h.status(client) == 0
        assert h.p.primitiveSocketError(client.handle) == first_error
