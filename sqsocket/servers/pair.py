"""socketpair + fork: a parent and its child talking over an anonymous Unix socket.

Two exchanges from the seeds:

* :func:`ping_pong` (PyMOTW) -- the parent sends ``b"ping"``, the child
  answers ``b"pong"``.
* :func:`taco_cat` (the Ruby example) -- the parent sends one
  :mod:`~sqsocket.servers.netstring` frame, the child answers with the payload
  reversed: ``b"taco cat"`` comes back as ``b"tac ocat"``.

Each end closes the half it does not use right after the fork (otherwise
neither side would ever see end-of-stream), both sides have socket timeouts,
and the parent always reaps the child -- killing it if it has not exited by
the deadline -- so no zombie and no stray process outlives the call. The child
leaves with ``os._exit``: it must not run the parent's ``atexit`` handlers or
flush buffers it inherited (a forked pytest would otherwise finish the test
session twice).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqsocket.servers.netstring import read_frame, write_frame

__all__ = ["PairExchange", "ping_pong", "run_forked_pair", "taco_cat"]

#: Called with one line per step, in whichever process takes the step.
Reporter = Callable[[str], None]

# Child exit codes: 0 = answered as expected.
_CHILD_UNEXPECTED = 3  # got something other than the expected message
_CHILD_ERROR = 4  # an exception (timeout, reset) in the child


@dataclass
class PairExchange:
    """What one socketpair round trip did."""

    sent: bytes
    received: bytes
    expected: bytes
    child_pid: int
    #: The child's exit code (negative: killed by that signal, as ``subprocess`` reports it).
    child_exit: int
    elapsed: float
    transcript: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The answer was the expected one and the child exited cleanly."""
        return self.received == self.expected and self.child_exit == 0


def _reap(pid: int, timeout: float) -> int:
    """Wait for ``pid`` up to ``timeout`` seconds, then SIGKILL it; return its exit code."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run_forked_pair(
    parent: Callable[[socket.socket], bytes],
    child: Callable[[socket.socket], int],
    *,
    timeout: float = 5.0,
) -> tuple[bytes, int, int]:
    """Fork with a socketpair between the processes; return (parent's result, pid, child exit).

    ``child`` runs in the child with its end (timeout already set) and returns
    the exit code; ``parent`` runs here with the other end. Any exception in
    ``parent`` propagates after the child has been reaped.
    """
    parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    # Unflushed output would be written twice, once by each process.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except BaseException:
        parent_end.close()
        child_end.close()
        raise
    if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
        code = _CHILD_ERROR
        try:
            parent_end.close()
            child_end.settimeout(timeout)
            code = child(child_end)
            child_end.close()
        except BaseException as exc:
            try:
                print(f"child {os.getpid()}: {type(exc).__name__}: {exc}", file=sys.stderr)
                sys.stderr.flush()
            finally:
                os._exit(_CHILD_ERROR)
        os._exit(code)
    child_end.close()
    try:
        parent_end.settimeout(timeout)
        result = parent(parent_end)
    finally:
        parent_end.close()
        # Closing our end unblocks a child still waiting to read; then give it the
        # rest of the time to exit.
        exit_code = _reap(pid, timeout)
    return result, pid, exit_code


def _recv_until_eof_or(sock: socket.socket, want: int) -> bytes:
    """Up to ``want`` bytes, however the stream splits them; fewer only at EOF."""
    buf = bytearray()
    while len(buf) < want:
        chunk = sock.recv(want - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def ping_pong(*, timeout: float = 5.0, report: Reporter | None = None) -> PairExchange:
    """The parent sends ``b"ping"``; the forked child answers ``b"pong"``."""
    say = report or (lambda line: None)
    transcript: list[str] = []

    def child(sock: socket.socket) -> int:
        message = _recv_until_eof_or(sock, 4)
        say(f"child {os.getpid()}: received {message!r}")
        if message != b"ping":
            return _CHILD_UNEXPECTED
        sock.sendall(b"pong")
        say(f"child {os.getpid()}: sent b'pong'")
        return 0

    def parent(sock: socket.socket) -> bytes:
        line = f"parent {os.getpid()}: sent b'ping'"
        sock.sendall(b"ping")
        transcript.append(line)
        say(line)
        answer = _recv_until_eof_or(sock, 4)
        line = f"parent {os.getpid()}: received {answer!r}"
        transcript.append(line)
        say(line)
        return answer

    start = time.monotonic()
    received, pid, code = run_forked_pair(parent, child, timeout=timeout)
    return PairExchange(
        sent=b"ping",
        received=received,
        expected=b"pong",
        child_pid=pid,
        child_exit=code,
        elapsed=time.monotonic() - start,
        transcript=transcript,
    )


def taco_cat(
    message: bytes = b"taco cat", *, timeout: float = 5.0, report: Reporter | None = None
) -> PairExchange:
    """Netstring over a socketpair: the child answers the frame with the payload reversed."""
    say = report or (lambda line: None)
    transcript: list[str] = []

    def child(sock: socket.socket) -> int:
        payload = read_frame(sock)
        say(f"child {os.getpid()}: received {payload!r}")
        if payload is None:
            return _CHILD_UNEXPECTED
        write_frame(sock, payload[::-1])
        say(f"child {os.getpid()}: sent {payload[::-1]!r}")
        return 0

    def parent(sock: socket.socket) -> bytes:
        write_frame(sock, message)
        line = f"parent {os.getpid()}: sent {message!r}"
        transcript.append(line)
        say(line)
        answer = read_frame(sock)
        line = f"parent {os.getpid()}: received {answer!r}"
        transcript.append(line)
        say(line)
        return answer if answer is not None else b""

    start = time.monotonic()
    received, pid, code = run_forked_pair(parent, child, timeout=timeout)
    return PairExchange(
        sent=message,
        received=received,
        expected=message[::-1],
        child_pid=pid,
        child_exit=code,
        elapsed=time.monotonic() - start,
        transcript=transcript,
    )
