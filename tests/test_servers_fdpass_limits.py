"""The introduction server under attack, and what a client without SCM_RIGHTS sees.

The descriptor limit is lowered (RLIMIT_NOFILE) only in subprocesses, never in the
test process itself.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import selectors
import socket
import textwrap
import time
from collections.abc import Callable

import pytest
from process_support import ServerProcess

from sqsocket.servers import IntroClient, IntroductionServer, echo_once
from sqsocket.servers.listener import Acceptor
from sqsocket.servers.netstring import encode, read_frame
from sqsocket.servers.ratelog import RateLimitedLog


def _limit_nofile(soft: int) -> Callable[[], None]:
    def apply() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return apply


def child(argv: list[str], preexec: Callable[[], None] | None = None) -> ServerProcess:
    """A server subprocess (``python ARGV``), listening; stopped with ``.signal()`` (SIGINT)."""
    server = ServerProcess(argv, preexec=preexec)
    assert server.ready.startswith("listening on "), server.signal()
    return server


def test_pending_introductions_cannot_exhaust_descriptors(sockdir: str) -> None:
    """A peer that never reads, flooded with introductions, with only 64 descriptors.

    Before the queues were bounded the server kept every descriptor, ran out
    (EMFILE), then spun on accept() logging each failure while honest clients timed
    out. Now the flood is answered ``ERR busy``, the honest pair is introduced, and
    the log says so in a few lines.
    """
    path = os.path.join(sockdir, "i")
    server = child(["-m", "sqsocket", "serve", "intro", "--unix", path], _limit_nofile(64))
    try:
        sink = IntroClient(path)
        sink.register("sink")  # and never reads again
        flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        flood.connect(path)
        flood.setblocking(False)
        sent = 0
        for _ in range(600):
            mine, theirs = socket.socketpair()
            with mine, theirs:
                try:
                    socket.send_fds(flood, [encode(b"INTRODUCE sink")], [theirs.fileno()])
                except BlockingIOError:
                    break
            sent += 1
        assert sent > 100
        # The flood was told no, in so many words. Reading every answer also means the
        # server has taken all the flood's descriptors off the wire: for a non-root user
        # the kernel caps descriptors in flight at RLIMIT_NOFILE, the server's 64.
        flood.settimeout(10)
        answers = [read_frame(flood) for _ in range(sent)]
        assert b"OK" in answers
        busy = [a for a in answers if a is not None and a.startswith(b"ERR busy")]
        # All but the first few: the queue limits, or (without CAP_SYS_RESOURCE) the
        # kernel's cap on descriptors in flight, which the flood's own count towards.
        assert len(busy) > sent // 2, answers[:5]
        # Honest clients are served as if nothing happened.
        with IntroClient(path, timeout=10) as bob, IntroClient(path, timeout=10) as alice:
            bob.register("bob")
            with alice.introduce("bob") as to_bob:
                name, to_alice = bob.accept_introduction(timeout=10)
                with to_alice:
                    assert name.startswith("anonymous-")
                    to_bob.sendall(b"still fine")
                    assert to_alice.recv(100) == b"still fine"
        flood.close()
        sink.close()
    finally:
        code, _, err = server.signal()
    assert code == 0, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) < 30, lines[:40]
    assert any("suppressed" in line and "introduction refused" in line for line in lines), lines


_LOW_LIMIT_SERVER = textwrap.dedent(
    """
    import os, resource, sys
    from sqsocket.servers.cli import run_server
    from sqsocket.servers.process import setup_logging
    from sqsocket.servers.echo import EchoServer
    from sqsocket.servers.fdpass import IntroductionServer

    setup_logging(False)
    kind = {"intro": IntroductionServer, "echo": EchoServer}[sys.argv[1]]
    server = kind(sys.argv[2]).bind()
    # Leave room for two more descriptors: the third client makes accept() fail.
    open_now = len(os.listdir("/proc/self/fd")) - 1  # less listdir's own
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 2, hard))
    sys.exit(run_server(server))
    """
)


@pytest.mark.parametrize("kind", ["intro", "echo"])
def test_accept_at_emfile_backs_off_and_logs_rate_limited(sockdir: str, kind: str) -> None:
    path = os.path.join(sockdir, "s")
    server = child(["-c", _LOW_LIMIT_SERVER, kind, path])
    started = time.monotonic()
    clients = []
    try:
        for _ in range(6):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(path)  # queued in the backlog; only two can be accepted
            clients.append(client)
        time.sleep(2.5)  # the server meets EMFILE again and again meanwhile
        for client in clients:
            client.close()
        clients.clear()
        if kind == "echo":
            # Descriptors free again: service resumes.
            assert echo_once(path, b"after the storm", timeout=20) == b"after the storm"
        else:
            with IntroClient(path, timeout=20) as late:
                late.register("late")
    finally:
        for client in clients:
            client.close()
        code, _, err = server.signal()
    elapsed = time.monotonic() - started
    assert code == 0, err
    assert "Traceback" not in err
    failures = [line for line in err.splitlines() if "accept failed:" in line]
    assert failures, err
    # At most a burst of five per ten-second interval, however often accept failed.
    assert len(failures) <= 5 * (1 + int(elapsed // 10)), failures
    assert any("suppressed" in line for line in err.splitlines()), err


class _EmfileListener(socket.socket):
    """A listening socket whose accept() always fails as at RLIMIT_NOFILE."""

    calls = 0

    def accept(self) -> tuple[socket.socket, object]:
        type(self).calls += 1
        raise OSError(errno.EMFILE, "Too many open files")


def test_acceptor_does_not_spin_on_emfile(sockdir: str, caplog: pytest.LogCaptureFixture) -> None:
    path = os.path.join(sockdir, "l")
    listener = _EmfileListener(socket.AF_UNIX, socket.SOCK_STREAM)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with listener, client, selectors.DefaultSelector() as sel:
        listener.bind(path)
        listener.listen(4)
        listener.setblocking(False)
        client.connect(path)  # the listener stays readable: accept would be retried at once
        warnings = RateLimitedLog(logging.getLogger("test.acceptor"))
        acceptor = Acceptor(lambda c, a, p: c.close(), lambda: True, warnings, backoff=0.1)
        acceptor.attach(sel, listener)
        deadline = time.monotonic() + 0.5
        while (now := time.monotonic()) < deadline:
            retry = acceptor.next_deadline()
            wait = deadline - now if retry is None else max(0.0, min(retry, deadline) - now)
            for key, mask in sel.select(wait):
                key.data(mask)
            acceptor.tick(time.monotonic())
        acceptor.detach()
    # Without the back-off this is hundreds of thousands of calls in half a second.
    assert 1 <= _EmfileListener.calls <= 20
    assert acceptor.failures == _EmfileListener.calls
    logged = [r for r in caplog.records if "accept failed" in r.getMessage()]
    assert len(logged) == min(_EmfileListener.calls, warnings.burst)


def test_a_client_without_scm_rights_sees_frames_but_no_descriptors(sockdir: str) -> None:
    """What a Smalltalk client sees: the plugin sends and receives bytes only.

    It can register; its INTRODUCE (no descriptor attached) is refused; an
    introduction to it arrives as the INTRO frame alone -- the kernel discards a
    descriptor that reaches a plain recv() -- so the introducer sees end of stream.
    """
    with IntroductionServer(os.path.join(sockdir, "i")) as srv:
        plain = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with plain:
            plain.settimeout(5)
            plain.connect(srv.sockaddr)
            plain.sendall(encode(b"REGISTER smalltalk"))
            assert read_frame(plain) == b"OK"
            plain.sendall(encode(b"INTRODUCE smalltalk"))
            answer = read_frame(plain)
            assert answer == b"ERR INTRODUCE needs one descriptor (a socket) sent with it"
            with IntroClient(srv.address) as python_peer:
                to_smalltalk = python_peer.introduce("smalltalk")
            with to_smalltalk:
                intro = read_frame(plain)  # a plain recv: no room for ancillary data
                assert intro is not None and intro.startswith(b"INTRO anonymous-")
                assert to_smalltalk.recv(10) == b""  # its other end was dropped by the kernel
        assert srv.introductions == 1


def test_queues_are_bounded_in_process(sockdir: str) -> None:
    with (
        IntroductionServer(
            os.path.join(sockdir, "i"), max_pending=50, max_pending_per_peer=3
        ) as srv,
        IntroClient(srv.address) as sink,
        IntroClient(srv.address) as other,
    ):
        sink.register("sink")
        other.register("other")
        with IntroClient(srv.address) as flood:
            socks = [flood.introduce("sink") for _ in range(3)]
            from sqsocket.servers import IntroductionError

            with pytest.raises(IntroductionError, match="busy: sink has 3 introductions"):
                flood.introduce("sink")
            # Another peer's queue is its own.
            socks.append(flood.introduce("other"))
        for _ in range(3):
            _, theirs = sink.accept_introduction(timeout=5)
            theirs.close()
        assert srv.refused_introductions == 1
        for s in socks:
            s.close()
