"""Length-prefixed frames, as the Ruby socketpair example sends them.

A frame is the payload's length as a 4-byte unsigned integer in the machine's
*native* byte order (Ruby's ``[n].pack("I")``, C's ``uint32_t`` written raw)
followed by the payload. Native order is what the seed uses and what a C peer
on the same host writes; it is not portable across hosts of different
endianness, which is fine for Unix-domain sockets and socketpairs.

(This is not D. J. Bernstein's ASCII ``12:hello world!,`` netstring; the seed
calls its framing "netstring", and so does this module.)

Helpers: :func:`encode`, :class:`Decoder` (incremental, for non-blocking
code), :func:`read_frame` / :func:`write_frame` (blocking sockets),
:class:`NetstringClient`. :class:`NetstringServer` answers each frame with the
reversed payload -- the seed's child process, as a server.
"""

from __future__ import annotations

import socket
import struct
from types import TracebackType
from typing import Self

from sqsocket.servers.base import AddressLike, connect
from sqsocket.servers.paths import DEFAULT_SOCKET_MODE
from sqsocket.servers.stream import Connection, StreamServer

__all__ = [
    "DEFAULT_MAX_FRAME",
    "HEADER",
    "Decoder",
    "FrameError",
    "FrameTooLarge",
    "NetstringClient",
    "NetstringServer",
    "TruncatedFrame",
    "decode",
    "encode",
    "read_frame",
    "write_frame",
]

#: 4-byte unsigned length, native byte order, no padding ("=" = native order, standard size).
HEADER = struct.Struct("=I")

#: Largest length the header can carry.
HEADER_LIMIT = (1 << 32) - 1

#: Largest payload accepted unless told otherwise: 1 MiB. A bound is needed because
#: the length comes from the peer, and a garbage header would otherwise make us
#: wait for (and buffer) up to 4 GiB.
DEFAULT_MAX_FRAME = 1 << 20


class FrameError(ValueError):
    """A frame could not be read."""


class TruncatedFrame(FrameError):
    """The stream ended inside a frame (in its header or its payload)."""

    def __init__(self, got: int, expected: int, where: str) -> None:
        super().__init__(f"stream ended in the frame {where}: got {got} of {expected} bytes")
        self.got = got
        self.expected = expected
        self.where = where


class FrameTooLarge(FrameError):
    """A frame header announced more than the allowed maximum."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"frame of {length} bytes exceeds the limit of {limit} bytes")
        self.length = length
        self.limit = limit


def encode(payload: bytes, *, max_size: int | None = None) -> bytes:
    """The frame for ``payload``: native 4-byte length, then the bytes."""
    limit = HEADER_LIMIT if max_size is None else max_size
    if len(payload) > limit:
        raise FrameTooLarge(len(payload), limit)
    return HEADER.pack(len(payload)) + payload


def decode(data: bytes, *, max_size: int = DEFAULT_MAX_FRAME) -> tuple[bytes, bytes]:
    """Split one frame off the front of ``data``: ``(payload, rest)``.

    Raises :class:`TruncatedFrame` if ``data`` holds less than a whole frame.
    """
    if len(data) < HEADER.size:
        raise TruncatedFrame(len(data), HEADER.size, "header")
    (length,) = HEADER.unpack_from(data)
    if length > max_size:
        raise FrameTooLarge(length, max_size)
    end = HEADER.size + length
    if len(data) < end:
        raise TruncatedFrame(len(data) - HEADER.size, length, "payload")
    return bytes(data[HEADER.size : end]), bytes(data[end:])


class Decoder:
    """Incremental decoder: :meth:`feed` bytes as they arrive, get whole payloads."""

    def __init__(self, max_size: int = DEFAULT_MAX_FRAME) -> None:
        self.max_size = max_size
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every payload now complete (raises :class:`FrameTooLarge`)."""
        self._buf += data
        frames: list[bytes] = []
        while len(self._buf) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buf)
            if length > self.max_size:
                # Fail on the header: no point buffering a frame we will refuse.
                raise FrameTooLarge(length, self.max_size)
            end = HEADER.size + length
            if len(self._buf) < end:
                break
            frames.append(bytes(self._buf[HEADER.size : end]))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes held that do not yet form a whole frame."""
        return len(self._buf)

    def finish(self) -> None:
        """Call at end of stream: raises :class:`TruncatedFrame` if a frame was cut off."""
        if not self._buf:
            return
        if len(self._buf) < HEADER.size:
            raise TruncatedFrame(len(self._buf), HEADER.size, "header")
        (length,) = HEADER.unpack_from(self._buf)
        raise TruncatedFrame(len(self._buf) - HEADER.size, length, "payload")


def _recv_exactly(sock: socket.socket, n: int, where: str) -> bytes | None:
    """``n`` bytes, or None on a clean EOF before the first byte; TruncatedFrame after."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if not buf and where == "header":
                return None
            raise TruncatedFrame(len(buf), n, where)
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket, *, max_size: int = DEFAULT_MAX_FRAME) -> bytes | None:
    """Read one frame from a blocking socket; None if the peer closed between frames.

    Set a timeout on ``sock`` to bound the wait; ``TimeoutError`` then propagates.
    """
    header = _recv_exactly(sock, HEADER.size, "header")
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > max_size:
        raise FrameTooLarge(length, max_size)
    if length == 0:
        return b""
    payload = _recv_exactly(sock, length, "payload")
    assert payload is not None
    return payload


