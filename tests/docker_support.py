"""Shared helpers for the tests/test_docker_*.py files.

A missing prerequisite (Docker engine, base image, a tool) skips the test on a
developer's machine, naming what is missing, and fails it loudly in CI (``CI=true``),
where everything the Docker tests need is installed on purpose (:func:`ci_support.need`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ci_support import need

REPO = Path(__file__).resolve().parents[1]
DOCKER_DIR = REPO / "docker"
PHARO_DIR = REPO / "images" / "pharo"
DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))
ENTRYPOINTS = sorted(DOCKER_DIR.glob("*.sh"))
# The Pharo sources in the order load.st files them in, then the scripts.
PHARO_LOAD_ORDER = ("SQSocket-Pharo.st", "SQSocket-Pharo-Tests.st")
# SqConf.st: the conformance interpreter, filed in with a generated script (not by load.st).
PHARO_SCRIPTS = ("workspace.st", "uds_server.st", "load.st", "SqConf.st")


def tool(name: str) -> str:
    """The path of a command: next to this Python first (the venv's bin), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        need(f"{name} is not installed")
    return found
