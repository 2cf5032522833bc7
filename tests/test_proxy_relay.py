"""The relay itself: every endpoint combination, EOF and RST as plain sockets see them,
the socket-file rules, bounded buffers, the dump, lifecycle and descriptors."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from plugin_support import has_ipv6_loopback, path_in
from proxy_support import HELLO, WAIT

from sqsocket.image import Image
from sqsocket.image.workspace import run_tcp_example, run_workspace_example
from sqsocket.proxy import (
    CloseOnEof,
    Direction,
    FaultError,
    Latency,
    LinkState,
    NeverRead,
    Proxy,
    Refuse,
    Reset,
    Slicer,
    Stall,
)
from sqsocket.servers import (
    AbstractEchoServer,
    EchoServer,
    InetAddress,
    SocketPathError,
    TCPEchoServer,
    UnixAddress,
    UnixEchoServer,
    echo_once,
)
from sqsocket.servers.address import abstract_supported, parse_ready_line

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("no_leaked_fds")]


@contextlib.contextmanager
def echo_server(kind: str, sockdir: str) -> Iterator[EchoServer]:
    if kind == "unix":
        with UnixEchoServer(path_in(sockdir, "echo")) as srv:
            yield srv
    elif kind == "abstract":
        with AbstractEchoServer(f"sqsocket-proxy-test-{os.getpid()}-{id(sockdir)}") as srv:
            yield srv
    else:
        with TCPEchoServer("::1" if kind == "tcp6" else "127.0.0.1") as srv:
            yield srv


def listen_address(kind: str, sockdir: str) -> str:
    return {
        "unix": f"unix:{path_in(sockdir, 'proxy')}",
        "abstract": f"abstract:sqsocket-proxy-listen-{os.getpid()}-{id(sockdir)}",
        "tcp": "tcp:127.0.0.1:0",
        "tcp6": "tcp:[::1]:0",
    }[kind]


KINDS = ["unix", "abstract", "tcp", "tcp6"]


@pytest.mark.parametrize("upstream", KINDS)
@pytest.mark.parametrize("listen", KINDS)
def test_every_endpoint_combination_relays_both_ways(
    listen: str, upstream: str, sockdir: str
) -> None:
    if "abstract" in (listen, upstream) and not abstract_supported():
        pytest.skip("abstract socket names are Linux-only")
    if "tcp6" in (listen, upstream) and not has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    payload = os.urandom(100_000)
    with (
        echo_server(upstream, sockdir) as srv,
        Proxy(
            srv.address, listen_address(listen, sockdir), faults=[Slicer(4096, direction="up")]
        ) as p,
    ):
        scheme = {"unix": "unix", "abstract": "abstract", "tcp": "tcp", "tcp6": "tcp"}[listen]
        kind, bound = parse_ready_line(p.ready_line)
        assert p.ready_line.startswith(f"listening on {scheme}:")
        assert kind == "stream" and bound == p.address
        assert echo_once(p.address, payload) == payload
        assert echo_once(p.address, b"") == b""  # connect and half-close only
        assert p.wait_until(lambda q: q.stats().closed == 2, WAIT)
        assert p.stats().reasons == {"done": 2}
        assert p.stats().bytes_up == p.stats().bytes_down == len(payload)


@pytest.mark.parametrize("listen", ["unix", "tcp"])
def test_the_image_examples_through_each_listener(listen: str, sockdir: str) -> None:
    with (
        Image() as image,
        UnixEchoServer(path_in(sockdir, "echo")) as srv,
        Proxy(srv.address, listen_address(listen, sockdir)) as p,
    ):
        if isinstance(p.address, UnixAddress):
            assert run_workspace_example(p.address.path, None, image=image) == HELLO
        else:
            assert isinstance(p.address, InetAddress)
            assert run_tcp_example("127.0.0.1", p.address.port, None, image=image) == HELLO


# -- end of stream and resets as plain sockets see them --------------------------------------


def test_end_of_stream_is_passed_on_as_a_half_close(sockdir: str) -> None:
    """A client that half-closes still gets its whole answer (the default relay)."""
    with UnixEchoServer(path_in(sockdir, "echo")) as srv, Proxy(srv.address) as p:
        assert echo_once(p.address, b"request") == b"request"
        assert p.wait_until(lambda q: q.stats().closed == 1, WAIT)
        info = p.connections()[-1]
        assert info.up.eof and info.up.shut and info.down.eof and info.down.shut


def test_close_on_eof_drops_the_answer_still_on_its_way(sockdir: str) -> None:
    """The image cannot half-close (its close is a full close), so a Python client shows
    it: the echo is held back by a long latency and the client's half-close ends all."""
    faults = [CloseOnEof(direction=Direction.UP), Latency(5000, direction=Direction.DOWN)]
    with UnixEchoServer(path_in(sockdir, "echo")) as srv, Proxy(srv.address, faults=faults) as p:
        assert echo_once(p.address, b"request") == b""
        assert p.wait_until(lambda q: q.stats().closed == 1, WAIT)
        assert p.connections()[-1].reason == "close-on-eof"


