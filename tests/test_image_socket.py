"""Socket on the emulated plugin: life cycle, semaphores, waits, errors, data, addresses."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from plugin_support import LOOPBACK

from sqsocket.image import (
    ConnectionClosed,
    ConnectionRefused,
    ConnectionTimedOut,
    Image,
    InvalidSocketStatus,
    NetNameResolver,
    NetworkError,
    Socket,
    SocketAddress,
    SocketAddressInformation,
    SocketPrimitiveFailed,
)
from sqsocket.servers import TCPEchoServer, UDPEchoServer, UnixEchoServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def echo_path(sockdir: str) -> Iterator[str]:
    path = os.path.join(sockdir, "echo")
    with UnixEchoServer(path):
        yield path


@pytest.fixture
def peer(sockdir: str) -> Iterator[tuple[str, socket.socket]]:
    """A plain listening Unix socket the test accepts from by hand (a silent peer)."""
    path = os.path.join(sockdir, "peer")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(4)
        srv.settimeout(5)
        yield path, srv


def connected_ipc(image: Image, path: str) -> Socket:
    sock = Socket.new_ipc(image=image)
    sock.connect_to(NetNameResolver.address_for_socket_path(path, image=image), timeout=5)
    return sock


@pytest.fixture
def linked(image: Image, peer: tuple[str, socket.socket]) -> Iterator[tuple[Socket, socket.socket]]:
    """An image Socket connected to the silent peer, and the peer's end of it."""
    path, srv = peer
    with connected_ipc(image, path) as sock:
        conn, _ = srv.accept()
        with conn:
            yield sock, conn


# -- creation and destruction ---------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda img: Socket.new_ipc(image=img), "unconnected"),
        (lambda img: Socket.new_tcp(image=img), "unconnected"),
        (lambda img: Socket.new_tcp(2, image=img), "unconnected"),
        (lambda img: Socket.new_tcp(3, image=img), "unconnected"),
        (lambda img: Socket.new_udp(image=img), "connected"),  # UDP is born connected
    ],
)
def test_creation_registers_three_semaphores_and_destroy_unregisters(
    image: Image, make: object, status: str
) -> None:
    before = len(image.vm.external_objects)
    sock = make(image)  # type: ignore[operator]
    assert len(image.vm.external_objects) == before + 3
    assert sock.is_valid and sock.status_string == status
    assert sock.session_id == image.session_id
    handle = sock.socket_handle
    sock.destroy()
    assert len(image.vm.external_objects) == before
    assert sock.socket_handle is None and not sock.is_valid
    assert sock.status_string == "destroyed" and repr(sock) == "a Socket[destroyed]"
    assert handle is not None and bytes(handle[8:]) == bytes(8)  # the plugin nulled the pointer
    sock.destroy()  # a second destroy does nothing


def test_new_ipc_without_image_uses_the_default_image() -> None:
    mine = Image()
    old = Image.set_default(mine)
    try:
        sock = Socket.new_ipc()  # the workspace example: no arguments
        assert sock.image is mine and sock.is_unconnected
        sock.destroy()
    finally:
        Image.set_default(old)
        mine.close()


def test_failed_creation_gives_the_semaphores_back(image: Image) -> None:
    before = len(image.vm.external_objects)
    with pytest.raises(SocketPrimitiveFailed):
        Socket._new(7, 1, image)  # socket type 7: neither TCP nor UDP
    assert len(image.vm.external_objects) == before


def test_destroyed_socket_refuses_work(image: Image) -> None:
    sock = Socket.new_ipc(image=image)
    sock.destroy()
    with pytest.raises(InvalidSocketStatus, match="destroyed"):
        sock.send_data("x")
    assert not sock.data_available and not sock.send_done and not sock.is_connected
    sock.close_and_destroy()  # nothing to do


def test_send_on_an_unconnected_socket_is_an_invalid_status(image: Image) -> None:
    with (
        Socket.new_ipc(image=image) as sock,
        pytest.raises(InvalidSocketStatus, match="not connected"),
    ):
        sock.send_data("x", timeout=0.1)


# -- connecting -------------------------------------------------------------------------


