"""Fixtures shared across test files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import netguard
import netns
import pytest
from hypothesis import HealthCheck, Phase, settings
from plugin_support import Harness, fd_leak_guard, short_tmpdir
from squeak_support import require_source_image, require_vm

from sqsocket.image import Image, NetNameResolver
from sqsocket.platform.profiles import DEFAULT_PROFILE
from sqsocket.squeak.builder import build_image

# Hypothesis budgets for the fuzz and stateful suites (tests/test_fuzz_primitives.py,
# tests/test_stateful_plugin.py). "ci", the default, is what `make test` runs:
# derandomized (the same examples every run, no example database), sized so the two
# suites make well over 10,000 primitive calls in some 30 s, and without the shrink
# phase (every example builds sockets: shrinking one failure can take minutes; the
# report still shows the failing example and its blob). "long" is for a deliberate
# hunt, random and shrinking: `pytest tests/test_fuzz_primitives.py --hypothesis-profile=long`.
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci",
    max_examples=200,
    stateful_step_count=30,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=_HEALTH,
)
settings.register_profile(
    "long",
    parent=settings.get_profile("ci"),
    max_examples=5000,
    stateful_step_count=60,
    derandomize=False,
    phases=tuple(Phase),  # every phase, shrinking included
)
settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    # the session's network guard (issue 10, #9) and the network-namespace runner
    config.pluginmanager.register(netguard, "sqsocket-netguard")
    config.pluginmanager.register(netns, "sqsocket-netns")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many primitive calls the fuzz and stateful suites made (if they ran)."""
    from fuzz_support import CALLS

    if CALLS.by_suite:
        counts = ", ".join(f"{suite} {n}" for suite, n in sorted(CALLS.by_suite.items()))
        fuzzed = sum(n for suite, n in CALLS.by_suite.items() if "set-up" not in suite)
        terminalreporter.write_line(f"primitive calls: {fuzzed} fuzzed and stateful ({counts})")


@pytest.fixture
def image() -> Iterator[Image]:
    """A private image-layer Image whose network is initialised (``Socket initializeNetwork``).

    Modules that test what runs before that override it with a bare ``Image()``.
    """
    with Image() as img:
        NetNameResolver.initialize_network(image=img)
        yield img


@pytest.fixture(scope="session")
def squeak_source_image() -> Path:
    """The input squeakjs.image (skips, or fails in CI, when it is not on this machine)."""
    return require_source_image()


@pytest.fixture(scope="session")
def squeak_vm() -> Path:
    """Debian's squeakvm (skips, or fails in CI, when it is not installed)."""
    return require_vm()


@pytest.fixture(scope="session")
def squeak_image(squeak_source_image: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The headless image, built once per test session into a temporary directory."""
    dest = tmp_path_factory.mktemp("squeak") / "sqsocket.image"
    build_image(squeak_source_image, dest)
    return dest


@pytest.fixture
def sockdir() -> Iterator[str]:
    """A private directory with a short path (pytest's tmp_path can exceed sun_path's 107
    bytes). Always /tmp/sqt-XXXXXXXX, 17 bytes, so tests can choose socket names whose
    paths the squeak-4.10 resolver finds (no multiple of 4: docs/quirks.md, 1)."""
    with short_tmpdir("sqt-") as path:
        yield path


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """An emulated plugin with its network started (tests/plugin_support.py).

    The profile is the default (squeak-4.10) unless the test is marked
    ``@pytest.mark.profile(NAME)``, or is parametrized over a primitive ``name`` that
    the default VM does not export (primitiveSocketCreateRAW): that one runs under
    ``opensmalltalk``, whose plugin has it.
    """
    marker = request.node.get_closest_marker("profile")
    profile = marker.args[0] if marker else DEFAULT_PROFILE.name
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("name") in DEFAULT_PROFILE.missing_primitives:
        profile = "opensmalltalk"
    with Harness.started(profile) as h:
        yield h


@pytest.fixture(scope="module")
def no_leaked_fds() -> Iterator[None]:
    """Fail the module if it leaves descriptors open (use with pytest.mark.usefixtures)."""
    yield from fd_leak_guard()