def test_tcp_reset_is_an_rst(sockdir: str) -> None:
    with (
        TCPEchoServer() as srv,
        Proxy(srv.address, faults=[Reset(after=5, direction="down")]) as p,
        socket.create_connection(p.sockaddr, timeout=WAIT) as client,  # type: ignore[arg-type]
    ):
        client.sendall(HELLO)
        got = b""
        with pytest.raises(ConnectionResetError):
            while len(got) < len(HELLO):
                chunk = client.recv(100)
                assert chunk, "a FIN, not an RST"
                got += chunk
        assert got == b"Hello"  # data sent before the RST is still delivered


def test_unix_reset_is_an_abrupt_close(sockdir: str) -> None:
    with (
        UnixEchoServer(path_in(sockdir, "echo")) as srv,
        Proxy(srv.address, faults=[Reset(after=5, direction="down")]) as p,
        p.connect(timeout=WAIT) as client,
    ):
        client.sendall(HELLO)
        got = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := client.recv(100):
                got += chunk
        assert got == b"Hello"


@pytest.mark.parametrize(("rst", "outcome"), [(False, "eof"), (True, "reset")])
def test_refuse_over_tcp(rst: bool, outcome: str) -> None:
    with TCPEchoServer() as srv, Proxy(srv.address, faults=[Refuse(rst=rst)]) as p:
        client = socket.socket()
        try:
            client.settimeout(WAIT)
            # the RST may even be processed before connect() returns to us
            client.connect(p.sockaddr)
            seen = "eof" if client.recv(10) == b"" else "data"
        except ConnectionResetError:
            seen = "reset"
        finally:
            client.close()
        assert seen == outcome
    assert srv.total_connections == 0


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_an_upstream_that_is_not_there_closes_the_client(kind: str, sockdir: str) -> None:
    if kind == "unix":
        upstream = path_in(sockdir, "nobody")
    else:
        with socket.socket() as probe:  # a port nothing listens on (closed again at once)
            probe.bind(("127.0.0.1", 0))
            upstream = f"tcp:127.0.0.1:{probe.getsockname()[1]}"
    with Proxy(upstream, connect_timeout=2) as p:
        with (
            p.connect(timeout=WAIT) as client,
            contextlib.suppress(ConnectionResetError),
        ):
            assert client.recv(10) == b""
        assert p.wait_until(lambda q: q.stats().closed == 1, WAIT)
        reason = p.connections()[-1].reason or ""
    assert reason.startswith("cannot connect to upstream")
    assert p.stats().reasons == {"cannot connect to upstream": 1}
    assert ("ENOENT" if kind == "unix" else "ECONNREFUSED") in reason


# -- bounded buffers ----------------------------------------------------------------------


