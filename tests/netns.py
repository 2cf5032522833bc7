"""Tests whose body runs in a loopback-only network namespace (``@pytest.mark.isolated_network``).

Some behaviour cannot be had without asking DNS: the old resolver's address lookup
on a 64-bit VM always does (docs/quirks.md, 23), and so does the real VM running the
conformance scenario that shows it. Such tests are marked ``isolated_network``; this
plugin (registered by ``conftest.py``) runs all of them in **one** child pytest under
``unshare -n`` (as root; ``unshare -rn``, a user namespace, otherwise), where only
``lo`` exists: whatever they look up fails at once with TRY_AGAIN, and nothing can
leave the machine. The parent runs each marked test's fixtures as usual, then reports
the child's outcome for it (passed, failed with the child's report, or skipped).

Where no namespace can be made (no ``unshare``, no privilege), the marked tests skip
saying so -- except under ``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from typing import Any

import pytest

MARKER = "isolated_network"
INSIDE = "SQSOCKET_TEST_NETNS"  # set to "1" in the child
REPORT = "SQSOCKET_TEST_NETNS_REPORT"  # where the child writes its outcomes
CHILD_TIMEOUT = 600.0

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def inside() -> bool:
    """True in the child, inside the namespace."""
    return os.environ.get(INSIDE) == "1"


def bring_loopback_up() -> None:
    """A new network namespace has ``lo`` down: bring it up (ip link set lo up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, ifreq))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(
                s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | _IFF_UP, b"")
            )


def unshare_command() -> tuple[list[str] | None, str]:
    """The command prefix that makes a network namespace here, or None and why not."""
    tool = shutil.which("unshare")
    if tool is None:
        return None, "unshare (util-linux) is not installed"
    errors = []
    for prefix in ([tool, "-n"], [tool, "-rn"]):
        try:
            proc = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.append(f"{' '.join(prefix)}: {exc}")
            continue
        if proc.returncode == 0:
            return prefix, ""
        errors.append(f"{' '.join(prefix)}: {proc.stderr.strip() or proc.returncode}")
    return None, "cannot make a network namespace (" + "; ".join(errors) + ")"


# -- the child ------------------------------------------------------------------------------


class _ChildReport:
    """Collects each test's outcome in the child and writes them for the parent."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.outcomes: dict[str, dict[str, str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.outcomes.setdefault(report.nodeid, {"outcome": "passed", "message": ""})
        if report.failed:
            entry.update(outcome="failed", message=f"[{report.when}] {report.longreprtext}")
        elif report.skipped and entry["outcome"] != "failed":
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report)
            entry.update(outcome="skipped", message=str(reason))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(self.outcomes, f)


# -- the parent ------------------------------------------------------------------------------


class _Batch:
    """Runs every marked test of the session in one child, on the first one's call."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.nodeids: list[str] = []
        self.outcomes: dict[str, dict[str, str]] | None = None
        self.problem = ""
        self.unavailable = False  # no namespace can be made here

    def run(self) -> None:
        prefix, why = unshare_command()
        if prefix is None:
            self.outcomes, self.problem, self.unavailable = {}, why, True
            return
        fd, path = tempfile.mkstemp(prefix="sqsocket-netns-", suffix=".json")
        os.close(fd)
        env = dict(os.environ, **{INSIDE: "1", REPORT: path})
        command = [*prefix, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        try:
            proc = subprocess.run(
                [*command, *self.nodeids],
                cwd=str(self.config.rootpath),
                env=env,
                capture_output=True,
                text=True,
                timeout=CHILD_TIMEOUT,
            )
            with open(path, encoding="utf-8") as f:
                text = f.read()
            self.outcomes = json.loads(text) if text else {}
            if not self.outcomes:
                self.problem = f"the child pytest reported nothing (exit {proc.returncode}):\n"
                self.problem += (proc.stdout + proc.stderr)[-4000:]
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            self.outcomes, self.problem = {}, f"the child pytest failed: {exc}"
        finally:
            os.unlink(path)

    def outcome(self, nodeid: str) -> dict[str, str] | None:
        if self.outcomes is None:
            self.run()
        assert self.outcomes is not None
        return self.outcomes.get(nodeid)


_batch: _Batch | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _batch
    config.addinivalue_line(
        "markers",
        f"{MARKER}: run the test body in a loopback-only network namespace (tests/netns.py)",
    )
    if inside():
        bring_loopback_up()
        path = os.environ.get(REPORT)
        if path:
            config.pluginmanager.register(_ChildReport(path), "sqsocket-netns-child")
    else:
        _batch = _Batch(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _batch is not None:
        _batch.nodeids = [item.nodeid for item in items if item.get_closest_marker(MARKER)]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    if _batch is None or pyfuncitem.get_closest_marker(MARKER) is None:
        return None
    result = _batch.outcome(pyfuncitem.nodeid)
    if result is None:
        message = _batch.problem or "the child pytest did not run this test"
        if _batch.unavailable:
            if os.environ.get("CI") == "true":
                pytest.fail(f"needs a loopback-only network namespace: {message}", pytrace=False)
            pytest.skip(f"needs a loopback-only network namespace: {message}")
        pytest.fail(message, pytrace=False)
    if result["outcome"] == "skipped":
        pytest.skip(f"(in the network namespace) {result['message']}")
    if result["outcome"] == "failed":
        pytest.fail(f"in the network namespace:\n{result['message']}", pytrace=False)
    return True
