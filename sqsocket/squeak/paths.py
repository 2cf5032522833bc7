"""Where the real-VM pieces live: the input image, the built image, the VM, the sources.

Every location has an environment override so CI, docker and developers can move
things without code changes:

* ``SQSOCKET_SHARED``: folder holding ``images/squeakjs.image`` (default
  ``<repo>/../shared``).
* ``SQSOCKET_IMAGE``: the built headless image (default ``<repo>/var/squeak/sqsocket.image``).
* ``SQSOCKET_SQUEAKVM``: the ``squeakvm`` binary (default: Debian's path, then ``PATH``).
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

# The Mini Squeak 2.2 image SqueakJS ships (see /work/shared/images/README.md).
SOURCE_IMAGE_URL = (
    "https://raw.githubusercontent.com/codefrau/SqueakJS/"
    "40b9d9c57d479a94dcda867c72fb811473afa486/demo/squeakjs.image"
)
SOURCE_IMAGE_SHA256 = "ec22448856129313ceac51968edabf25fe6819f33812bd8f2943a60bc292c9ea"
SOURCE_IMAGE_NAME = "squeakjs.image"

# Debian's squeak-vm package; call the interpreter directly (/usr/bin/squeak is a
# GUI wrapper script).
DEBIAN_VM = Path("/usr/lib/squeak/4.10.2.2614+20120917~dfsg/squeakvm")
DEBIAN_VM_GLOB = "/usr/lib/squeak/*/squeakvm"

INSTALL_VM_COMMAND = "apt-get install squeak-vm"
INSTALL_VM_HINT = f"install Debian's squeak-vm: {INSTALL_VM_COMMAND}"
BUILD_IMAGE_HINT = "build it with: sqsocket image build"


def repo_root() -> Path:
    """The checkout: two levels above this package (``sqsocket/squeak/``)."""
    return Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("SQSOCKET_SHARED", repo_root().parent / "shared"))


def default_source_image() -> Path:
    """The shared copy of the input image (may not exist on a fresh machine)."""
    return shared_dir() / "images" / SOURCE_IMAGE_NAME


def download_cache_path() -> Path:
    """Where a downloaded input image is kept (``var/`` is not committed)."""
    return repo_root() / "var" / "squeak" / "download" / SOURCE_IMAGE_NAME


def default_image() -> Path:
    """The built headless image the runner uses."""
    env = os.environ.get("SQSOCKET_IMAGE")
    return Path(env) if env else repo_root() / "var" / "squeak" / "sqsocket.image"


def smalltalk_dir() -> Path:
    """The Smalltalk sources (bootstrap, prelude, socket layer, scripts)."""
    return repo_root() / "images" / "squeak"


#: Set (to anything) to make every finder act as if squeak-vm were not installed; an
#: explicit ``--vm PATH`` still works.
HIDE_VM = "SQSOCKET_HIDE_SQUEAKVM"


def find_vm(explicit: Path | str | None = None) -> Path | None:
    """The squeakvm binary: ``explicit``, ``$SQSOCKET_SQUEAKVM``, Debian's path, any
    installed version, then ``squeakvm`` on ``PATH``; None when there is none."""
    candidates: list[Path] = []
    if explicit is not None:
        return Path(explicit) if Path(explicit).is_file() else None
    if os.environ.get(HIDE_VM):
        return None  # as if squeak-vm were not installed (CI's run without it)
    env = os.environ.get("SQSOCKET_SQUEAKVM")
    if env:
        candidates.append(Path(env))
    candidates.append(DEBIAN_VM)
    candidates += [Path(p) for p in sorted(glob.glob(DEBIAN_VM_GLOB), reverse=True)]
    on_path = shutil.which("squeakvm")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def locate_source_image_offline() -> Path | None:
    """The input image if it is on this machine (shared copy or earlier download)."""
    for candidate in (default_source_image(), download_cache_path()):
        if candidate.is_file():
            return candidate
    return None


def missing_requirements(vm: Path | str | None = None) -> list[str]:
    """What the real-VM tests and tools need but this machine lacks, as hints to fix it.

    Empty when squeak-vm and the input image are both here (the headless image is
    built from them on demand).
    """
    missing: list[str] = []
    if find_vm(vm) is None:
        missing.append(f"squeak-vm not installed: {INSTALL_VM_COMMAND}")
    if locate_source_image_offline() is None:
        missing.append(
            f"input image {SOURCE_IMAGE_NAME} not found at {default_source_image()} "
            f"(set SQSOCKET_SHARED, or run `sqsocket image build` online to download it)"
        )
    return missing
