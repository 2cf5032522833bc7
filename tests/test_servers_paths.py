"""Socket-file handling: stale sockets, refusals, path length, mode, cleanup, addresses."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from sqsocket.servers import (
    AbstractAddress,
    AbstractEchoServer,
    InetAddress,
    SocketPathError,
    UnixAddress,
    UnixEchoServer,
    echo_once,
    parse_address,
    parse_ready_line,
    prepare_socket_path,
)
from sqsocket.servers.address import SocketKind, abstract_supported
from sqsocket.servers.paths import MAX_SUN_PATH, BoundPath, check_path_length, probe_listener


def _stale_socket(path: str) -> None:
    """Leave a socket file behind with nobody bound to it, as a killed server does."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_stale_socket_is_removed_and_server_starts(sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    _stale_socket(path)
    assert not probe_listener(path)
    with UnixEchoServer(path) as srv:
        assert echo_once(srv.address, b"after stale") == b"after stale"
    assert not os.path.exists(path)


def test_prepare_reports_stale_removal(sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    assert prepare_socket_path(path) is False  # nothing there
    _stale_socket(path)
    assert prepare_socket_path(path) is True
    assert not os.path.lexists(path)


def test_live_listener_is_refused_and_keeps_working(sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    with UnixEchoServer(path) as first:
        with pytest.raises(SocketPathError, match="in use"):
            UnixEchoServer(path).start()
        # The first server still owns its file and still answers.
        assert echo_once(first.address, b"still here") == b"still here"
    assert not os.path.exists(path)


def test_live_datagram_socket_is_refused(sockdir: str) -> None:
    path = os.path.join(sockdir, "d")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as live:
        live.bind(path)
        assert probe_listener(path)
        with pytest.raises(SocketPathError, match="in use"):
            prepare_socket_path(path)
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_regular_file_refused_and_untouched(sockdir: str) -> None:
    path = os.path.join(sockdir, "notes.txt")
    with open(path, "w") as f:
        f.write("precious data\n")
    with pytest.raises(SocketPathError, match="regular file"):
        UnixEchoServer(path).start()
    with open(path) as f:
        assert f.read() == "precious data\n"


def test_directory_refused_and_untouched(sockdir: str) -> None:
    path = os.path.join(sockdir, "dir")
    os.mkdir(path)
    inner = os.path.join(path, "keep")
    with open(inner, "w") as f:
        f.write("x")
    with pytest.raises(SocketPathError, match="directory"):
        UnixEchoServer(path).start()
    assert os.path.isdir(path)
    with open(inner) as f:
        assert f.read() == "x"


@pytest.mark.parametrize("target_kind", ["file", "stale-socket", "dangling"])
def test_symlink_refused_and_untouched(sockdir: str, target_kind: str) -> None:
    target = os.path.join(sockdir, "target")
    if target_kind == "file":
        with open(target, "w") as f:
            f.write("target content")
    elif target_kind == "stale-socket":
        _stale_socket(target)
    link = os.path.join(sockdir, "link")
    os.symlink(target, link)
    with pytest.raises(SocketPathError, match="symbolic link"):
        UnixEchoServer(link).start()
    assert os.path.islink(link)
    assert os.readlink(link) == target
    if target_kind == "file":
        with open(target) as f:
            assert f.read() == "target content"
    elif target_kind == "stale-socket":
        assert stat.S_ISSOCK(os.lstat(target).st_mode)


def test_fifo_refused(sockdir: str) -> None:
    path = os.path.join(sockdir, "fifo")
    os.mkfifo(path)
    with pytest.raises(SocketPathError, match="FIFO"):
        prepare_socket_path(path)
    assert stat.S_ISFIFO(os.lstat(path).st_mode)


def test_path_too_long_is_a_clear_error(sockdir: str) -> None:
    fits = "/tmp/" + "a" * (MAX_SUN_PATH - len("/tmp/"))
    assert len(check_path_length(fits)) == MAX_SUN_PATH
    too_long = fits + "b"
    with pytest.raises(SocketPathError, match=f"at most {MAX_SUN_PATH} bytes"):
        UnixEchoServer(too_long)
    with pytest.raises(SocketPathError, match="at most"):
        prepare_socket_path(too_long)


def test_missing_directory_is_a_clear_error(sockdir: str) -> None:
    with pytest.raises(SocketPathError, match="does not exist"):
        UnixEchoServer(os.path.join(sockdir, "nope", "s")).start()


@pytest.mark.parametrize("mode", [0o600, 0o660, 0o666])
def test_socket_file_mode(sockdir: str, mode: int) -> None:
    path = os.path.join(sockdir, "m")
    with UnixEchoServer(path, mode=mode):
        assert stat.S_IMODE(os.lstat(path).st_mode) == mode


def test_default_mode_is_owner_only(sockdir: str) -> None:
    path = os.path.join(sockdir, "m")
    with UnixEchoServer(path):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600


def test_stop_leaves_a_replaced_file_alone(sockdir: str) -> None:
    """If someone replaced our socket file, stop() must not delete their file."""
    path = os.path.join(sockdir, "s")
    srv = UnixEchoServer(path).start()
    try:
        os.unlink(path)
        with open(path, "w") as f:
            f.write("someone else's")
    finally:
        srv.stop()
    with open(path) as f:
        assert f.read() == "someone else's"


def test_bound_path_remove_checks_inode(sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    _stale_socket(path)
    old = BoundPath.of(path)
    # A new socket file at the same path. Made before the old one is gone, so the
    # filesystem cannot hand it the freed inode number.
    other = os.path.join(sockdir, "s2")
    _stale_socket(other)
    os.rename(other, path)
    assert old.remove() is False
    assert os.path.lexists(path)
    assert BoundPath.of(path).remove() is True
    assert not os.path.lexists(path)


@pytest.mark.skipif(not abstract_supported(), reason="abstract namespace is Linux-only")
def test_abstract_name_leaves_no_file(sockdir: str) -> None:
    name = f"sqsocket-test-{os.getpid()}"
    before = set(os.listdir(sockdir)), set(os.listdir("."))
    with AbstractEchoServer(name) as srv:
        assert srv.sockaddr == b"\0" + name.encode()
        assert srv.url == f"abstract:{name}"
        assert srv.path is None
        assert echo_once(f"@{name}", b"abstract") == b"abstract"
        assert not os.path.exists(name) and not os.path.exists("@" + name)
    assert (set(os.listdir(sockdir)), set(os.listdir("."))) == before
    # The name is free again once the server stopped.
    with AbstractEchoServer(name) as again:
        assert echo_once(again.address, b"x") == b"x"


def test_abstract_name_too_long() -> None:
    if not abstract_supported():
        pytest.skip("abstract namespace is Linux-only")
    AbstractAddress("n" * MAX_SUN_PATH)
    with pytest.raises(SocketPathError, match="limit"):
        AbstractAddress("n" * (MAX_SUN_PATH + 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/tmp/x", UnixAddress("/tmp/x")),
        ("unix:/tmp/x", UnixAddress("/tmp/x")),
        ("unix-dgram:/tmp/x", UnixAddress("/tmp/x")),
        ("./rel/s", UnixAddress("./rel/s")),
        ("@name", AbstractAddress("name")),
        ("\0name", AbstractAddress("name")),
        ("abstract:name", AbstractAddress("name")),
        ("unix:@name", AbstractAddress("name")),
        ("tcp:127.0.0.1:5000", InetAddress("127.0.0.1", 5000)),
        ("udp:127.0.0.1:0", InetAddress("127.0.0.1", 0)),
        ("tcp:[::1]:7", InetAddress("::1", 7)),
        ("5000", InetAddress("127.0.0.1", 5000)),
        ("localhost:80", InetAddress("127.0.0.1", 80)),
        (":9", InetAddress("127.0.0.1", 9)),
    ],
)
def test_parse_address(text: str, expected: object) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("bad", ["", "tcp:::1:5", "tcp:127.0.0.1:http", "tcp:127.0.0.1:70000"])
def test_parse_address_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_address(bad)


def test_address_text_round_trips() -> None:
    for addr in (UnixAddress("/tmp/x"), AbstractAddress("n"), InetAddress("::1", 5)):
        kinds: tuple[SocketKind, ...] = ("stream", "dgram")
        for kind in kinds:
            text = addr.describe(kind)
            assert parse_address(text) == addr
            assert parse_ready_line(f"listening on {text}\n") == (kind, addr)
    with pytest.raises(ValueError):
        parse_ready_line("hello")


def test_non_loopback_host_refused() -> None:
    from sqsocket.servers import TCPEchoServer

    with pytest.raises(ValueError, match="non-loopback"):
        TCPEchoServer("0.0.0.0", 0).start()
