"""A stop signal ends a server's loop even when it interrupts no wait.

A Python signal handler runs only when the main thread next executes bytecode. A
signal that lands just before the loop enters epoll_wait() -- the window a proxy once
hung in, ignoring a SIGTERM -- interrupts nothing, and a loop with no timer due would
sleep on. The same condition is made deterministic here: the main thread blocks
SIGTERM, so the kernel hands the signal to another thread, whose C-level handler trips
the flag while the main thread's wait goes on. Only the loop's wake-up file descriptor
(``signal.set_wakeup_fd``, see ``sqsocket.servers.process.signals_wake``) ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "pthread_sigmask"), reason="needs pthread_sigmask (POSIX)"
)

WAIT = 10.0

SERVER = textwrap.dedent(
    """
    import signal, sys, threading, time
    from sqsocket.servers import UnixEchoServer
    from sqsocket.servers.process import stop_on_signals

    # made before the mask below, so it does not block SIGTERM: the kernel delivers to it
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    server = UnixEchoServer(sys.argv[1])
    with stop_on_signals(server.request_stop):
        server.bind()
        print("ready", flush=True)
        server.serve_forever()
    print("stopped", flush=True)
    """
)


def test_a_signal_that_interrupts_no_wait_still_stops_the_loop(sockdir: str) -> None:
    path = os.path.join(sockdir, "echo.sock")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server's loop slept through a SIGTERM for {WAIT} s")
        assert proc.returncode == 0, err
        assert out.strip() == "stopped"
        assert not os.path.exists(path)  # the loop's own cleanup ran
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
