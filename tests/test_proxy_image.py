"""Each fault through the proxy, with the image layer as the client and the Python echo
servers upstream: what Smalltalk code sees when its peer misbehaves.

Time is asserted only as a lower bound where a delay is the fault's whole point (a
delayed echo cannot arrive early, however loaded the machine is); never an upper bound.
"""

from __future__ import annotations

import errno
import io
import os
import threading
import time
from collections.abc import Iterator

import pytest
from plugin_support import path_in, wait_until
from proxy_support import (
    HELLO,
    WAIT,
    image_connect,
    nothing_arrives,
    receive_exactly,
    receive_until_closed,
)

from sqsocket.image import (
    ConnectionClosed,
    ConnectionRefused,
    ConnectionTimedOut,
    Image,
)
from sqsocket.image.workspace import run_tcp_example, run_workspace_example
from sqsocket.proxy import (
    AcceptDelay,
    Bandwidth,
    Direction,
    HalfClose,
    Latency,
    LimitData,
    LinkInfo,
    LinkState,
    NeverRead,
    Proxy,
    Refuse,
    Reset,
    Slicer,
    Stall,
)
from sqsocket.servers import TCPEchoServer, UnixEchoServer

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("no_leaked_fds")]

UP, DOWN = Direction.UP, Direction.DOWN
# far more than the kernel buffers of both sockets hold: a send of it must block
HUGE = 16 << 20


@pytest.fixture
def echo(sockdir: str) -> Iterator[UnixEchoServer]:
    with UnixEchoServer(path_in(sockdir, "echo")) as srv:
        yield srv


@pytest.fixture
def tcp_echo() -> Iterator[TCPEchoServer]:
    with TCPEchoServer() as srv:
        yield srv


def last(proxy: Proxy) -> LinkInfo:
    return proxy.connections()[-1]


def closed(proxy: Proxy, count: int = 1) -> bool:
    return proxy.wait_until(lambda p: p.stats().closed >= count, WAIT)


# -- no fault: the baseline -------------------------------------------------------------


def test_without_faults_the_workspace_example_passes_through(
    image: Image, echo: UnixEchoServer
) -> None:
    with Proxy(echo.address) as p:
        out = io.StringIO()
        assert p.path is not None and os.path.dirname(p.path) != os.path.dirname(echo.path or "")
        assert run_workspace_example(p.path, out, image=image) == HELLO
        assert "7. Transcript: Hello, from Smalltalk!" in out.getvalue()
        assert closed(p)
        info = last(p)
    assert info.reason == "done" and info.up.forwarded == info.down.forwarded == len(HELLO)
    assert echo.total_connections == 1
    assert not os.path.exists(p.path)  # the proxy's socket file and directory are gone


# -- shaping: latency, bandwidth, slicer ------------------------------------------------------


def test_latency_delays_the_echo_but_it_arrives_whole(image: Image, echo: UnixEchoServer) -> None:
    with Proxy(echo.address, faults=[Latency(150)]) as p:
        assert p.path is not None
        started = time.monotonic()
        assert run_workspace_example(p.path, None, image=image) == HELLO
        elapsed = time.monotonic() - started
    assert elapsed >= 0.29  # 150 ms on the way there and 150 ms on the way back


def test_latency_with_jitter_keeps_the_order(image: Image, echo: UnixEchoServer) -> None:
    messages = [f"message {i:02d};".encode() for i in range(30)]
    with (
        Proxy(echo.address, faults=[Latency(20, jitter=20, direction=UP)], seed=7) as p,
        image_connect(image, p.address) as sock,
    ):
        for message in messages:
            sock.send_data(message, timeout=WAIT)  # 30 chunks, each with its own delay
        expected = b"".join(messages)
        assert receive_exactly(sock, len(expected)) == expected


def test_bandwidth_limits_the_rate_and_the_pieces(image: Image, echo: UnixEchoServer) -> None:
    payload = os.urandom(2000)
    with Proxy(echo.address, faults=[Bandwidth(4000, direction=DOWN)]) as p:
        with image_connect(image, p.address) as sock:
            started = time.monotonic()
            sock.send_data(payload, timeout=WAIT)
            assert receive_exactly(sock, len(payload)) == payload
            elapsed = time.monotonic() - started
        assert closed(p)
        info = last(p)
    # 2000 bytes at 4000 B/s in pieces of 200 (1/20 s worth): the first goes at once
    assert elapsed >= 0.4
    assert info.down.largest_write <= 200 and info.down.writes >= 10
    assert info.up.writes <= 2  # the other direction is not limited


