"""The Pharo workspace example, step by step, through the image layer.

The seed's workspace code, run against a Unix-domain echo server at ``/tmp/sp``::

    | s sa sock |
    NetNameResolver primGetAddressInfoHost: '' service: '/tmp/sp'
        flags: 0 family: 1 type: 0 protocol: 0.
    s := NetNameResolver primGetAddressInfoSize.
    sa := SocketAddress new: s withAll: 0.
    NetNameResolver primGetAddressInfoResult: sa.
    sock := Socket newIPC.
    sock ifNotNil: [
        sock connectTo: sa.
        sock sendData: 'Hello, from Smalltalk!'.
        Transcript show: sock receiveData; cr.
        sock closeAndDestroy ]

:func:`run_workspace_example` performs exactly these steps and prints one line
per step; :func:`run_tcp_example` and :func:`run_netstring_example` are the same
walk against a TCP echo server and a length-prefixed ("netstring") server.
Each answers what it received, so tests, the demo and the interop matrix can
check it.
"""

from __future__ import annotations

import contextlib
import struct
import sys
from collections.abc import Callable, Iterator
from typing import TextIO, TypedDict, Unpack

from sqsocket.image.address import SocketAddress
from sqsocket.image.environment import Image
from sqsocket.image.exceptions import ConnectionClosed, NameLookupFailure
from sqsocket.image.resolver import NetNameResolver, unresolvable_hint
from sqsocket.image.socket import Socket

__all__ = [
    "DEFAULT_MESSAGE",
    "DEFAULT_PATH",
    "run_netstring_example",
    "run_tcp_example",
    "run_workspace_example",
]

DEFAULT_PATH = "/tmp/sp"
DEFAULT_MESSAGE = "Hello, from Smalltalk!"
# The netstring frame header: the payload length as a native 4-byte unsigned int.
_FRAME_HEADER = struct.Struct("=I")


class _Transcript:
    """Numbered lines to ``out`` (nothing when ``out`` is None)."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self.step = 0

    def show(self, text: str) -> None:
        self.step += 1
        if self.out is not None:
            print(f"{self.step}. {text}", file=self.out, flush=True)


def _as_text(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _payload(message: str | bytes) -> bytes:
    return message.encode("utf-8") if isinstance(message, str) else bytes(message)


def _echo(sock: Socket, payload: bytes, say: Callable[[str], None], timeout: float) -> bytes:
    """``sendData:`` then ``Transcript show: sock receiveData``; answer what came back."""
    sent = sock.send_data(payload, timeout=timeout)
    say(f"sock sendData: '{_as_text(payload)}' -> {sent} bytes")
    reply = _receive_at_least(sock, len(payload), timeout)
    say(f"Transcript: {_as_text(reply)}")
    return reply


class ExampleOptions(TypedDict, total=False):
    """What every example takes besides where to connect and where to print."""

    image: Image | None  # the image to run in (default: the default image)
    message: str | bytes  # what to send (default DEFAULT_MESSAGE)
    timeout: float  # bounds the connect, the send and each wait (default 5 s)


def _start(
    out: TextIO | None, options: ExampleOptions
) -> tuple[Image, Callable[[str], None], bytes, float]:
    """One run of an example: its (network-initialized) image, its Transcript, its
    payload and its time-out."""
    return (
        NetNameResolver.initialize_network(image=options.get("image")),
        _Transcript(out).show,
        _payload(options.get("message", DEFAULT_MESSAGE)),
        options.get("timeout", 5.0),
    )


def run_workspace_example(
    path: str = DEFAULT_PATH, out: TextIO | None = sys.stdout, **options: Unpack[ExampleOptions]
) -> bytes:
    """Run the workspace example against the Unix-domain socket at ``path``; answer the echo.

    Prints each step to ``out``. ``timeout`` bounds the connect, the send and
    the wait for the echo (the image itself would wait 45 s, 60 s and for ever).
    Raises NameLookupFailure when there is no socket at ``path``, and the other
    network errors (ConnectionRefused, ConnectionTimedOut, ...) as they happen.
    """
    img, say, payload, timeout = _start(out, options)

    with img.resolver_mutex:  # the plugin keeps the lookup's answer between the calls
        say(f"getAddressInfo host '' service '{path}' flags 0 family 1 type 0 protocol 0")
        NetNameResolver.prim_get_address_info_host_service_flags_family_type_protocol(
            "", path, 0, 1, 0, 0, image=img
        )
        size = NetNameResolver.prim_get_address_info_size(image=img)
        say(f"s := NetNameResolver primGetAddressInfoSize -> {size}")
        if size < 0:
            raise NameLookupFailure(
                f"no socket at {path}: getAddressInfo answered nothing "
                "(is a server listening there?)" + unresolvable_hint(path, img),
                host_name=path,
            )
        sa = SocketAddress.new(size, img)
        NetNameResolver.prim_get_address_info_result(sa, image=img)
    say(f"sa := SocketAddress new: {size} withAll: 0; primGetAddressInfoResult: sa -> {sa}")

    with _closed_and_destroyed(Socket.new_ipc(image=img), say, timeout) as sock:
        say(f"sock := Socket newIPC -> {sock!r}")
        sock.connect_to(sa, timeout=timeout)
        say(f"sock connectTo: sa -> {sock!r}")
        return _echo(sock, payload, say, timeout)


@contextlib.contextmanager
def _closed_and_destroyed(
    sock: Socket, say: Callable[[str], None], timeout: float
) -> Iterator[Socket]:
    """The example's last line, ``sock closeAndDestroy``, however the steps before it end."""
    try:
        yield sock
    finally:
        sock.close_and_destroy(timeout)
    say(f"sock closeAndDestroy -> {sock!r}")  # printed only when the steps succeeded


