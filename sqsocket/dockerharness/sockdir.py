"""The host directory that holds the Unix sockets, bind-mounted at ``/sockets``.

A Unix socket's file permissions decide who may connect: connecting needs write
permission on the socket file and search permission on every directory above it.
So the directory is made for the uid the container will run as:

* as root on the host: the directory is chowned to the image's own non-root user
  (``USER 10001`` in the Dockerfiles) and the container runs as that user;
* as anyone else (who cannot chown): the container runs as the host user's uid
  and gid instead, so both sides are the same user.

Mode 0700: nobody but that user (and root) can reach the sockets inside. The
Python server on the host makes its socket files mode 0666, which is safe inside
such a directory and lets the container user connect when the server runs as root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTAINER_DIR = "/sockets"
DIR_MODE = 0o700
# Linux's sun_path holds 108 bytes with the NUL; keep host paths well short of it.
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class RunAs:
    """The uid and gid a container runs as (and that owns the socket directory)."""

    uid: int
    gid: int

    @property
    def user(self) -> str:
        """The ``uid:gid`` form the Docker API takes."""
        return f"{self.uid}:{self.gid}"


def image_user(client: Any, image: str) -> RunAs:
    """The numeric ``USER`` of ``image`` (the Dockerfiles set ``uid:gid``); 0:0 if unset."""
    config = client.images.get(image).attrs.get("Config") or {}
    text = str(config.get("User") or "0")
    uid_text, _, gid_text = text.partition(":")
    if not uid_text.isdigit() or (gid_text and not gid_text.isdigit()):
        raise ValueError(f"image {image} has a non-numeric USER {text!r}: use uid:gid")
    uid = int(uid_text)
    return RunAs(uid, int(gid_text) if gid_text else uid)


def run_as_for(client: Any, image: str) -> RunAs:
    """Who the container should run as, given who we are (see the module docstring)."""
    if os.geteuid() == 0:
        return image_user(client, image)
    return RunAs(os.getuid(), os.getgid())


@contextmanager
def socket_dir(owner: RunAs, *, prefix: str = "sqsocket-docker-") -> Iterator[Path]:
    """A fresh directory owned by ``owner``, mode 0700; removed with its contents after.

    Socket files a container left behind (they outlive the container) go with it.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        # through a descriptor of the directory just made, never through the path
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            if os.geteuid() == 0:
                os.fchown(fd, owner.uid, owner.gid)
            os.fchmod(fd, DIR_MODE)
        finally:
            os.close(fd)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def host_path(directory: Path, name: str) -> Path:
    """``directory/name``, refusing a path too long for ``sockaddr_un``."""
    path = directory / name
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ValueError(f"socket path too long for AF_UNIX: {path}")
    return path


def container_path(name: str) -> str:
    """Where ``name`` in the socket directory appears inside the container."""
    return f"{CONTAINER_DIR}/{name}"
