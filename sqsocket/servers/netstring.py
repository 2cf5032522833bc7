"""The framed "reverse" server and client: the seed's socketpair child, as a server.

:class:`NetstringServer` answers every frame with a frame holding the payload
reversed; :class:`NetstringClient` is its blocking client. Both speak any of
the :mod:`~sqsocket.servers.framing` framings -- ``u32`` (the default: a
4-byte native-order length, as the seed's Ruby example sends, which the seed
calls "netstring"), ``netstring`` (D. J. Bernstein's ``8:taco cat,``) and
``line`` (LF or CRLF). The names stay for compatibility: the module and classes
are called netstring because the seed called its u32 framing that.

The u32 helpers the other modules use live here too: :func:`encode`,
:func:`decode`, :class:`Decoder` (incremental, for non-blocking code),
:func:`read_frame` / :func:`write_frame` (blocking sockets).
"""

from __future__ import annotations

import collections
import socket
from typing import Unpack

from sqsocket.closing import Closing
from sqsocket.servers.base import AddressLike, connect
from sqsocket.servers.framing import (
    CRLF,
    DEFAULT_MAX_FRAME,
    HEADER,
    HEADER_LIMIT,
    FrameDecoder,
    FrameError,
    FrameTooLarge,
    Framing,
    LineDecoder,
    MalformedFrame,
    TruncatedFrame,
    decoder_for,
    encode_line,
    encode_netstring,
)
from sqsocket.servers.framing import U32Decoder as Decoder
from sqsocket.servers.framing import encode_u32 as encode
from sqsocket.servers.stream import Connection, StreamOptions, StreamServer

__all__ = [
    "DEFAULT_MAX_FRAME",
    "HEADER",
    "HEADER_LIMIT",
    "Decoder",
    "FrameError",
    "FrameTooLarge",
    "Framing",
    "MalformedFrame",
    "NetstringClient",
    "NetstringServer",
    "TruncatedFrame",
    "decode",
    "encode",
    "encode_frame",
    "read_frame",
    "write_frame",
]


def encode_frame(framing: Framing, payload: bytes, *, line_ending: bytes = CRLF) -> bytes:
    """``payload`` framed as ``framing`` says (``line_ending`` for :attr:`Framing.LINE`)."""
    if framing is Framing.U32:
        return encode(payload)
    if framing is Framing.NETSTRING:
        return encode_netstring(payload)
    return encode_line(payload, line_ending)


def decode(data: bytes, *, max_size: int = DEFAULT_MAX_FRAME) -> tuple[bytes, bytes]:
    """Split one u32 frame off the front of ``data``: ``(payload, rest)``.

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


class NetstringClient(Closing):
    """A blocking client: ``request(b"taco cat") == b"tac ocat"`` against the server.

    Takes an address (connects, with ``timeout``) or an already connected socket
    (a socketpair end, say), which it then owns and closes. ``framing`` must be
    the server's; ``line_ending`` is what :attr:`Framing.LINE` requests end with.
    """

    def __init__(
        self,
        target: AddressLike | socket.socket,
        *,
        timeout: float | None = 5.0,
        max_size: int = DEFAULT_MAX_FRAME,
        framing: Framing = Framing.U32,
        line_ending: bytes = CRLF,
    ) -> None:
        if isinstance(target, socket.socket):
            self.sock = target
            self.sock.settimeout(timeout)
        else:
            self.sock = connect(target, timeout=timeout)
        self.max_size = max_size
        self.framing = framing
        self.line_ending = line_ending
        self._decoder = decoder_for(framing, max_size)
        self._frames: collections.deque[bytes] = collections.deque()

    def send(self, payload: bytes) -> None:
        """Send one frame."""
        self.sock.sendall(encode_frame(self.framing, payload, line_ending=self.line_ending))

    def receive(self) -> bytes:
        """Receive one frame; raises :class:`TruncatedFrame` if the peer closed instead."""
        while not self._frames:
            chunk = self.sock.recv(65536)
            if not chunk:
                self._decoder.finish()
                raise TruncatedFrame(0, None, "start (the server closed the connection)")
            self._frames.extend(self._decoder.feed(chunk))
        return self._frames.popleft()

    def request(self, payload: bytes) -> bytes:
        """Send a frame and return the answering frame."""
        self.send(payload)
        return self.receive()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class NetstringServer(StreamServer):
    """Answers every frame with a frame holding the payload reversed.

    Bytes are reversed, not characters (``b"taco cat"`` -> ``b"tac ocat"``), as
    the protocol carries bytes -- and as the seed's Ruby child does, whose
    ``read`` returns a binary string. ``framing`` picks the
    :class:`~sqsocket.servers.framing.Framing` (u32 by default, the seed's); a
    line is answered with the line end it came with. A bad frame (too large,
    malformed, or the stream ending inside one) is logged, rate-limited, and
    counted in :attr:`frame_errors`; the connection is then closed -- after the
    answers to the frames before it are delivered. The other options are
    :class:`~sqsocket.servers.stream.StreamServer`'s.
    """

    def __init__(
        self,
        address: AddressLike,
        *,
        framing: Framing = Framing.U32,
        max_frame: int = DEFAULT_MAX_FRAME,
        **options: Unpack[StreamOptions],
    ) -> None:
        super().__init__(address, **options)
        if not 0 < max_frame <= HEADER_LIMIT:
            raise ValueError(f"max_frame must be from 1 to {HEADER_LIMIT}")
        self.framing = framing
        self.max_frame = max_frame
        self._decoders: dict[int, FrameDecoder] = {}
        #: Frames answered since bind.
        self.frames = 0
        #: Connections dropped for a framing error (truncated, oversized or malformed frame).
        self.frame_errors = 0

    def _decoder(self, conn: Connection) -> FrameDecoder:
        dec = self._decoders.get(conn.id)
        if dec is None:
            dec = self._decoders[conn.id] = decoder_for(self.framing, self.max_frame)
        return dec

    def answer(self, payload: bytes) -> bytes:
        """The reply payload for ``payload``: reversed. Override for another protocol."""
        return payload[::-1]

    def _bad_frame(self, conn: Connection, exc: FrameError) -> None:
        self.frame_errors += 1
        self.warnings.warning(
            "bad frame",
            "connection #%d from %s: bad %s frame: %s; closing it",
            conn.id,
            conn.peer,
            self.framing.value,
            exc,
        )

    def handle_data(self, conn: Connection, data: bytes) -> bytes:
        decoder = self._decoder(conn)
        try:
            frames = decoder.feed(data)
        except FrameError as exc:
            self._bad_frame(conn, exc)
            # Stop reading, but still answer the frames before the bad one.
            conn.eof = True
            frames = exc.frames
        self.frames += len(frames)
        endings = decoder.endings if isinstance(decoder, LineDecoder) else []
        out = []
        for i, payload in enumerate(frames):
            self._info("connection #%d: frame of %d bytes", conn.id, len(payload))
            ending = endings[i] if i < len(endings) else CRLF
            out.append(encode_frame(self.framing, self.answer(payload), line_ending=ending))
        return b"".join(out)

    def handle_eof(self, conn: Connection) -> bytes:
        decoder = self._decoders.pop(conn.id, None)
        if decoder is not None:
            try:
                decoder.finish()
            except TruncatedFrame as exc:
                self._bad_frame(conn, exc)
        return b""

    def _close(self, conn: Connection, reason: str) -> None:
        self._decoders.pop(conn.id, None)
        super()._close(conn, reason)
