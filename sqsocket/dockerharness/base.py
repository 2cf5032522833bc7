"""A Debian base image made on this machine, for engines that cannot pull one.

No container registry is reachable here, so ``FROM debian:bookworm-slim`` cannot
be satisfied by a pull. Debian's own mirror is reachable, so the base image is
made the way Debian's official images are: ``debootstrap --variant=minbase``
into a directory, then the directory tarred into ``docker import``. The result
is tagged :data:`BASE_IMAGE` and the Dockerfiles take it through ``--build-arg
BASE=...`` (``sqsocket docker build --base``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqsocket.dockerharness.engine import image_exists
from sqsocket.dockerharness.errors import BuildFailed

BASE_IMAGE = "sqsocket/base:bookworm"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
# debootstrap takes ~50 s on a good day; a slow mirror gets ten times that.
DEBOOTSTRAP_TIMEOUT = 900.0
IMPORT_TIMEOUT = 600.0
LOG_TAIL_LINES = 40

# Applied to the imported image: an imported tarball has no config at all.
IMAGE_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
    "LABEL org.opencontainers.image.title=sqsocket-base",
    f"LABEL org.opencontainers.image.description=debootstrap-minbase-{SUITE}",
]


@dataclass(frozen=True)
class BaseResult:
    """What :func:`ensure_base` did: the image name, whether it built it, and how long."""

    image: str
    built: bool
    seconds: float


def ensure_base(
    client: Any,
    *,
    image: str = BASE_IMAGE,
    rebuild: bool = False,
    mirror: str | None = None,
    timeout: float = DEBOOTSTRAP_TIMEOUT,
    log: Any = None,
) -> BaseResult:
    """Answer the base image, making it with debootstrap when the engine lacks it.

    ``log`` is an optional callable taking one line of progress text.
    """
    started = time.monotonic()
    if not rebuild and image_exists(client, image):
        return BaseResult(image, False, time.monotonic() - started)
    _check_can_debootstrap()
    mirror = mirror or os.environ.get("SQSOCKET_DEBIAN_MIRROR") or DEFAULT_MIRROR
    # /var/tmp, not /tmp: the tree is ~200 MB and /tmp may be a small tmpfs.
    root = Path(tempfile.mkdtemp(prefix="sqsocket-base-", dir="/var/tmp"))
    try:
        _say(log, f"debootstrap --variant=minbase {SUITE} {root} {mirror}")
        _debootstrap(root, mirror, timeout)
        _tidy_rootfs(root)
        _say(log, f"importing {root} as {image}")
        _import(client, root, image)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return BaseResult(image, True, time.monotonic() - started)


def _check_can_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise BuildFailed(
            BASE_IMAGE,
            "debootstrap is not installed (apt-get install -y debootstrap)",
            "",
        )
    if os.geteuid() != 0:
        # debootstrap creates device nodes and chroots: it needs root.
        raise BuildFailed(
            BASE_IMAGE, "debootstrap needs root: run `sqsocket docker base` as root", ""
        )
    if shutil.which("tar") is None:
        raise BuildFailed(BASE_IMAGE, "tar is not installed", "")


def _debootstrap(root: Path, mirror: str, timeout: float) -> None:
    command = [
        "debootstrap",
        "--variant=minbase",
        "--components=main",
        SUITE,
        str(root),
        mirror,
    ]
    try:
        proc = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else ""
        raise BuildFailed(
            BASE_IMAGE, f"debootstrap ran past {timeout:.0f} s", _tail(output)
        ) from None
    if proc.returncode != 0:
        # debootstrap's own log has the failing step; its stdout only says "see log".
        detail = proc.stdout
        own_log = root / "debootstrap" / "debootstrap.log"
        if own_log.exists():
            detail += "\n" + own_log.read_text(errors="replace")
        raise BuildFailed(BASE_IMAGE, f"debootstrap exited with {proc.returncode}", _tail(detail))


def _tidy_rootfs(root: Path) -> None:
    """Make the tree what an official slim image is: apt sources, no caches, no host files."""
    (root / "etc/apt/sources.list").write_text(
        f"deb {DEFAULT_MIRROR} {SUITE} main\n"
        f"deb {DEFAULT_MIRROR} {SUITE}-updates main\n"
        f"deb {SECURITY_MIRROR} {SUITE}-security main\n"
    )
    conf = root / "etc/apt/apt.conf.d"
    conf.mkdir(parents=True, exist_ok=True)
    # Same intent as the official images' docker-clean: no .deb files kept in layers.
    (conf / "docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
    )
    (conf / "docker-no-languages").write_text('Acquire::Languages "none";\n')
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*"):
        for path in root.glob(pattern):
            if path.is_file():
                path.unlink()
    # The host's resolver and name would leak into every image; Docker mounts its own.
    for name in ("etc/resolv.conf", "etc/hostname"):
        target = root / name
        if target.exists() or target.is_symlink():
            target.unlink()
            target.write_text("")
    shutil.rmtree(root / "debootstrap", ignore_errors=True)


def _import(client: Any, root: Path, image: str) -> None:
    repository, _, tag = image.partition(":")
    # --numeric-owner: ids must stay as in the tree, not be mapped through the host's names.
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-c", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tar.stdout is not None
    try:
        client.api.import_image(
            src=tar.stdout,
            repository=repository,
            tag=tag or "latest",
            changes=IMAGE_CHANGES,
            stream_src=True,
        )
    except Exception as exc:
        tar.kill()
        tar.wait(timeout=30)
        raise BuildFailed(image, f"docker import failed: {exc}", "") from None
    finally:
        tar.stdout.close()
    try:
        status = tar.wait(timeout=IMPORT_TIMEOUT)
    except subprocess.TimeoutExpired:
        tar.kill()
        raise BuildFailed(image, "tar did not finish", "") from None
    errors = tar.stderr.read().decode(errors="replace") if tar.stderr else ""
    if status != 0:
        raise BuildFailed(image, f"tar exited with {status}", _tail(errors))


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _say(log: Any, line: str) -> None:
    if log is not None:
        log(line)
