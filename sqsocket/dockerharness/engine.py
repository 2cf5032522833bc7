"""Reaching the Docker engine through the Docker SDK for Python.

The SDK is an optional extra (``sqsocket[docker]``), so it is imported here,
lazily, and nowhere at module level: the rest of sqsocket must import without it.
"""

from __future__ import annotations

import os
import shutil
from types import ModuleType
from typing import Any

from sqsocket.dockerharness.errors import DockerSDKMissing, NoEngine

# Seconds for one API call (not for builds or container runs, which pass their own).
API_TIMEOUT = 30.0


def docker_sdk() -> ModuleType:
    """Import and return the ``docker`` package, or raise :class:`DockerSDKMissing`."""
    try:
        import docker
    except ModuleNotFoundError as exc:
        if exc.name != "docker":
            raise
        raise DockerSDKMissing() from None
    return docker


#: Set (to anything) to make the harness act as if no Docker engine ran.
HIDE_DOCKER = "SQSOCKET_HIDE_DOCKER"


def connect(timeout: float = API_TIMEOUT) -> Any:
    """Answer a ``docker.DockerClient`` for an engine that answered a ping.

    Raises :class:`NoEngine` with the install/start hint when nothing answers:
    ``docker.from_env`` alone succeeds lazily on some SDK versions and fails on
    others, so the ping makes the failure uniform and early.
    """
    docker = docker_sdk()
    if os.environ.get(HIDE_DOCKER):
        # as if no engine ran here: how CI proves the suite passes without one
        raise NoEngine(f"{HIDE_DOCKER} is set: the Docker engine is hidden")
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except docker.errors.DockerException as exc:
        raise NoEngine(_first_line(str(exc))) from None
    return client


def engine_problem() -> str | None:
    """Answer why no engine is usable (a sentence), or None when one answers."""
    try:
        client = connect(timeout=5)
    except (DockerSDKMissing, NoEngine) as exc:
        return str(exc)
    client.close()
    return None


def image_exists(client: Any, name: str) -> bool:
    """Whether the engine holds an image called ``name`` (a tag or an id)."""
    docker = docker_sdk()
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def has_cli() -> bool:
    """Whether a ``docker`` command-line client is on PATH (only compose checks use it)."""
    return shutil.which("docker") is not None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
