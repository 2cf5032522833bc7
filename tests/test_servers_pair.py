"""socketpair + fork: ping/pong and the netstring "taco cat" round trip."""

from __future__ import annotations

import os
import socket
import time

import pytest

from sqsocket.servers import ping_pong, taco_cat
from sqsocket.servers.pair import run_forked_pair


def _assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_ping_pong() -> None:
    before = len(os.listdir("/proc/self/fd"))
    result = ping_pong(timeout=5)
    assert result.ok, result
    assert (result.sent, result.received, result.child_exit) == (b"ping", b"pong", 0)
    assert result.transcript[0].endswith("sent b'ping'")
    assert result.transcript[1].endswith("received b'pong'")
    _assert_reaped(result.child_pid)
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("message", [b"taco cat", b"", b"racecar!" * 10000])
def test_taco_cat(message: bytes) -> None:
    before = len(os.listdir("/proc/self/fd"))
    result = taco_cat(message, timeout=5)
    assert result.ok, result
    assert result.received == message[::-1]
    if message == b"taco cat":
        assert result.received == b"tac ocat"
    _assert_reaped(result.child_pid)
    assert len(os.listdir("/proc/self/fd")) == before


def test_report_lines_come_from_both_processes(capfd: pytest.CaptureFixture[str]) -> None:
    result = taco_cat(report=lambda line: print(line, flush=True))
    out = capfd.readouterr().out
    assert f"parent {os.getpid()}: sent b'taco cat'" in out
    assert f"child {result.child_pid}: received b'taco cat'" in out
    assert f"child {result.child_pid}: sent b'tac ocat'" in out


def test_stalled_child_is_killed_and_reaped() -> None:
    """A child that never answers: the parent times out, and the child is still reaped."""

    def child(sock: socket.socket) -> int:
        time.sleep(60)
        return 0

    def parent(sock: socket.socket) -> bytes:
        return sock.recv(4)

    start = time.monotonic()
    with pytest.raises(TimeoutError):
        run_forked_pair(parent, child, timeout=0.5)
    # 0.5 s for the parent's recv, at most 0.5 s more before the SIGKILL.
    assert time.monotonic() - start < 5


def test_child_failure_is_reported() -> None:
    def child(sock: socket.socket) -> int:
        raise RuntimeError("child broke")

    def parent(sock: socket.socket) -> bytes:
        return sock.recv(4)

    received, pid, code = run_forked_pair(parent, child, timeout=5)
    assert received == b""  # the child closed its end without answering
    assert code != 0
    _assert_reaped(pid)
