"""Who is on the other end of a Unix-domain socket: ``SO_PEERCRED`` and ``SCM_CREDENTIALS``.

The kernel records the pid, uid and gid of the process that connected (or, for
a datagram, that sent it); the peer cannot lie about them. A server that only
wants to talk to some users checks the uid against an allow-list
(``--allow-uid``) -- the only access control an abstract-namespace socket has,
since it has no file and so no file permissions.

Python to Python only, as far as this project goes: the VM's SocketPlugin has
no primitive for ``SO_PEERCRED`` or ``SCM_CREDENTIALS``, so a Smalltalk server
cannot ask who connected. A Smalltalk *client* needs nothing to be checked --
the kernel supplies its credentials -- and is served normally when its uid is
allowed; when it is not, it sees its connection accepted and then closed
without a byte: end of stream, or ``ECONNRESET`` if it had already sent data
the server never read, or ``EPIPE`` if it sends after the close.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

__all__ = ["PeerCredentials", "credentials_from_ancillary", "peer_credentials", "supported"]

# struct ucred { pid_t pid; uid_t uid; gid_t gid; }: a signed pid, unsigned ids.
_UCRED = struct.Struct("=iII")


def supported() -> bool:
    """True where the kernel reports a stream peer's credentials (``SO_PEERCRED``: Linux)."""
    return hasattr(socket, "SO_PEERCRED")


@dataclass(frozen=True)
class PeerCredentials:
    """A peer's process id, user id and group id, as the kernel reported them."""

    pid: int
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"pid={self.pid} uid={self.uid} gid={self.gid}"


def peer_credentials(sock: socket.socket) -> PeerCredentials | None:
    """The credentials of a connected Unix-domain stream peer, or None where unavailable."""
    if not supported():
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except OSError:
        return None
    if len(raw) < _UCRED.size:
        return None
    return PeerCredentials(*_UCRED.unpack_from(raw))


def credentials_from_ancillary(ancdata: list[tuple[int, int, bytes]]) -> PeerCredentials | None:
    """The ``SCM_CREDENTIALS`` of a datagram received with ``SO_PASSCRED`` on, if any."""
    kind = getattr(socket, "SCM_CREDENTIALS", None)
    for level, ctype, data in ancdata:
        if level == socket.SOL_SOCKET and ctype == kind and len(data) >= _UCRED.size:
            return PeerCredentials(*_UCRED.unpack_from(data))
    return None


#: Ancillary buffer size for one ``SCM_CREDENTIALS`` message.
CREDENTIALS_SPACE = socket.CMSG_SPACE(_UCRED.size)