def test_slicer_splits_writes_and_the_echo_still_arrives_whole(
    image: Image, echo: UnixEchoServer
) -> None:
    with Proxy(echo.address, faults=[Slicer(7, ms=5)]) as p:
        assert p.path is not None
        assert run_workspace_example(p.path, None, image=image) == HELLO
        assert closed(p)
        info = last(p)
    for pipe in (info.up, info.down):
        assert pipe.forwarded == len(HELLO)
        assert pipe.largest_write <= 7 and pipe.writes >= 4  # 22 bytes: 7 + 7 + 7 + 1


def test_slicer_over_tcp_large_payload(image: Image, tcp_echo: TCPEchoServer) -> None:
    payload = os.urandom(30000)  # several sendData: chunks of 5000
    with Proxy(tcp_echo.address, faults=[Slicer(1000)]) as p:
        assert p.port is not None
        assert run_tcp_example("127.0.0.1", p.port, None, image=image, message=payload) == payload
        assert closed(p)
        assert last(p).down.largest_write <= 1000


# -- stall ---------------------------------------------------------------------------------


def test_stall_blocks_the_image_send_until_its_timeout(image: Image, echo: UnixEchoServer) -> None:
    """pharo-vm#939's situation: the peer stops reading. The image's sendData: cannot
    complete, SendDone stays false, and the Smalltalk-side timeout fires -- then the
    stall is lifted while the proxy runs and the send can go on."""
    with (
        Proxy(echo.address, faults=[Stall(direction=UP)]) as p,
        image_connect(image, p.address) as sock,
    ):
        with pytest.raises(ConnectionTimedOut, match="send data timeout"):
            sock.send_data(bytes(HUGE), timeout=0.5)
        assert not sock.send_done and sock.is_connected
        assert last(p).up.read == 0  # the proxy never read a byte from the image
        p.clear_faults()
        assert sock.wait_for_send_done_for(WAIT)  # the proxy reads again
        assert p.wait_until(lambda q: last(q).up.read > 0, WAIT)


def test_stall_after_n_bytes_lets_exactly_n_through(image: Image, echo: UnixEchoServer) -> None:
    payload = os.urandom(3000)
    with (
        Proxy(echo.address, faults=[Stall(after=1000, direction=UP)]) as p,
        image_connect(image, p.address) as sock,
    ):
        sock.send_data(payload, timeout=WAIT)  # the kernel buffers hold it all
        assert receive_exactly(sock, 1000) == payload[:1000]
        assert nothing_arrives(sock)
        assert last(p).up.read == 1000


