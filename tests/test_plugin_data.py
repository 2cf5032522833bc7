"""Sending and receiving: streams, datagrams (old and new API), byte and word buffers."""

from __future__ import annotations

import array
import errno
import os
import socket
import time

import pytest
from plugin_support import LOOPBACK, WAIT, Harness, Sock, fails, wait_until

from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.layouts import SocketAddressLayout, sockaddr_to_python

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]


def udp_on_loopback(h: Harness, name: str = "udp") -> tuple[Sock, int]:
    s = h.create(NetDomain.INET4, SocketType.UDP, name)
    h.p.primitiveSocketBindToPort(s.handle, LOOPBACK, 0)
    return s, h.p.primitiveSocketLocalPort(s.handle)


def wait_readable(h: Harness, s: Sock) -> None:
    """Socket>>waitForData: ask, and wait on the read semaphore when the answer is no."""
    assert wait_until(
        lambda: h.p.primitiveSocketReceiveDataAvailable(s.handle) or bool(s.read.wait(0.05))
    )
    assert wait_until(lambda: h.p.primitiveSocketReceiveDataAvailable(s.handle))


# -- streams -------------------------------------------------------------------------------------


def test_send_and_receive_with_start_and_count(harness: Harness) -> None:
    client, server, _ = harness.tcp_pair()
    assert harness.p.primitiveSocketSendDataBufCount(client.handle, b"..hello..", 3, 5) == 5
    buf = bytearray(b"0123456789")
    wait_readable(harness, server)
    assert harness.p.primitiveSocketReceiveDataBufCount(server.handle, buf, 4, 5) == 5
    assert buf == b"012hello89", "written at the 1-based start index, nowhere else"


def test_receive_reads_at_most_count(harness: Harness) -> None:
    client, server, _ = harness.tcp_pair()
    harness.send_all(client, b"abcdef")
    wait_readable(harness, server)
    buf = bytearray(6)
    assert harness.p.primitiveSocketReceiveDataBufCount(server.handle, buf, 1, 2) == 2
    assert harness.receive_exactly(server, 4) == b"cdef"


def test_receive_with_nothing_there_answers_zero_and_stays_connected(harness: Harness) -> None:
    _client, server, _ = harness.tcp_pair()
    assert harness.p.primitiveSocketReceiveDataBufCount(server.handle, bytearray(8), 1, 8) == 0
    assert harness.status(server) == 2
    assert harness.p.primitiveSocketError(server.handle) == 0


def test_send_accepts_bytes_bytearray_str_and_memoryview(harness: Harness) -> None:
    client, server, _ = harness.tcp_pair()
    for data in (b"ab", bytearray(b"cd"), "ef", memoryview(b"gh")):
        assert harness.p.primitiveSocketSendDataBufCount(client.handle, data, 1, 2) == 2
    assert harness.receive_exactly(server, 8) == b"abcdefgh"


def test_a_large_transfer_arrives_intact(harness: Harness, sockdir: str) -> None:
    client, server, _ = harness.unix_pair(sockdir)
    payload = os.urandom(300_000)
    received = bytearray()
    sent = 0
    buf = bytearray(65536)
    deadline = time.monotonic() + WAIT
    while len(received) < len(payload):
        assert time.monotonic() < deadline, f"{len(received)} of {len(payload)} bytes arrived"
        if sent < len(payload):
            sent += harness.p.primitiveSocketSendDataBufCount(
                client.handle, payload, sent + 1, min(65536, len(payload) - sent)
            )
        n = harness.p.primitiveSocketReceiveDataBufCount(server.handle, buf, 1, len(buf))
        received += buf[:n]
        if n == 0 and not harness.p.primitiveSocketReceiveDataAvailable(server.handle):
            server.read.wait(0.05)
    assert bytes(received) == payload


def test_word_arrays_count_in_words(harness: Harness) -> None:
    client, server, _ = harness.tcp_pair()
    words = array.array("I", [0x01020304, 0x05060708, 0x090A0B0C])
    assert words.itemsize == 4
    # start 2, count 2: the second and third words, 8 bytes
    assert harness.p.primitiveSocketSendDataBufCount(client.handle, words, 2, 2) == 2
    expected = words[1:].tobytes()
    into = array.array("I", [0, 0, 0, 0])
    wait_readable(harness, server)
    got = 0
    while got < 2:
        n = harness.p.primitiveSocketReceiveDataBufCount(server.handle, into, 2 + got, 2 - got)
        got += n
        if n == 0:
            server.read.wait(0.05)
    assert into.tobytes()[4:12] == expected and into[0] == 0 and into[3] == 0