def _receive_at_least(sock: Socket, count: int, timeout: float) -> bytes:
    """``receiveData`` until ``count`` bytes came (one call, unless the echo is split)."""
    data = b""
    while len(data) < count:
        chunk = sock.receive_data(timeout)
        if not chunk:
            break  # closed: answer what came
        data += chunk
    return data


def run_tcp_example(
    host: str, port: int, out: TextIO | None = sys.stdout, **options: Unpack[ExampleOptions]
) -> bytes:
    """The workspace example over TCP: ``Socket newTCP`` + ``connectTo: host port: port``."""
    img, say, payload, timeout = _start(out, options)
    address = NetNameResolver.address_for_name(host, timeout, image=img)
    say(
        f"addr := NetNameResolver addressForName: '{host}' -> "
        f"{NetNameResolver.string_from_address(address)}"
    )
    with _closed_and_destroyed(Socket.new_tcp(image=img), say, timeout) as sock:
        say(f"sock := Socket newTCP -> {sock!r}")
        sock.connect_to(address, port, timeout=timeout)
        say(f"sock connectTo: addr port: {port} -> {sock!r}")
        return _echo(sock, payload, say, timeout)


def run_netstring_example(
    path: str, out: TextIO | None = sys.stdout, **options: Unpack[ExampleOptions]
) -> bytes:
    """The example against a netstring server: send a framed payload, answer the reply payload.

    The frame is the payload's length as a native 4-byte unsigned integer, then
    the payload; the seed's server answers with the payload reversed.
    """
    img, say, payload, timeout = _start(out, options)
    sa = NetNameResolver.address_for_socket_path(path, image=img)
    say(f"sa := getAddressInfo family 1 service '{path}' -> {sa}")
    with _closed_and_destroyed(Socket.new_ipc(image=img), say, timeout) as sock:
        sock.connect_to(sa, timeout=timeout)
        say(f"sock := Socket newIPC; connectTo: sa -> {sock!r}")
        frame = _FRAME_HEADER.pack(len(payload)) + payload
        sock.send_data(frame, timeout=timeout)
        say(f"sock sendData: <{len(payload)} native 4 bytes> , '{_as_text(payload)}'")
        header = _receive_exactly(sock, _FRAME_HEADER.size, timeout)
        (length,) = _FRAME_HEADER.unpack(header)
        reply = _receive_exactly(sock, length, timeout)
        say(f"Transcript: {_as_text(reply)}")
        return reply


def _receive_exactly(sock: Socket, count: int, timeout: float) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.receive_data(timeout, size=count - len(data))
        if not chunk:
            raise ConnectionClosed(
                f"connection closed after {len(data)} of {count} bytes of a frame"
            )
        data += chunk
    return data
