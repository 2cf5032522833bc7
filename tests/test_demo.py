"""``sqsocket demo``: no arguments, a few seconds, exit 0, nothing left behind."""

from __future__ import annotations

import io
import re
import sys
import time
from pathlib import Path

import pytest
from process_support import run_ok

from sqsocket.commands.demo import run_demo

pytestmark = pytest.mark.timeout(90)


def test_demo_command_exits_zero() -> None:
    started = time.monotonic()
    result = run_ok([sys.executable, "-m", "sqsocket", "demo"])
    elapsed = time.monotonic() - started
    out = result.stdout
    assert "7. Transcript: Hello, from Smalltalk!" in out
    assert "the image echoed 'client 3: hello from Python'" in out
    assert "socket file removed" in out
    assert "demo passed" in out
    assert elapsed < 30
    # the temporary directory is gone
    match = re.search(r"on (/tmp/sqsocket-demo-[^/]+)/", out)
    assert match is not None
    assert not Path(match.group(1)).exists()


def test_run_demo_in_process() -> None:
    out = io.StringIO()
    run_demo(out, clients=5)
    text = out.getvalue()
    assert text.count("the image echoed") == 5
    assert "served 5 clients" in text
