"""The session's network guard (tests/netguard.py): loopback passes, anything else is refused.

Every destination below that is not loopback is refused by the guard *before* any
system call, so these tests send nothing anywhere; the violations they make are
collected by ``expect_violations`` instead of failing the test.
"""

from __future__ import annotations

import socket
import threading

import netguard
import netns
import pytest

from sqsocket.platform import libc
from sqsocket.platform.layouts import sockaddr_in, sockaddr_in6, sockaddr_un
from sqsocket.plugin import SocketPlugin

pytestmark = pytest.mark.timeout(60)

# TEST-NET-1 and the documentation prefix: reserved, never anyone's host
FOREIGN4 = "192.0.2.1"
FOREIGN6 = "2001:db8::1"
UNRESOLVABLE = "no-such-host.invalid"

needs_guard = pytest.mark.skipif(
    netns.inside(), reason="in a loopback-only namespace the guard has nothing to refuse"
)


@needs_guard
def test_connect_and_sendto_beyond_loopback_are_refused_and_recorded() -> None:
    with netguard.expect_violations() as caught:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            with pytest.raises(OSError, match="Network is unreachable"):
                s.connect((FOREIGN4, 9))
            assert s.connect_ex((FOREIGN4, 9)) != 0
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s6, pytest.raises(OSError):
            s6.sendto(b"x", (FOREIGN6, 9))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, pytest.raises(OSError):
            u.sendto(b"x", 0, ("255.255.255.255", 9))
    assert [v.call for v in caught] == [
        "socket.connect",
        "socket.connect_ex",
        "socket.sendto",
        "socket.sendto",
    ]
    assert FOREIGN4 in caught[0].destination
    assert all(
        v.test.endswith("::test_connect_and_sendto_beyond_loopback_are_refused_and_recorded")
        for v in caught
    )


@needs_guard
def test_lookups_that_would_ask_dns_are_refused() -> None:
    with netguard.expect_violations() as caught:
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo(UNRESOLVABLE, 80)
        with pytest.raises(socket.gaierror):
            socket.gethostbyname(UNRESOLVABLE)
        with pytest.raises(OSError):
            socket.gethostbyaddr(FOREIGN4)
        # /etc/hosts has no IPv6 line for localhost here: an AAAA query would go out
        hosts = netguard._hosts_table()
        if not any(":" in a for a in hosts.get("localhost", ())):
            with pytest.raises(socket.gaierror):
                socket.getaddrinfo("localhost", 80, socket.AF_INET6)
    assert len(caught) >= 3
    assert {v.call for v in caught} >= {
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
    }


def test_loopback_unix_numeric_and_hosts_names_pass() -> None:
    with netguard.expect_violations() as caught:
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
            with socket.socket() as s:
                assert s.connect_ex(("localhost", port)) == 0
        a, b = socket.socketpair()
        a.close()
        b.close()
        assert socket.gethostbyname("localhost") == "127.0.0.1"
        socket.getaddrinfo("localhost", 80)
        socket.getaddrinfo("203.0.113.7", 80)  # numeric: no query, no traffic
        with pytest.raises(socket.gaierror):  # numeric only: no lookup is made
            socket.getaddrinfo(UNRESOLVABLE, 80, flags=socket.AI_NUMERICHOST)
        with pytest.raises(UnicodeError):  # a 64-byte label: refused before any query
            socket.getaddrinfo("a" * 64, None)
        assert socket.gethostbyaddr("127.0.0.1")[0]
    assert caught == []


@needs_guard
def test_the_emulators_c_library_calls_are_guarded() -> None:
    with netguard.expect_violations() as caught:
        assert libc.gethostbyname(b"localhost")[1] == 0
        assert libc.gethostbyname(b"a" * 64)[1] != 0  # a 64-byte label: no query is built
        assert libc.gethostbyaddr(0x7F000001, 4)[0]
        assert caught == []
        # the 8-byte length of a 64-bit VM: /etc/hosts refuses it, DNS would be asked
        assert libc.gethostbyaddr(0x7F000001, 8) == (b"", 2)
        assert libc.gethostbyname(UNRESOLVABLE.encode()) == (0, 2)
        err, _host, _serv = libc.getnameinfo(sockaddr_in6("::1", 80), libc.NI_NOFQDN)
        assert err == socket.EAI_AGAIN
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            with pytest.raises(OSError):
                libc.sendto(s.fileno(), b"x", sockaddr_in(FOREIGN4, 9))
            # AF_UNSPEC: udp_sendmsg reads it as AF_INET
            unspec = b"\0\0" + sockaddr_in(FOREIGN4, 9)[2:]
            with pytest.raises(OSError):
                libc.sendto(s.fileno(), b"x", unspec)
            with pytest.raises(OSError):
                libc.connect(s.fileno(), sockaddr_in(FOREIGN4, 9))
            libc.connect(s.fileno(), sockaddr_in("127.0.0.1", 9))
            libc.connect(s.fileno(), unspec)  # dissolves the association: allowed
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as u, pytest.raises(OSError):
            libc.connect(u.fileno(), sockaddr_un(b"/nonexistent/sqsocket-test"))
    calls = [v.call for v in caught]
    assert calls == [
        "libc.gethostbyaddr",
        "libc.gethostbyname",
        "libc.getnameinfo",
        "libc.sendto",
        "libc.sendto",
        "libc.connect",
    ]


@needs_guard
def test_a_plugin_refused_beyond_loopback_fails_as_unreachable() -> None:
    """Through the emulator: a UDP send to a foreign address fails; nothing is sent."""
    with netguard.expect_violations() as caught, SocketPlugin() as plugin:
        plugin.primitiveInitializeNetwork(0)
        udp = plugin.primitiveSocketCreate3Semaphores(2, 1, 0, 0, 0, 0, 0)
        try:
            plugin.primitiveSocketSendUDPDataBufCount(
                udp, b"x", socket.inet_aton(FOREIGN4), 9, 1, 1
            )
        except Exception as exc:  # PrimitiveFailed: sendto() failed: Network is unreachable
            assert "unreachable" in str(exc)
        plugin.primitiveSocketDestroy(udp)
    assert [v.call for v in caught] == ["libc.sendto"]


@needs_guard
def test_violations_in_threads_are_recorded_too() -> None:
    def reach_out() -> None:
        try:
            socket.gethostbyname(UNRESOLVABLE)
        except OSError:
            pass

    with netguard.expect_violations() as caught:
        t = threading.Thread(target=reach_out)
        t.start()
        t.join(10)
    assert [v.call for v in caught] == ["socket.gethostbyname"]


@pytest.mark.isolated_network
def test_the_network_namespace_has_only_loopback() -> None:
    """The isolated_network runner: only lo, and it is up (127.0.0.1 works)."""
    assert netns.inside(), "the body runs in the child, under unshare -n"
    assert {name for _i, name in socket.if_nameindex()} == {"lo"}
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname(), timeout=5),
    ):
        pass
    # DNS cannot be reached: the lookup fails at once (no nameserver route)
    assert libc.gethostbyaddr(0x7F000001, 8) == (b"", 2)
