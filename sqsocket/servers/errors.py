"""Errors the servers raise about their addresses (shared by the path modules)."""

from __future__ import annotations

__all__ = ["SocketPathError"]


class SocketPathError(OSError):
    """A socket path cannot be used: too long, not a socket, in use, or in an unsafe directory."""