def test_connect_to_missing_path_is_refused(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "nobody")
    address = SocketAddress.for_socket_path(path, image.session_id, image)
    with Socket.new_ipc(image=image) as sock:
        with pytest.raises(ConnectionRefused, match="nobody") as info:
            sock.connect_to(address, timeout=2)
        assert info.value.errno == errno.ENOENT
        assert sock.is_unconnected and sock.socket_error == errno.ENOENT


def test_connect_to_stale_socket_file_is_refused(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "stale")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)  # a socket file, but nobody listening
        address = NetNameResolver.address_for_socket_path(path, image=image)
        with Socket.new_ipc(image=image) as sock, pytest.raises(ConnectionRefused) as info:
            sock.connect_to(address, timeout=2)
    assert info.value.errno == errno.ECONNREFUSED


def test_tcp_connect_to_closed_port_is_refused(image: Image) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused
        with Socket.new_tcp(image=image) as sock, pytest.raises(ConnectionRefused, match=str(port)):
            sock.connect_to(LOOPBACK, port, timeout=5)


def test_tcp_connect_that_never_completes_times_out(image: Image) -> None:
    """A listener whose accept queue is full drops SYNs: the connect stays pending."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(0)
        port = srv.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", port))
                fillers.append(c)
            time.sleep(0.1)
            with Socket.new_tcp(image=image) as sock:
                started = time.monotonic()
                try:
                    sock.connect_to(LOOPBACK, port, timeout=0.5)
                except ConnectionTimedOut as exc:
                    assert "no connection in 0.5 seconds" in str(exc)
                    assert time.monotonic() - started >= 0.45
                    assert sock.is_waiting_for_connection
                else:  # pragma: no cover - a kernel that still completes it
                    pytest.skip("this kernel completed the connection anyway")
        finally:
            for c in fillers:
                c.close()


def test_unix_connect_to_a_full_backlog_looks_connected_as_in_the_vm(
    image: Image, sockdir: str
) -> None:
    """A quirk of sqUnixSocket.c the emulator keeps, seen from the image.

    connect() on a Unix-domain socket whose listener has a full backlog fails
    with EAGAIN; the C code takes EWOULDBLOCK (== EAGAIN) for "in progress" and
    arms connectHandler, which finds the unconnected socket writable with
    SO_ERROR 0 and declares it Connected. The image only learns otherwise when
    it uses the connection: there is no peer address, and a send fails.
    """
    path = os.path.join(sockdir, "full")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(0)
        fillers = []
        try:
            while True:  # fill the backlog (Linux: one pending connection for backlog 0)
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.setblocking(False)
                try:
                    c.connect(path)
                except BlockingIOError:
                    c.close()
                    break
                fillers.append(c)
                assert len(fillers) < 10
            with Socket.new_ipc(image=image) as sock:
                sock.connect_to(
                    NetNameResolver.address_for_socket_path(path, image=image), timeout=2
                )
                assert sock.is_connected  # but it is not
                assert sock.remote_socket_address() is None
                with pytest.raises(ConnectionClosed):
                    sock.send_data(b"x", timeout=1)
        finally:
            for c in fillers:
                c.close()


def test_connect_twice_is_an_invalid_status(image: Image, echo_path: str) -> None:
    with connected_ipc(image, echo_path) as sock:
        with pytest.raises(InvalidSocketStatus, match="must Unconnected"):
            sock.connect_to(NetNameResolver.address_for_socket_path(echo_path, image=image))
        with pytest.raises(InvalidSocketStatus):
            sock.listen_with_backlog(2)


def test_socket_address_information_connect(image: Image, echo_path: str) -> None:
    (info,) = SocketAddressInformation.for_host_service_flags_family_type_protocol(
        "", echo_path, 0, 1, 0, 0, image=image
    )
    with info.connect(timeout=5) as sock:
        assert sock.is_connected
        sock.send_data(b"via info")
        assert sock.receive_data(5) == b"via info"


# -- data ---------------------------------------------------------------------------------


def test_send_and_receive_through_the_echo_server(image: Image, echo_path: str) -> None:
    with connected_ipc(image, echo_path) as sock:
        assert sock.send_data("Hello, from Smalltalk!") == 22
        assert sock.receive_data(5) == b"Hello, from Smalltalk!"
        assert sock.send_some_data(b"abcdef", 2, 3) == 3  # 1-based start, as in the image
        assert sock.receive_data(5) == b"bcd"
        buf = bytearray(10)
        sock.send_data(b"xyz")
        assert sock.receive_data_into(buf, 4, timeout=5) == 3
        assert bytes(buf) == b"\0\0\0xyz\0\0\0\0"


def test_large_transfer_is_complete(image: Image, echo_path: str) -> None:
    """1 MiB: sendData: sends what send() takes each time, waiting on the write semaphore."""
    payload = os.urandom(1 << 20)
    received = bytearray()

    with connected_ipc(image, echo_path) as sock:

        def reader() -> None:
            while len(received) < len(payload):
                chunk = sock.receive_data(10, size=65536)
                if not chunk:
                    break
                received.extend(chunk)

        thread = threading.Thread(target=reader)
        thread.start()
        assert sock.send_data(payload, timeout=10) == len(payload)
        thread.join(20)
        assert not thread.is_alive()
    assert bytes(received) == payload


def test_receive_times_out_when_nothing_comes(linked: tuple[Socket, socket.socket]) -> None:
    sock, conn = linked
    started = time.monotonic()
    with pytest.raises(ConnectionTimedOut, match="timed out"):
        sock.receive_data(0.3)
    assert 0.25 <= time.monotonic() - started < 3
    with pytest.raises(ConnectionTimedOut):
        sock.wait_for_data_for(0.1)
    assert sock.receive_data_timeout(0.1) == b""  # the image's version answers empty
    assert sock.receive_some_data() == b"" and sock.receive_available_data() == b""
    conn.sendall(b"late")
    assert sock.receive_data(5) == b"late"


def test_peer_close_is_seen_as_connection_closed(linked: tuple[Socket, socket.socket]) -> None:
    sock, conn = linked
    conn.sendall(b"last words")
    conn.close()
    # data still buffered is delivered before the close is noticed
    assert sock.receive_data(5) == b"last words"
    assert sock.receive_data(5) == b""  # receiveData answers empty on close
    assert sock.is_other_end_closed and sock.status_string == "otherEndClosedButNotThisEnd"
    with pytest.raises(ConnectionClosed, match="closed while waiting"):
        sock.wait_for_data_for(1)
    with pytest.raises(ConnectionClosed):
        sock.receive_data_signalling_closed(1)
    with pytest.raises(ConnectionClosed, match="closed while sending"):
        sock.send_data(b"anyone there?", timeout=1)


def test_send_times_out_when_the_peer_does_not_read(linked: tuple[Socket, socket.socket]) -> None:
    sock, _conn = linked
    with pytest.raises(ConnectionTimedOut, match="send data timeout"):
        sock.send_data(bytes(16 << 20), timeout=0.3)  # far more than the buffers hold
    assert sock.is_connected


def test_receive_available_data_reads_all_that_is_there(
    linked: tuple[Socket, socket.socket],
) -> None:
    sock, conn = linked
    conn.sendall(b"a" * 3000)
    sock.wait_for_data_for(5)
    time.sleep(0.05)
    got = sock.receive_available_data(size=5000)
    assert got == b"a" * 3000


def test_close_and_destroy_lets_the_peer_see_end_of_stream(
    image: Image, linked: tuple[Socket, socket.socket]
) -> None:
    sock, conn = linked
    conn.settimeout(5)
    before = len(image.vm.external_objects)
    sock.close_and_destroy(2)
    assert conn.recv(10) == b""
    assert len(image.vm.external_objects) == before - 3


# -- listening and accepting ---------------------------------------------------------------


def test_listen_on_path_backlog_accepts_many(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "srv")
    listener = Socket.listen_on_path(path, 4, image=image)
    try:
        assert listener.is_waiting_for_connection and listener.bound_path == path
        assert listener.wait_for_accept_for(0.1) is None  # nobody yet
        clients = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(3)]
        for c in clients:
            c.settimeout(5)
            c.connect(path)
        accepted = []
        for _ in clients:
            conn = listener.wait_for_accept_for(5)
            assert conn is not None and conn.is_connected
            accepted.append(conn)
        assert listener.is_waiting_for_connection  # still listening
        for i, (c, conn) in enumerate(zip(clients, accepted, strict=True)):
            c.sendall(b"ping %d" % i)
            assert conn.receive_data(5) == b"ping %d" % i
            conn.send_data(b"pong %d" % i)
            assert c.recv(100) == b"pong %d" % i
            conn.close_and_destroy(1)
            c.close()
    finally:
        listener.destroy()
        os.unlink(path)


def test_listen_on_path_backlog_one_replaces_in_place(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "one")
    sock = Socket.listen_on_path(path, 1, image=image)
    try:
        with pytest.raises(ConnectionTimedOut):
            sock.wait_for_connection_for(0.1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(path)
            assert sock.wait_for_connection_for(5)
            client.sendall(b"in place")
            assert sock.receive_data(5) == b"in place"
    finally:
        sock.destroy()
        os.unlink(path)


def test_listen_on_existing_path_fails(image: Image, echo_path: str) -> None:
    before = len(image.vm.external_objects)
    with pytest.raises(SocketPrimitiveFailed, match="bind"):
        Socket.listen_on_path(echo_path, 2, image=image)
    assert len(image.vm.external_objects) == before  # the failed socket was destroyed


def test_tcp_listen_on_port_and_accept(image: Image) -> None:
    with Socket.new_tcp(image=image) as listener:
        listener.listen_on(0, 4)
        port = listener.local_port
        assert port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            conn = listener.wait_for_accept_for(5)
            assert conn is not None
            with conn:
                assert conn.remote_port == client.getsockname()[1]
                assert conn.local_port == port
                assert conn.remote_host_address() == LOOPBACK
                remote = conn.remote_socket_address()
                assert remote is not None and remote.port == client.getsockname()[1]
                client.sendall(b"tcp")
                assert conn.receive_data(5) == b"tcp"


def test_tcp_connect_to_host_and_port(image: Image) -> None:
    with TCPEchoServer() as srv, Socket.new_tcp(image=image) as sock:
        assert srv.port is not None
        address = NetNameResolver.address_for_name("localhost", 5, image=image)
        sock.connect_to(address, srv.port, timeout=5)
        assert sock.remote_port == srv.port and sock.local_port > 0
        local = sock.local_socket_address()
        assert local is not None and local.family == 2 and local.port == sock.local_port
        assert sock.set_option("TCP_NODELAY", True) == [0, 1]
        assert sock.get_option("TCP_NODELAY") == [0, 1]
        sock.send_data("over tcp")
        assert sock.receive_data(5) == b"over tcp"


def test_local_and_remote_address_of_a_unix_socket(image: Image, echo_path: str) -> None:
    with connected_ipc(image, echo_path) as sock:
        remote = sock.remote_socket_address()
        assert remote is not None and remote.is_local and remote.path == echo_path
        local = sock.local_socket_address()
        assert local is not None and local.is_local  # an unnamed client: no path
        assert sock.local_port == 0 and sock.remote_port == 0


def test_bad_option_fails(image: Image) -> None:
    with Socket.new_tcp(image=image) as sock, pytest.raises(SocketPrimitiveFailed):
        sock.set_option("SO_NOT_AN_OPTION", 1)


# -- datagrams -------------------------------------------------------------------------------


def test_udp_round_trip(image: Image) -> None:
    with UDPEchoServer() as srv, Socket.new_udp(image=image) as sock:
        assert srv.port is not None
        sock.set_port(0)
        assert sock.local_port > 0
        assert sock.send_udp_data_to_host_port(b"datagram", LOOPBACK, srv.port) == 8
        sock.wait_for_data_for(5)
        buf = bytearray(100)
        count, host, port, more = sock.receive_udp_data_into(buf)
        assert (bytes(buf[:count]), host, port, more) == (b"datagram", LOOPBACK, srv.port, False)


# -- errors are network errors ---------------------------------------------------------------


def test_every_image_error_is_a_network_error() -> None:
    for cls in (
        ConnectionClosed,
        ConnectionRefused,
        ConnectionTimedOut,
        InvalidSocketStatus,
        SocketPrimitiveFailed,
    ):
        assert issubclass(cls, NetworkError)
