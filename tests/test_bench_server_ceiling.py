"""The stream servers' overall buffer ceiling (``max_buffer``, ``--max-buffer``).

Clients that never read make a ``StreamServer`` queue up to ``high_water`` plus one
read for each of them; the ceiling bounds what all of them together may queue,
keeps serving clients that keep up, and closes the ones that stall it. These tests
drive an in-process server with clients that never read and check its own count of
queued bytes, never a timing.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from plugin_support import wait_until

from sqsocket.servers import EchoServer, connect
from sqsocket.servers.address import UnixAddress
from sqsocket.servers.stream import (
    DEFAULT_MAX_BUFFER,
    MIN_MAX_BUFFER,
    STALL_EVICTION,
    Connection,
)

READ = 65536
TIMEOUT = 20.0


def flood(sock: socket.socket, limit: int = 8 << 20, quiet: float = 0.3) -> int:
    """Send without reading until the peer stops taking bytes for ``quiet`` s (bounded)."""
    sock.setblocking(False)
    chunk = b"n" * READ
    sent = 0
    last = time.monotonic()
    deadline = last + TIMEOUT
    while sent < limit and time.monotonic() < deadline:
        try:
            sent += sock.send(chunk)
            last = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last > quiet:
                break
            time.sleep(0.005)
        except OSError:
            break  # the server closed us
    return sent


def echo(sock: socket.socket, payload: bytes) -> bytes:
    """Send ``payload`` while reading; answer what came back (bounded by TIMEOUT)."""
    sock.settimeout(TIMEOUT)
    sock.sendall(payload)
    got = bytearray()
    while len(got) < len(payload):
        chunk = sock.recv(READ)
        if not chunk:
            break
        got += chunk
    return bytes(got)


@contextlib.contextmanager
def server(sockdir: str, max_buffer: int | None) -> Iterator[EchoServer]:
    srv = EchoServer(UnixAddress(f"{sockdir}/ceiling.sock"), max_buffer=max_buffer)
    with srv:
        yield srv


def test_without_a_ceiling_each_non_reader_pins_about_high_water(sockdir: str) -> None:
    # what the issue measured: about 1.1 MiB per connection that never reads
    with server(sockdir, None) as srv, contextlib.ExitStack() as stack:
        for _ in range(3):
            flood(stack.enter_context(srv.connect()))
        assert wait_until(lambda: srv.buffered >= 3 * srv.high_water, TIMEOUT)
        # the loop raises buffered, then peak_buffered: a statement apart
        assert wait_until(lambda: srv.peak_buffered >= 3 * srv.high_water, TIMEOUT)


def test_the_ceiling_bounds_what_all_non_readers_queue(sockdir: str) -> None:
    ceiling = 256 << 10
    with server(sockdir, ceiling) as srv, contextlib.ExitStack() as stack:
        for _ in range(6):
            flood(stack.enter_context(srv.connect()))
        assert srv.peak_buffered <= ceiling + READ
        assert srv.buffered <= ceiling + READ


def test_clients_that_keep_up_are_served_while_non_readers_hold_the_queues(
    sockdir: str,
) -> None:
    ceiling = 256 << 10
    with server(sockdir, ceiling) as srv, contextlib.ExitStack() as stack:
        for _ in range(3):
            flood(stack.enter_context(srv.connect()))
        payload = bytes(range(256)) * 1024  # 256 KiB, read while it is sent
        with srv.connect(timeout=TIMEOUT) as good:
            assert echo(good, payload) == payload
        assert srv.peak_buffered <= ceiling + READ


def test_non_readers_that_stall_the_queues_are_closed(sockdir: str) -> None:
    ceiling = MIN_MAX_BUFFER * 2
    with server(sockdir, ceiling) as srv, contextlib.ExitStack() as stack:
        hogs = [stack.enter_context(srv.connect()) for _ in range(3)]
        for hog in hogs:
            flood(hog)
        # past 7/8 of the ceiling, a queue untouched for STALL_EVICTION s is closed
        assert wait_until(lambda: srv.evicted >= 1, TIMEOUT + STALL_EVICTION)
        # the loop counts an eviction, logs it, then closes the connection
        assert wait_until(lambda: srv.client_count < 3, TIMEOUT)
        with srv.connect(timeout=TIMEOUT) as good:
            assert echo(good, b"still served") == b"still served"


def test_a_client_arriving_at_the_ceiling_waits_and_is_then_served(sockdir: str) -> None:
    ceiling = MIN_MAX_BUFFER
    with server(sockdir, ceiling) as srv:
        hog = srv.connect()
        flood(hog)
        assert wait_until(lambda: srv.buffered >= ceiling, TIMEOUT)
        # the server accepts nobody now; the kernel queues the connection
        with srv.connect(timeout=TIMEOUT) as late:
            hog.close()  # the queues drain (or the hog is evicted): room again
            assert echo(late, b"late but served") == b"late but served"
        assert wait_until(lambda: srv.client_count == 0, TIMEOUT)
        # a close drops the connection, then gives its queued bytes back
        assert wait_until(lambda: srv.buffered == 0, TIMEOUT)


def test_a_bad_ceiling_is_refused() -> None:
    with pytest.raises(ValueError, match="max_buffer"):
        EchoServer(UnixAddress("/tmp/never-bound.sock"), max_buffer=MIN_MAX_BUFFER - 1)


@pytest.mark.parametrize("value", ["10", "lots", "-5", str(1 << 41)])
def test_the_cli_refuses_a_bad_max_buffer(value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sqsocket", "serve", "echo", "--tcp", "--max-buffer", value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--max-buffer" in done.stderr and "Traceback" not in done.stderr


def test_the_stop_line_says_what_was_queued_at_most(sockdir: str) -> None:
    path = f"{sockdir}/stopline.sock"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqsocket",
            "serve",
            "echo",
            "--unix",
            path,
            "--max-buffer",
            "1048576",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("listening on unix:")
        with connect(path, timeout=TIMEOUT) as sock:
            assert echo(sock, b"x" * 1000) == b"x" * 1000
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "1 connection(s), peak" in err and "(ceiling 1048576), 0 closed at the ceiling" in err
    assert DEFAULT_MAX_BUFFER == 64 << 20


class _ClosingEcho(EchoServer):
    """Echoes, and closes a connection once it has sent 512 KiB (with echo still queued)."""

    def __init__(self, address: UnixAddress) -> None:
        super().__init__(address, max_buffer=None)
        self.seen: list[tuple[int, int, int]] = []  # (queued before, after, total after)

    def handle_data(self, conn: Connection, data: bytes) -> bytes:
        if conn.bytes_in < 512 << 10:
            return data
        before = len(conn.out)
        self.close_connection(conn, "enough")
        self.seen.append((before, len(conn.out), self.buffered))
        return b""


def test_a_closed_connection_gives_its_queue_back_at_once(sockdir: str) -> None:
    # the loop's ready list may still hold the closed Connection for a while: its
    # queued bytes must not live (uncounted) as long as it does
    with _ClosingEcho(UnixAddress(f"{sockdir}/closing.sock")) as srv, srv.connect() as hog:
        flood(hog)
        assert wait_until(lambda: bool(srv.seen), TIMEOUT)
    before, after, total = srv.seen[0]
    assert before > 0
    assert (after, total) == (0, 0)
