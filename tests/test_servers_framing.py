"""Framings named for what they are: u32 (the seed's), djb netstrings, lines.

The seed's Ruby peer is re-implemented below, framing decision by framing
decision, so its behaviour -- including its bug -- is tested without Ruby.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from process_support import ServerProcess, serve
from squeak_support import SMALLTALK_DIR, VM_TIMEOUT

from sqsocket.servers import NetstringClient, NetstringServer, parse_ready_line
from sqsocket.servers.framing import (
    FrameError,
    FrameTooLarge,
    Framing,
    LineDecoder,
    MalformedFrame,
    NetstringDecoder,
    TruncatedFrame,
    encode_line,
    encode_netstring,
)
from sqsocket.squeak import runner


class RubyNetString:
    """The seed's Ruby ``NetString`` class (../shared/seeds/003), transliterated.

    ``LENGTH_SIZE = [1].pack("I").size`` is a native unsigned int (4 bytes);
    ``send`` writes ``[data.size].pack("I")`` -- ``String#size`` counts
    *characters* -- then the data's bytes; ``receive`` unpacks the length and
    ``read``s that many *bytes* (``IO#read(n)`` reads exactly n unless at EOF).
    """

    LENGTH_SIZE = struct.calcsize("I")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def _read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                break
            buf += chunk
        return buf

    def receive(self) -> bytes:
        (bytes_to_read,) = struct.unpack("I", self._read(self.LENGTH_SIZE))
        return self._read(bytes_to_read)

    def send(self, data: str) -> None:
        self.sock.sendall(struct.pack("I", len(data)))  # data.size: characters
        self.sock.sendall(data.encode("utf-8"))


class FixedRubyNetString(RubyNetString):
    """The same, with the one-word fix: ``data.bytesize`` instead of ``data.size``."""

    def send(self, data: str) -> None:
        raw = data.encode("utf-8")
        self.sock.sendall(struct.pack("I", len(raw)))
        self.sock.sendall(raw)


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(path)
    return sock


def _recv_all(sock: socket.socket) -> bytes:
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


StartServer = Callable[..., str]


@pytest.fixture
def cli_server(sockdir: str) -> Iterator[StartServer]:
    """Start ``sqsocket serve netstring --unix PATH [ARGS]``; stopped with SIGINT after."""
    started: list[ServerProcess] = []

    def start(*args: str) -> str:
        path = os.path.join(sockdir, f"n{len(started)}")
        started.append(serve("netstring", "--unix", path, *args))
        kind, _ = parse_ready_line(started[-1].ready)
        assert kind == "stream"
        return path

    yield start
    for proc in started:
        code, _, err = proc.signal(signal.SIGINT)
        assert code == 0, err
        assert "Traceback" not in err


# -- the seed's Ruby peer ------------------------------------------------------------------


def test_ruby_peer_taco_cat_over_u32(cli_server: StartServer) -> None:
    path = cli_server()  # the default framing is u32
    with _connect(path) as sock:
        peer = RubyNetString(sock)
        peer.send("taco cat")
        assert peer.receive() == b"tac ocat"


def test_ruby_peer_counts_characters_so_utf8_breaks_its_framing(sockdir: str) -> None:
    """Not the server's bug: the Ruby client announces 11 for 13 bytes of UTF-8."""
    message = "héllo wörld"
    assert (len(message), len(message.encode())) == (11, 13)
    with NetstringServer(os.path.join(sockdir, "n")) as srv, _connect(srv.path or "") as sock:
        peer = RubyNetString(sock)
        peer.send(message)
        reply = peer.receive()
        # The server took the first 11 bytes as the frame; the last 2 start a "header".
        assert reply == message.encode()[:11][::-1]
        assert reply != message.encode()[::-1]
        sock.shutdown(socket.SHUT_WR)
        assert _recv_all(sock) == b""
    assert srv.frame_errors == 1  # the 2 stray bytes: a truncated header at end of stream


def test_utf8_works_over_u32_because_lengths_are_bytes(cli_server: StartServer) -> None:
    path = cli_server()
    message = "héllo wörld ✓ 🐍"
    with _connect(path) as sock:
        peer = FixedRubyNetString(sock)
        peer.send(message)
        assert peer.receive() == message.encode()[::-1]
    with NetstringClient(path) as client:
        assert client.request(message.encode())[::-1].decode() == message


# -- djb netstrings ------------------------------------------------------------------------


def test_classic_netstring_client(cli_server: StartServer) -> None:
    path = cli_server("--framing", "netstring")
    with _connect(path) as sock:
        sock.sendall(b"8:taco cat,")
        assert sock.recv(100) == b"8:tac ocat,"
        # Pipelined, the empty netstring, and UTF-8 (lengths in bytes).
        sock.sendall(b"0:,3:abc," + encode_netstring("ü✓".encode()))
        sock.shutdown(socket.SHUT_WR)
        assert _recv_all(sock) == b"0:,3:cba," + encode_netstring("ü✓".encode()[::-1])
    with NetstringClient(path, framing=Framing.NETSTRING) as client:
        assert client.request(b"taco cat") == b"tac ocat"


def test_classic_netstring_client_against_u32_is_a_clear_error(
    sockdir: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue: ``8:taco cat,`` read as a u32 length of 1.6 GB, dropped without a word."""
    with NetstringServer(os.path.join(sockdir, "n")) as srv, _connect(srv.path or "") as sock:
        sock.sendall(b"8:taco cat,")
        assert _recv_all(sock) == b""
    assert srv.frame_errors == 1
    text = caplog.text
    assert f"frame of {struct.unpack('=I', b'8:ta')[0]} bytes exceeds the limit" in text
    assert "a netstring or line client?" in text and "--framing u32" in text


# -- lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_line_framing_answers_with_the_same_line_end(
    cli_server: StartServer, ending: bytes
) -> None:
    path = cli_server("--framing", "line")
    with _connect(path) as sock:
        sock.sendall(b"taco cat" + ending + b"x\ry" + ending + ending)
        sock.shutdown(socket.SHUT_WR)
        # A lone CR is data; an empty line is a frame too.
        assert _recv_all(sock) == b"tac ocat" + ending + b"y\rx" + ending + ending
    with NetstringClient(path, framing=Framing.LINE, line_ending=ending) as client:
        assert client.request(b"taco cat") == b"tac ocat"


# -- bad frames: logged, counted, connection closed ----------------------------------------


@pytest.mark.parametrize(
    ("framing", "data", "message"),
    [
        (Framing.NETSTRING, b"08:taco cat,", "has a leading zero"),
        (Framing.NETSTRING, b"x:", "must start with a digit"),
        (Framing.NETSTRING, b"8x:taco cat,", "may hold only digits before ':'"),
        (Framing.NETSTRING, b":,", "length is empty"),
        (Framing.NETSTRING, b"8:taco catX", "not terminated by ','"),
        (Framing.NETSTRING, b"99999999999:", "exceeds the limit"),
        (Framing.NETSTRING, b"9" * 5000, "exceeds the limit"),
        (Framing.NETSTRING, b"17:", "exceeds the limit of 16"),
        (Framing.NETSTRING, b"8:taco", "stream ended in the frame payload: got 4 of 8"),
        (Framing.NETSTRING, b"8:taco cat", "terminator ','"),
        (Framing.NETSTRING, b"12", "stream ended in the frame length"),
        (Framing.LINE, b"a" * 40, "a line without a line end"),
        (Framing.LINE, b"a" * 17 + b"\n", "exceeds the limit of 16"),
        (Framing.LINE, b"no newline", "no line end"),
        (Framing.U32, b"\x05\x00\x00\x00ab", "stream ended in the frame payload: got 2 of 5"),
        (Framing.U32, b"\x05\x00", "stream ended in the frame header"),
    ],
)
def test_bad_frames_are_logged_and_close_the_connection(
    sockdir: str, caplog: pytest.LogCaptureFixture, framing: Framing, data: bytes, message: str
) -> None:
    path = os.path.join(sockdir, "n")
    with NetstringServer(path, framing=framing, max_frame=16) as srv, _connect(path) as sock:
        good = {Framing.NETSTRING: b"2:ok,", Framing.LINE: b"ok\n", Framing.U32: b"\2\0\0\0ok"}
        sock.sendall(good[framing] + data)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # already closed by the server
        reply = _recv_all(sock)
    # The frame before the bad one is still answered, then the connection is closed.
    answered = {Framing.NETSTRING: b"2:ko,", Framing.LINE: b"ko\n", Framing.U32: b"\2\0\0\0ko"}
    assert reply == answered[framing]
    assert srv.frame_errors == 1
    assert message in caplog.text
    assert f"bad {framing.value} frame" in caplog.text


def test_decoders_handle_any_split() -> None:
    stream = b"0:,8:taco cat," + encode_netstring(bytes(range(256)))
    line_stream = b"taco cat\r\nsecond\n\r\n"
    for cut in range(len(stream) + 1):
        dec = NetstringDecoder()
        got = dec.feed(stream[:cut]) + dec.feed(stream[cut:])
        assert got == [b"", b"taco cat", bytes(range(256))]
        dec.finish()
    for cut in range(len(line_stream) + 1):
        ldec = LineDecoder()
        got = ldec.feed(line_stream[:cut]) + ldec.feed(line_stream[cut:])
        assert got == [b"taco cat", b"second", b""]
        ldec.finish()


def test_decoder_errors_are_frame_errors() -> None:
    with pytest.raises(MalformedFrame):
        NetstringDecoder().feed(b"01:a,")
    with pytest.raises(FrameTooLarge):
        NetstringDecoder(max_size=9).feed(b"10:")
    dec = NetstringDecoder()
    dec.feed(b"3:ab")
    with pytest.raises(TruncatedFrame):
        dec.finish()
    with pytest.raises(FrameError):
        encode_line(b"two\nlines")
    assert encode_line(b"x", b"\n") == b"x\n"


def test_framing_option_is_validated(sockdir: str) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "sqsocket", "serve", "netstring", "--tcp", "--framing", "djb"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "choose from u32, netstring, line" in proc.stderr


# -- the Smalltalk client, on the real VM --------------------------------------------------


@pytest.mark.squeakvm
def test_squeak_netstring_client_reads_all_32_bits_of_the_length(
    squeak_vm: Path, squeak_image: Path, sockdir: str
) -> None:
    """A 65,538-byte reply: with 16 bits of its length read, the client printed 2 bytes."""
    message = "".join(chr(ord("a") + i % 26) for i in range(65538))
    path = os.path.join(sockdir, "ns.sock")  # 24 bytes: not a multiple of 4 (docs/quirks.md)
    with NetstringServer(path) as srv:
        result = runner.run_script(
            SMALLTALK_DIR / "netstring_client.st",
            [path, message],
            VM_TIMEOUT,
            vm=squeak_vm,
            image=squeak_image,
        )
    assert result.ok, result.describe()[:2000]
    assert result.stdout == message[::-1] + "\n"
    assert srv.frames == 1