def test_a_partial_word_is_answered_as_whole_words_only(harness: Harness) -> None:
    """bytesReceived / 4: six bytes into a word array count as one word."""
    client, server, _ = harness.tcp_pair()
    harness.send_all(client, b"123456")
    wait_readable(harness, server)
    assert wait_until(lambda: harness.pss(server).sock is not None)
    into = array.array("I", [0, 0])
    assert harness.p.primitiveSocketReceiveDataBufCount(server.handle, into, 1, 2) == 1
    assert into.tobytes()[:6] == b"123456"


def test_word_array_bounds_are_in_words(harness: Harness) -> None:
    client, _server, _ = harness.tcp_pair()
    words = array.array("I", [1, 2])
    fails(harness.p.primitiveSocketSendDataBufCount, client.handle, words, 2, 2)
    fails(harness.p.primitiveSocketReceiveDataBufCount, client.handle, words, 1, 3)
    assert harness.p.primitiveSocketSendDataBufCount(client.handle, words, 1, 2) == 2


def test_send_done_and_data_available_when_not_connected(harness: Harness) -> None:
    fresh = harness.create(NetDomain.INET4, SocketType.TCP)
    assert harness.p.primitiveSocketSendDone(fresh.handle) is False
    assert harness.p.primitiveSocketReceiveDataAvailable(fresh.handle) is False
    client, _server, _ = harness.tcp_pair()
    assert harness.p.primitiveSocketSendDone(client.handle) is True


def test_receive_of_zero_bytes_on_a_stream_reads_as_end_of_stream(harness: Harness) -> None:
    """read(fd, buf, 0) answers 0, which the C code takes for the peer having closed."""
    _client, server, _ = harness.tcp_pair()
    assert harness.p.primitiveSocketReceiveDataBufCount(server.handle, bytearray(4), 1, 0) == 0
    assert harness.status(server) == 3


def test_send_of_zero_bytes_on_a_stream_marks_it_closed(harness: Harness) -> None:
    """write(fd, buf, 0) answers 0, which the C code takes for a failed write."""
    client, _server, _ = harness.tcp_pair()
    assert harness.p.primitiveSocketSendDataBufCount(client.handle, b"", 1, 0) == 0
    assert harness.status(client) == 3


def test_peer_reset_is_a_send_failure(harness: Harness) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        client = harness.create(NetDomain.INET4, SocketType.TCP)
        harness.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, listener.getsockname()[1])
        peer, _ = listener.accept()
        assert client.conn.wait(WAIT) and harness.status(client) == 2
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        peer.close()  # linger 0: RST

    def send_fails() -> bool:
        harness.p.primitiveSocketSendDataBufCount(client.handle, b"x", 1, 1)
        return harness.status(client) == 3

    assert wait_until(send_fails)
    assert harness.p.primitiveSocketError(client.handle) in (errno.ECONNRESET, errno.EPIPE)


def test_bad_buffers_fail(harness: Harness) -> None:
    client, _server, _ = harness.tcp_pair()
    recv, send = (
        harness.p.primitiveSocketReceiveDataBufCount,
        harness.p.primitiveSocketSendDataBufCount,
    )
    for immutable in (b"12345678", "12345678", memoryview(b"12345678"), (1, 2)):
        fails(recv, client.handle, immutable, 1, 4)
    for start, count in ((0, 1), (1, -1), (8, 2), (10, 0), (-1, 1)):
        fails(recv, client.handle, bytearray(8), start, count)
        fails(send, client.handle, b"12345678", start, count)
    for junk in (None, 12, [1, 2], array.array("d", [1.0]), array.array("H", [1])):
        fails(send, client.handle, junk, 1, 1)
    fails(send, client.handle, b"ab", "1", 1)
    fails(send, client.handle, b"ab", 1, True)
    assert harness.status(client) == 2, "nothing was sent or received"


# -- UDP, old API ------------------------------------------------------------------------------


def test_udp_is_born_connected_and_sets_peer_with_connect(harness: Harness) -> None:
    a, port_a = udp_on_loopback(harness, "a")
    b, port_b = udp_on_loopback(harness, "b")
    assert harness.status(a) == 2
    harness.p.primitiveSocketConnectToPort(a.handle, LOOPBACK, port_b)
    assert harness.p.primitiveSocketRemotePort(a.handle) == port_b
    assert harness.p.primitiveSocketSendDataBufCount(a.handle, b"to the peer", 1, 11) == 11
    wait_readable(harness, b)
    buf = bytearray(32)
    assert harness.p.primitiveSocketReceiveDataBufCount(b.handle, buf, 1, 32) == 11
    assert buf[:11] == b"to the peer"
    # receiving records the sender as the peer: a reply goes back without connect
    assert harness.p.primitiveSocketRemotePort(b.handle) == port_a
    assert harness.p.primitiveSocketRemoteAddress(b.handle) == LOOPBACK
    assert harness.p.primitiveSocketSendDataBufCount(b.handle, b"reply", 1, 5) == 5
    wait_readable(harness, a)
    assert harness.p.primitiveSocketReceiveDataBufCount(a.handle, buf, 1, 32) == 5


