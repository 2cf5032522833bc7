"""Length-prefixed frames: helpers, truncation and size limits, the reversing server."""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading

import pytest

from sqsocket.servers import (
    FrameTooLarge,
    NetstringClient,
    NetstringServer,
    TruncatedFrame,
)
from sqsocket.servers.netstring import HEADER, Decoder, decode, encode, read_frame, write_frame


def test_header_is_native_4_byte_unsigned() -> None:
    # Ruby's [n].pack("I"): 4 bytes, host byte order.
    assert HEADER.size == 4
    assert encode(b"taco cat") == (8).to_bytes(4, sys.byteorder) + b"taco cat"
    assert encode(b"") == b"\0\0\0\0"


def test_decode_and_rest() -> None:
    data = encode(b"one") + encode(b"two") + b"\x01"
    payload, rest = decode(data)
    assert payload == b"one"
    payload, rest = decode(rest)
    assert payload == b"two"
    assert rest == b"\x01"


def test_truncated_frames_are_clear_errors() -> None:
    frame = encode(b"taco cat")
    with pytest.raises(TruncatedFrame, match="header: got 2 of 4"):
        decode(frame[:2])
    with pytest.raises(TruncatedFrame, match="payload: got 3 of 8"):
        decode(frame[:7])
    dec = Decoder()
    assert dec.feed(frame[:7]) == []
    assert dec.pending == 7
    with pytest.raises(TruncatedFrame, match="payload"):
        dec.finish()


def test_decoder_handles_any_split() -> None:
    frames = [os.urandom(n) for n in (0, 1, 5, 300, 70000)]
    stream = b"".join(encode(f) for f in frames)
    for step in (1, 3, 4, 7, 4096):
        dec = Decoder()
        got: list[bytes] = []
        for i in range(0, len(stream), step):
            got += dec.feed(stream[i : i + step])
        dec.finish()
        assert got == frames


def test_max_frame_size() -> None:
    with pytest.raises(FrameTooLarge):
        Decoder(max_size=10).feed(struct.pack("=I", 11))
    with pytest.raises(FrameTooLarge):
        decode(encode(b"x" * 11), max_size=10)
    with pytest.raises(FrameTooLarge):
        encode(b"x" * 11, max_size=10)


def test_read_frame_on_socketpair() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.settimeout(5)
        write_frame(a, b"hello")
        a.sendall(encode(b"")[:2])
        assert read_frame(b) == b"hello"
        a.sendall(encode(b"")[2:])
        assert read_frame(b) == b""
        a.sendall(encode(b"cut short")[:6])
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(TruncatedFrame, match="payload: got 2 of 9"):
            read_frame(b)
    c, d = socket.socketpair()
    with c, d:
        c.close()
        assert read_frame(d) is None  # clean end between frames


def test_server_taco_cat(sockdir: str) -> None:
    with NetstringServer(os.path.join(sockdir, "n")) as srv, NetstringClient(srv.address) as cli:
        assert cli.request(b"taco cat") == b"tac ocat"
        assert cli.request(b"") == b""
        big = os.urandom(500_000)
        assert cli.request(big) == big[::-1]


def test_server_pipelined_frames_over_tcp() -> None:
    frames = [f"frame {i}".encode() * (i % 7 + 1) for i in range(500)]
    with NetstringServer("tcp:127.0.0.1:0") as srv, srv.connect() as sock:
        # All requests in one go, answers read afterwards: ordering and framing hold.
        sender = threading.Thread(target=sock.sendall, args=(b"".join(map(encode, frames)),))
        sender.start()
        answers = [read_frame(sock) for _ in frames]
        sender.join(5)
        assert answers == [f[::-1] for f in frames]
        assert srv.frames == len(frames)


def test_server_closes_on_oversized_frame(sockdir: str) -> None:
    with NetstringServer(os.path.join(sockdir, "n"), max_frame=100) as srv, srv.connect() as sock:
        write_frame(sock, b"ok")
        assert read_frame(sock) == b"ko"
        sock.sendall(struct.pack("=I", 101))
        assert read_frame(sock) is None  # closed without an answer
        assert srv.frame_errors == 1


def test_server_logs_truncated_frame(sockdir: str, caplog: pytest.LogCaptureFixture) -> None:
    with NetstringServer(os.path.join(sockdir, "n")) as srv:
        with srv.connect() as sock:
            write_frame(sock, b"abc")
            sock.sendall(encode(b"never finished")[:9])
            sock.shutdown(socket.SHUT_WR)
            assert read_frame(sock) == b"cba"  # the whole frame is still answered
            assert read_frame(sock) is None
        srv.stop()
        assert srv.frame_errors == 1
    assert any("stream ended in the frame payload" in r.getMessage() for r in caplog.records)


def test_client_over_socketpair() -> None:
    a, b = socket.socketpair()
    with NetstringClient(a) as left, NetstringClient(b) as right:
        left.send(b"over a pair")
        assert right.receive() == b"over a pair"
        right.close()
        with pytest.raises(TruncatedFrame):
            left.receive()