def test_stall_with_drop_reads_and_discards(image: Image, echo: UnixEchoServer) -> None:
    payload = os.urandom(HUGE // 4)
    with (
        Proxy(echo.address, faults=[Stall(drop=True, direction=UP)]) as p,
        image_connect(image, p.address) as sock,
    ):
        # unlike a reading stall, the sender never blocks: all of it goes
        assert sock.send_data(payload, timeout=WAIT) == len(payload)
        assert nothing_arrives(sock)
        assert p.wait_until(lambda q: last(q).up.dropped == len(payload), WAIT)
    # nothing reached the echo server: it counts the proxy's connection when its own
    # thread accepts it, which may come after the proxy has connected
    assert wait_until(lambda: echo.total_connections == 1)


def test_stall_down_the_echo_never_arrives(image: Image, echo: UnixEchoServer) -> None:
    with (
        Proxy(echo.address, faults=[Stall(direction=DOWN)]) as p,
        image_connect(image, p.address) as sock,
    ):
        sock.send_data(HELLO, timeout=WAIT)
        assert nothing_arrives(sock)
        assert last(p).up.forwarded == len(HELLO) and last(p).down.read == 0


def test_stall_for_some_seconds_ends_by_itself(image: Image, echo: UnixEchoServer) -> None:
    with Proxy(echo.address, faults=[Stall(seconds=0.3, direction=DOWN)]) as p:
        assert p.path is not None
        started = time.monotonic()
        assert run_workspace_example(p.path, None, image=image) == HELLO
        assert time.monotonic() - started >= 0.29


# -- reset -------------------------------------------------------------------------------


def test_reset_after_n_bytes_unix(image: Image, echo: UnixEchoServer) -> None:
    with Proxy(echo.address, faults=[Reset(after=5, direction=DOWN)]) as p:
        with image_connect(image, p.address) as sock:
            sock.send_data(HELLO, timeout=WAIT)
            assert receive_until_closed(sock) == b"Hello"
            assert sock.is_other_end_closed
            with pytest.raises(ConnectionClosed):
                sock.receive_data_signalling_closed(WAIT)
            with pytest.raises(ConnectionClosed, match="closed while sending"):
                sock.send_data(b"anyone there?", timeout=WAIT)
        assert closed(p)
        assert last(p).reason == "reset" and last(p).down.forwarded == 5


def test_reset_after_n_bytes_tcp(image: Image, tcp_echo: TCPEchoServer) -> None:
    """TCP both sides: the proxy's RST reaches the image as the other end closing."""
    with Proxy(tcp_echo.address, faults=[Reset(after=5, direction=DOWN)]) as p:
        with image_connect(image, p.address) as sock:
            sock.send_data(HELLO, timeout=WAIT)
            assert receive_until_closed(sock) == b"Hello"
            with pytest.raises(ConnectionClosed):
                sock.send_data(b"anyone there?", timeout=WAIT)
        assert closed(p)
        assert last(p).reason == "reset"


def test_reset_after_seconds(image: Image, echo: UnixEchoServer) -> None:
    with Proxy(echo.address, faults=[Reset(seconds=0.3)]) as p:
        with image_connect(image, p.address) as sock:
            started = time.monotonic()
            assert sock.receive_data(WAIT) == b""  # receiveData answers empty on close
            assert time.monotonic() - started >= 0.25
            with pytest.raises(ConnectionClosed):
                sock.wait_for_data_for(1)
        assert closed(p)
        assert last(p).reason == "reset"


# -- half-close, limit-data -------------------------------------------------------------------


def test_half_close_down_the_image_sees_the_other_end_closed(
    image: Image, echo: UnixEchoServer
) -> None:
    """After 5 bytes the image gets end of stream while its own direction stays open.
    The Unix plugin sends only while Connected, so the image cannot use that direction."""
    with Proxy(echo.address, faults=[HalfClose(after=5, direction=DOWN)]) as p:
        with image_connect(image, p.address) as sock:
            sock.send_data(HELLO, timeout=WAIT)
            assert receive_until_closed(sock) == b"Hello"
            assert sock.is_other_end_closed and sock.status_string == "otherEndClosedButNotThisEnd"
            info = last(p)
            assert info.state is LinkState.OPEN  # the upstream side goes on
            assert info.down.shut and not info.up.shut and not info.up.eof
            with pytest.raises(ConnectionClosed):
                sock.send_data(b"more", timeout=WAIT)
        assert p.wait_until(lambda q: last(q).down.dropped == len(HELLO) - 5, WAIT)


def test_half_close_up_the_server_sees_end_of_stream(image: Image, echo: UnixEchoServer) -> None:
    with Proxy(echo.address, faults=[HalfClose(after=0, direction=UP)]) as p:
        with image_connect(image, p.address) as sock:
            # the echo server got end of stream at once and closed: so does the image
            assert sock.receive_data(WAIT) == b""
        assert closed(p)
        assert last(p).reason == "done" and last(p).up.shut and last(p).up.forwarded == 0


def test_limit_data_closes_after_n_bytes(image: Image, echo: UnixEchoServer) -> None:
    with Proxy(echo.address, faults=[LimitData(after=10, direction=DOWN)]) as p:
        with image_connect(image, p.address) as sock:
            sock.send_data(HELLO, timeout=WAIT)
            assert receive_until_closed(sock) == HELLO[:10]
            assert not sock.is_connected
        assert closed(p)
        assert last(p).reason == "limit-data" and last(p).down.forwarded == 10


# -- accept faults -----------------------------------------------------------------------


def test_accept_delay_holds_the_connection(image: Image, echo: UnixEchoServer) -> None:
    with Proxy(echo.address, faults=[AcceptDelay(300)]) as p:
        started = time.monotonic()
        with image_connect(image, p.address) as sock:
            # the kernel completed the connection: the image is connected at once
            assert sock.is_connected
            sock.send_data(HELLO, timeout=WAIT)
            assert receive_exactly(sock, len(HELLO)) == HELLO
        assert time.monotonic() - started >= 0.29


def test_never_read_then_released(image: Image, echo: UnixEchoServer) -> None:
    with (
        Proxy(echo.address, faults=[NeverRead()]) as p,
        image_connect(image, p.address) as sock,
    ):
        with pytest.raises(ConnectionTimedOut):
            sock.send_data(bytes(HUGE), timeout=0.5)
        assert nothing_arrives(sock, 0.2)
        assert last(p).state is LinkState.HELD and echo.total_connections == 0
        p.remove_fault(NeverRead())  # the held connection is served from now on
        assert sock.wait_for_send_done_for(WAIT)
        assert p.wait_until(lambda q: last(q).state is LinkState.OPEN, WAIT)
    # the proxy is connected upstream once OPEN; the echo server's thread counts the
    # connection when it accepts it, which may come later
    assert wait_until(lambda: echo.total_connections == 1)


def test_refuse_closes_at_once(image: Image, echo: UnixEchoServer) -> None:
    with Proxy(echo.address, faults=[Refuse()]) as p:
        assert p.path is not None
        try:
            # connected (the kernel accepted), then closed: the echo is empty...
            assert run_workspace_example(p.path, None, image=image, timeout=WAIT) == b""
        except ConnectionClosed:
            pass  # ...or the close came before the send
        assert closed(p)
        assert last(p).reason == "refused"
    assert echo.total_connections == 0


def test_refuse_with_rst_over_tcp(image: Image, tcp_echo: TCPEchoServer) -> None:
    """The RST often comes before the plugin has seen the connection complete: then the
    image reports the connect as refused (errno ECONNRESET); otherwise it is connected
    and sees the other end close."""
    with Proxy(tcp_echo.address, faults=[Refuse(rst=True)]) as p:
        try:
            sock = image_connect(image, p.address)
        except ConnectionRefused as exc:
            assert exc.errno == errno.ECONNRESET
        else:
            with sock:
                assert sock.receive_data(WAIT) == b""
        assert closed(p)
        assert p.stats().reasons == {"refused": 1}
    assert tcp_echo.total_connections == 0


# -- faults changed while traffic flows ---------------------------------------------------------


def test_faults_changed_from_another_thread_never_corrupt_the_stream(
    image: Image, echo: UnixEchoServer
) -> None:
    payload = os.urandom(200_000)
    settings = [[Slicer(997)], [Latency(2)], [], [Slicer(13, ms=1), Bandwidth(10_000_000)]]
    stop = threading.Event()

    def churn(p: Proxy) -> None:
        for i in range(10_000):
            if stop.wait(0.005):
                return
            p.set_faults(settings[i % len(settings)])

    with Proxy(echo.address) as p:
        changer = threading.Thread(target=churn, args=(p,))
        changer.start()
        try:
            with image_connect(image, p.address) as sock:
                sock.send_data(payload, timeout=WAIT)
                assert receive_exactly(sock, len(payload), timeout=30) == payload
        finally:
            stop.set()
            changer.join(WAIT)
        assert not changer.is_alive()


# -- the reports behind the proxy: a large packet, many connections --------------------------


def test_a_large_packet_then_small_ones_keep_flowing(image: Image, echo: UnixEchoServer) -> None:
    """pharo#11083's shape: after one large packet the socket must go on reading."""
    big = os.urandom(512 * 1024)
    with (
        Proxy(echo.address, faults=[Slicer(65536), Latency(5)]) as p,
        image_connect(image, p.address) as sock,
    ):
        sock.send_data(big, timeout=WAIT)
        assert receive_exactly(sock, len(big), timeout=30) == big
        for i in range(20):
            message = f"small {i}".encode()
            sock.send_data(message, timeout=WAIT)
            assert receive_exactly(sock, len(message)) == message


def test_many_connections_at_once_each_gets_its_echo(image: Image, echo: UnixEchoServer) -> None:
    """Many read signals in flight: 1-byte pieces on 16 connections, every echo whole."""
    with Proxy(echo.address, faults=[Slicer(1, direction=DOWN)]) as p:
        socks = [image_connect(image, p.address) for _ in range(16)]
        try:
            messages = [f"connection {i:02d} says hello".encode() for i in range(len(socks))]
            for sock, message in zip(socks, messages, strict=True):
                sock.send_data(message, timeout=WAIT)
            for sock, message in zip(socks, messages, strict=True):
                assert receive_exactly(sock, len(message)) == message
        finally:
            for sock in socks:
                sock.close_and_destroy(WAIT)
        assert closed(p, len(socks))
        assert p.stats().reasons == {"done": len(socks)}
