"""Real Smalltalk VMs in Docker containers against the Python peers.

Needs a running Docker engine and the debootstrap base image (``sqsocket docker
base``); without them these tests skip, naming what is missing, or fail in CI
(``CI=true``). Images are built on first use and reused while their build
context is unchanged. Each test prints its timings (``pytest -s`` shows them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from ci_support import need

from sqsocket.dockerharness import interop
from sqsocket.dockerharness.base import BASE_IMAGE
from sqsocket.dockerharness.contexts import server_context, squeak_context
from sqsocket.dockerharness.errors import DockerHarnessError, NoImage

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

CONTAINER_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    try:
        from sqsocket.dockerharness.engine import connect

        engine = connect(timeout=10)
    except DockerHarnessError as exc:
        need(str(exc))
    from sqsocket.dockerharness.engine import image_exists

    if not image_exists(engine, BASE_IMAGE):
        engine.close()
        need(f"base image {BASE_IMAGE} is missing: make it with `sqsocket docker base`")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def runner(client: Any) -> interop.PairRunner:
    return interop.PairRunner(client, interop.DockerReport(), CONTAINER_TIMEOUT, log=print)


def _built(runner: interop.PairRunner, repository: str, make: Any) -> str:
    started = time.monotonic()
    tag = runner.build(repository, make, BASE_IMAGE)
    step = runner.report.steps[-1]
    print(f"\n{step.name}: {step.detail} ({time.monotonic() - started:.1f} s)")
    if tag is None:
        errors = "\n".join(runner.report.errors[-1:])
        pytest.fail(f"could not build {repository}:\n{errors}", pytrace=False)
    return tag


@pytest.fixture(scope="module")
def squeak(runner: interop.PairRunner) -> str:
    try:
        image = interop.squeak_image_path(None)  # the project's builder makes or reuses it
    except NoImage as exc:
        need(str(exc))
    return _built(runner, "sqsocket/squeak", lambda: squeak_context(image))


@pytest.fixture(scope="module")
def server(runner: interop.PairRunner) -> str:
    return _built(runner, "sqsocket/server", server_context)


def _check(runner: interop.PairRunner, row: interop.DockerRow) -> None:
    print(f"{row.pair}: {'ok' if row.ok else 'FAIL'} in {row.seconds:.1f} s -- {row.detail}")
    if not row.ok:
        mine = [error for error in runner.report.errors if error.startswith(row.pair)]
        pytest.fail(f"{row.pair}: {row.detail}\n" + "\n".join(mine), pytrace=False)


def test_squeak_workspace_example_against_host_python_server(
    runner: interop.PairRunner, squeak: str
) -> None:
    row = runner.squeak_to_host(squeak)
    _check(runner, row)
    assert interop.GREETING in row.detail


def test_host_python_client_against_squeak_uds_server(
    runner: interop.PairRunner, squeak: str
) -> None:
    _check(runner, runner.host_to_squeak(squeak))


def test_host_python_client_against_python_server_container(
    runner: interop.PairRunner, server: str
) -> None:
    _check(runner, runner.host_to_server(server))


def test_squeak_container_against_python_server_container(
    runner: interop.PairRunner, squeak: str, server: str
) -> None:
    _check(runner, runner.squeak_to_server(squeak, server))


def test_images_are_reused_when_nothing_changed(runner: interop.PairRunner, client: Any) -> None:
    from sqsocket.dockerharness.build import build_image

    # Build twice in a row (the first may build: the sources change while developers
    # work); the second must find the first's image by its context hash.
    first = build_image(client, server_context(), base=BASE_IMAGE)
    second = build_image(client, server_context(), base=BASE_IMAGE)
    assert second.tag == first.tag
    assert not second.built
    print(f"reused {second.tag} in {second.seconds:.2f} s")


def test_compose_runs_server_and_squeak_through_the_socket_volume(squeak: str, server: str) -> None:
    """docker/compose.yaml, as a user runs it: the Squeak client prints the echo."""
    import os
    import shutil
    import subprocess

    from docker_support import DOCKER_DIR

    if shutil.which("docker-compose"):
        compose = ["docker-compose"]
    elif subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        compose = ["docker", "compose"]
    else:
        need("neither `docker compose` nor `docker-compose` is installed")
    project = f"sqsocket-test-{os.getpid()}"
    base = [*compose, "-p", project, "-f", str(DOCKER_DIR / "compose.yaml")]
    env = {**os.environ, "SQSOCKET_BASE": BASE_IMAGE}
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [*base, "up", "--no-build", "--abort-on-container-exit", "--exit-code-from", "squeak"],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            check=False,
        )
    finally:
        subprocess.run(
            [*base, "down", "-v", "--timeout", "5"],
            capture_output=True,
            timeout=120,
            env=env,
            check=False,
        )
    print(f"compose up -> exit {proc.returncode} in {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert interop.GREETING in proc.stdout


def test_no_container_is_left_behind(client: Any, runner: interop.PairRunner) -> None:
    from sqsocket.dockerharness.containers import HARNESS_LABEL

    # Runs last in this module: every pair above removed its containers.
    left = client.containers.list(all=True, filters={"label": HARNESS_LABEL})
    mine = [c for c in left if c.name.startswith("sqsocket-")]
    assert not mine, [c.name for c in mine]
