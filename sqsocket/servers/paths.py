"""Socket-file paths: checking, clearing stale files, binding, and removing.

A Unix-domain socket bound to a path leaves a file behind when its server dies
without cleaning up; the next ``bind`` then fails with ``EADDRINUSE``. The
common fix -- ``os.remove(path)`` before ``bind``, as the seed servers do -- is
dangerous: it deletes whatever is there (a regular file with a typo'd name, a
directory, a symlink's target never, but the link itself) and it silently
steals the address from a server that is still running.

:func:`prepare_socket_path` removes a leftover file only when it *is* a socket
(``lstat`` + ``S_ISSOCK``) and nothing answers on it (a probing ``connect``
gets ``ECONNREFUSED``); everything else is refused with :class:`SocketPathError`
and left untouched. :class:`BoundPath` remembers the inode the server created
so that :meth:`BoundPath.remove` deletes that socket and nothing else, even if
another process has since replaced the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from dataclasses import dataclass

__all__ = [
    "DEFAULT_SOCKET_MODE",
    "MAX_SUN_PATH",
    "BoundPath",
    "SocketPathError",
    "bind_unix_path",
    "check_path_length",
    "prepare_socket_path",
    "probe_listener",
]

#: Bytes of ``sun_path`` usable for a path on Linux: 108 minus the terminating NUL.
MAX_SUN_PATH = 107

#: Owner read/write only: other users cannot connect to a test server.
DEFAULT_SOCKET_MODE = 0o600

# How long a probing connect may take. A live listener whose backlog is full makes
# a blocking connect wait; that still means "live", so a short bound is enough.
_PROBE_TIMEOUT = 1.0


class SocketPathError(OSError):
    """A socket path cannot be used: too long, not a socket, or in use."""


def check_path_length(path: str | os.PathLike[str]) -> bytes:
    """Return ``path`` encoded as the kernel sees it, or raise if it cannot fit ``sun_path``."""
    raw = os.fsencode(path)
    if not raw:
        raise SocketPathError("empty socket path")
    if b"\0" in raw:
        raise SocketPathError(f"socket path {os.fsdecode(raw)!r} contains a NUL byte")
    if len(raw) > MAX_SUN_PATH:
        raise SocketPathError(
            f"socket path is {len(raw)} bytes; a Unix-domain socket path may be at most "
            f"{MAX_SUN_PATH} bytes: {os.fsdecode(raw)}"
        )
    return raw


def probe_listener(path: str) -> bool:
    """True if some process has a socket bound at ``path`` (stream or datagram).

    Connecting to a socket file nobody holds fails with ``ECONNREFUSED``: the
    file is stale. A stream connect to a bound *datagram* socket fails with
    ``EPROTOTYPE`` instead, which still means something is alive there.
    """
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_UNIX, kind) as probe:
            probe.settimeout(_PROBE_TIMEOUT)
            try:
                probe.connect(path)
            except ConnectionRefusedError:
                # A stream connect to a dgram socket is EPROTOTYPE, not ECONNREFUSED,
                # so a refusal here is final for both types.
                return False
            except FileNotFoundError:
                return False
            except TimeoutError:
                return True  # a listener with a full backlog
            except OSError as exc:
                if exc.errno == errno.EPROTOTYPE:
                    continue  # wrong type: try the other one
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    return True  # backlog full on a non-blocking path
                raise SocketPathError(f"cannot tell whether {path} is in use: {exc}") from exc
            return True
    return True


def _describe(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a socket"


def prepare_socket_path(path: str) -> bool:
    """Make ``path`` free for ``bind``; return True if a stale socket was removed.

    Raises :class:`SocketPathError` -- and changes nothing -- when the path is
    too long, when its directory does not exist, when it names anything but a
    socket (regular file, directory, symlink, FIFO, device), or when a live
    process is bound there.
    """
    check_path_length(path)
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise SocketPathError(f"directory for socket {path} does not exist: {parent}")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(st.st_mode):
        # Never remove it: it is someone's data, and the user most likely mistyped.
        raise SocketPathError(
            f"{path} exists and is {_describe(st.st_mode)}, not a socket; refusing to replace it"
        )
    if probe_listener(path):
        raise SocketPathError(f"{path} is in use: another process is listening on it")
    # Between the lstat and here another process may have put something else at the
    # path; only unlink if it is still the very socket file we examined.
    try:
        again = os.lstat(path)
    except FileNotFoundError:
        return False
    if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISSOCK(again.st_mode):
        raise SocketPathError(f"{path} changed while it was being checked; not touching it")
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class BoundPath:
    """The socket file a server created, identified by device and inode."""

    path: str
    dev: int
    ino: int

    @classmethod
    def of(cls, path: str) -> BoundPath:
        """Record the socket file now at ``path`` (call right after ``bind``)."""
        st = os.lstat(path)
        return cls(path, st.st_dev, st.st_ino)

    def remove(self) -> bool:
        """Unlink the file if it is still our socket; True if it was removed.

        If the file was deleted or replaced by someone else (another server that
        took over the path, a user's file), leave it alone.
        """
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return False
        if not stat.S_ISSOCK(st.st_mode) or (st.st_dev, st.st_ino) != (self.dev, self.ino):
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
            return True
        return False


def bind_unix_path(
    sock: socket.socket,
    path: str,
    *,
    mode: int | None = DEFAULT_SOCKET_MODE,
    replace_stale: bool = True,
) -> BoundPath:
    """Bind ``sock`` to ``path`` with permissions ``mode``; return the created file.

    ``replace_stale`` runs :func:`prepare_socket_path` first. ``mode=None`` keeps
    whatever the process umask gives.
    """
    if replace_stale:
        prepare_socket_path(path)
    else:
        check_path_length(path)
    if mode is not None:
        # Linux creates the socket file with the socket inode's mode minus the umask,
        # so setting it on the unbound socket closes the window in which the file
        # would exist with the default (often world-connectable) permissions.
        with contextlib.suppress(OSError):
            os.fchmod(sock.fileno(), mode)
    try:
        sock.bind(path)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SocketPathError(f"{path} is already in use: {exc.strerror}") from exc
        raise
    bound = BoundPath.of(path)
    if mode is not None:
        try:
            # The umask may have stripped bits the caller asked for (0o660, say); chmod
            # gives the exact mode. Skip if the path no longer is our socket.
            if BoundPath.of(path) == bound:
                os.chmod(path, mode)
        except OSError:
            bound.remove()
            raise
    return bound
