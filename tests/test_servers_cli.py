"""``sqsocket serve ...`` as a subprocess: ready line, seed client, clean signal stops."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from process_support import serve

from sqsocket.servers import (
    IntroClient,
    NetstringClient,
    dgram_echo,
    echo_once,
    parse_ready_line,
)
from sqsocket.servers.address import InetAddress, UnixAddress, abstract_supported

# The PyMOTW Unix-domain echo client from the seeds, unchanged but for the path it
# connects to (and without the chatty prints of each step).
SEED_CLIENT = textwrap.dedent(
    """
    import socket
    import sys

    # Create a UDS socket
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    # Connect the socket to the port where the server is listening
    server_address = {path!r}
    print('connecting to {{}}'.format(server_address))
    try:
        sock.connect(server_address)
    except socket.error as msg:
        print(msg)
        sys.exit(1)

    try:
        # Send data
        message = b'This is the message. It will be repeated.'
        print('sending {{!r}}'.format(message))
        sock.sendall(message)

        amount_received = 0
        amount_expected = len(message)

        while amount_received < amount_expected:
            data = sock.recv(16)
            amount_received += len(data)
            print('received {{!r}}'.format(data))

    finally:
        print('closing socket')
        sock.close()
    """
)


def test_seed_client_against_cli_server_then_ctrl_c(sockdir: str) -> None:
    path = os.path.join(sockdir, "uds_socket")
    server = serve("echo", "--unix", path)
    try:
        assert server.ready == f"listening on unix:{path}"
        assert parse_ready_line(server.ready) == ("stream", UnixAddress(path))
        assert os.path.exists(path)
        client = subprocess.run(
            [sys.executable, "-c", SEED_CLIENT.format(path=path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert client.returncode == 0, client.stderr
        chunks = [
            ast.literal_eval(line.removeprefix("received "))
            for line in client.stdout.splitlines()
            if line.startswith("received ")
        ]
        # Reads of at most 16 bytes that add up to exactly the message sent.
        assert all(0 < len(chunk) <= 16 for chunk in chunks)
        assert b"".join(chunks) == b"This is the message. It will be repeated."
        assert "closing socket" in client.stdout
    finally:
        code, _, err = server.signal(signal.SIGINT)
    assert code == 0, err
    assert "Traceback" not in err
    assert not os.path.exists(path)


def test_sigterm_stops_tcp_server() -> None:
    server = serve("echo", "--tcp", "127.0.0.1:0")
    try:
        kind, addr = parse_ready_line(server.ready)
        assert kind == "stream" and isinstance(addr, InetAddress) and addr.port > 0
        assert echo_once(addr, b"over tcp") == b"over tcp"
    finally:
        code, _, err = server.signal(signal.SIGTERM)
    assert code == 0, err


def test_abstract_cli_server() -> None:
    if not abstract_supported():
        pytest.skip("abstract namespace is Linux-only")
    name = f"sqsocket-cli-{os.getpid()}"
    server = serve("echo", "--abstract", name, "--verbose")
    try:
        assert server.ready == f"listening on abstract:{name}"
        assert echo_once(f"@{name}", b"abstract") == b"abstract"
    finally:
        code, _, err = server.signal(signal.SIGINT)
    assert code == 0
    assert "connection #1" in err  # --verbose logs connections to stderr


def test_refusal_is_exit_1_with_message(sockdir: str) -> None:
    path = os.path.join(sockdir, "file")
    with open(path, "w") as f:
        f.write("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "sqsocket.servers", "echo", "--unix", path],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "regular file, not a socket" in proc.stderr
    assert proc.stdout == ""
    with open(path) as f:
        assert f.read() == "keep me"


def test_mode_option(sockdir: str) -> None:
    path = os.path.join(sockdir, "m")
    server = serve("echo", "--unix", path, "--mode", "660", module="sqsocket.servers")
    try:
        assert os.stat(path).st_mode & 0o777 == 0o660
    finally:
        assert server.signal(signal.SIGINT)[0] == 0


def test_netstring_dgram_intro_cli(sockdir: str) -> None:
    net = serve("netstring", "--unix", os.path.join(sockdir, "n"), module="sqsocket.servers")
    udp = serve("dgram", "--udp", module="sqsocket.servers")
    udg = serve("dgram", "--unix", os.path.join(sockdir, "d"), module="sqsocket.servers")
    intro = serve("intro", "--unix", os.path.join(sockdir, "i"), module="sqsocket.servers")
    try:
        _, addr = parse_ready_line(net.ready)
        with NetstringClient(addr) as cli:
            assert cli.request(b"taco cat") == b"tac ocat"
        kind, addr = parse_ready_line(udp.ready)
        assert kind == "dgram" and udp.ready.startswith("listening on udp:127.0.0.1:")
        assert dgram_echo(addr, b"udp") == b"udp"
        kind, addr = parse_ready_line(udg.ready)
        assert kind == "dgram" and udg.ready.startswith("listening on unix-dgram:")
        assert dgram_echo(addr, b"unix dgram") == b"unix dgram"
        _, addr = parse_ready_line(intro.ready)
        with IntroClient(addr) as svc, IntroClient(addr) as cli:
            svc.register("svc")
            with cli.introduce("svc") as mine:
                _, theirs = svc.accept_introduction(timeout=5)
                with theirs:
                    mine.sendall(b"direct")
                    assert theirs.recv(10) == b"direct"
    finally:
        codes = [p.signal(signal.SIGINT)[0] for p in (net, udp, udg, intro)]
    assert codes == [0, 0, 0, 0]
    assert sorted(os.listdir(sockdir)) == []


def test_pair_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sqsocket", "serve", "pair"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "received b'pong'" in proc.stdout
    assert "received b'tac ocat'" in proc.stdout
    assert "ping/pong ok" in proc.stdout and "netstring ok" in proc.stdout
