"""Column (c): the image layer, :class:`sqsocket.image.Socket`, as a Smalltalk program uses it.

* round trip: ``send_data`` (``sendData:``: everything not yet sent, each time
  after ``sendDone`` or a wait on the write semaphore), then ``receive_data``
  (``receiveData``: wait on the read semaphore, read into a fresh 2000-byte
  buffer) until the whole echo is there;
* bulk: the same, but reading with ``receive_data_into`` into one 64 KiB buffer
  (``receiveDataInto:``), as a program moving megabytes would;
* connect + close: ``Socket.new_ipc``, ``connect_to`` (waits for the connection),
  ``close_and_destroy``.

Each client has its own :class:`~sqsocket.image.Image` (its own emulated VM and
plugin), closed with it.
"""

from __future__ import annotations

import time

from sqsocket.bench.workloads import Endpoint, payload
from sqsocket.image import Image, NetNameResolver, Socket, SocketAddress
from sqsocket.image.exceptions import ConnectionClosed

__all__ = ["ImageClient"]

#: Seconds any single wait may last.
TIMEOUT = 10.0
LOOPBACK = bytes((127, 0, 0, 1))
#: Messages above this are bulk: read into one reused buffer.
BULK_THRESHOLD = 4096


class ImageClient:
    """Column (c) on one connection to ``endpoint``, ``size``-byte messages."""

    def __init__(self, endpoint: Endpoint, size: int = 16) -> None:
        self.endpoint = endpoint
        self.size = size
        self.message = payload(size)
        self.image = Image()
        self.address: SocketAddress | None = None
        if endpoint.path is not None:
            self.address = NetNameResolver.address_for_socket_path(endpoint.path, image=self.image)
        self.buffer = bytearray(65536)
        self.sock = self.open()

    def open(self) -> Socket:
        """A new connected Socket to the endpoint."""
        if self.address is not None:
            sock = Socket.new_ipc(image=self.image)
            target: tuple[SocketAddress | bytes, int | None] = (self.address, None)
        else:
            sock = Socket.new_tcp(image=self.image)
            target = (LOOPBACK, self.endpoint.port)
        try:
            sock.connect_to(*target, timeout=TIMEOUT)
        except BaseException:
            sock.destroy()
            raise
        return sock

    def round_trips(self, count: int) -> float:
        if self.size > BULK_THRESHOLD:
            return self._bulk(count)
        sock, message, size = self.sock, self.message, self.size
        last = b""
        start = time.perf_counter()
        for _ in range(count):
            sock.send_data(message, timeout=TIMEOUT)
            reply = b""
            while len(reply) < size:
                data = sock.receive_data(TIMEOUT)
                if not data:
                    raise ConnectionClosed("the echo peer closed the connection")
                reply += data
            last = reply
        elapsed = time.perf_counter() - start
        if count and last != message:
            raise ValueError("the echo did not match")
        return elapsed

    def _bulk(self, count: int) -> float:
        sock, message, size, buffer = self.sock, self.message, self.size, self.buffer
        n = 0
        start = time.perf_counter()
        for _ in range(count):
            sock.send_data(message, timeout=TIMEOUT)
            got = 0
            while got < size:
                n = sock.receive_data_into(buffer, timeout=TIMEOUT)
                if not n:
                    raise ConnectionClosed("the echo peer closed the connection")
                got += n
        elapsed = time.perf_counter() - start
        # the last read holds the end of the last echo
        if count and bytes(buffer[:n]) != message[size - n :]:
            raise ValueError("the echo did not match")
        return elapsed

    def connects(self, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            self.open().close_and_destroy(TIMEOUT)
        return time.perf_counter() - start

    def close(self) -> None:
        self.sock.close_and_destroy(1.0)
        self.image.close()
