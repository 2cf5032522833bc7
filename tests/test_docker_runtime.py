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
from docker_support import need

from sqsocket.dockerharness import interop
from sqsocket.dockerharness.base import BASE_IMAGE
from sqsocket.dockerharness.contexts import server_context, squeak_context
from sqsocket.dockerharness.errors import DockerHarnessError

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
        from sqsocket.squeak.builder import ensure_image
    except ImportError as exc:
        need(f"the Squeak image builder is not available: {exc}")
    return _built(runner, "sqsocket/squeak", lambda: squeak_context(ensure_image()))


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


def test_images_are_reused_when_nothing_changed(
    runner: interop.PairRunner, client: Any, server: str
) -> None:
    from sqsocket.dockerharness.build import build_image

    built = build_image(client, server_context(), base=BASE_IMAGE)
    assert built.tag == server
    assert not built.built


def test_no_container_is_left_behind(client: Any, runner: interop.PairRunner) -> None:
    from sqsocket.dockerharness.containers import HARNESS_LABEL

    # Runs last in this module: every pair above removed its containers.
    left = client.containers.list(all=True, filters={"label": HARNESS_LABEL})
    mine = [c for c in left if c.name.startswith("sqsocket-")]
    assert not mine, [c.name for c in mine]
