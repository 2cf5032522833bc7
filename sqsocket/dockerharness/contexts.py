"""Build contexts: the exact files each image is built from, and a hash of them.

A context is assembled here in memory (a small tarball) instead of sending the
work tree, so a build never ships ``.venv/`` or stray socket files, and so the
image tag can be a hash of precisely what went in: the same files and build
arguments give the same tag, and :mod:`.build` reuses the image.

Layouts (paths inside the context):

* squeak: ``Dockerfile``, ``docker/squeak-entrypoint.sh``, ``image/`` (the
  project-built headless image and its companions), ``images/squeak/`` (scripts).
* server: ``Dockerfile``, ``pyproject.toml``, ``README.md``, ``sqsocket/``: the
  repository's own layout, so ``compose.yaml`` can build it from the repo root too.
* pharo: ``Dockerfile``, ``docker/pharo-entrypoint.sh``, ``images/pharo/``.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The repository root: this file is sqsocket/dockerharness/contexts.py.
REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "docker"
# Bumped when the context layout changes in a way the files alone do not show.
LAYOUT_VERSION = "1"


@dataclass
class BuildContext:
    """Files (context path -> bytes and mode) plus build arguments, for one image."""

    name: str
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    buildargs: dict[str, str] = field(default_factory=dict)

    def add_bytes(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Put ``data`` at ``path`` in the context."""
        self.files[path] = (data, mode)

    def add_file(self, path: str, source: Path, mode: int | None = None) -> None:
        """Put the file ``source`` at ``path``; executables keep their x bit."""
        if mode is None:
            mode = 0o755 if source.stat().st_mode & 0o111 else 0o644
        self.add_bytes(path, source.read_bytes(), mode)

    def add_tree(self, prefix: str, root: Path, suffixes: Iterable[str] | None = None) -> None:
        """Add every file under ``root`` (no caches), at ``prefix/<relative path>``."""
        wanted = tuple(suffixes) if suffixes is not None else None
        for source in sorted(root.rglob("*")):
            if not source.is_file() or "__pycache__" in source.parts:
                continue
            if wanted is not None and not source.name.endswith(wanted):
                continue
            relative = source.relative_to(root).as_posix()
            self.add_file(f"{prefix}/{relative}", source)

    def digest(self, extra: Mapping[str, str] | None = None) -> str:
        """A hex SHA-256 over layout version, files (path, mode, bytes) and build args."""
        h = hashlib.sha256()
        h.update(f"layout {LAYOUT_VERSION}\n".encode())
        for path in sorted(self.files):
            data, mode = self.files[path]
            h.update(f"file {path} {mode:o} {len(data)}\n".encode())
            h.update(data)
        for key, value in sorted({**self.buildargs, **(extra or {})}.items()):
            h.update(f"arg {key}={value}\n".encode())
        return h.hexdigest()

    def tarball(self) -> io.BytesIO:
        """The context as an uncompressed tar, with fixed owners and times (reproducible)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in sorted(self.files):
                data, mode = self.files[path]
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mode = mode
                info.mtime = 0
                info.uid = info.gid = 0
                tar.addfile(info, io.BytesIO(data))
        buffer.seek(0)
        return buffer


def squeak_context(image_file: Path, scripts_dir: Path | None = None) -> BuildContext:
    """The squeak context: Dockerfile, entrypoint, the built image, the .st scripts.

    ``image_file`` is the project-built ``.image``; a ``.changes`` and a
    ``.sources`` beside it with the same stem go along, since the VM opens them.
    """
    scripts_dir = scripts_dir or REPO_ROOT / "images" / "squeak"
    context = BuildContext("squeak")
    context.add_file("Dockerfile", DOCKER_DIR / "squeak.Dockerfile")
    context.add_file("docker/squeak-entrypoint.sh", DOCKER_DIR / "squeak-entrypoint.sh", mode=0o755)
    context.add_file(f"image/{image_file.name}", image_file)
    for companion in sorted(image_file.parent.glob(f"{image_file.stem}.*")):
        if companion != image_file and companion.suffix in {".changes", ".sources"}:
            context.add_file(f"image/{companion.name}", companion)
    context.add_tree("images/squeak", scripts_dir, suffixes=(".st",))
    return context


def server_context() -> BuildContext:
    """The Python server context: the sqsocket package as ``pip install`` needs it."""
    context = BuildContext("server")
    context.add_file("Dockerfile", DOCKER_DIR / "server.Dockerfile")
    context.add_file("pyproject.toml", REPO_ROOT / "pyproject.toml")
    readme = REPO_ROOT / "README.md"
    if readme.exists():
        context.add_file("README.md", readme)
    else:
        # pyproject names README.md as the readme; setuptools refuses a missing one.
        context.add_bytes("README.md", b"sqsocket\n")
    # the modules, the typing marker, and the data some of them read (reference/facts.toml)
    context.add_tree("sqsocket", REPO_ROOT / "sqsocket", suffixes=(".py", ".typed", ".toml"))
    return context


def pharo_context() -> BuildContext:
    """The Pharo context: Dockerfile, entrypoint and the Pharo sources to load."""
    context = BuildContext("pharo")
    context.add_file("Dockerfile", DOCKER_DIR / "pharo.Dockerfile")
    context.add_file("docker/pharo-entrypoint.sh", DOCKER_DIR / "pharo-entrypoint.sh", mode=0o755)
    context.add_tree("images/pharo", REPO_ROOT / "images" / "pharo", suffixes=(".st",))
    return context
