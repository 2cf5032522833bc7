"""Fixtures shared across test files."""

from __future__ import annotations

from pathlib import Path

import pytest
from squeak_support import require_source_image, require_vm

from sqsocket.squeak.builder import build_image


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