def test_queues_are_bounded_so_back_pressure_reaches_the_sender(sockdir: str) -> None:
    """An upstream that never reads: the proxy queues at most high_water (plus one read)
    and then stops reading, so the client's send blocks instead of the proxy growing."""
    path = path_in(sockdir, "deaf")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as deaf:
        deaf.bind(path)
        deaf.listen(1)
        with Proxy(path, high_water=10_000) as p, p.connect(timeout=0.5) as client:
            sent = 0
            with contextlib.suppress(TimeoutError):
                for _ in range(10_000):  # bounded: the send must block long before
                    sent += client.send(bytes(65536))
            assert p.wait_until(lambda q: q.connections()[-1].up.queued >= 10_000, WAIT)
            info = p.connections()[-1]
            assert 10_000 <= info.up.queued < 10_000 + 65536
            assert info.up.read < sent  # the rest is still in the kernel, unread


# -- faults: checked in the caller, applied to running connections ------------------------------


def test_bad_fault_combinations_raise_in_the_caller_and_change_nothing(sockdir: str) -> None:
    with (
        UnixEchoServer(path_in(sockdir, "echo")) as srv,
        Proxy(srv.address, faults=[Latency(1)]) as p,
    ):
        with pytest.raises(FaultError, match="two latency"):
            p.add_fault(Latency(2, direction="up"))
        assert p.faults == (Latency(1),)
        with pytest.raises(ValueError):
            p.remove_fault(Slicer(3))
        p.add_fault(Slicer(3))
        p.remove_fault(Latency(1))
        assert p.faults == (Slicer(3),)
        assert echo_once(p.address, HELLO) == HELLO


def test_wait_until_answers_false_on_timeout(sockdir: str) -> None:
    with UnixEchoServer(path_in(sockdir, "echo")) as srv, Proxy(srv.address) as p:
        assert not p.wait_until(lambda q: q.stats().accepted > 0, 0.2)


