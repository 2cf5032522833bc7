"""Three ways to cut a byte stream into messages, each named for what it is.

================  =====================================  =========================
``Framing``       on the wire                            who speaks it
================  =====================================  =========================
``u32``           4-byte unsigned length, *native* byte  the seeds' Ruby socketpair
                  order, then the bytes                  example (``[n].pack("I")``)
``netstring``     ``8:taco cat,`` -- decimal length,     D. J. Bernstein's netstrings
                  ``:``, the bytes, ``,``
``line``          the bytes, then LF or CRLF             ``SocketStream>>nextLine``,
                                                         ``readline()``, telnet
================  =====================================  =========================

Lengths are always *bytes*, never characters. (The seed's Ruby client writes
``data.size`` -- characters -- so its framing breaks on the first non-ASCII
message; a byte count, ``data.bytesize``, is what the other side reads.)

Each framing has an incremental decoder -- :meth:`feed` bytes as they arrive,
get every complete payload, a :class:`FrameError` for a bad frame -- and an
``encode``. Every decoder takes a ``max_size``: the length comes from the peer,
and without a bound a garbage header makes the reader wait for (and buffer)
gigabytes.

Bad frames, and what each decoder says about them:

* ``u32``: a length over the limit (:class:`FrameTooLarge`, with a hint when
  the four bytes look like text: a netstring or line client on a u32 server);
  the stream ending inside a header or payload (:class:`TruncatedFrame`).
* ``netstring`` (strict): a length that does not start with a digit, has a
  leading zero (only ``0`` itself may start with 0), contains anything but
  digits before the ``:``, or exceeds the limit; a payload not followed by
  ``,``; the stream ending anywhere inside a frame.
* ``line``: a line longer than the limit without a line end; the stream ending
  inside a line.
"""

from __future__ import annotations

import contextlib
import enum
import struct
from collections.abc import Iterator
from typing import Protocol

__all__ = [
    "DEFAULT_MAX_FRAME",
    "HEADER",
    "HEADER_LIMIT",
    "FrameDecoder",
    "FrameError",
    "FrameTooLarge",
    "Framing",
    "LineDecoder",
    "MalformedFrame",
    "NetstringDecoder",
    "TruncatedFrame",
    "U32Decoder",
    "decoder_for",
    "encode_line",
    "encode_netstring",
    "encode_u32",
]

#: 4-byte unsigned length, native byte order, no padding ("=" = native order, standard size).
HEADER = struct.Struct("=I")

#: Largest length the u32 header can carry.
HEADER_LIMIT = (1 << 32) - 1

#: Largest payload accepted unless told otherwise: 1 MiB.
DEFAULT_MAX_FRAME = 1 << 20

LF = b"\n"
CRLF = b"\r\n"


class Framing(enum.Enum):
    """The framings a framed server or client can speak (the ``--framing`` values)."""

    U32 = "u32"
    NETSTRING = "netstring"
    LINE = "line"

    @property
    def summary(self) -> str:
        """One line for --help."""
        return _SUMMARIES[self]


_SUMMARIES = {
    Framing.U32: "4-byte native-order length, then the bytes (the seed's Ruby example)",
    Framing.NETSTRING: "djb netstring: decimal length, ':', the bytes, ','",
    Framing.LINE: "a line ended by LF or CRLF (SocketStream nextLine)",
}


class FrameError(ValueError):
    """A frame could not be read.

    ``frames`` holds the payloads that :meth:`FrameDecoder.feed` completed before
    it met the bad frame in the same data: a server still answers those.
    """

    frames: list[bytes] = []  # noqa: RUF012 -- replaced per instance by _decoding


class TruncatedFrame(FrameError):
    """The stream ended inside a frame (in its header, payload or terminator)."""

    def __init__(self, got: int, expected: int | None, where: str) -> None:
        if expected is None:
            text = f"stream ended in the frame {where} after {got} bytes"
        else:
            text = f"stream ended in the frame {where}: got {got} of {expected} bytes"
        super().__init__(text)
        self.got = got
        self.expected = expected
        self.where = where


