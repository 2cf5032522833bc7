"""Descriptor passing: peers introduced through the server, then talking directly."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from sqsocket.servers import IntroClient, IntroductionError, IntroductionServer
from sqsocket.servers.netstring import encode, read_frame


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_introduction_then_direct_talk(sockdir: str) -> None:
    before = open_fds()
    with IntroductionServer(os.path.join(sockdir, "intro")) as srv:
        bob = IntroClient(srv.address)
        alice = IntroClient(srv.address)
        bob.register("bob")
        alice.register("alice")
        to_bob = alice.introduce("bob")
        introducer, to_alice = bob.accept_introduction(timeout=5)
        assert introducer == "alice"
        assert srv.introductions == 1
        # Stop the server: the peers' pair does not go through it, so it keeps working.
        srv.stop()
        with to_bob, to_alice:
            to_bob.sendall(b"hello bob")
            assert to_alice.recv(100) == b"hello bob"
            to_alice.sendall(b"hi alice")
            assert to_bob.recv(100) == b"hi alice"
            assert to_alice.family == socket.AF_UNIX
            to_bob.close()
            assert to_alice.recv(100) == b""  # alice's close reaches bob: no copy left open
        alice.close()
        bob.close()
    assert open_fds() == before


def test_anonymous_introducer_and_many_introductions(sockdir: str) -> None:
    srv = IntroductionServer(os.path.join(sockdir, "intro")).start()
    with srv, IntroClient(srv.address) as svc:
        svc.register("service")
        peers: list[socket.socket] = []
        for _ in range(20):
            with IntroClient(srv.address) as anon:
                peers.append(anon.introduce("service"))
        for i, sock in enumerate(peers):
            name, theirs = svc.accept_introduction(timeout=5)
            assert name.startswith("anonymous-")
            with theirs, sock:
                sock.sendall(f"peer {i}".encode())
                assert theirs.recv(100) == f"peer {i}".encode()
        assert srv.introductions == 20


def test_errors_are_reported_and_fds_closed(sockdir: str) -> None:
    before = open_fds()
    with IntroductionServer(os.path.join(sockdir, "intro")) as srv:
        with IntroClient(srv.address) as a, IntroClient(srv.address) as b:
            with pytest.raises(IntroductionError, match="no peer named nobody"):
                a.introduce("nobody")
            a.register("a")
            with pytest.raises(IntroductionError, match="taken"):
                b.register("a")
            with pytest.raises(IntroductionError, match="already registered"):
                a.register("again")
            with pytest.raises(IntroductionError, match="whitespace"):
                b.register("two words")
        # The name is withdrawn when its connection closes.
        with IntroClient(srv.address) as c:
            c.register("a")
    assert open_fds() == before


def test_protocol_violations_close_the_connection(sockdir: str) -> None:
    before = open_fds()
    with IntroductionServer(os.path.join(sockdir, "intro")) as srv:
        # A descriptor attached to a message that takes none.
        with srv.connect() as raw, open(os.devnull) as f:
            socket.send_fds(raw, [encode(b"REGISTER x")], [f.fileno()])
            # The frame is handled first (a descriptor may belong to a later frame in
            # the same read); the stray descriptor is caught once all frames are in.
            assert read_frame(raw) == b"OK"
            assert read_frame(raw) == b"ERR descriptor sent with a message that takes none"
            assert read_frame(raw) is None
        # INTRODUCE without a descriptor.
        with srv.connect() as raw:
            raw.sendall(encode(b"INTRODUCE x"))
            answer = read_frame(raw)
            assert answer is not None and answer.startswith(b"ERR INTRODUCE needs one")
        # A descriptor that is not a socket.
        with IntroClient(srv.address) as target, srv.connect() as raw:
            target.register("t")
            with open(os.devnull) as f:
                socket.send_fds(raw, [encode(b"INTRODUCE t")], [f.fileno()])
            assert read_frame(raw) == b"ERR the descriptor is not a socket"
        # Unknown command.
        with srv.connect() as raw:
            raw.sendall(encode(b"FROB"))
            assert read_frame(raw) == b"ERR unknown command 'FROB'"
        srv.stop()
        assert srv.registered == {}
    assert open_fds() == before


def test_pending_introduction_fds_closed_when_target_leaves(sockdir: str) -> None:
    """A descriptor queued for a peer that disconnects must not stay open in the server."""
    before = open_fds()
    with IntroductionServer(os.path.join(sockdir, "intro")) as srv:
        target = IntroClient(srv.address)
        target.register("target")
        with IntroClient(srv.address) as a:
            mine = a.introduce("target")
        target.close()  # leaves without accepting; its queued INTRO fd was sent or is dropped
        mine.settimeout(5)
        assert mine.recv(10) == b""  # nobody holds the other end any more
        mine.close()
    assert open_fds() == before


def test_intro_registered_peer_in_another_thread(sockdir: str) -> None:
    with IntroductionServer(os.path.join(sockdir, "intro")) as srv:
        ready = threading.Event()
        result: list[bytes] = []

        def service() -> None:
            with IntroClient(srv.address) as me:
                me.register("upper")
                ready.set()
                _, sock = me.accept_introduction(timeout=10)
                with sock:
                    data = sock.recv(100)
                    sock.sendall(data.upper())
                    result.append(data)

        t = threading.Thread(target=service)
        t.start()
        assert ready.wait(10)
        with IntroClient(srv.address) as client, client.introduce("upper") as sock:
            sock.sendall(b"shout")
            assert sock.recv(100) == b"SHOUT"
        t.join(10)
        assert result == [b"shout"]


def test_tcp_address_refused() -> None:
    with pytest.raises(ValueError, match="Unix-domain"):
        IntroductionServer("tcp:127.0.0.1:0")
