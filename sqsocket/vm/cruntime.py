"""The C runtime state of the VM process that the plugin's results depend on: errno, stderr.

The SocketPlugin stores ``errno`` as a socket's error in places where the last
system call did not fail (``read()`` answering 0 at end-of-file leaves errno as
it was), and it calls ``perror()`` before it reads ``errno`` after a failed
connect. What the image sees then is whatever the VM process did last, so the
emulator keeps that state the way the process does, as one cell per VM:

- :attr:`CRuntime.errno` is set by every emulated call that fails (the platform
  layer reports each one) and by the VM's own idle sleep when its interval
  timer interrupts it (:mod:`sqsocket.vm.machine`); a call that succeeds leaves it.
- :class:`CStderr` is glibc's ``stderr`` stream as far as ``perror()`` and
  ``fprintf(stderr, ...)`` care: whether it is oriented yet, and the access mode
  of descriptor 2. glibc's ``perror`` (stdio-common/perror.c) writes through a
  fresh ``fdopen(dup(2), "w+")`` while stderr is not oriented, so as not to
  orient it; on a write-only descriptor (a pipe, ``2>file``, ``2>/dev/null``)
  that ``fdopen`` fails with EINVAL, perror falls back to stderr itself (which
  orients it) and errno is left EINVAL. Every later perror finds stderr
  oriented and leaves errno alone. So the first failed connect of a VM process
  whose stderr is a pipe records EINVAL (22) as its socket error, later ones the
  connect's own errno -- unless something was printed on stderr before.
"""

from __future__ import annotations

import errno as errnos
import fcntl
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

_log = logging.getLogger("sqsocket.vm.stderr")


class StderrMode(Enum):
    """What descriptor 2 of the VM process is, as ``fcntl(2, F_GETFL) & O_ACCMODE`` sees it."""

    WRITE_ONLY = "write-only"  # a pipe, a file or /dev/null opened by a shell redirection
    READ_WRITE = "read-write"  # a terminal, or a file opened O_RDWR
    READ_ONLY = "read-only"  # unusual, but fdopen(.., "w+") fails on it the same way
    CLOSED = "closed"  # no descriptor 2: dup() fails with EBADF

    @classmethod
    def of_descriptor(cls, fd: int = 2) -> StderrMode:
        """The mode of one of this process's descriptors (2 unless told)."""
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:
            return cls.CLOSED
        access = flags & os.O_ACCMODE
        if access == os.O_WRONLY:
            return cls.WRITE_ONLY
        if access == os.O_RDONLY:
            return cls.READ_ONLY
        return cls.READ_WRITE


def _log_sink(text: str) -> None:
    _log.debug("%s", text.rstrip("\n"))


@dataclass
class CStderr:
    """glibc's ``stderr`` FILE: its orientation and its descriptor's access mode.

    ``sink`` receives what the VM prints there (by default, debug-level log
    records of the ``sqsocket.vm.stderr`` logger).
    """

    mode: StderrMode = StderrMode.WRITE_ONLY
    oriented: bool = False
    sink: Callable[[str], None] = _log_sink
    lines: int = 0  # how many messages the VM printed (for traces and tests)


class StdoutKind(Enum):
    """What descriptor 1 of the VM process is, as far as its console writes care.

    The FilePlugin's write (``sqFileWriteFromAt``) asks ``ftell()`` for the new
    position after every write; on a pipe or a terminal that ``lseek`` fails with
    ESPIPE, so every line the image prints on stdout (``Transcript show:`` in a
    headless image) leaves errno 29.
    """

    SEEKABLE = "seekable"  # a regular file
    PIPE = "pipe"  # a pipe, a socket or a terminal: lseek() fails with ESPIPE

    @classmethod
    def of_descriptor(cls, fd: int = 1) -> StdoutKind:
        try:
            os.lseek(fd, 0, os.SEEK_CUR)
        except OSError:
            return cls.PIPE
        return cls.SEEKABLE


@dataclass
class CRuntime:
    """errno, stderr and stdout of one emulated VM process."""

    errno: int = 0
    stderr: CStderr = field(default_factory=CStderr)
    stdout: StdoutKind = StdoutKind.PIPE

    def console_write(self) -> None:
        """The image wrote a line on stdout through the FilePlugin (see :class:`StdoutKind`)."""
        if self.stdout is StdoutKind.PIPE:
            self.errno = errnos.ESPIPE

    def failed(self, err: int | None) -> int:
        """A system call failed with ``err``: errno now holds it. Answers it (0 for None)."""
        value = err or 0
        self.errno = value
        return value

    def fprintf(self, text: str) -> None:
        """``fprintf(stderr, ...)``: orients stderr; a write to a closed stderr fails (EBADF)."""
        self.stderr.oriented = True
        self._write(text)

    def perror(self, prefix: str) -> None:
        """glibc's ``perror(prefix)``, including what it does to errno (see the module text)."""
        errnum = self.errno
        text = f"{prefix}: {os.strerror(errnum)}\n" if prefix else f"{os.strerror(errnum)}\n"
        err = self.stderr
        if err.oriented:
            self._write(text)
            return
        if err.mode is StderrMode.CLOSED:
            self.errno = errnos.EBADF  # dup(2) fails
        elif err.mode in (StderrMode.WRITE_ONLY, StderrMode.READ_ONLY):
            self.errno = errnos.EINVAL  # fdopen(dup(2), "w+") refuses the access mode
        else:
            # the message goes through the dup'd stream, which fclose() closes:
            # stderr stays unoriented and errno is untouched
            self._write(text)
            return
        err.oriented = True  # perror_internal(stderr, ...) orients it
        self._write(text)

    def _write(self, text: str) -> None:
        self.stderr.lines += 1
        if self.stderr.mode is StderrMode.CLOSED:
            self.errno = errnos.EBADF
            return
        self.stderr.sink(text)
