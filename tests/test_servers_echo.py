"""The stream echo server: many clients, partial sends, limits, shutdown, no fd leaks."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time

import pytest
from plugin_support import wait_until

from sqsocket.servers import (
    AbstractEchoServer,
    EchoServer,
    TCPEchoServer,
    UnixEchoServer,
    connect,
    echo_once,
)
from sqsocket.servers.address import abstract_supported

N_CLIENTS = 200
TIMEOUT = 30.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(65536, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def run_concurrent_clients(server: EchoServer, n: int) -> None:
    """``n`` clients, all connected at once, each sending its own payload.

    Every client connects, then waits at a barrier, so all ``n`` connections
    are open before anyone sends; each then sends a distinct payload of its own
    size (up to 128 KiB, larger than the socket buffers, so sends are partial)
    and must get exactly that back, followed by the server's end of stream.
    """
    barrier = threading.Barrier(n, timeout=TIMEOUT)
    errors: list[str] = []
    rng = random.Random(1234)
    sizes = [rng.randint(1, 128 * 1024) for _ in range(n)]

    def client(i: int) -> None:
        payload = (f"<client {i}>".encode() + os.urandom(sizes[i]))[: sizes[i]]
        try:
            with connect(server.address, timeout=TIMEOUT) as sock:
                barrier.wait()
                # Read while sending, as a well-behaved peer does: the server echoes
                # as it reads, so a client that only sends could fill both buffers.
                got: list[bytes] = []
                reader = threading.Thread(
                    target=lambda: got.append(recv_exactly(sock, len(payload) + 1))
                )
                reader.start()
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
                reader.join(TIMEOUT)
                if not got or got[0] != payload:
                    errors.append(
                        f"client {i}: got {len(got[0]) if got else 'nothing'} "
                        f"bytes back of {len(payload)}, or wrong bytes"
                    )
        except Exception as exc:
            errors.append(f"client {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads), "clients hung"
    assert errors == []
    assert server.peak_clients >= n
    assert server.total_connections == n


def test_unix_200_concurrent_clients(sockdir: str) -> None:
    with UnixEchoServer(os.path.join(sockdir, "e")) as srv:
        start = time.monotonic()
        run_concurrent_clients(srv, N_CLIENTS)
        print(f"unix: {N_CLIENTS} concurrent clients in {time.monotonic() - start:.2f}s")


def test_tcp_200_concurrent_clients() -> None:
    with TCPEchoServer("127.0.0.1", 0) as srv:
        start = time.monotonic()
        run_concurrent_clients(srv, N_CLIENTS)
        print(f"tcp: {N_CLIENTS} concurrent clients in {time.monotonic() - start:.2f}s")


@pytest.mark.skipif(not abstract_supported(), reason="abstract namespace is Linux-only")
def test_abstract_concurrent_clients() -> None:
    with AbstractEchoServer(f"sqsocket-echo-{os.getpid()}") as srv:
        run_concurrent_clients(srv, 50)


def test_tcp_reports_ephemeral_port() -> None:
    with TCPEchoServer(port=0) as srv:
        assert srv.port and srv.port > 0
        assert srv.sockaddr == ("127.0.0.1", srv.port)
        assert srv.url == f"tcp:127.0.0.1:{srv.port}"
        assert srv.ready_line == f"listening on tcp:127.0.0.1:{srv.port}"
        assert echo_once(("127.0.0.1", srv.port), b"port") == b"port"


def test_tcp_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        srv = TCPEchoServer("::1", 0).start()
    except OSError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    with srv:
        assert srv.family == socket.AF_INET6
        assert srv.url == f"tcp:[::1]:{srv.port}"
        assert echo_once(srv.address, b"six") == b"six"


def test_address_text_constructor(sockdir: str) -> None:
    with EchoServer(f"unix:{sockdir}/t") as srv:
        assert srv.path == f"{sockdir}/t"
        assert echo_once(srv.address, b"a") == b"a"
    with EchoServer("tcp:127.0.0.1:0") as srv:
        assert echo_once(srv.address, b"b") == b"b"


def test_large_payload_with_slow_reader(sockdir: str) -> None:
    """8 MiB through a client that reads slowly: back-pressure, nothing lost or reordered."""
    payload = os.urandom(8 << 20)
    with UnixEchoServer(os.path.join(sockdir, "e")) as srv, srv.connect(timeout=TIMEOUT) as sock:
        got = bytearray()

        def reader() -> None:
            while len(got) < len(payload):
                chunk = sock.recv(4096)
                if not chunk:
                    return
                got.extend(chunk)
                if len(got) < (1 << 20):
                    time.sleep(0.0005)  # slow at first, so the server's sends go partial

        t = threading.Thread(target=reader)
        t.start()
        sock.sendall(payload)
        t.join(TIMEOUT)
        assert bytes(got) == payload


def test_seed_style_client_16_byte_chunks(sockdir: str) -> None:
    """The PyMOTW client: sendall, then recv(16) until it has as much as it sent."""
    message = b"This is the message. It will be repeated."
    with UnixEchoServer(os.path.join(sockdir, "uds_socket")) as srv:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(srv.sockaddr)
        try:
            sock.sendall(message)
            received = b""
            while len(received) < len(message):
                data = sock.recv(16)
                assert data
                received += data
        finally:
            sock.close()
        assert received == message


def test_many_messages_on_one_connection(sockdir: str) -> None:
    with UnixEchoServer(os.path.join(sockdir, "e")) as srv, srv.connect() as sock:
        for i in range(200):
            msg = f"message {i}".encode() * (i + 1)
            sock.sendall(msg)
            assert recv_exactly(sock, len(msg)) == msg


def test_empty_connection_is_closed_cleanly(sockdir: str) -> None:
    with UnixEchoServer(os.path.join(sockdir, "e")) as srv:
        assert echo_once(srv.address, b"") == b""


def test_max_clients_queues_the_rest(sockdir: str) -> None:
    with UnixEchoServer(os.path.join(sockdir, "e"), max_clients=2) as srv:
        a, b = srv.connect(), srv.connect()
        assert wait_until(lambda: srv.client_count == 2)
        c = srv.connect()  # connects (kernel backlog) but is not served yet
        c.sendall(b"third")
        c.settimeout(0.3)
        with pytest.raises(TimeoutError):
            c.recv(16)
        a.close()  # a slot frees up: c gets served
        c.settimeout(5)
        assert recv_exactly(c, 5) == b"third"
        assert srv.peak_clients == 2
        b.close()
        c.close()


def test_idle_timeout_closes_stalled_clients(sockdir: str) -> None:
    srv = UnixEchoServer(os.path.join(sockdir, "e"), idle_timeout=0.5).start()
    with srv, srv.connect() as idle, srv.connect() as busy:
        start = time.monotonic()
        while time.monotonic() - start < 0.8:
            busy.sendall(b"x")
            assert busy.recv(1) == b"x"
            time.sleep(0.05)
        assert idle.recv(16) == b""  # closed by the server
        busy.sendall(b"y")
        assert busy.recv(1) == b"y"


def test_stop_with_connected_and_stalled_clients(sockdir: str) -> None:
    """Shutdown must work whatever peers do: idle, mid-send, or never reading."""
    path = os.path.join(sockdir, "e")
    srv = UnixEchoServer(path).start()
    idle = srv.connect()
    hog = srv.connect()
    # Both accepted: a connection still in the backlog would be reset, not closed.
    assert wait_until(lambda: srv.client_count == 2)
    hog.setblocking(False)
    try:  # fill the pipe in both directions without reading anything back
        while True:
            hog.send(b"z" * 65536)
    except BlockingIOError:
        pass
    start = time.monotonic()
    srv.stop()
    assert time.monotonic() - start < 2
    assert not srv.running
    assert not os.path.exists(path)
    idle.settimeout(5)
    assert idle.recv(16) == b""
    idle.close()
    # The hog's unread bytes make the kernel reset rather than close its connection.
    hog.settimeout(5)
    with contextlib.suppress(ConnectionResetError):
        while hog.recv(1 << 20):
            pass
    hog.close()


def test_lifecycle_edges(sockdir: str) -> None:
    srv = UnixEchoServer(os.path.join(sockdir, "e"))
    with pytest.raises(RuntimeError):
        _ = srv.address  # not bound yet
    srv.stop()  # stop before start: harmless
    srv2 = UnixEchoServer(os.path.join(sockdir, "f")).start()
    with pytest.raises(RuntimeError):
        srv2.start()
    srv2.stop()
    srv2.stop()  # idempotent
    assert srv2.wait(1)
    with pytest.raises(RuntimeError):
        srv2.start()  # a stopped server is not restarted
    # bind() only, then stop(): the file goes away too.
    srv3 = UnixEchoServer(os.path.join(sockdir, "g")).bind()
    assert os.path.exists(os.path.join(sockdir, "g"))
    srv3.stop()
    assert not os.path.exists(os.path.join(sockdir, "g"))


def test_serve_forever_in_own_thread(sockdir: str) -> None:
    srv = UnixEchoServer(os.path.join(sockdir, "e")).bind()
    t = threading.Thread(target=srv.serve_forever)
    t.start()
    assert echo_once(srv.address, b"own thread") == b"own thread"
    srv.request_stop()
    t.join(5)
    assert not t.is_alive()
    assert not os.path.exists(os.path.join(sockdir, "e"))


def test_no_fd_leaks(sockdir: str) -> None:
    before = open_fds()
    for _ in range(3):
        with UnixEchoServer(os.path.join(sockdir, "e")) as srv:
            socks = [srv.connect() for _ in range(20)]
            for s in socks:
                s.sendall(b"leak?")
            for s in socks:
                assert recv_exactly(s, 5) == b"leak?"
            # Leave half of them open across stop(): the server must close its side.
            for s in socks[:10]:
                s.close()
        for s in socks[10:]:
            s.close()
        with TCPEchoServer() as tsrv:
            assert echo_once(tsrv.address, b"t") == b"t"
        if abstract_supported():
            with AbstractEchoServer(f"sqsocket-leak-{os.getpid()}") as asrv:
                assert echo_once(asrv.address, b"a") == b"a"
        with pytest.raises(OSError):
            UnixEchoServer(os.path.join(sockdir, "missing", "e")).start()
    assert open_fds() == before
