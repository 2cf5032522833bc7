"""Who may reach a server: socket-file modes without chmod, safe directories, uid allow-lists."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_support import wait_until
from process_support import serve

from sqsocket.servers import (
    AbstractEchoServer,
    DatagramClient,
    DatagramEchoServer,
    IntroClient,
    IntroductionServer,
    UnixEchoServer,
    echo_once,
)
from sqsocket.servers.address import abstract_supported
from sqsocket.servers.dircheck import UnsafeDirectory, check_socket_directory
from sqsocket.servers.paths import SocketPathError, bind_unix_path
from sqsocket.servers.peercred import peer_credentials

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux-only")

# A uid that is not ours (and, being 2^32 - 2, nobody's).
OTHER_UID = 4294967294


def _mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    """Restore the process umask whatever a test set."""
    old = os.umask(0o022)
    os.umask(old)
    try:
        yield
    finally:
        os.umask(old)


# -- 1. the socket file's mode is set by bind, never by chmod(path) ------------------------


def test_symlink_swapped_in_before_chmod_changes_nothing(
    sockdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local user who can write the directory swaps a symlink in for the new socket.

    The attacker is given the best possible timing: the swap happens at the very
    moment the server would chmod the socket path. A chmod(path) then follows the
    link and makes the victim file 0666; binding with the mode already set never
    calls chmod, so the victim keeps 0644.
    """
    victim = os.path.join(sockdir, "victim")
    with open(victim, "w") as f:
        f.write("someone's file\n")
    os.chmod(victim, 0o644)
    path = os.path.join(sockdir, "s")
    real_chmod = os.chmod
    chmods: list[str] = []

    def attacker_wins_the_race(target: str, mode: int, **kw: bool) -> None:
        if os.fspath(target) == path:
            chmods.append(path)
            os.unlink(path)
            os.symlink(victim, path)
        real_chmod(target, mode, **kw)

    monkeypatch.setattr(os, "chmod", attacker_wins_the_race)
    server = UnixEchoServer(path, mode=0o666)
    try:
        server.start()
        assert echo_once(server.address, b"fine") == b"fine"
    finally:
        server.stop()
    assert _mode(victim) == 0o644
    assert chmods == []
    with open(victim) as f:
        assert f.read() == "someone's file\n"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o660, 0o666, 0o777])
@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077])
def test_mode_is_exact_under_any_umask(sockdir: str, umask: None, mode: int, mask: int) -> None:
    os.umask(mask)
    path = os.path.join(sockdir, "m")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        bound = bind_unix_path(sock, path, mode=mode)
        assert _mode(path) == mode
        assert bound.remove()
    # The umask is the caller's again afterwards.
    assert os.umask(mask) == mask