@pytest.mark.parametrize(
    ("upstream", "listen", "message"),
    [
        ("tcp:8.8.8.8:53", None, "upstream: host '8.8.8.8' is not loopback"),
        ("tcp:127.0.0.1:5000", "tcp:10.1.2.3:0", "listen: host '10.1.2.3' is not loopback"),
        ("tcp:example.com:80", None, "names are not looked up"),
        ("udp:127.0.0.1:5000", None, "datagram address"),
        ("/tmp/x", "unix-dgram:/tmp/y", "datagram address"),
        ("tcp:127.0.0.1:0", None, "needs a port"),
        ("tcp:127.0.0.1:99999", None, "bad port '99999'"),
        ("/" + "x" * 200, None, "at most 107 bytes"),
    ],
)
def test_bad_addresses_are_value_errors(upstream: str, listen: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Proxy(upstream, listen)


# -- the socket-file rules (the servers' own) ------------------------------------------------


def test_listen_on_a_regular_file_is_refused_and_the_file_kept(sockdir: str) -> None:
    path = path_in(sockdir, "precious")
    with open(path, "w") as f:
        f.write("data")
    proxy = Proxy(path_in(sockdir, "echo"), path)
    with pytest.raises(SocketPathError, match="not a socket"):
        proxy.start()
    proxy.stop()
    with open(path) as f:
        assert f.read() == "data"


def test_listen_on_a_live_listener_is_refused(sockdir: str) -> None:
    with UnixEchoServer(path_in(sockdir, "echo")) as srv:
        assert srv.path is not None
        proxy = Proxy(srv.address, srv.path)
        with pytest.raises(SocketPathError, match="in use"):
            proxy.start()
        proxy.stop()
        assert echo_once(srv.address, b"still mine") == b"still mine"


def test_a_stale_socket_file_is_replaced_and_removed_on_stop(sockdir: str) -> None:
    path = path_in(sockdir, "proxy")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(path)  # bound, never listening, then closed: a stale file
    with UnixEchoServer(path_in(sockdir, "echo")) as srv, Proxy(srv.address, path) as p:
        assert echo_once(p.address, b"x") == b"x"
    assert not os.path.exists(path)


def test_stop_removes_only_its_own_socket_file(sockdir: str) -> None:
    path = path_in(sockdir, "proxy")
    with UnixEchoServer(path_in(sockdir, "echo")) as srv, Proxy(srv.address, path):
        os.unlink(path)  # someone else takes the path over meanwhile
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
            other.bind(path)
            # leaving the block stops the proxy: the other socket's file must survive
    assert os.path.exists(path)
    os.unlink(path)


# -- the dump -----------------------------------------------------------------------------


def dumped_bytes(text: str, conn: int, direction: str) -> bytes:
    """Reassemble what the dump says one side sent: the hex of its data records."""
    data = bytearray()
    taking = False
    for line in text.splitlines():
        if line.startswith("    ") and taking:
            hex_part = line[10 : 10 + 47]
            data += bytes.fromhex(hex_part)
        elif not line.startswith("    "):
            words = line.split()
            taking = len(words) >= 5 and words[2:4] == [f"#{conn}", direction]
            taking = taking and words[5:6] == ["bytes"]
    return bytes(data)


def test_the_dump_shows_both_directions_in_hex_and_text(sockdir: str) -> None:
    dump = os.path.join(sockdir, "traffic.dump")
    with (
        Image() as image,
        UnixEchoServer(path_in(sockdir, "echo")) as srv,
        Proxy(srv.address, dump=dump, faults=[Slicer(5, direction="down")]) as p,
    ):
        assert p.path is not None
        assert run_workspace_example(p.path, None, image=image) == HELLO
        assert p.wait_until(lambda q: q.stats().closed == 1, WAIT)
    with open(dump, encoding="utf-8") as f:
        text = f.read()
    assert text.startswith(f"# sqsocket proxy: {p.url} -> {srv.url}")
    assert "down:slicer:size=5" in text.splitlines()[0]
    assert dumped_bytes(text, 1, "up") == HELLO
    assert dumped_bytes(text, 1, "down") == HELLO
    assert "48 65 6c 6c 6f 2c 20 66 72 6f 6d 20 53 6d 61 6c  Hello, from Smal" in text
    for event in ("#1 accepted from", f"#1 connected to {srv.url}", "#1 up end of stream"):
        assert event in text
    assert "#1 closed (done; 22 bytes up, 22 down)" in text


# -- lifecycle ------------------------------------------------------------------------------


def test_stop_with_connections_in_every_state_closes_them_all(sockdir: str) -> None:
    threads_before = threading.active_count()
    with UnixEchoServer(path_in(sockdir, "echo")) as srv:
        p = Proxy(srv.address, faults=[Stall(direction="up")]).start()
        clients = [p.connect(timeout=WAIT) for _ in range(3)]
        # connect() returns once the kernel queued the connection; wait for the accepts
        assert p.wait_until(lambda q: q.stats().accepted == 3, WAIT)
        p.add_fault(NeverRead())
        clients += [p.connect(timeout=WAIT) for _ in range(2)]
        try:
            # set_faults returned once the loop had them: the last two are held
            assert p.wait_until(lambda q: q.stats().accepted == 5, WAIT)
            states = [c.state for c in p.connections()]
            assert states.count(LinkState.HELD) == 2
            p.stop()
            assert p.stats().open == 0 and p.stats().closed == 5
            for client in clients:
                client.settimeout(WAIT)
                with contextlib.suppress(ConnectionResetError):
                    assert client.recv(10) == b""  # every client sees the end
        finally:
            p.stop()
            for client in clients:
                client.close()
    assert threading.active_count() <= threads_before
    assert p.path is not None and not os.path.exists(os.path.dirname(p.path))


def test_a_proxy_never_started_leaves_nothing_behind(sockdir: str) -> None:
    before = set(os.listdir("/tmp"))
    Proxy(path_in(sockdir, "echo")).stop()
    Proxy(path_in(sockdir, "echo"))  # not even stopped
    assert {name for name in set(os.listdir("/tmp")) - before if name.startswith("sqp-")} == set()


def test_many_proxies_and_connections_leak_no_descriptors(sockdir: str) -> None:
    from plugin_support import open_fds

    def round_trip() -> None:
        with UnixEchoServer(path_in(sockdir, "echo")) as srv:
            for faults in ([], [Slicer(3)], [Reset(after=1)], [Refuse()], [NeverRead()]):
                with Proxy(srv.address, faults=faults, dump=os.path.join(sockdir, "d")) as p:
                    for _ in range(3):
                        # a short timeout: through never-read nothing ever comes back
                        with p.connect(timeout=0.2) as c, contextlib.suppress(OSError):
                            c.sendall(b"abc")
                            c.recv(10)
                    # a second proxy to the first: TCP in front of Unix
                    with (
                        Proxy(p.address, "tcp:127.0.0.1:0") as front,
                        contextlib.suppress(OSError),
                    ):
                        echo_once(front.address, b"x", timeout=0.2)

    round_trip()  # warm-up: imports, caches
    before = open_fds()
    round_trip()
    after = open_fds()
    assert len(after) <= len(before), {fd: what for fd, what in after.items() if fd not in before}


def test_waiting_costs_no_cpu(sockdir: str) -> None:
    """Stalled, held, blocked and long-delayed connections: the loop sleeps in select().
    A busy loop would burn the whole second; measured in CPU time, not wall time."""
    path = path_in(sockdir, "deaf")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as deaf:
        deaf.bind(path)
        deaf.listen(4)
        with UnixEchoServer(path_in(sockdir, "echo")) as srv:
            stalled = Proxy(srv.address, faults=[Stall(direction="up")]).start()
            held = Proxy(srv.address, faults=[NeverRead()]).start()
            delayed = Proxy(srv.address, faults=[Latency(60_000)]).start()
            blocked = Proxy(path, high_water=1000).start()  # upstream never reads
            proxies = [stalled, held, delayed, blocked]
            clients = []
            try:
                for p in proxies:
                    client = p.connect(timeout=0.5)
                    clients.append(client)
                    with contextlib.suppress(TimeoutError):
                        for _ in range(1000):
                            client.send(bytes(65536))
                for p in proxies:
                    assert p.wait_until(lambda q: q.stats().accepted == 1, WAIT)
                before = time.process_time()
                time.sleep(1.0)
                used = time.process_time() - before
            finally:
                for client in clients:
                    client.close()
                for p in proxies:
                    p.stop()
    assert used < 0.3, f"{used:.2f}s of CPU in 1s of waiting"


def test_a_unix_upstream_with_a_full_backlog_is_retried(sockdir: str) -> None:
    """A Unix-domain connect to a full backlog fails with EAGAIN at once (TCP would wait);
    the proxy tries again until the connect timeout, and gets through once there is room."""
    path = path_in(sockdir, "busy")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as busy:
        busy.bind(path)
        busy.listen(0)  # room for one waiting connection
        busy.settimeout(WAIT)
        with Proxy(path, connect_timeout=WAIT) as p:
            first = p.connect(timeout=WAIT)
            second = p.connect(timeout=WAIT)
            try:
                assert p.wait_until(lambda q: q.stats().accepted == 2, WAIT)
                assert p.wait_until(lambda q: q.connections()[0].state is LinkState.OPEN, WAIT)
                assert p.connections()[1].state is LinkState.CONNECTING  # retrying
                conn1, _ = busy.accept()  # makes room: the retry gets through
                conn2, _ = busy.accept()
                with conn1, conn2:
                    second.sendall(b"second")
                    conn2.settimeout(WAIT)
                    assert conn2.recv(10) == b"second"
            finally:
                first.close()
                second.close()


def test_a_unix_upstream_that_stays_full_times_out(sockdir: str) -> None:
    path = path_in(sockdir, "busy")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as busy:
        busy.bind(path)
        busy.listen(0)
        with Proxy(path, connect_timeout=0.3) as p:
            with p.connect(timeout=WAIT), p.connect(timeout=WAIT):
                assert p.wait_until(lambda q: q.stats().closed == 1, WAIT)
            assert p.connections()[1].reason == f"cannot connect to upstream unix:{path}: ETIMEDOUT"
