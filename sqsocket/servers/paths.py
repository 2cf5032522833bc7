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
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from sqsocket.servers.dircheck import check_socket_directory
from sqsocket.servers.errors import SocketPathError

__all__ = [
    "DEFAULT_SOCKET_MODE",
    "MAX_SUN_PATH",
    "BoundPath",
    "SocketPathError",
    "bind_unix_path",
    "check_path_length",
    "prepare_socket_path",
    "probe_listener",
    "unlink_examined_socket",
]

#: Bytes of ``sun_path`` usable for a path on Linux: 108 minus the terminating NUL.
MAX_SUN_PATH = 107

#: Owner read/write only: other users cannot connect to a test server.
DEFAULT_SOCKET_MODE = 0o600

# How long a probing connect may take. A live listener whose backlog is full makes
# a blocking connect wait; that still means "live", so a short bound is enough.
_PROBE_TIMEOUT = 1.0


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
    return unlink_examined_socket(path, st)


def unlink_examined_socket(path: str, examined: os.stat_result) -> bool:
    """Unlink the stale socket file ``examined`` (its ``lstat``); True if it was removed.

    Between that ``lstat`` and now another process may have put something else at
    the path: only the very socket file examined is unlinked, anything else raises
    :class:`SocketPathError` and is left alone; a path gone meanwhile answers False.
    """
    try:
        again = os.lstat(path)
    except FileNotFoundError:
        return False
    same = (again.st_dev, again.st_ino) == (examined.st_dev, examined.st_ino)
    if not same or not stat.S_ISSOCK(again.st_mode):
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


# The umask is one per process, not per thread: two binds that each set it must not
# interleave, so every umask change here happens under this lock. Code outside this
# module that changes the umask (or creates files while a bind is in progress) is not
# covered: see _umask_for.
_UMASK_LOCK = threading.Lock()


def _current_umask() -> int:
    """The process umask, read without changing it where Linux tells (``/proc``, 4.7+)."""
    with (
        contextlib.suppress(OSError, ValueError),
        open("/proc/self/status", encoding="ascii") as status,
    ):
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    # Elsewhere the only way to read it is to set it; the stand-in for that instant is
    # restrictive (0o077), so a file another thread creates meanwhile is private, not open.
    old = os.umask(0o077)
    os.umask(old)
    return old


@contextlib.contextmanager
def _umask_for(mode: int, inode_mode_set: bool) -> Iterator[None]:
    """Hold a umask under which ``bind`` creates the socket file with exactly ``mode``.

    Linux creates the file with the socket inode's mode (0o777 unless an ``fchmod``
    on the unbound socket changed it) minus the umask. With the inode's mode already
    ``mode`` only the umask bits that would strip requested bits are cleared -- often
    none, and then the umask is not touched at all; otherwise the umask is the
    complement of ``mode``. The umask is process-wide: while the block runs, a file
    another thread creates gets this umask too (it is never more permissive than the
    old one except in the bits ``mode`` itself grants), which is why the window is one
    ``bind`` call long and serialised by a lock.
    """
    with _UMASK_LOCK:
        old = _current_umask()
        wanted = old & ~mode if inode_mode_set else 0o777 & ~mode
        if wanted == old:
            yield
            return
        os.umask(wanted)
        try:
            yield
        finally:
            os.umask(old)


def bind_unix_path(
    sock: socket.socket,
    path: str,
    *,
    mode: int | None = DEFAULT_SOCKET_MODE,
    replace_stale: bool = True,
    insecure_dir: bool = False,
) -> BoundPath:
    """Bind ``sock`` to ``path`` with permissions ``mode``; return the created file.

    The file is created with ``mode`` by ``bind`` itself -- the mode is set on the
    unbound socket and the umask adjusted around the call -- and never changed
    afterwards: a ``chmod(path)`` after ``bind`` would follow a symbolic link that
    another user swapped in for the socket and change the mode of the link's target.
    ``mode=None`` keeps whatever the process umask gives.

    Unless ``insecure_dir``, a path whose directory other users can write (without
    the sticky bit) is refused first (:func:`~sqsocket.servers.dircheck.check_socket_directory`).
    ``replace_stale`` runs :func:`prepare_socket_path`.
    """
    check_path_length(path)
    if not insecure_dir:
        check_socket_directory(path)
    if replace_stale:
        prepare_socket_path(path)
    if mode is None:
        _bind(sock, path)
        return BoundPath.of(path)
    try:
        # Linux honours this for AF_UNIX: bind creates the file with the inode's mode
        # minus the umask, so the file never exists with the default 0o777 & ~umask.
        os.fchmod(sock.fileno(), mode)
        inode_mode_set = True
    except OSError:
        inode_mode_set = False
    with _umask_for(mode, inode_mode_set):
        _bind(sock, path)
    st = os.lstat(path)
    bound = BoundPath(path, st.st_dev, st.st_ino)
    got = stat.S_IMODE(st.st_mode)
    if got != mode:
        # A default ACL on the directory, say, overrides the umask. Refuse rather than
        # serve with permissions nobody asked for -- and never chmod to repair it.
        bound.remove()
        raise SocketPathError(
            f"socket file {path} was created with mode {got:o}, not {mode:o} "
            "(a default ACL on its directory?)"
        )
    return bound


def _bind(sock: socket.socket, path: str) -> None:
    try:
        sock.bind(path)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SocketPathError(f"{path} is already in use: {exc.strerror}") from exc
        raise
