"""Datagram echo: UDP on loopback, and ``AF_UNIX`` ``SOCK_DGRAM`` (path or abstract name).

Each datagram is sent back, whole, to the address it came from.

The ``AF_UNIX`` catch: a datagram only carries a return address if its
*sender* is bound. An unbound ``AF_UNIX`` client (the default -- unlike UDP,
the kernel does not give it an address on first send) arrives with no sender
address, and there is nothing to reply to; the server counts and logs such
datagrams (:attr:`DatagramEchoServer.unanswerable`) and drops them. A client
that wants replies binds first: to a path of its own, or -- on Linux -- to
``""``, which autobinds a unique abstract name and leaves no file.
:class:`DatagramClient` does that for you.

Datagram semantics also mean loss is allowed: a reply the kernel will not
queue right now (the client's receive queue is full: ``EAGAIN``) or cannot
deliver (client gone: ``ECONNREFUSED``/``ENOENT``) is dropped and counted in
:attr:`DatagramEchoServer.dropped`, never retried -- the server must not block.
A datagram larger than ``max_datagram`` is dropped too (echoing its truncated
head would be a lie). Warnings about such datagrams are rate-limited (the first
few, then a count), since a sender controls how many there are.

``allow_uids`` (``AF_UNIX`` only): the server turns ``SO_PASSCRED`` on, so the
kernel attaches each sender's credentials to its datagram, and drops datagrams
from any other uid (counted in :attr:`DatagramEchoServer.refused`).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import tempfile
from typing import Unpack

from sqsocket.closing import Closing
from sqsocket.servers.address import AbstractAddress, InetAddress, UnixAddress, abstract_supported
from sqsocket.servers.base import AddressLike, Server, ServerOptions, coerce_address
from sqsocket.servers.paths import BoundPath, bind_unix_path
from sqsocket.servers.peercred import CREDENTIALS_SPACE, credentials_from_ancillary

__all__ = [
    "DatagramClient",
    "DatagramEchoServer",
    "DatagramOptions",
    "UDPEchoServer",
    "dgram_echo",
]

#: UDP payloads cannot exceed 65507 bytes; a 64 KiB buffer holds any of them.
DEFAULT_MAX_DATAGRAM = 65536

# Datagrams handled per readiness event, so a flood cannot starve the stop wake-up.
_BATCH = 64


class DatagramOptions(ServerOptions, total=False):
    """What a datagram server takes besides its address: ``max_datagram`` and the
    options of every server (:class:`~sqsocket.servers.base.ServerOptions`)."""

    max_datagram: int


class DatagramEchoServer(Server):
    """Echo datagrams on UDP (``(host, port)``) or ``AF_UNIX`` (path or ``@name``).

    ``max_datagram``: the largest datagram echoed (larger ones are dropped); the other
    options are every server's (:class:`~sqsocket.servers.base.Server`).
    """

    kind = "dgram"

    def __init__(
        self,
        address: AddressLike,
        *,
        max_datagram: int = DEFAULT_MAX_DATAGRAM,
        **options: Unpack[ServerOptions],
    ) -> None:
        super().__init__(address, **options)
        self.max_datagram = max_datagram
        #: Datagrams echoed since bind.
        self.echoed = 0
        #: Datagrams from unbound AF_UNIX senders: no address to answer to.
        self.unanswerable = 0
        #: Replies the kernel would not take or deliver, and oversized datagrams.
        self.dropped = 0
        #: Datagrams dropped because the sender's uid is not in ``allow_uids``.
        self.refused = 0
        self._ancillary = CREDENTIALS_SPACE if self.allow_uids is not None else 0

    def _open(self) -> None:
        sock = self._bind_socket(socket.SOCK_DGRAM)
        if self.allow_uids is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        assert self._selector is not None
        self._selector.register(sock, selectors.EVENT_READ, self._on_readable)

    def _on_readable(self, mask: int) -> None:
        sock = self._sock
        assert sock is not None
        for _ in range(_BATCH):
            try:
                data, ancdata, flags, sender = sock.recvmsg(self.max_datagram, self._ancillary)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # E.g. an ICMP error reported on a later recv; the socket stays usable.
                self.warnings.warning("recv failed", "recv failed: %s", exc)
                return
            if self.allow_uids is not None:
                creds = credentials_from_ancillary(ancdata)
                if creds is None or creds.uid not in self.allow_uids:
                    self.refused += 1
                    self.warnings.warning(
                        "datagram refused",
                        "dropped a datagram from %s: uid not in the allow-list",
                        creds if creds is not None else "a sender without credentials",
                    )
                    continue
            if flags & socket.MSG_TRUNC:
                self.dropped += 1
                self.warnings.warning(
                    "oversized datagram",
                    "dropped a datagram larger than max_datagram=%d",
                    self.max_datagram,
                )
                continue
            if not sender:
                self.unanswerable += 1
                self.warnings.warning(
                    "unanswerable datagram",
                    "datagram of %d bytes from an unbound AF_UNIX sender: no address to "
                    "reply to (the client must bind its own address to get replies)",
                    len(data),
                )
                continue
            try:
                sock.sendto(data, sender)
            except OSError as exc:
                self.dropped += 1
                self._info("reply to %r dropped: %s", sender, exc)
                continue
            self.echoed += 1
            self._info("echoed %d bytes to %r", len(data), sender)


class UDPEchoServer(DatagramEchoServer):
    """UDP echo on ``host`` (default 127.0.0.1); ``port=0`` picks a free port."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, **options: Unpack[DatagramOptions]
    ) -> None:
        super().__init__(InetAddress(host, port), **options)