def write_frame(sock: socket.socket, payload: bytes) -> None:
    """Write one frame with a single ``sendall`` (header and payload together)."""
    sock.sendall(encode(payload))


class NetstringClient:
    """A blocking client: ``request(b"taco cat") == b"tac ocat"`` against the server.

    Takes an address (connects, with ``timeout``) or an already connected socket
    (a socketpair end, say), which it then owns and closes.
    """

    def __init__(
        self,
        target: AddressLike | socket.socket,
        *,
        timeout: float | None = 5.0,
        max_size: int = DEFAULT_MAX_FRAME,
    ) -> None:
        if isinstance(target, socket.socket):
            self.sock = target
            self.sock.settimeout(timeout)
        else:
            self.sock = connect(target, timeout=timeout)
        self.max_size = max_size

    def send(self, payload: bytes) -> None:
        """Send one frame."""
        write_frame(self.sock, payload)

    def receive(self) -> bytes:
        """Receive one frame; raises :class:`TruncatedFrame` if the peer closed instead."""
        frame = read_frame(self.sock, max_size=self.max_size)
        if frame is None:
            raise TruncatedFrame(0, HEADER.size, "header")
        return frame

    def request(self, payload: bytes) -> bytes:
        """Send a frame and return the answering frame."""
        self.send(payload)
        return self.receive()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class NetstringServer(StreamServer):
    """Answers every frame with a frame holding the payload reversed.

    Bytes are reversed, not characters (``b"taco cat"`` -> ``b"tac ocat"``), as
    the protocol carries bytes. A frame over ``max_frame`` closes the
    connection; so does the client ending the stream inside a frame (logged as
    a truncated frame). Frames answered so far are still delivered first.
    """

    def __init__(
        self,
        address: AddressLike,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        mode: int | None = DEFAULT_SOCKET_MODE,
        max_clients: int | None = None,
        idle_timeout: float | None = None,
        allow_remote: bool = False,
        verbose: bool = False,
    ) -> None:
        super().__init__(
            address,
            mode=mode,
            max_clients=max_clients,
            idle_timeout=idle_timeout,
            allow_remote=allow_remote,
            verbose=verbose,
        )
        self.max_frame = max_frame
        self._decoders: dict[int, Decoder] = {}
        #: Frames answered since bind.
        self.frames = 0
        #: Connections dropped for a framing error (truncated or oversized frame).
        self.frame_errors = 0

    def _decoder(self, conn: Connection) -> Decoder:
        dec = self._decoders.get(conn.id)
        if dec is None:
            dec = self._decoders[conn.id] = Decoder(self.max_frame)
        return dec

    def answer(self, payload: bytes) -> bytes:
        """The reply payload for ``payload``: reversed. Override for another protocol."""
        return payload[::-1]

    def handle_data(self, conn: Connection, data: bytes) -> bytes:
        try:
            frames = self._decoder(conn).feed(data)
        except FrameTooLarge as exc:
            self.frame_errors += 1
            self.log.warning("connection #%d from %s: %s", conn.id, conn.peer, exc)
            # Stop reading, but still deliver the answers already queued.
            conn.eof = True
            return b""
        self.frames += len(frames)
        for payload in frames:
            self._info("connection #%d: frame of %d bytes", conn.id, len(payload))
        return b"".join(encode(self.answer(p)) for p in frames)

    def handle_eof(self, conn: Connection) -> bytes:
        decoder = self._decoders.pop(conn.id, None)
        if decoder is not None:
            try:
                decoder.finish()
            except TruncatedFrame as exc:
                self.frame_errors += 1
                self.log.warning("connection #%d from %s: %s", conn.id, conn.peer, exc)
        return b""

    def _close(self, conn: Connection, reason: str) -> None:
        self._decoders.pop(conn.id, None)
        super()._close(conn, reason)
