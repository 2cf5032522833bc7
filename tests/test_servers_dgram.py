"""Datagram echo: UDP on loopback, AF_UNIX datagram on a path and an abstract name."""

from __future__ import annotations

import os
import socket

import pytest
from plugin_support import wait_until

from sqsocket.servers import DatagramClient, DatagramEchoServer, UDPEchoServer, dgram_echo
from sqsocket.servers.address import abstract_supported


def test_udp_echo() -> None:
    with UDPEchoServer() as srv:
        assert srv.url == f"udp:127.0.0.1:{srv.port}"
        assert dgram_echo(srv.address, b"udp hello") == b"udp hello"
        with DatagramClient(srv.address) as cli:
            for i in range(50):
                msg = f"datagram {i}".encode()
                assert cli.request(msg) == msg
            assert cli.request(b"") == b""  # an empty datagram is a datagram too
            big = os.urandom(60000)
            assert cli.request(big) == big
    # Read after stop: the counter is bumped after the reply is sent, so it may lag.
    assert srv.echoed == 53


def test_udp_plain_socket_client() -> None:
    with UDPEchoServer() as srv, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(b"plain", srv.sockaddr)
        data, sender = sock.recvfrom(100)
        assert (data, sender) == (b"plain", srv.sockaddr)


def test_unix_dgram_echo_with_bound_client_path(sockdir: str) -> None:
    server_path = os.path.join(sockdir, "srv")
    client_path = os.path.join(sockdir, "cli")
    with DatagramEchoServer(server_path) as srv:
        assert srv.url == f"unix-dgram:{server_path}"
        with DatagramClient(srv.address, bind_path=client_path) as cli:
            assert cli.local_address == client_path
            assert cli.request(b"unix dgram") == b"unix dgram"
        assert not os.path.exists(client_path)  # the client removes its own file
    assert not os.path.exists(server_path)


def test_unix_dgram_autobound_client(sockdir: str) -> None:
    if not abstract_supported():
        pytest.skip("autobind is Linux-only")
    with DatagramEchoServer(os.path.join(sockdir, "srv")) as srv:
        before = set(os.listdir(sockdir))
        assert dgram_echo(srv.address, b"autobind") == b"autobind"
        assert set(os.listdir(sockdir)) == before  # no client file was made


def test_unix_dgram_unbound_sender_gets_no_reply(sockdir: str) -> None:
    """An unbound AF_UNIX sender has no address; the server can only count it."""
    with DatagramEchoServer(os.path.join(sockdir, "srv")) as srv:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            sock.sendto(b"reply to whom?", srv.sockaddr)
            assert wait_until(lambda: srv.unanswerable == 1)
        # A bound client on the same server is answered as usual.
        assert dgram_echo(srv.address, b"bound") == b"bound"


def test_abstract_dgram_echo() -> None:
    if not abstract_supported():
        pytest.skip("abstract namespace is Linux-only")
    with DatagramEchoServer(f"@sqsocket-dgram-{os.getpid()}") as srv:
        assert srv.url == f"abstract-dgram:sqsocket-dgram-{os.getpid()}"
        assert dgram_echo(srv.address, b"abstract dgram") == b"abstract dgram"


def test_oversized_datagram_dropped(sockdir: str) -> None:
    srv = DatagramEchoServer(os.path.join(sockdir, "srv"), max_datagram=100).start()
    with srv, DatagramClient(srv.address, timeout=0.5) as cli:
        cli.send(b"x" * 101)
        with pytest.raises(TimeoutError):
            cli.receive()
        assert cli.request(b"y" * 100) == b"y" * 100
        # Datagrams are handled in order: the drop was counted before this answer.
        assert srv.dropped == 1


def test_reply_to_vanished_client_is_dropped(sockdir: str) -> None:
    with DatagramEchoServer(os.path.join(sockdir, "srv")) as srv:
        cli = DatagramClient(srv.address, bind_path=os.path.join(sockdir, "gone"))
        cli.send(b"bye")
        cli.close()  # gone before the reply can be delivered (or just after)
        assert dgram_echo(srv.address, b"still serving") == b"still serving"


def test_dgram_no_fd_leaks(sockdir: str) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with DatagramEchoServer(os.path.join(sockdir, "srv")) as srv:
            assert dgram_echo(srv.address, b"a") == b"a"
            with DatagramClient(srv.address, bind_path=os.path.join(sockdir, "c")) as cli:
                assert cli.request(b"b") == b"b"
        with UDPEchoServer() as usrv:
            assert dgram_echo(usrv.address, b"c") == b"c"
    assert len(os.listdir("/proc/self/fd")) == before