def test_send_and_receive_udp_data_buf_count(harness: Harness) -> None:
    a, port_a = udp_on_loopback(harness, "a")
    b, port_b = udp_on_loopback(harness, "b")
    sent = harness.p.primitiveSocketSendUDPDataBufCount(
        a.handle, b"xdatagramx", LOOPBACK, port_b, 2, 8
    )
    assert sent == 8
    wait_readable(harness, b)
    buf = bytearray(16)
    result = harness.p.primitiveSocketReceiveUDPDataBufCount(b.handle, buf, 1, 16)
    assert result == [8, LOOPBACK, port_a, False]
    assert buf[:8] == b"datagram"


def test_receive_udp_with_nothing_there(harness: Harness) -> None:
    a, _ = udp_on_loopback(harness)
    result = harness.p.primitiveSocketReceiveUDPDataBufCount(a.handle, bytearray(8), 1, 8)
    assert result == [0, b"\0\0\0\0", 0, False]


def test_udp_datagram_larger_than_the_buffer_is_truncated(harness: Harness) -> None:
    a, _ = udp_on_loopback(harness, "a")
    b, port_b = udp_on_loopback(harness, "b")
    harness.p.primitiveSocketSendUDPDataBufCount(a.handle, b"0123456789", LOOPBACK, port_b, 1, 10)
    wait_readable(harness, b)
    buf = bytearray(4)
    assert harness.p.primitiveSocketReceiveUDPDataBufCount(b.handle, buf, 1, 4)[0] == 4
    assert buf == b"0123"
    assert harness.p.primitiveSocketReceiveUDPDataBufCount(b.handle, buf, 1, 4)[0] == 0


def test_udp_word_array_counts_in_words(harness: Harness) -> None:
    a, _ = udp_on_loopback(harness, "a")
    b, port_b = udp_on_loopback(harness, "b")
    words = array.array("I", [7, 8, 9])
    assert (
        harness.p.primitiveSocketSendUDPDataBufCount(a.handle, words, LOOPBACK, port_b, 1, 3) == 3
    )
    wait_readable(harness, b)
    into = array.array("I", [0, 0, 0])
    count, address, _port, more = harness.p.primitiveSocketReceiveUDPDataBufCount(
        b.handle, into, 1, 3
    )
    assert (count, address, more, list(into)) == (3, LOOPBACK, False, [7, 8, 9])


def test_udp_primitives_fail_on_tcp_sockets(harness: Harness) -> None:
    client, _server, _ = harness.tcp_pair()
    fails(harness.p.primitiveSocketSendUDPDataBufCount, client.handle, b"x", LOOPBACK, 9, 1, 1)
    fails(harness.p.primitiveSocketReceiveUDPDataBufCount, client.handle, bytearray(1), 1, 1)


def test_send_udp_to_port_zero_fails_and_keeps_errno(harness: Harness) -> None:
    a, _ = udp_on_loopback(harness)
    fails(harness.p.primitiveSocketSendUDPDataBufCount, a.handle, b"x", LOOPBACK, 0, 1, 1)
    assert harness.p.primitiveSocketError(a.handle) == errno.EINVAL


def test_send_udp_argument_failures(harness: Harness) -> None:
    a, port = udp_on_loopback(harness)
    send = harness.p.primitiveSocketSendUDPDataBufCount
    fails(send, a.handle, b"x", b"\x7f\0\0", port, 1, 1)
    fails(send, a.handle, b"x", LOOPBACK, "port", 1, 1)
    fails(send, a.handle, b"x", LOOPBACK, port, 2, 1)
    fails(send, a.handle, b"x", LOOPBACK, 1 << 30, 1, 1)
    recv = harness.p.primitiveSocketReceiveUDPDataBufCount
    fails(recv, a.handle, b"immutable", 1, 1)
    fails(recv, a.handle, bytearray(2), 2, 2)


# -- UDP, new API: addresses of senders --------------------------------------------------------


