"""``sqsocket bench load`` scaled down: good, aborting, never-reading and SIGKILLed
clients on the project's echo servers, with no failure and no descriptor left behind."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sqsocket.bench.load import runner, worker
from sqsocket.bench.load.mix import ClientKind
from sqsocket.bench.peers import ServerProcess, socket_dir, unix_path
from sqsocket.ui import Progress


def test_a_scaled_down_load_has_no_failure_and_no_descriptor_growth() -> None:
    settings = runner.LoadSettings(clients=50, duration=3.0, seed=7)
    outcomes = runner.run(settings, Progress(enabled=False))
    assert [o.server.split(":")[0] for o in outcomes] == ["unix", "tcp"]
    for outcome in outcomes:
        t = outcome.tally
        assert t.failures == 0, t.examples
        assert outcome.errors == []
        assert outcome.descriptor_growth is not None and outcome.descriptor_growth <= 0
        # every kind of client did its thing
        assert t.exchanges > 0 and t.bytes > 0
        assert t.aborts > 0
        assert t.never_read_bytes > 0
        assert outcome.victims_killed > 0
        assert outcome.clients == 50 and outcome.descriptors_peak > outcome.descriptors_before
        # the server's own count, from its stop line, against its ceiling
        assert outcome.peak_queued is not None and outcome.queue_within_ceiling
        assert outcome.within_memory_bound
        assert outcome.ok


#: A server that answers every byte with that byte XOR 1: almost an echo, never the echo.
_WRONG_ECHO = """
import socket, sys, threading
path = sys.argv[1]
listener = socket.socket(socket.AF_UNIX)
listener.bind(path)
listener.listen(16)
print("listening on unix:" + path, flush=True)
def serve(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(bytes(b ^ 1 for b in data))
while True:
    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
"""


def test_a_wrong_echo_is_a_failure() -> None:
    with socket_dir() as directory:
        path = unix_path(directory, "wrong")
        with ServerProcess([sys.executable, "-c", _WRONG_ECHO, path], "wrong echo") as server:
            tally = worker.run(
                {
                    "address": server.spec,
                    "clients": {ClientKind.GOOD.value: 3},
                    "duration": 0.5,
                    "max_size": 4096,
                    "seed": 3,
                }
            )
    assert tally.failures > 0 and tally.exchanges == 0
    assert tally.examples and "wrong echo at byte 0" in tally.examples[0]


def test_the_command_prints_json_and_exits_0() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqsocket",
            "bench",
            "load",
            "--clients",
            "20",
            "--duration",
            "1",
            "--only",
            "tcp",
            "--json",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is True and len(data["servers"]) == 1
    server = data["servers"][0]
    assert server["server"].startswith("tcp:127.0.0.1:")
    assert server["tally"]["failures"] == 0 and server["descriptor_growth"] <= 0
    assert server["mix"] == {"good": 14, "abort": 2, "never-read": 2, "victim": 2}


@pytest.mark.parametrize(
    "args",
    [
        ["--clients", "5"],
        ["--clients", "many"],
        ["--duration", "0"],
        ["--duration", "inf"],
        ["--max-size", "0"],
        ["--max-buffer", "100"],
        ["--only", "udp"],
        ["--seed", "x"],
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sqsocket", "bench", "load", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "error:" in done.stderr and "Traceback" not in done.stderr
