"""Abstract names as the SocketPlugin spells them: NUL-padded to all of sun_path."""

from __future__ import annotations

import os
import signal
import socket

import pytest
from process_support import serve

from sqsocket.servers import (
    AbstractAddress,
    AbstractEchoServer,
    DatagramClient,
    DatagramEchoServer,
    echo_once,
    parse_address,
    parse_ready_line,
)
from sqsocket.servers.address import SocketKind, abstract_supported
from sqsocket.servers.paths import MAX_SUN_PATH

pytestmark = pytest.mark.skipif(not abstract_supported(), reason="abstract namespace is Linux-only")

#: sizeof(struct sockaddr_un) - sizeof(sa_family_t): what the plugin always passes.
SUN_PATH = 108


def full_length_sockaddr(name: str) -> bytes:
    """The address a Smalltalk client connects to: addrlen = sizeof(struct sockaddr_un)."""
    raw = b"\0" + name.encode()
    return raw + b"\0" * (SUN_PATH - len(raw))


def _raw_echo(sockaddr: bytes, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(sockaddr)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_padded_name_is_reached_with_a_full_length_sockaddr() -> None:
    name = f"sqsocket-padded-{os.getpid()}"
    with AbstractEchoServer(name, padded=True) as srv:
        assert srv.sockaddr == full_length_sockaddr(name)
        assert len(srv.sockaddr) == SUN_PATH
        assert srv.url == f"abstract-padded:{name}"
        assert _raw_echo(full_length_sockaddr(name), b"from smalltalk") == b"from smalltalk"
        # The tight name -- what Python clients use -- is another name: nobody there.
        with pytest.raises(ConnectionRefusedError):
            _raw_echo(b"\0" + name.encode(), b"x")
        # A client given the ready line's address reaches it too.
        assert echo_once(parse_address(srv.url), b"python") == b"python"


def test_tight_name_is_unreachable_with_a_full_length_sockaddr() -> None:
    """Why the option exists: the plugin's connect to a tight server is refused."""
    name = f"sqsocket-tight-{os.getpid()}"
    with AbstractEchoServer(name) as srv:
        assert echo_once(srv.address, b"tight") == b"tight"
        with pytest.raises(ConnectionRefusedError):
            _raw_echo(full_length_sockaddr(name), b"x")


def test_padded_address_text_round_trips() -> None:
    addr = AbstractAddress("n", padded=True)
    kinds: tuple[SocketKind, ...] = ("stream", "dgram")
    for kind in kinds:
        text = addr.describe(kind)
        assert parse_address(text) == addr
        assert parse_ready_line(f"listening on {text}") == (kind, addr)
    longest = AbstractAddress("n" * MAX_SUN_PATH, padded=True)
    assert longest.sockaddr == b"\0" + b"n" * MAX_SUN_PATH


def test_padded_datagram_server() -> None:
    name = f"sqsocket-padded-dg-{os.getpid()}"
    with (
        DatagramEchoServer(AbstractAddress(name, padded=True)) as srv,
        DatagramClient(srv.address) as client,
    ):
        assert client.request(b"dgram") == b"dgram"


def test_cli_abstract_padded() -> None:
    name = f"sqsocket-cli-padded-{os.getpid()}"
    server = serve("echo", "--abstract-padded", name)
    try:
        assert server.ready == f"listening on abstract-padded:{name}"
        assert _raw_echo(full_length_sockaddr(name), b"cli") == b"cli"
    finally:
        code, _, err = server.signal(signal.SIGINT)
    assert code == 0, err