def test_udp_sender_address_through_remote_address_result(harness: Harness) -> None:
    a, port_a = udp_on_loopback(harness, "a")
    b, port_b = udp_on_loopback(harness, "b")
    assert harness.p.primitiveSocketRemoteAddressSize(b.handle) == -1
    harness.p.primitiveSocketSendUDPDataBufCount(a.handle, b"hi", LOOPBACK, port_b, 1, 2)
    wait_readable(harness, b)
    assert harness.p.primitiveSocketReceiveDataBufCount(b.handle, bytearray(4), 1, 4) == 2
    size = harness.p.primitiveSocketRemoteAddressSize(b.handle)
    assert size == 8 + 16
    address = bytearray(size)
    harness.p.primitiveSocketRemoteAddressResult(b.handle, address)
    parsed = SocketAddressLayout.parse(bytes(address))
    assert parsed.header.sessionID == harness.session
    assert sockaddr_to_python(parsed.sockaddr) == (socket.AF_INET, ("127.0.0.1", port_a))
    # the peer size is consumed by RemoteAddressResult
    assert harness.p.primitiveSocketRemoteAddressSize(b.handle) == -1
    fails(harness.p.primitiveSocketRemoteAddressResult, b.handle, bytearray(size))


def test_unix_datagrams_through_bind_to(harness: Harness, sockdir: str) -> None:
    path_b = os.path.join(sockdir, "b.dg")
    b = harness.create(NetDomain.LOCAL, SocketType.UDP, "b")
    harness.p.primitiveSocketBindTo(b.handle, harness.unix_address(path_b))
    assert harness.status(b) == 2
    local = harness.local_address(b)
    assert len(local) == 8 + 2 + len(path_b) + 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as peer:
        peer.bind(os.path.join(sockdir, "a.dg"))
        peer.sendto(b"local datagram", path_b)
        wait_readable(harness, b)
        buf = bytearray(64)
        assert harness.p.primitiveSocketReceiveDataBufCount(b.handle, buf, 1, 64) == 14
        assert buf[:14] == b"local datagram"
        # the sender as the kernel gives it: family, path, NUL
        size = harness.p.primitiveSocketRemoteAddressSize(b.handle)
        assert size == 8 + 2 + len(peer.getsockname()) + 1
        sender = bytearray(size)
        harness.p.primitiveSocketRemoteAddressResult(b.handle, sender)
        assert sockaddr_to_python(bytes(sender[8:])) == (
            socket.AF_UNIX,
            peer.getsockname().encode(),
        )
        # the old API reads a sockaddr_in out of whatever the sender was
        peer.sendto(b"again", path_b)
        wait_readable(harness, b)
        count, _address, _port, more = harness.p.primitiveSocketReceiveUDPDataBufCount(
            b.handle, buf, 1, 64
        )
        assert (count, more) == (5, False)


def test_unix_datagram_send_fails_with_einval(harness: Harness, sockdir: str) -> None:
    """sqSocketSendDataBufCount passes sizeof(union sockaddr_any) (112) as the address
    length; for AF_UNIX the kernel wants at most sizeof(struct sockaddr_un) (110), so
    every send fails with EINVAL, connected or not (and answers 0, as C does)."""
    path_a, path_b = os.path.join(sockdir, "a.dg"), os.path.join(sockdir, "b.dg")
    a = harness.create(NetDomain.LOCAL, SocketType.UDP, "a")
    b = harness.create(NetDomain.LOCAL, SocketType.UDP, "b")
    harness.p.primitiveSocketBindTo(a.handle, harness.unix_address(path_a))
    harness.p.primitiveSocketBindTo(b.handle, harness.unix_address(path_b))
    harness.p.primitiveSocketConnectTo(a.handle, harness.unix_address(path_b))
    assert harness.status(a) == 2
    assert harness.p.primitiveSocketRemoteAddressSize(a.handle) == 8 + 110
    assert harness.p.primitiveSocketSendDataBufCount(a.handle, b"never sent", 1, 10) == 0
    assert harness.p.primitiveSocketError(a.handle) == errno.EINVAL
    assert harness.status(a) == 2, "a datagram send failure changes no state"


def test_unix_datagram_connect_to_a_missing_path_is_silent(harness: Harness, sockdir: str) -> None:
    """UDP connect: the C code records the peer and ignores connect()'s failure."""
    a = harness.create(NetDomain.LOCAL, SocketType.UDP)
    harness.p.primitiveSocketConnectTo(a.handle, harness.unix_address(sockdir + "/nobody"))
    assert harness.status(a) == 2 and harness.p.primitiveSocketError(a.handle) == 0
    assert harness.p.primitiveSocketRemoteAddressSize(a.handle) == 8 + 110
    assert a.signals() == (0, 0, 0)


def test_data_available_on_udp(harness: Harness) -> None:
    a, _ = udp_on_loopback(harness, "a")
    b, port_b = udp_on_loopback(harness, "b")
    assert harness.p.primitiveSocketReceiveDataAvailable(b.handle) is False
    harness.p.primitiveSocketSendUDPDataBufCount(a.handle, b"!", LOOPBACK, port_b, 1, 1)
    assert b.read.wait(WAIT)
    assert harness.p.primitiveSocketReceiveDataAvailable(b.handle) is True
    assert harness.p.primitiveSocketSendDone(b.handle) is True
