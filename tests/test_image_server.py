"""The Smalltalk-side Unix-domain server: Python clients (many at once), paths, clean-up."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest

from sqsocket.image import (
    Image,
    NetNameResolver,
    NetworkError,
    UnixServer,
    run_workspace_example,
)
from sqsocket.servers import UnixEchoServer

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 5.0


@pytest.fixture
def image() -> Iterator[Image]:
    """Bare (overrides tests/conftest.py's): a server initialises the network itself."""
    with Image() as img:
        yield img


def python_client(
    path: str, messages: list[bytes], barrier: threading.Barrier | None
) -> list[bytes]:
    """Connect with a plain Python socket, send each message, read each echo back.

    Each message is sent from another thread while this one reads, so an echo
    larger than the socket buffers cannot deadlock the two ends.
    """
    replies = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        if barrier is not None:
            barrier.wait()
        for message in messages:
            sender = threading.Thread(target=sock.sendall, args=(message,))
            sender.start()
            data = b""
            while len(data) < len(message):
                chunk = sock.recv(65536)
                assert chunk, "the server closed early"
                data += chunk
            sender.join(TIMEOUT)
            replies.append(data)
    return replies


def run_clients(path: str, count: int, rounds: int) -> dict[int, list[bytes]]:
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    results: dict[int, list[bytes]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        messages = [f"client {i} round {r} ".encode() * (i + 1) for r in range(rounds)]
        try:
            results[i] = python_client(path, messages, barrier)
            assert results[i] == messages
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(results) == count
    return results


def test_many_python_clients_at_once(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "st")
    with UnixServer(path, 8, image=image) as srv:
        assert os.path.exists(path)
        run_clients(path, 8, 3)
        assert srv.clients_served == 8
    assert not srv.errors
    assert not os.path.exists(path), "the server removes the socket file it made"
    assert len(image.vm.external_objects) == 1  # only the resolver semaphore is left


def test_backlog_one_serves_clients_one_after_another(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "one")
    with UnixServer(path, 1, image=image) as srv:
        for i in range(4):
            assert python_client(path, [b"serial %d" % i], None) == [b"serial %d" % i]
    assert srv.clients_served == 4 and not srv.errors
    assert not os.path.exists(path)


def test_large_echo(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "big")
    payload = os.urandom(512 * 1024)
    with UnixServer(path, 2, image=image):
        assert python_client(path, [payload], None) == [payload]


def test_smalltalk_client_against_smalltalk_server(image: Image, sockdir: str) -> None:
    """The workspace example (image side) against the image-side server, in one image."""
    path = os.path.join(sockdir, "both")
    with UnixServer(path, 4, image=image):
        assert run_workspace_example(path, None, image=image, timeout=TIMEOUT) == (
            b"Hello, from Smalltalk!"
        )


def test_custom_handler(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "upper")
    with UnixServer(path, 2, image=image, handler=bytes.upper):
        assert python_client(path, [b"shout"], None) == [b"SHOUT"]


def test_existing_regular_file_is_left_alone(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "file")
    with open(path, "w") as f:
        f.write("keep me")
    with pytest.raises(NetworkError, match="not a socket"):
        UnixServer(path, 2, image=image).start()
    with open(path) as f:
        assert f.read() == "keep me"


def test_path_in_use_is_refused(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "busy")
    with UnixEchoServer(path):
        server = UnixServer(path, 2, image=image)
        with pytest.raises(NetworkError, match="in use"):
            server.start()
        assert os.path.exists(path)  # not removed: someone is serving there


def test_stale_socket_file_is_replaced(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "stale")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(path)  # a socket file nobody listens on
    with UnixServer(path, 2, image=image):
        assert python_client(path, [b"fresh"], None) == [b"fresh"]
    assert not os.path.exists(path)


def test_stop_with_a_silent_client_connected(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "silent")
    server = UnixServer(path, 2, image=image).start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(TIMEOUT)
        client.connect(path)
        client.sendall(b"x")
        assert client.recv(1) == b"x"
        server.stop(timeout=TIMEOUT)  # the client process ends at its next poll
        assert client.recv(1) == b""  # and its socket was closed
    assert not os.path.exists(path) and not server.errors


def test_listener_address_is_local(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "addr")
    with UnixServer(path, 2, image=image) as srv:
        assert srv.listener is not None
        local = srv.listener.local_socket_address()
        assert local is not None and local.path == path
        resolved = NetNameResolver.address_for_socket_path(path, image=image)
        assert resolved.path == path