def test_concurrent_binds_each_get_their_mode(sockdir: str, umask: None) -> None:
    """The umask is per process: binds in several threads must not see each other's."""
    os.umask(0o077)
    modes = [0o600, 0o666, 0o640, 0o660] * 10
    errors: list[BaseException] = []
    got: dict[int, int] = {}

    def bind(i: int, mode: int) -> None:
        path = os.path.join(sockdir, f"t{i}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                bound = bind_unix_path(sock, path, mode=mode)
                got[i] = _mode(path)
                bound.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=bind, args=(i, m)) for i, m in enumerate(modes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert got == dict(enumerate(modes))
    assert os.umask(0o077) == 0o077


# -- 5a. directories other users can write are refused (StrictModes) -----------------------


def _dir(parent: str, name: str, mode: int) -> str:
    path = os.path.join(parent, name)
    os.mkdir(path)
    os.chmod(path, mode)  # a directory of the test's own making, not a socket path
    return path


@pytest.mark.parametrize(("mode", "refused"), [(0o777, True), (0o770, True), (0o1777, False)])
def test_writable_directory_without_sticky_bit_is_refused(
    sockdir: str, mode: int, refused: bool
) -> None:
    shared = _dir(sockdir, "shared", mode)
    path = os.path.join(shared, "s")
    if refused:
        with pytest.raises(UnsafeDirectory, match="without the sticky bit"):
            UnixEchoServer(path).start()
        assert os.listdir(shared) == []
        # Told to, it binds there anyway.
        with UnixEchoServer(path, insecure_dir=True) as srv:
            assert echo_once(srv.address, b"told to") == b"told to"
    else:
        with UnixEchoServer(path) as srv:
            assert echo_once(srv.address, b"sticky") == b"sticky"
    assert os.listdir(shared) == []


def test_unsafe_ancestor_is_refused(sockdir: str) -> None:
    """Whoever can write an ancestor can rename the private directory away and fake it."""
    shared = _dir(sockdir, "shared", 0o777)
    private = _dir(shared, "private", 0o700)
    with pytest.raises(UnsafeDirectory, match="shared"):
        check_socket_directory(os.path.join(private, "s"))


def test_symlinks_are_resolved_and_their_directories_checked(sockdir: str) -> None:
    shared = _dir(sockdir, "shared", 0o777)
    private = _dir(sockdir, "private", 0o700)
    # A link in a safe directory into an unsafe one: the target directory is checked.
    os.symlink(shared, os.path.join(sockdir, "to-shared"))
    with pytest.raises(UnsafeDirectory):
        check_socket_directory(os.path.join(sockdir, "to-shared", "s"))
    # A link that lives in an unsafe directory: whoever writes that one can re-point it.
    os.symlink(private, os.path.join(shared, "to-private"))
    with pytest.raises(UnsafeDirectory, match="shared"):
        check_socket_directory(os.path.join(shared, "to-private", "s"))
    # A link in a safe directory to a safe one (relative, with ..) is fine.
    os.symlink("../private", os.path.join(private, "self"))
    check_socket_directory(os.path.join(private, "self", "s"))
    with UnixEchoServer(os.path.join(sockdir, "private", "self", "s")) as srv:
        assert echo_once(srv.address, b"via link") == b"via link"


def test_directory_problems_are_clear(sockdir: str) -> None:
    with open(os.path.join(sockdir, "file"), "w"):
        pass
    with pytest.raises(SocketPathError, match="not a directory"):
        check_socket_directory(os.path.join(sockdir, "file", "s"))
    with pytest.raises(SocketPathError, match="does not exist"):
        check_socket_directory(os.path.join(sockdir, "missing", "s"))
    loop = os.path.join(sockdir, "loop")
    os.symlink(loop, loop)
    with pytest.raises(SocketPathError, match="too many symbolic links"):
        check_socket_directory(os.path.join(loop, "s"))


def test_cli_refuses_unsafe_directory_unless_told(sockdir: str) -> None:
    shared = _dir(sockdir, "shared", 0o777)
    path = os.path.join(shared, "s")
    proc = subprocess.run(
        [sys.executable, "-m", "sqsocket", "serve", "echo", "--unix", path],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "without the sticky bit" in proc.stderr and "--insecure-dir" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert os.listdir(shared) == []


# -- 5b. uid allow-lists (SO_PEERCRED, SCM_CREDENTIALS) --------------------------------------


@linux_only
def test_allowed_uid_is_served_and_other_uids_refused(sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    with UnixEchoServer(path, allow_uids={os.getuid()}) as srv:
        assert echo_once(srv.address, b"me") == b"me"
        assert srv.refused_connections == 0
    with UnixEchoServer(path, allow_uids={OTHER_UID}) as srv:
        # What any client -- a Smalltalk one included -- sees: accepted, then closed.
        with srv.connect() as client:
            assert client.recv(10) == b""
        with srv.connect() as client:
            try:
                client.sendall(b"hello?")
                assert client.recv(10) == b""
            except (ConnectionResetError, BrokenPipeError):
                pass  # it sent data the server never read, or sent after the close
        assert srv.refused_connections == 2
        assert srv.total_connections == 0


@linux_only
def test_refusals_are_logged_rate_limited(sockdir: str, caplog: pytest.LogCaptureFixture) -> None:
    path = os.path.join(sockdir, "s")
    with UnixEchoServer(path, allow_uids={OTHER_UID}) as srv:
        for _ in range(30):
            with srv.connect() as client:
                client.settimeout(5)
                assert client.recv(1) == b""
    refusals = [r for r in caplog.records if "refused a connection" in r.getMessage()]
    assert 1 <= len(refusals) <= srv.warnings.burst
    assert srv.refused_connections == 30
    assert any("suppressed 25 similar messages" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(not abstract_supported(), reason="abstract namespace is Linux-only")
def test_abstract_server_allow_list(sockdir: str) -> None:
    """An abstract name has no file permissions: the allow-list is its only access control."""
    name = f"sqsocket-acl-{os.getpid()}"
    with AbstractEchoServer(name, allow_uids={OTHER_UID}) as srv, srv.connect() as client:
        assert client.recv(10) == b""
    with AbstractEchoServer(name, allow_uids={os.getuid()}) as srv:
        assert echo_once(srv.address, b"ok") == b"ok"


@linux_only
def test_dgram_allow_list_uses_scm_credentials(sockdir: str) -> None:
    path = os.path.join(sockdir, "d")
    with (
        DatagramEchoServer(path, allow_uids={OTHER_UID}) as srv,
        DatagramClient(srv.address, timeout=0.5) as client,
    ):
        client.send(b"let me in")
        with pytest.raises(TimeoutError):
            client.receive()
        # no reply is no sign the server has read the datagram yet: wait for its count
        assert wait_until(lambda: srv.refused == 1)
        assert srv.echoed == 0
    with (
        DatagramEchoServer(path, allow_uids={os.getuid()}) as srv,
        DatagramClient(srv.address) as client,
    ):
        assert client.request(b"me") == b"me"


@linux_only
def test_intro_server_allow_list(sockdir: str) -> None:
    path = os.path.join(sockdir, "i")
    with IntroductionServer(path, allow_uids={OTHER_UID}) as srv:
        with srv.connect() as raw:
            assert raw.recv(10) == b""
        assert srv.refused_connections == 1
    with (
        IntroductionServer(path, allow_uids={os.getuid()}) as srv,
        IntroClient(srv.address) as client,
    ):
        client.register("me")


def test_allow_list_needs_a_unix_address() -> None:
    from sqsocket.servers.echo import EchoServer

    with pytest.raises(ValueError, match="Unix-domain"):
        EchoServer("tcp:127.0.0.1:0", allow_uids={0})
    with pytest.raises(ValueError, match="Unix-domain"):
        DatagramEchoServer("udp:127.0.0.1:0", allow_uids={0})


@linux_only
def test_peer_credentials_are_ours(sockdir: str) -> None:
    a, b = socket.socketpair()
    with a, b:
        creds = peer_credentials(a)
    assert creds is not None
    assert (creds.pid, creds.uid, creds.gid) == (os.getpid(), os.getuid(), os.getgid())
    assert str(creds) == f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}"


def test_cli_allow_uid(sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    server = serve("echo", "--unix", path, "--allow-uid", str(OTHER_UID))
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(5)
            client.connect(path)
            assert client.recv(10) == b""
    finally:
        code, _, err = server.signal(signal.SIGINT)
    assert code == 0
    assert "refused a connection from pid=" in err


def test_readme_says_abstract_and_tcp_have_no_file_permissions() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "no filesystem permission" in readme
    assert "--allow-uid" in readme
