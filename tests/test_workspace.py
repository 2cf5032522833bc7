"""The Pharo workspace example through the image layer, against every server it applies to."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sqsocket.image import (
    ConnectionRefused,
    Image,
    NameLookupFailure,
    NetNameResolver,
    Socket,
    UnixServer,
    run_netstring_example,
    run_tcp_example,
    run_workspace_example,
)
from sqsocket.servers import NetstringServer, TCPEchoServer, UnixEchoServer

pytestmark = pytest.mark.timeout(60)

HELLO = b"Hello, from Smalltalk!"


@pytest.fixture
def image() -> Iterator[Image]:
    """Bare (overrides tests/conftest.py's): each example initialises the network itself."""
    with Image() as img:
        yield img


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_workspace_example_against_the_python_echo_server(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "sp.sock")
    out = io.StringIO()
    with UnixEchoServer(path):
        assert run_workspace_example(path, out, image=image) == HELLO
    lines = out.getvalue().splitlines()
    assert (
        lines[0] == f"1. getAddressInfo host '' service '{path}' flags 0 family 1 type 0 protocol 0"
    )
    assert lines[1] == "2. s := NetNameResolver primGetAddressInfoSize -> 118"
    assert lines[2].endswith(f"-> {path}")
    assert lines[3] == "4. sock := Socket newIPC -> a Socket[unconnected]"
    assert lines[4] == "5. sock connectTo: sa -> a Socket[connected]"
    assert lines[5] == "6. sock sendData: 'Hello, from Smalltalk!' -> 22 bytes"
    assert lines[6] == "7. Transcript: Hello, from Smalltalk!"
    assert lines[7] == "8. sock closeAndDestroy -> a Socket[destroyed]"
    assert len(image.vm.external_objects) == 1  # the socket's semaphores are gone


def test_workspace_example_with_the_default_image(sockdir: str) -> None:
    """As in the workspace: no image given, the default one is used."""
    path = os.path.join(sockdir, "sp.sock")
    mine = Image()
    old = Image.set_default(mine)
    try:
        with UnixEchoServer(path):
            assert run_workspace_example(path, None) == HELLO
    finally:
        Image.set_default(old)
        mine.close()


def test_workspace_example_other_messages(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "sp.sock")
    with UnixEchoServer(path):
        assert run_workspace_example(path, None, image=image, message="héllo ✓") == (
            "héllo ✓".encode()
        )
        big = os.urandom(20000)  # several sendData: chunks, several receiveData calls
        assert run_workspace_example(path, None, image=image, message=big) == big


def test_workspace_example_against_the_smalltalk_side_server(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "st.sock")
    with UnixServer(path, 4, image=image):
        assert run_workspace_example(path, None, image=image) == HELLO


def test_tcp_example_against_the_tcp_echo_server(image: Image) -> None:
    out = io.StringIO()
    with TCPEchoServer() as srv:
        assert srv.port is not None
        assert run_tcp_example("127.0.0.1", srv.port, out, image=image) == HELLO
        assert run_tcp_example("localhost", srv.port, None, image=image) == HELLO
    assert "Transcript: Hello, from Smalltalk!" in out.getvalue()


def test_tcp_by_hand_new_tcp_connect_to_host_port(image: Image) -> None:
    with TCPEchoServer() as srv:
        assert srv.port is not None
        sock = Socket.new_tcp(image=image)
        sock.connect_to(NetNameResolver.address_for_name("127.0.0.1", image=image), srv.port)
        sock.send_data("Hello, from Smalltalk!")
        assert sock.receive_data(5) == HELLO
        sock.close_and_destroy()


def test_netstring_example_answers_the_reversed_payload(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "ns.sock")
    out = io.StringIO()
    with NetstringServer(path):
        assert run_netstring_example(path, out, image=image) == HELLO[::-1]
        assert run_netstring_example(path, None, image=image, message=b"taco cat") == b"tac ocat"
    assert "Transcript: !klatllamS morf ,olleH" in out.getvalue()


def test_nothing_listening_is_a_clear_error(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "nobody")
    with pytest.raises(NameLookupFailure, match="no socket at"):
        run_workspace_example(path, None, image=image)


def test_stale_socket_file_is_refused(image: Image, sockdir: str) -> None:
    path = os.path.join(sockdir, "stale")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(path)
        with pytest.raises(ConnectionRefused):
            run_workspace_example(path, None, image=image, timeout=2)
    assert len(image.vm.external_objects) == 1  # the failed socket was destroyed


def test_no_descriptor_leaks(sockdir: str) -> None:
    """Whole runs, each in a fresh image, leave the process's descriptors as they were."""

    def one_round(tag: str) -> None:
        with Image() as img:
            # names padded so no path is a multiple of 4 bytes (docs/quirks.md, 1)
            echo = os.path.join(sockdir, f"echo-{tag}" + "_" * (len(tag) % 4 == 1))
            with UnixEchoServer(echo):
                assert run_workspace_example(echo, None, image=img) == HELLO
            st = os.path.join(sockdir, f"st-{tag}.sock")
            with UnixServer(st, 4, image=img):
                assert run_workspace_example(st, None, image=img) == HELLO
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                    c.settimeout(5)
                    c.connect(st)
                    c.sendall(b"py")
                    assert c.recv(10) == b"py"
            with TCPEchoServer() as srv:
                assert srv.port is not None
                assert run_tcp_example("127.0.0.1", srv.port, None, image=img) == HELLO

    one_round("warm-up")  # first use loads libraries, caches, ...
    before = open_fds()
    for i in range(3):
        one_round(str(i))
    assert open_fds() == before
    assert os.listdir(sockdir) == []


# -- the command line ---------------------------------------------------------------------


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqsocket", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_cli_example_workspace_prints_the_echo(sockdir: str) -> None:
    path = os.path.join(sockdir, "sp.sock")
    with UnixEchoServer(path):
        result = run_cli("example", "workspace", "--path", path)
    assert result.returncode == 0, result.stderr
    assert "7. Transcript: Hello, from Smalltalk!" in result.stdout
    assert f"service '{path}'" in result.stdout


def test_cli_example_workspace_nothing_listening(sockdir: str) -> None:
    result = run_cli("example", "workspace", "--path", os.path.join(sockdir, "nobody"))
    assert result.returncode == 1
    assert "error: no socket at" in result.stderr


def test_cli_example_tcp_and_netstring(sockdir: str) -> None:
    with TCPEchoServer() as srv:
        result = run_cli("example", "tcp", "--port", str(srv.port), "--message", "over tcp")
    assert result.returncode == 0, result.stderr
    assert "Transcript: over tcp" in result.stdout
    path = os.path.join(sockdir, "ns.sock")
    with NetstringServer(path):
        result = run_cli("example", "netstring", "--path", path, "--message", "abc")
    assert result.returncode == 0, result.stderr
    assert "Transcript: cba" in result.stdout


def test_cli_example_serve_answers_a_python_client(sockdir: str) -> None:
    path = os.path.join(sockdir, "served")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqsocket", "example", "serve", "--path", path, "--seconds", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "listening on unix:" in proc.stdout.readline()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(5)
            c.connect(path)
            c.sendall(b"to the image")
            assert c.recv(100) == b"to the image"
        proc.terminate()  # SIGTERM: stops like Ctrl-C, removing the socket file
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "served 1 client(s)" in out
    assert not os.path.exists(path)
