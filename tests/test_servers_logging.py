"""Warnings a peer can provoke are rate-limited and counted; errors name the right scheme."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from plugin_support import wait_until

from sqsocket.servers import DatagramEchoServer
from sqsocket.servers.ratelog import RateLimitedLog


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_burst_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    log = RateLimitedLog(logging.getLogger("test.ratelog"), burst=3, interval=10, clock=clock)
    with caplog.at_level(logging.WARNING, "test.ratelog"):
        logged = [log.warning("bad", "bad thing %d", i) for i in range(100)]
        assert logged == [True] * 3 + [False] * 97
        assert [r.getMessage() for r in caplog.records] == [f"bad thing {i}" for i in range(3)]
        # Another kind has its own budget.
        assert log.warning("other", "other thing")
        clock.now += 10
        log.tick()
        assert caplog.records[-1].getMessage() == "suppressed 97 similar messages (bad) in 10s"
        # A new interval: a new burst.
        assert log.warning("bad", "bad again")
        for _ in range(5):
            log.warning("bad", "bad again")
        log.flush()
        assert caplog.records[-1].getMessage().startswith("suppressed 3 similar messages (bad)")
    assert log.counts["bad"] == 106 and log.suppressed["bad"] == 100
    assert len(caplog.records) == 3 + 1 + 1 + 3 + 1


def test_a_hundred_bad_datagrams_make_a_few_lines(
    sockdir: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue: 100 datagrams from unbound senders made 100 WARNING lines."""
    import socket

    path = os.path.join(sockdir, "d")
    with DatagramEchoServer(path) as srv, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
        for i in range(100):
            c.sendto(b"no return address %d" % i, path)
        # a stop requested while datagrams are still queued ends the loop without them
        wait_until(lambda: srv.unanswerable == 100)
        srv.stop()
    assert srv.unanswerable == 100
    warnings = [r for r in caplog.records if "unbound AF_UNIX sender" in r.getMessage()]
    assert len(warnings) == srv.warnings.burst
    assert any("suppressed 95 similar messages" in r.getMessage() for r in caplog.records)


def test_udp_listen_error_names_udp() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sqsocket", "serve", "dgram", "--udp", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "cannot listen on udp:0.0.0.0:0" in proc.stderr
    assert "tcp:" not in proc.stderr
