"""Column (b): a loop on the emulator's SocketPlugin primitives, the way an image calls them.

No image layer in between: the loop holds a socket handle and its three
registered semaphores and calls the primitives as a Smalltalk method would --

* send: ``primitiveSocketSendDataBufCount`` until all is taken; when it takes
  nothing, ``primitiveSocketSendDone`` (which arms the write handler) and a
  wait on the write semaphore;
* receive: ``primitiveSocketReceiveDataAvailable``; when it says no (arming the
  read handler), a wait on the read semaphore -- the VM's idle process, where
  the emulated ``aioPoll`` runs; then ``primitiveSocketReceiveDataBufCount``;
* connect + close: register three semaphores, ``primitiveSocketCreate3Semaphores``,
  ``primitiveSocketConnectTo``, wait on the connection semaphore until the status
  is connected, ``primitiveSocketCloseConnection``, ``primitiveSocketDestroy``,
  unregister the semaphores.

The plugin runs the default profile (squeak-4.10's event model).
"""

from __future__ import annotations

import time

from sqsocket.bench.workloads import Endpoint, payload
from sqsocket.platform.constants import NetDomain, SocketStatus, SocketType
from sqsocket.plugin import SocketPlugin
from sqsocket.vm.semaphores import Semaphore

__all__ = ["PrimitiveSocket", "PrimitivesClient", "network_plugin", "resolve_unix"]

#: Seconds any single semaphore wait may last (a broken peer must not hang the bench).
TIMEOUT = 10.0

BUFFER_SIZE = 8000  # what Socket>>initialize: passes (ignored by the Unix plugin)
LOOPBACK = bytes((127, 0, 0, 1))


def network_plugin() -> SocketPlugin:
    """A new plugin with the network initialised (a resolver semaphore registered), as an
    image's first socket use leaves it."""
    plugin = SocketPlugin()
    _sema, resolver_index = plugin.vm.new_semaphore("bench resolver")
    plugin.primitiveInitializeNetwork(resolver_index)
    return plugin


def resolve_unix(plugin: SocketPlugin, path: str) -> bytearray:
    """The LOCAL socket address of ``path`` (getAddressInfo with family 1, as the image asks)."""
    plugin.primitiveResolverGetAddressInfo(b"", path.encode() + b"\0", 0, 1, 0, 0)
    address = bytearray(plugin.primitiveResolverGetAddressInfoSize())
    plugin.primitiveResolverGetAddressInfoResult(address)
    return address


class PrimitiveSocket:
    """One plugin socket with its three registered semaphores."""

    def __init__(self, plugin: SocketPlugin, net_type: NetDomain) -> None:
        self.plugin = plugin
        vm = plugin.vm
        self.conn_sema, conn_index = vm.new_semaphore("bench conn")
        self.read_sema, read_index = vm.new_semaphore("bench read")
        self.write_sema, write_index = vm.new_semaphore("bench write")
        self.handle = plugin.primitiveSocketCreate3Semaphores(
            net_type, SocketType.TCP, BUFFER_SIZE, BUFFER_SIZE, conn_index, read_index, write_index
        )

    def connect(self, address: bytes | bytearray | None, port: int | None = None) -> None:
        """Connect (new API with a socket address, old API with a port) and wait for it."""
        p, h = self.plugin, self.handle
        if port is None:
            p.primitiveSocketConnectTo(h, address)
        else:
            p.primitiveSocketConnectToPort(h, LOOPBACK, port)
        deadline = time.monotonic() + TIMEOUT
        waiting = SocketStatus.WAITING_FOR_CONNECTION
        while (status := p.primitiveSocketConnectionStatus(h)) == waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.conn_sema.wait(remaining)
        if status != SocketStatus.CONNECTED:
            raise ConnectionError(f"connect ended in status {status}")

    def destroy(self) -> None:
        """Close, destroy, unregister the semaphores (Socket>>destroy)."""
        p = self.plugin
        if p.primitiveSocketConnectionStatus(self.handle) == SocketStatus.CONNECTED:
            p.primitiveSocketCloseConnection(self.handle)
        p.primitiveSocketDestroy(self.handle)
        table = p.vm.external_objects
        for sema in (self.conn_sema, self.read_sema, self.write_sema):
            table.unregister(sema)


def _wait(sema: Semaphore) -> None:
    if not sema.wait(TIMEOUT):
        raise TimeoutError(f"no signal on {sema.name} within {TIMEOUT:g} s")


class PrimitivesClient:
    """Column (b) on one connection to ``endpoint``, ``size``-byte messages, in a plugin
    of its own (the growth rows open thousands more sockets in it); closed with it."""

    def __init__(self, endpoint: Endpoint, size: int = 16) -> None:
        self.endpoint = endpoint
        self.size = size
        self.message = payload(size)
        self.buffer = bytearray(max(size, 65536))
        self.plugin = network_plugin()
        self.address = (
            resolve_unix(self.plugin, endpoint.path) if endpoint.path is not None else None
        )
        self.sock = self.open()

    def open(self) -> PrimitiveSocket:
        """A new connected socket to the endpoint."""
        net_type = NetDomain.LOCAL if self.endpoint.is_unix else NetDomain.UNSPECIFIED
        sock = PrimitiveSocket(self.plugin, net_type)
        try:
            sock.connect(self.address, self.endpoint.port)
        except BaseException:
            sock.destroy()
            raise
        return sock

    def round_trips(self, count: int) -> float:
        p, s = self.plugin, self.sock
        h, read_sema, write_sema = s.handle, s.read_sema, s.write_sema
        send = p.primitiveSocketSendDataBufCount
        send_done = p.primitiveSocketSendDone
        available = p.primitiveSocketReceiveDataAvailable
        receive = p.primitiveSocketReceiveDataBufCount
        message, size, buffer = self.message, self.size, self.buffer
        start = time.perf_counter()
        for _ in range(count):
            sent = 0
            while sent < size:
                taken = send(h, message, sent + 1, size - sent)
                sent += taken
                if not taken and not send_done(h):
                    _wait(write_sema)
            got = 0
            while got < size:
                if not available(h):
                    _wait(read_sema)
                    continue
                n = receive(h, buffer, got + 1, size - got)
                if not n and p.primitiveSocketConnectionStatus(h) != SocketStatus.CONNECTED:
                    raise ConnectionError("the echo peer closed the connection")
                got += n
        elapsed = time.perf_counter() - start
        if count and bytes(buffer[:size]) != message:
            raise ValueError("the echo did not match")
        return elapsed

    def connects(self, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            self.open().destroy()
        return time.perf_counter() - start

    def close(self) -> None:
        self.sock.destroy()
        self.plugin.close()
