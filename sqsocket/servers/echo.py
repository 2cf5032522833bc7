"""Stream echo server: every byte a client sends comes back, until it closes.

One class, :class:`EchoServer`, serves a Unix path, a Linux abstract name or
TCP (IPv4/IPv6 loopback, port 0 for an ephemeral port); the three subclasses
only spell the address more conveniently::

    with UnixEchoServer("/tmp/sq.sock") as srv:     # srv.path == "/tmp/sq.sock"
        ...
    with AbstractEchoServer("sqsocket-test") as srv:  # no file
        ...
    with TCPEchoServer(port=0) as srv:              # srv.port is the real port
        ...

This is the behaviour of the seed's Python server (the one the Pharo
``Socket newIPC`` example talked to), made safe to leave running: many
clients at once, no lost bytes on partial sends, and cleanup of the socket
file on stop.
"""

from __future__ import annotations

import socket

from sqsocket.servers.address import AbstractAddress, InetAddress, UnixAddress
from sqsocket.servers.base import AddressLike, connect
from sqsocket.servers.paths import DEFAULT_SOCKET_MODE
from sqsocket.servers.stream import Connection, StreamServer

__all__ = [
    "AbstractEchoServer",
    "EchoServer",
    "TCPEchoServer",
    "UnixEchoServer",
    "echo_once",
]


class EchoServer(StreamServer):
    """Echo each client's bytes back to it; close once it has closed and all is sent.

    ``address`` is an :data:`~sqsocket.servers.address.Address`, a path,
    ``@name``, a ``(host, port)`` tuple, or address text (``tcp:127.0.0.1:0``).
    See :class:`~sqsocket.servers.stream.StreamServer` for the other options.
    """

    def handle_data(self, conn: Connection, data: bytes) -> bytes:
        return data


class UnixEchoServer(EchoServer):
    """Echo server on a filesystem path (socket file created with ``mode``, removed on stop)."""

    def __init__(
        self,
        path: str,
        *,
        mode: int | None = DEFAULT_SOCKET_MODE,
        max_clients: int | None = None,
        idle_timeout: float | None = None,
        allow_uids: frozenset[int] | set[int] | None = None,
        insecure_dir: bool = False,
        verbose: bool = False,
    ) -> None:
        super().__init__(
            UnixAddress(path),
            mode=mode,
            max_clients=max_clients,
            idle_timeout=idle_timeout,
            allow_uids=allow_uids,
            insecure_dir=insecure_dir,
            verbose=verbose,
        )


class AbstractEchoServer(EchoServer):
    """Echo server on a Linux abstract-namespace name (``name`` without the ``@``).

    ``padded=True`` binds the name followed by NULs up to the full ``sun_path``, the
    address a Smalltalk client reaches (see :class:`~sqsocket.servers.address.AbstractAddress`).
    No file, so no file permissions: ``allow_uids`` is the only access control.
    """

    def __init__(
        self,
        name: str,
        *,
        padded: bool = False,
        max_clients: int | None = None,
        idle_timeout: float | None = None,
        allow_uids: frozenset[int] | set[int] | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(
            AbstractAddress(name, padded=padded),
            mode=None,
            max_clients=max_clients,
            idle_timeout=idle_timeout,
            allow_uids=allow_uids,
            verbose=verbose,
        )


class TCPEchoServer(EchoServer):
    """Echo server on TCP; ``host`` defaults to 127.0.0.1, ``port=0`` picks a free port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_clients: int | None = None,
        idle_timeout: float | None = None,
        allow_remote: bool = False,
        verbose: bool = False,
    ) -> None:
        super().__init__(
            InetAddress(host, port),
            max_clients=max_clients,
            idle_timeout=idle_timeout,
            allow_remote=allow_remote,
            verbose=verbose,
        )


def echo_once(address: AddressLike, payload: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``payload`` to an echo server, half-close, and return all it sent back."""
    with connect(address, timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