class FrameTooLarge(FrameError):
    """A frame announced (or a line reached) more than the allowed maximum."""

    def __init__(self, length: int, limit: int, hint: str = "") -> None:
        super().__init__(f"frame of {length} bytes exceeds the limit of {limit} bytes{hint}")
        self.length = length
        self.limit = limit


class MalformedFrame(FrameError):
    """The bytes are not a frame of this framing at all (bad length syntax, no terminator)."""


@contextlib.contextmanager
def _decoding(frames: list[bytes]) -> Iterator[None]:
    """Attach the payloads decoded so far to a :class:`FrameError` raised in the block."""
    try:
        yield
    except FrameError as exc:
        exc.frames = frames
        raise


class FrameDecoder(Protocol):
    """What every incremental decoder offers."""

    max_size: int

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every payload now complete (raises :class:`FrameError`)."""
        ...

    def finish(self) -> None:
        """Call at end of stream: raises :class:`TruncatedFrame` if a frame was cut off."""
        ...

    @property
    def pending(self) -> int:
        """Bytes held that do not yet form a whole frame."""
        ...


# -- u32 -------------------------------------------------------------------------------


def encode_u32(payload: bytes, *, max_size: int | None = None) -> bytes:
    """The u32 frame for ``payload``: native 4-byte length, then the bytes."""
    limit = HEADER_LIMIT if max_size is None else max_size
    if len(payload) > limit:
        raise FrameTooLarge(len(payload), limit)
    return HEADER.pack(len(payload)) + payload


def _u32_hint(header: bytes) -> str:
    """Why a huge u32 length might be text, for the error message."""
    if all(32 <= b < 127 or b in (9, 10, 13) for b in header):
        return (
            f"; the header bytes {header!r} are text -- a netstring or line client? "
            "(this server speaks --framing u32)"
        )
    return ""


class U32Decoder:
    """Incremental u32 decoder."""

    def __init__(self, max_size: int = DEFAULT_MAX_FRAME) -> None:
        self.max_size = max_size
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every payload now complete (raises :class:`FrameTooLarge`)."""
        self._buf += data
        frames: list[bytes] = []
        with _decoding(frames):
            while len(self._buf) >= HEADER.size:
                (length,) = HEADER.unpack_from(self._buf)
                if length > self.max_size:
                    # Fail on the header: no point buffering a frame we will refuse.
                    hint = _u32_hint(bytes(self._buf[:4]))
                    raise FrameTooLarge(length, self.max_size, hint)
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


# -- netstring -------------------------------------------------------------------------


def encode_netstring(payload: bytes) -> bytes:
    """``b"8:taco cat,"`` for ``b"taco cat"``."""
    return b"%d:%s," % (len(payload), payload)


