"""The network exceptions of the image (Network-Kernel's NetworkError hierarchy).

The image signals these from Socket and NetNameResolver when a wait times out,
the peer goes away, a connection is refused or a name does not resolve. A
primitive that fails outright (a bad argument, a destroyed handle) is a
:class:`SocketPrimitiveFailed`, which is both a :class:`NetworkError` and the
emulator's :class:`~sqsocket.errors.PrimitiveFailed`, so callers can catch
either.
"""

from __future__ import annotations

from sqsocket.errors import PrimitiveFailed

__all__ = [
    "ConnectionClosed",
    "ConnectionRefused",
    "ConnectionTimedOut",
    "InvalidSocketStatus",
    "InvalidSocketStatusException",
    "NameLookupFailure",
    "NetworkError",
    "NoNetworkError",
    "SocketPrimitiveFailed",
]


class NetworkError(Exception):
    """``NetworkError``: the root of every network exception the image signals."""


class ConnectionClosed(NetworkError):
    """``ConnectionClosed``: the connection was closed while waiting for data or sending."""


class ConnectionRefused(NetworkError):
    """``ConnectionRefused``: the peer (host and port, or socket path) refused the connection.

    ``errno`` is the socket's error (``primSocketError:``) when the plugin kept one.
    """

    def __init__(self, message: str, *, address: str | None = None, errno: int = 0) -> None:
        super().__init__(message)
        self.address = address
        self.errno = errno


class ConnectionTimedOut(NetworkError):
    """``ConnectionTimedOut``: a connect, send or receive did not finish in time."""


class InvalidSocketStatus(NetworkError):
    """``InvalidSocketStatusException``: the socket is in the wrong state for the operation."""


# The image's own spelling, for readers who come from Smalltalk.
InvalidSocketStatusException = InvalidSocketStatus


class NameLookupFailure(NetworkError):
    """``NameLookupFailure``: a host name (or, here, a socket path) did not resolve."""

    def __init__(self, message: str, *, host_name: str | None = None) -> None:
        super().__init__(message)
        self.host_name = host_name


class NoNetworkError(NetworkError):
    """``NoNetworkError``: ``primInitializeNetwork:`` failed."""


class SocketPrimitiveFailed(PrimitiveFailed, NetworkError):
    """``SocketPrimitiveFailed``: a SocketPlugin primitive failed (the method's fallback code)."""
