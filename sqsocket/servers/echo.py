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
from typing import Unpack

from sqsocket.servers.address import AbstractAddress, InetAddress, UnixAddress
from sqsocket.servers.base import AddressLike, connect
from sqsocket.servers.stream import Connection, StreamOptions, StreamServer

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

    def __init__(self, path: str, **options: Unpack[StreamOptions]) -> None:
        super().__init__(UnixAddress(path), **options)


class AbstractEchoServer(EchoServer):
    """Echo server on a Linux abstract-namespace name (``name`` without the ``@``).

    ``padded=True`` binds the name followed by NULs up to the full ``sun_path``, the
    address a Smalltalk client reaches (see :class:`~sqsocket.servers.address.AbstractAddress`).
    No file, so no file permissions (``mode`` does not apply): ``allow_uids`` is the
    only access control.
    """

    def __init__(
        self, name: str, *, padded: bool = False, **options: Unpack[StreamOptions]
    ) -> None:
        super().__init__(AbstractAddress(name, padded=padded), **options)


class TCPEchoServer(EchoServer):
    """Echo server on TCP; ``host`` defaults to 127.0.0.1, ``port=0`` picks a free port."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, **options: Unpack[StreamOptions]
    ) -> None:
        super().__init__(InetAddress(host, port), **options)


def echo_once(address: AddressLike, payload: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``payload`` to an echo server, half-close, and return all it sent back."""
    with connect(address, timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
