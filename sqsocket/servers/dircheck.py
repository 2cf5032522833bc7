"""Is a socket's directory safe to bind in? OpenSSH's StrictModes, for socket files.

Whoever can write a directory can rename, delete and create names in it: in a
directory other users can write (mode 0777, or group-writable), another local
user can replace our socket file with their own (clients then talk to them) or
swap a symbolic link in for it between two of our system calls. The sticky
bit (``/tmp``'s 1777) takes the rename and delete away from them: only a
file's owner may then remove or replace it.

:func:`check_socket_directory` therefore refuses a socket path if any
directory the kernel passes through to reach the socket's directory -- and
that directory itself -- is group- or world-writable without the sticky bit.
It resolves the path itself, one component at a time, with ``openat`` and
``O_NOFOLLOW`` from directory descriptors, and checks each directory with
``fstat`` on its descriptor, never by a second lookup of the path: symbolic
links are read (``readlinkat``) and followed as the kernel would follow them,
so the directory that contains a link is checked too, and a link swapped in
while we look is never followed blindly.

Only the mode bits are judged, as the brief for this check says ("others can
write"); a directory owned by another user but not writable by its group or
the world is accepted (the Docker harness binds as root in a directory it
chowned to the container's user on purpose).
"""

from __future__ import annotations

import collections
import errno
import os
import stat

from sqsocket.servers.errors import SocketPathError

__all__ = ["UnsafeDirectory", "check_socket_directory", "unsafe_reason"]

#: Symbolic links followed before giving up, as the kernel's MAXSYMLINKS (40).
MAX_SYMLINKS = 40

# O_PATH opens a directory without needing read permission on it (a 0711 home
# directory is fine to pass through); where it does not exist, O_RDONLY.
_OPEN_DIR = os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_PATH", os.O_RDONLY)


class UnsafeDirectory(SocketPathError):
    """A directory on the way to the socket can be written by other users."""


def unsafe_reason(st: os.stat_result) -> str | None:
    """Why a directory with this ``stat`` is unsafe for a socket, or None if it is safe."""
    mode = st.st_mode
    if mode & stat.S_ISVTX:
        return None  # sticky: only an entry's owner may remove or rename it
    writers = [
        who for who, bit in (("its group", stat.S_IWGRP), ("everyone", stat.S_IWOTH)) if mode & bit
    ]
    if not writers:
        return None
    return (
        f"is writable by {' and '.join(writers)} (mode {stat.S_IMODE(mode):o}) "
        "without the sticky bit"
    )


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def check_socket_directory(path: str) -> None:
    """Raise :class:`UnsafeDirectory` if other users could replace a socket bound at ``path``.

    ``path`` is the socket's path (the file need not exist); its directory and
    every directory resolved on the way there are checked. A missing directory
    or a component that is not a directory raises :class:`SocketPathError`.
    """
    directory = os.path.dirname(path) or "."
    pending = collections.deque(_components(directory))
    fd = os.open("/" if directory.startswith("/") else ".", _OPEN_DIR)
    shown = "/" if directory.startswith("/") else "."
    links = 0
    try:
        while True:
            why = unsafe_reason(os.fstat(fd))
            if why is not None:
                raise UnsafeDirectory(
                    f"refusing to bind {path}: directory {shown} {why}, so another user could "
                    "replace the socket; use a private directory (chmod go-w) or pass "
                    "--insecure-dir (insecure_dir=True)"
                )
            if not pending:
                return
            name = pending.popleft()
            try:
                child = os.open(name, _OPEN_DIR, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise SocketPathError(
                        f"directory for socket {path} does not exist: {directory} "
                        f"({os.path.join(shown, name)} is missing)"
                    ) from exc
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise SocketPathError(
                        f"directory for socket {path} is not usable: {os.path.join(shown, name)}: "
                        f"{exc.strerror}"
                    ) from exc
                if not stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise SocketPathError(
                        f"directory for socket {path} is not usable: "
                        f"{os.path.join(shown, name)} is not a directory"
                    ) from exc
                links += 1
                if links > MAX_SYMLINKS:
                    raise SocketPathError(f"too many symbolic links in {path}") from exc
                # The directory holding the link was checked above; the link is read
                # through that same descriptor, and its target resolved from there.
                target = os.readlink(name, dir_fd=fd)
                pending.extendleft(reversed(_components(target)))
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", _OPEN_DIR)
                    shown = "/"
                continue
            os.close(fd)
            fd = child
            shown = os.path.join(shown, name)
    finally:
        os.close(fd)
