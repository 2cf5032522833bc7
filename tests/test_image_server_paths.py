"""UnixServer's socket file: the same rules as the Python servers (sqsocket/servers/paths.py).

A path in use is refused, found by a plain connect to it -- not through the image's
resolver, which on squeak-4.10 cannot see a socket whose path is 4n bytes long
(docs/quirks.md, 1) and so used to let the server unlink a live peer's socket. A
stale socket file is replaced; on stop, only the file this server created (its
inode) is removed, never one someone else has put at the path since.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from sqsocket.image import Image, NetworkError, UnixServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def image() -> Iterator[Image]:
    """Bare (overrides tests/conftest.py's): a server initialises the network itself."""
    with Image() as img:
        yield img


def path_of_length(directory: str, length: int) -> str:
    path = os.path.join(directory, "s")
    return path + "x" * (length - len(path))


def live_listener(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(4)
    return sock


def answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(path)
        except OSError:
            return False
        return True


@pytest.mark.parametrize("length", [28, 29, 40])
def test_a_live_socket_is_never_replaced(image: Image, sockdir: str, length: int) -> None:
    """28 and 40 are multiples of 4: squeak-4.10's resolver does not find them."""
    path = path_of_length(sockdir, length)
    assert len(path) == length
    with live_listener(path):
        inode = os.lstat(path).st_ino
        server = UnixServer(path, image=image)
        with pytest.raises(NetworkError, match="in use"):
            server.start()
        server.stop()
        assert os.lstat(path).st_ino == inode, "the live peer's socket file was replaced"
        assert answers(path), "the live peer still answers at its path"


def test_a_stale_socket_file_is_replaced(image: Image, sockdir: str) -> None:
    path = path_of_length(sockdir, 32)
    live_listener(path).close()  # the file stays, nobody listens
    with UnixServer(path, image=image):
        assert answers(path)
    assert not os.path.lexists(path)


def test_a_stale_file_is_kept_when_replace_stale_is_off(image: Image, sockdir: str) -> None:
    path = path_of_length(sockdir, 32)
    live_listener(path).close()
    with pytest.raises(NetworkError, match="stale"):
        UnixServer(path, image=image, replace_stale=False).start()
    assert os.path.lexists(path)


def test_stop_removes_only_its_own_socket_file(image: Image, sockdir: str) -> None:
    path = path_of_length(sockdir, 33)
    server = UnixServer(path, image=image).start()
    try:
        # someone else takes the path over while the server runs
        os.unlink(path)
        other = live_listener(path)
    finally:
        server.stop()
    with other:
        assert os.path.lexists(path), "stop() removed a socket file it did not create"
        assert answers(path)


def test_stop_removes_its_own_file(image: Image, sockdir: str) -> None:
    path = path_of_length(sockdir, 33)
    UnixServer(path, image=image).start().stop()
    assert not os.path.lexists(path)


def test_not_a_socket_is_never_touched(image: Image, sockdir: str) -> None:
    path = path_of_length(sockdir, 33)
    with open(path, "w") as f:
        f.write("data")
    with pytest.raises(NetworkError, match="not a socket"):
        UnixServer(path, image=image).start()
    with open(path) as f:
        assert f.read() == "data"
