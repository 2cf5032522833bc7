"""What a test does when a prerequisite is missing: skip here, fail in CI.

``need(reason)``: a missing prerequisite (Debian's squeak-vm, the input image, a
Docker engine, a tool) skips the test on a developer's machine, naming what is
missing, and fails it loudly in CI (``CI=true``), where everything is installed on
purpose. tests/squeak_support.py and tests/docker_support.py build their checks on it.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """Whether this is a CI run (the CI runner sets CI=true)."""
    return os.environ.get("CI", "").lower() == "true"


def need(reason: str) -> NoReturn:
    """Skip (developer machine) or fail (CI) because ``reason`` is missing."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)