class DatagramClient(Closing):
    """A blocking datagram client that can receive replies, for UDP and ``AF_UNIX``.

    For ``AF_UNIX`` it binds its own address, as it must to get replies:
    ``bind_path`` if given (created with mode 0o600, removed on :meth:`close`),
    else a kernel-chosen abstract name on Linux (no file at all), else a path
    in a fresh private directory.
    """

    def __init__(
        self,
        server: AddressLike,
        *,
        bind_path: str | None = None,
        timeout: float | None = 5.0,
    ) -> None:
        self.server = coerce_address(server)
        self._bound: BoundPath | None = None
        self._tmpdir: str | None = None
        self.sock = socket.socket(self.server.family, socket.SOCK_DGRAM)
        try:
            self.sock.settimeout(timeout)
            if isinstance(self.server, UnixAddress | AbstractAddress):
                self._bind_unix(bind_path)
        except BaseException:
            self.close()
            raise

    def _bind_unix(self, bind_path: str | None) -> None:
        if bind_path is None and abstract_supported():
            self.sock.bind("")  # Linux autobind: a unique abstract name
            return
        if bind_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="sqdg-", dir="/tmp")
            bind_path = os.path.join(self._tmpdir, "c")
        self._bound = bind_unix_path(self.sock, bind_path)

    @property
    def local_address(self) -> str | bytes | tuple[str, int]:
        """The address replies come back to (``getsockname``)."""
        name: str | bytes | tuple[str, int] = self.sock.getsockname()
        return name

    def send(self, payload: bytes) -> None:
        """Send one datagram to the server."""
        self.sock.sendto(payload, self.server.sockaddr)

    def receive(self, bufsize: int = DEFAULT_MAX_DATAGRAM) -> bytes:
        """Receive one datagram (``TimeoutError`` after the timeout)."""
        return self.sock.recv(bufsize)

    def request(self, payload: bytes) -> bytes:
        """Send a datagram and return the next one received."""
        self.send(payload)
        return self.receive()

    def close(self) -> None:
        """Close the socket and remove any file it was bound to."""
        self.sock.close()
        if self._bound is not None:
            self._bound.remove()
            self._bound = None
        if self._tmpdir is not None:
            # Only ever our own empty directory: rmdir, never a recursive delete.
            with contextlib.suppress(OSError):
                os.rmdir(self._tmpdir)
            self._tmpdir = None


def dgram_echo(address: AddressLike, payload: bytes, *, timeout: float = 5.0) -> bytes:
    """One datagram round trip to ``address`` with a throwaway :class:`DatagramClient`."""
    with DatagramClient(address, timeout=timeout) as client:
        return client.request(payload)
