"""Accepting clients on a listening socket: drain, back off, check who it is.

Shared by every stream server (echo, framed, introduction). :class:`Acceptor`

* drains the backlog on each readiness event while the server has room
  (``has_room``), and stops watching the listener when it has none -- clients
  then wait in the kernel's backlog instead of being refused;
* backs off when ``accept`` fails (``EMFILE``, ``ENFILE``, ``ENOBUFS``...): the
  pending client stays in the backlog, so the listener would be readable again
  at once and the loop would spin. It stops watching for ``backoff`` seconds and
  logs the failure rate-limited, so a descriptor shortage costs neither a CPU
  nor the disk;
* with an allow-list of uids, reads the peer's credentials (``SO_PEERCRED``)
  right after ``accept`` and closes a connection from any other uid at once,
  counting it in :attr:`Acceptor.refused` (logged rate-limited).
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable

from sqsocket.servers.peercred import PeerCredentials, peer_credentials
from sqsocket.servers.ratelog import RateLimitedLog

__all__ = ["DEFAULT_ACCEPT_BACKOFF", "Acceptor", "ClientCallback"]

#: Seconds to stop accepting after ``accept`` failed for lack of resources.
DEFAULT_ACCEPT_BACKOFF = 0.1

#: Called with each accepted (and allowed) client, its address and its credentials.
ClientCallback = Callable[[socket.socket, object, PeerCredentials | None], None]


class Acceptor:
    """The accept side of a server loop (see the module docstring)."""

    def __init__(
        self,
        on_client: ClientCallback,
        has_room: Callable[[], bool],
        warnings: RateLimitedLog,
        *,
        allow_uids: frozenset[int] | None = None,
        backoff: float = DEFAULT_ACCEPT_BACKOFF,
    ) -> None:
        self._on_client = on_client
        self._has_room = has_room
        self._warnings = warnings
        self.allow_uids = allow_uids
        self.backoff = backoff
        self._selector: selectors.BaseSelector | None = None
        self._sock: socket.socket | None = None
        self._watching = False
        self._retry_at: float | None = None
        #: Connections closed at once because their uid is not allowed.
        self.refused = 0
        #: ``accept`` calls that failed (each one starts a back-off).
        self.failures = 0

    def attach(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        """Start watching the listening ``sock`` in ``selector``."""
        self._selector, self._sock = selector, sock
        self.resume()

    def detach(self) -> None:
        """Stop watching (the server is stopping); the socket is the server's to close."""
        self.pause()
        self._selector = self._sock = None

    def resume(self) -> None:
        """Watch the listener again if there is room and no back-off is running."""
        if self._retry_at is not None or self._watching or not self._has_room():
            return
        if self._selector is not None and self._sock is not None:
            self._selector.register(self._sock, selectors.EVENT_READ, self._on_ready)
            self._watching = True

    def pause(self) -> None:
        """Stop watching the listener (clients queue in the backlog)."""
        if self._watching and self._selector is not None and self._sock is not None:
            self._selector.unregister(self._sock)
        self._watching = False

    def next_deadline(self) -> float | None:
        """When the running back-off ends (``time.monotonic``), or None."""
        return self._retry_at

    def tick(self, now: float) -> None:
        """End a back-off that is due."""
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            self.resume()

    def _on_ready(self, mask: int) -> None:
        sock = self._sock
        assert sock is not None
        # One readiness event may stand for many waiting clients: drain them.
        while self._has_room():
            try:
                client, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.failures += 1
                self._warnings.warning(
                    "accept failed",
                    "accept failed: %s; not accepting for %.1fs",
                    exc,
                    self.backoff,
                )
                self.pause()
                self._retry_at = time.monotonic() + self.backoff
                return
            creds = peer_credentials(client) if client.family == socket.AF_UNIX else None
            if self.allow_uids is not None and (creds is None or creds.uid not in self.allow_uids):
                self.refused += 1
                self._warnings.warning(
                    "connection refused",
                    "refused a connection from %s: uid not in the allow-list (%d refused so far)",
                    creds if creds is not None else "a peer without credentials",
                    self.refused,
                )
                client.close()
                continue
            client.setblocking(False)
            self._on_client(client, addr, creds)
        self.pause()
