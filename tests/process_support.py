"""Commands run as subprocesses by the tests: run one to its end, or start a server.

:func:`run_ok` runs a command to its end and checks that it exited 0, showing what it
printed when it did not. :class:`ServerProcess` starts a Python server, reads its
ready line, and stops it with a signal; :func:`serve` starts ``sqsocket serve ...``.
Every wait here is bounded.
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

#: The longest a server may take to print its ready line.
START_TIMEOUT = 20.0
#: The longest a stopped server may take to exit.
STOP_TIMEOUT = 20.0


def run_ok(
    command: Sequence[str], *, timeout: float = 60.0, cwd: Path | str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end (output captured as text); assert that it exited 0."""
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


class ServerProcess:
    """``python ARGV...`` as a server: started, its ready line read, stopped by a signal.

    ``preexec`` runs in the child before the server starts (e.g. to lower a limit
    there and not in the test process).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        preexec: Callable[[], None] | None = None,
        timeout: float = START_TIMEOUT,
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,
        )
        self.ready = self._ready_line(timeout)

    def _ready_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                self.proc.kill()
                raise AssertionError(f"no ready line within {timeout}s: {self.finish()}")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"server exited before its ready line: {self.finish()}")
        return line.strip()

    def signal(self, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        """Send ``sig`` (unless the server has exited already), then :meth:`finish`."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.finish()

    def finish(self, timeout: float = STOP_TIMEOUT) -> tuple[int, str, str]:
        """Wait for the exit (killing it after ``timeout``): its status, stdout, stderr."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


def serve(*args: str, module: str = "sqsocket") -> ServerProcess:
    """``python -m sqsocket serve ARGS``, or ``python -m MODULE ARGS``, its ready line read."""
    command = ["serve", *args] if module == "sqsocket" else list(args)
    return ServerProcess(["-m", module, *command])
