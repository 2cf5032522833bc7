"""Helpers for the tests/test_proxy_*.py files: an image-side client through a proxy.

The client is the emulator's image layer (``sqsocket.image.Socket``), used only
through its public methods and their timeouts, so the tests do not depend on how
the emulator runs its aio loop. Every wait here is bounded.
"""

from __future__ import annotations

from plugin_support import LOOPBACK

from sqsocket.image import ConnectionTimedOut, Image, NetNameResolver, Socket
from sqsocket.servers import InetAddress, UnixAddress
from sqsocket.servers.address import Address

HELLO = b"Hello, from Smalltalk!"
#: The longest any proxy test waits for something that should happen.
WAIT = 10.0


def image_connect(image: Image, address: Address, timeout: float = WAIT) -> Socket:
    """A connected image-side Socket: ``newIPC`` for a socket path, ``newTCP`` for 127.0.0.1."""
    if isinstance(address, UnixAddress):
        sock = Socket.new_ipc(image=image)
        try:
            sa = NetNameResolver.address_for_socket_path(address.path, image=image)
            sock.connect_to(sa, timeout=timeout)
        except BaseException:
            sock.destroy()
            raise
        return sock
    assert isinstance(address, InetAddress) and address.host == "127.0.0.1", address
    sock = Socket.new_tcp(image=image)
    try:
        sock.connect_to(LOOPBACK, address.port, timeout=timeout)
    except BaseException:
        sock.destroy()
        raise
    return sock


def receive_until_closed(sock: Socket, limit: int = 1 << 20, timeout: float = WAIT) -> bytes:
    """``receiveData`` until the connection closes (``b""``); at most ``limit`` bytes."""
    data = b""
    while len(data) < limit:
        chunk = sock.receive_data(timeout)
        if not chunk:
            break
        data += chunk
    return data


def receive_exactly(sock: Socket, count: int, timeout: float = WAIT) -> bytes:
    """``receiveData`` until ``count`` bytes came; fewer only if the connection closed."""
    data = b""
    while len(data) < count:
        chunk = sock.receive_data(timeout, size=count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def nothing_arrives(sock: Socket, seconds: float = 0.5) -> bool:
    """True if no data comes within ``seconds`` (the connection still open)."""
    try:
        sock.receive_data(seconds)
    except ConnectionTimedOut:
        return True
    return False