class NetstringDecoder:
    """Incremental, strict decoder of djb netstrings (see the module docstring)."""

    def __init__(self, max_size: int = DEFAULT_MAX_FRAME) -> None:
        self.max_size = max_size
        # More digits than the limit has cannot be a length within it (no leading zeros).
        self._max_digits = len(str(max_size))
        self._buf = bytearray()
        self._length: int | None = None  # parsed once the ':' has arrived

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every payload now complete (raises :class:`FrameError`)."""
        self._buf += data
        frames: list[bytes] = []
        with _decoding(frames):
            while self._buf:
                if self._length is None and not self._parse_length():
                    break
                assert self._length is not None
                if len(self._buf) < self._length + 1:
                    break
                terminator = self._buf[self._length]
                if terminator != ord(","):
                    raise MalformedFrame(
                        f"netstring of {self._length} bytes is not terminated by ',' "
                        f"(got {bytes([terminator])!r})"
                    )
                frames.append(bytes(self._buf[: self._length]))
                del self._buf[: self._length + 1]
                self._length = None
        return frames

    def _parse_length(self) -> bool:
        """Consume ``digits:`` from the buffer; False if more bytes are needed."""
        colon = self._buf.find(b":", 0, self._max_digits + 1)
        # Never look at more than one digit past the limit's: that already decides.
        digits = bytes(self._buf[: self._max_digits + 1] if colon < 0 else self._buf[:colon])
        for i, byte in enumerate(digits):
            if not 48 <= byte <= 57:
                where = "must start with a digit" if i == 0 else "may hold only digits before ':'"
                raise MalformedFrame(
                    f"netstring length {where}, got {bytes([byte])!r} (after {digits[:i]!r})"
                )
        if colon == 0:
            raise MalformedFrame("netstring length is empty: ':' with no digits before it")
        if len(digits) > 1 and digits[0] == ord("0"):
            raise MalformedFrame(f"netstring length {digits!r} has a leading zero")
        if colon < 0:
            if len(digits) > self._max_digits:
                raise FrameTooLarge(
                    int(digits), self.max_size, f" (a length of {len(digits)} digits or more)"
                )
            return False
        length = int(digits)
        if length > self.max_size:
            raise FrameTooLarge(length, self.max_size)
        del self._buf[: colon + 1]
        self._length = length
        return True

    @property
    def pending(self) -> int:
        """Bytes held that do not yet form a whole frame."""
        return len(self._buf) + (0 if self._length is None else 1)

    def finish(self) -> None:
        """Call at end of stream: raises :class:`TruncatedFrame` if a frame was cut off."""
        if self._length is None:
            if self._buf:
                raise TruncatedFrame(len(self._buf), None, "length")
            return
        if len(self._buf) < self._length:
            raise TruncatedFrame(len(self._buf), self._length, "payload")
        raise TruncatedFrame(0, 1, "terminator ','")


# -- line ------------------------------------------------------------------------------


def encode_line(payload: bytes, ending: bytes = CRLF) -> bytes:
    """``payload`` and a line end; a payload that itself holds a LF is refused."""
    if LF in payload:
        raise MalformedFrame("a line cannot contain a line feed")
    if ending not in (LF, CRLF):
        raise ValueError("a line ends with LF or CRLF")
    return payload + ending


class LineDecoder:
    """Incremental decoder of LF- or CRLF-terminated lines.

    The payload excludes the line end; :attr:`endings` holds, for every payload
    the last :meth:`feed` returned, the line end it came with (``b"\\n"`` or
    ``b"\\r\\n"``), so an answer can use the same one. A lone CR is data.
    """

    def __init__(self, max_size: int = DEFAULT_MAX_FRAME) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self.endings: list[bytes] = []

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every line now complete (raises :class:`FrameTooLarge`)."""
        self._buf += data
        frames: list[bytes] = []
        self.endings = []
        with _decoding(frames):
            while True:
                # Search only as far as a line may reach: a peer that never sends LF must
                # not make every feed scan (and us hold) an ever longer buffer.
                end = self._buf.find(LF, 0, self.max_size + 2)
                if end < 0:
                    if len(self._buf) > self.max_size + 1:
                        raise FrameTooLarge(
                            len(self._buf), self.max_size, " (a line without a line end)"
                        )
                    break
                crlf = end > 0 and self._buf[end - 1] == ord("\r")
                line = bytes(self._buf[: end - 1 if crlf else end])
                if len(line) > self.max_size:
                    raise FrameTooLarge(len(line), self.max_size, " (a line)")
                frames.append(line)
                self.endings.append(CRLF if crlf else LF)
                del self._buf[: end + 1]
        return frames

    @property
    def pending(self) -> int:
        """Bytes held that do not yet form a whole line."""
        return len(self._buf)

    def finish(self) -> None:
        """Call at end of stream: raises :class:`TruncatedFrame` if a line was cut off."""
        if self._buf:
            raise TruncatedFrame(len(self._buf), None, "line (no line end)")


def decoder_for(framing: Framing, max_size: int = DEFAULT_MAX_FRAME) -> FrameDecoder:
    """A fresh incremental decoder for ``framing``."""
    if framing is Framing.U32:
        return U32Decoder(max_size)
    if framing is Framing.NETSTRING:
        return NetstringDecoder(max_size)
    return LineDecoder(max_size)
