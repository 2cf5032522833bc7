"""Socket: the image's socket object, written on the SocketPlugin primitives only.

A Socket holds what the image's Socket holds: the 16-byte handle the plugin
answered, and three Semaphores registered as external objects -- one the plugin
signals on connection changes, one when data may be read, one when a send may
proceed. Every wait is the image's: check with a primitive, and if the answer
is "not yet" (which arms the plugin's aio handler), wait on the matching
semaphore with what is left of the timeout, then check again. Nothing here
touches an operating-system socket; the plugin does.

Creation follows Squeak's 2007-API Socket (and the workspace example's
``newIPC``): ``new_tcp(family)`` passes the family as the ``netType`` of
``primSocketCreateNetwork:type:...`` (0 the old default INET4, 1 local, 2 inet4,
3 inet6).

Timeouts are the image's: 45 s (``Socket standardTimeout``) for connecting and
single sends, 60 s for each wait inside ``sendData:``; every waiting method takes
``timeout=`` to shorten them. ``receive_data`` waits, as ``receiveData`` does,
until data arrives or the connection closes (answering ``b""`` then), for at
most ``timeout`` seconds when one is given.

Where the image is vague this layer says more: a refused connection is a
:class:`ConnectionRefused` (the image would report a time-out), and a send on a
connection the peer closed is a :class:`ConnectionClosed`.
"""

from __future__ import annotations

import contextlib
import enum
import os
import struct
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, overload

from sqsocket.image.address import SocketAddress, string_from_address
from sqsocket.image.environment import Image
from sqsocket.image.exceptions import (
    ConnectionClosed,
    ConnectionRefused,
    ConnectionTimedOut,
    InvalidSocketStatus,
    NetworkError,
    SocketPrimitiveFailed,
)
from sqsocket.platform.constants import AddressFamily, NetDomain, SocketStatus, SocketType
from sqsocket.vm.semaphores import Semaphore

__all__ = ["Socket"]

_STATUS_STRINGS: dict[int, str] = {
    SocketStatus.INVALID: "invalidSocketHandle",
    SocketStatus.UNCONNECTED: "unconnected",
    SocketStatus.WAITING_FOR_CONNECTION: "waitingForConnection",
    SocketStatus.CONNECTED: "connected",
    SocketStatus.OTHER_END_CLOSED: "otherEndClosedButNotThisEnd",
    SocketStatus.THIS_END_CLOSED: "thisEndClosedButNotOtherEnd",
}


# What Socket>>initialize: passes for the buffer sizes (the Unix plugin ignores them).
_BUFFER_SIZE = 8000
# receiveData's buffer: String new: 2000.
_RECEIVE_BUFFER = 2000
# The first field of a socket handle: int sessionID, native order.
_SESSION = struct.Struct("=i")


class _StatusTest:
    """A ``Socket`` test such as ``isConnected``: is the connection status one of ``states``?"""

    def __init__(self, *states: SocketStatus) -> None:
        self.states = frozenset(int(state) for state in states)

    @overload
    def __get__(self, sock: None, owner: type[Socket]) -> _StatusTest: ...
    @overload
    def __get__(self, sock: Socket, owner: type[Socket]) -> bool: ...
    def __get__(self, sock: Socket | None, owner: type[Socket]) -> _StatusTest | bool:
        return self if sock is None else sock.connection_status() in self.states


class _Wait(enum.Enum):
    DATA = "data"
    CLOSED = "closed"
    TIMED_OUT = "timed out"


def _data_bytes(data: str | bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """A String or ByteArray to send; a Python str goes out UTF-8 encoded."""
    return data.encode("utf-8") if isinstance(data, str) else data


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + max(0.0, timeout)


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


class Socket:
    """``Socket``: one plugin socket, its handle and its three semaphores.

    Make one with :meth:`new_tcp`, :meth:`new_udp`, :meth:`new_ipc` or
    :meth:`accept`; ``image=`` picks the image (the default one when omitted).
    A Socket is a context manager: leaving the ``with`` closes and destroys it.
    """

    #: ``Socket standardTimeout``: seconds to wait for a connection or a single send.
    standard_timeout: ClassVar[float] = 45.0
    #: The wait inside ``sendData:`` for each chunk (``waitForSendDoneFor: 60``).
    send_timeout: ClassVar[float] = 60.0

    def __init__(self, image: Image | None = None) -> None:
        """``super new``: an uninitialized socket; use a class-side constructor instead."""
        self.image = Image.resolve(image)
        self.socket_handle: bytearray | None = None
        self.semaphore: Semaphore | None = None
        self.read_semaphore: Semaphore | None = None
        self.write_semaphore: Semaphore | None = None
        #: The socket file a ``bind_to`` of a LOCAL address created (for servers to remove).
        self.bound_path: str | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def _register_for_finalization(self) -> None:
        """``Socket register``: a Socket collected undestroyed is destroyed by the image.

        The finalizer holds the handle, the semaphores and the image -- never the
        Socket -- and only queues the work (:meth:`Image.queue_finalization`).
        """
        assert self.socket_handle is not None
        semaphores = (self.semaphore, self.read_semaphore, self.write_semaphore)
        self._finalizer = weakref.finalize(
            self, self.image.queue_finalization, self.socket_handle, semaphores
        )

    def _unregister_for_finalization(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    # -- instance creation ------------------------------------------------------------

    @classmethod
    def new_tcp(cls, family: int | None = None, *, image: Image | None = None) -> Socket:
        """``newTCP`` / ``newTCP: family``: a stream socket (family 1 local, 2 inet4, 3 inet6)."""
        return cls._new(SocketType.TCP, 0 if family is None else family, image)

    @classmethod
    def new_udp(cls, family: int | None = None, *, image: Image | None = None) -> Socket:
        """``newUDP`` / ``newUDP: family``: a datagram socket (born connected, as UDP is)."""
        return cls._new(SocketType.UDP, 0 if family is None else family, image)

    @classmethod
    def new_ipc(cls, *, image: Image | None = None) -> Socket:
        """``newIPC`` (the workspace example): a Unix-domain stream socket (domain 1)."""
        return cls._new(SocketType.TCP, NetDomain.LOCAL, image)

    new = new_tcp  # ``Socket new`` is a TCP socket, for backward compatibility

    @classmethod
    def _new(cls, socket_type: int, domain: int, image: Image | None) -> Socket:
        img = Image.resolve(image).initialize_network()
        sock = cls(img)
        sock._initialize(socket_type, domain)
        return sock

    def _register_semaphores(self) -> tuple[int, int, int]:
        self.semaphore, index = self.image.new_semaphore("Socket semaphore")
        self.read_semaphore, read_index = self.image.new_semaphore("Socket readSemaphore")
        self.write_semaphore, write_index = self.image.new_semaphore("Socket writeSemaphore")
        return index, read_index, write_index

    def _unregister_semaphores(self) -> None:
        for sema in (self.semaphore, self.read_semaphore, self.write_semaphore):
            self.image.unregister_external_object(sema)
        self.semaphore = self.read_semaphore = self.write_semaphore = None

    def _initialize(self, socket_type: int, domain: int) -> None:
        """``initialize: socketType withDomain: domain`` (the seed's change to ``initialize:``)."""
        if self.socket_handle is not None:
            raise NetworkError("The socket is already bound")
        indices = self._register_semaphores()
        try:
            self.socket_handle = self.image.plugin.primitiveSocketCreate3Semaphores(
                domain,
                socket_type,
                _BUFFER_SIZE,
                _BUFFER_SIZE,
                *indices,
            )
        except BaseException:
            # socket creation failed: give the semaphores back
            self._unregister_semaphores()
            raise
        self._register_for_finalization()

    @classmethod
    def accept_from(cls, server: Socket) -> Socket:
        """``acceptFrom:``: a new socket for the connection a backlog > 1 listener accepted."""
        sock = cls(server.image)
        indices = sock._register_semaphores()
        try:
            sock.socket_handle = sock.image.plugin.primitiveSocketAccept3Semaphores(
                server._handle(),
                _BUFFER_SIZE,
                _BUFFER_SIZE,
                *indices,
            )
        except BaseException:
            sock._unregister_semaphores()
            raise
        sock._register_for_finalization()
        return sock

    @classmethod
    def listen_on_path(
        cls, path: str | bytes, backlog: int = 1, *, image: Image | None = None
    ) -> Socket:
        """A Unix-domain socket listening on ``path``, a file that must not exist yet.

        The resolver has no address for a path with no socket behind it, so the
        image builds one (:meth:`SocketAddress.for_socket_path`, with the session
        of the new socket's handle), binds to it -- creating the socket file --
        and listens. With ``backlog`` 1 the first connection replaces the
        listener in place (wait with :meth:`wait_for_connection_for`); with more,
        :meth:`accept` answers a new socket per connection. The caller removes the
        file (:attr:`bound_path`) when done; :class:`~sqsocket.image.server.UnixServer`
        does all of that.
        """
        sock = cls.new_ipc(image=image)
        with sock.destroyed_on_failure():
            sock.bind_to(SocketAddress.for_socket_path(path, sock.session_id, sock.image))
            sock.listen_with_backlog(backlog)
        return sock

    @contextlib.contextmanager
    def destroyed_on_failure(self) -> Iterator[Socket]:
        """Set a new socket up inside: if anything fails, it is destroyed, then re-raised.

        What the image's ``[...] ifCurtailed: [socket destroy]`` does, so a failed
        bind, listen or connect leaves no socket behind.
        """
        try:
            yield self
        except BaseException:
            self.destroy()
            raise

    # -- handle and status ----------------------------------------------------------------

    def _handle(self) -> bytearray:
        if self.socket_handle is None:
            raise InvalidSocketStatus("the socket has been destroyed")
        return self.socket_handle

    @property
    def session_id(self) -> int:
        """The network session in the handle's first four bytes (0 once destroyed)."""
        if self.socket_handle is None:
            return 0
        return int(_SESSION.unpack_from(self.socket_handle)[0])

    def connection_status(self) -> int:
        """``primSocketConnectionStatus:``; a failing primitive means InvalidSocket (-1).

        A destroyed socket (no handle) is InvalidSocket too, without asking the plugin:
        the ``is_*`` tests below rely on that.
        """
        if self.socket_handle is None:
            return SocketStatus.INVALID
        try:
            return int(self.image.plugin.primitiveSocketConnectionStatus(self.socket_handle))
        except SocketPrimitiveFailed:
            return SocketStatus.INVALID

    @property
    def status_string(self) -> str:
        """``statusString``: 'connected', 'unconnected', ... or 'destroyed'."""
        if self.socket_handle is None:
            return "destroyed"
        return _STATUS_STRINGS.get(self.connection_status(), "unknown socket status")

    # isValid, isConnected, ...: tests of the connection status (a destroyed socket's is
    # InvalidSocket, so each is false for it but is_unconnected_or_invalid)
    is_valid = _StatusTest(*(st for st in SocketStatus if st != SocketStatus.INVALID))
    is_connected = _StatusTest(SocketStatus.CONNECTED)
    is_unconnected = _StatusTest(SocketStatus.UNCONNECTED)
    is_unconnected_or_invalid = _StatusTest(SocketStatus.UNCONNECTED, SocketStatus.INVALID)
    is_waiting_for_connection = _StatusTest(SocketStatus.WAITING_FOR_CONNECTION)
    is_other_end_closed = _StatusTest(SocketStatus.OTHER_END_CLOSED)
    is_this_end_closed = _StatusTest(SocketStatus.THIS_END_CLOSED)

    @property
    def socket_error(self) -> int:
        """``socketError``: the errno of the last failed operation (0 if none)."""
        return int(self.image.plugin.primitiveSocketError(self._handle()))

    def _require_unconnected(self, doing: str) -> None:
        status = self.connection_status()
        if status != SocketStatus.UNCONNECTED:
            raise InvalidSocketStatus(
                f"Socket status must Unconnected before {doing} (it is "
                f"{_STATUS_STRINGS.get(status, status)})"
            )

    # -- connecting ---------------------------------------------------------------------

    def connect_non_blocking_to(
        self, address: SocketAddress | bytes, port: int | None = None
    ) -> None:
        """``connectNonBlockingTo:port:`` / ``connectTo:`` (new API): start connecting.

        ``address`` is a :class:`SocketAddress` (any family) with no port, or a
        4-byte IPv4 host address with a port. Returns at once; follow it with
        :meth:`wait_for_connection_for`.
        """
        self.image.initialize_network()
        self._require_unconnected("opening a new connection")
        if port is None:
            self.image.plugin.primitiveSocketConnectTo(self._handle(), address)
        else:
            self.image.plugin.primitiveSocketConnectToPort(self._handle(), address, port)

    def connect_to(
        self,
        address: SocketAddress | bytes,
        port: int | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """``connectTo:`` / ``connectTo:port:``: connect and wait until connected.

        Waits ``timeout`` seconds at most (``Socket standardTimeout``, 45 s, by
        default). Raises ConnectionRefused when the connection failed (nothing
        listens there), ConnectionTimedOut when it did not complete in time.
        """
        self.connect_non_blocking_to(address, port)
        self.wait_for_connection_for(
            self.standard_timeout if timeout is None else timeout,
            peer=self._describe(address, port),
        )

    @staticmethod
    def _describe(address: SocketAddress | bytes, port: int | None) -> str:
        if port is None:
            return str(address) if isinstance(address, SocketAddress) else repr(bytes(address))
        return f"{string_from_address(address)}:{port}"

    def _await_status_change(self, timeout: float | None) -> int:
        """Wait on the connection semaphore while waiting for a connection; answer the status."""
        deadline = _deadline(timeout)
        status = self.connection_status()
        while status == SocketStatus.WAITING_FOR_CONNECTION:
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                break
            if self.semaphore is None:
                break
            self.semaphore.wait(remaining)
            status = self.connection_status()
        return status

    def wait_for_connection_for(
        self, timeout: float, *, signal: bool = True, peer: str | None = None
    ) -> bool:
        """``waitForConnectionFor:``: wait until connected (a listener: until a client came).

        Answers True once connected. Otherwise, with ``signal`` false, answers
        False; by default raises ConnectionRefused if the connection attempt
        failed (the socket is unconnected again and has an error) and
        ConnectionTimedOut if it is still pending after ``timeout`` seconds.
        """
        status = self._await_status_change(timeout)
        if status == SocketStatus.CONNECTED:
            return True
        if not signal:
            return False
        where = f" to {peer}" if peer else ""
        if status == SocketStatus.UNCONNECTED and self.socket_handle is not None:
            error = self.socket_error
            if error:
                raise ConnectionRefused(
                    f"Cannot connect{where}: {os.strerror(error)} (errno {error})",
                    address=peer,
                    errno=error,
                )
        if status == SocketStatus.INVALID:
            raise InvalidSocketStatus(f"the socket became invalid while connecting{where}")
        if status == SocketStatus.WAITING_FOR_CONNECTION:
            raise ConnectionTimedOut(f"Cannot connect{where}: no connection in {timeout} seconds")
        raise ConnectionTimedOut(
            f"Failed to connect{where} in {timeout} seconds (status {_STATUS_STRINGS[status]})"
        )

    def wait_for_disconnection_for(self, timeout: float) -> bool:
        """``waitForDisconnectionFor:``: wait until the connection is broken; True if it is.

        Received data is discarded while waiting, as in the image (but without
        blocking for more: the image's ``discardReceivedData`` could wait forever).
        """
        deadline = _deadline(timeout)
        status = self.connection_status()
        while status in (SocketStatus.CONNECTED, SocketStatus.THIS_END_CLOSED):
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                break
            self.discard_received_data()
            if self.read_semaphore is None:
                break
            self.read_semaphore.wait(_remaining(deadline))
            status = self.connection_status()
        return status != SocketStatus.CONNECTED

    # -- listening and accepting ------------------------------------------------------------

    def listen_on(
        self, port: int, backlog: int | None = None, interface: bytes | None = None
    ) -> None:
        """``listenOn:`` / ``listenOn:backlogSize:`` / ``...interface:`` (old API, IPv4).

        Without a backlog the first connection replaces the listener in place;
        with a backlog > 1, :meth:`accept` answers a new socket per connection.
        """
        self._require_unconnected("listening for a new connection")
        if interface is not None:
            self.image.plugin.primitiveSocketListenOnPortBacklogInterface(
                self._handle(),
                port,
                1 if backlog is None else backlog,
                interface,
            )
        elif backlog is None:
            self.image.plugin.primitiveSocketListenWithOrWithoutBacklog(self._handle(), port)
        else:
            self.image.plugin.primitiveSocketListenWithOrWithoutBacklog(
                self._handle(), port, backlog
            )

    def bind_to(self, address: SocketAddress | bytes, port: int | None = None) -> None:
        """``bindTo:`` (new API, any family) or ``bindTo:port:`` (4-byte IPv4 address and port).

        Binding a LOCAL address creates the socket file; :attr:`bound_path` records it.
        """
        if port is None:
            self.image.plugin.primitiveSocketBindTo(self._handle(), address)
            if isinstance(address, SocketAddress) and address.is_local:
                path = address.path
                if path and not path.startswith("@"):
                    self.bound_path = path
        else:
            self.image.plugin.primitiveSocketBindToPort(self._handle(), address, port)

    def listen_with_backlog(self, backlog: int) -> None:
        """``listenWithBacklog:`` (new API): listen on the address given to :meth:`bind_to`."""
        self._require_unconnected("listening for a new connection")
        self.image.plugin.primitiveSocketListenWithBacklog(self._handle(), backlog)

    def accept(self) -> Socket:
        """``accept``: the connection a backlog > 1 listener has waiting, as a new Socket."""
        return type(self).accept_from(self)

    def wait_for_accept_for(self, timeout: float) -> Socket | None:
        """``waitForAcceptFor:``: wait for a connection and accept it; None on time-out."""
        if not self.wait_for_connection_for(timeout, signal=False):
            return None
        return self.accept()

    # -- sending --------------------------------------------------------------------------

    @property
    def send_done(self) -> bool:
        """``sendDone``: would a send proceed now? (If not, the write semaphore will say.)"""
        if self.socket_handle is None:
            return False
        return bool(self.image.plugin.primitiveSocketSendDone(self.socket_handle))

    def wait_for_send_done_for(self, timeout: float) -> bool:
        """``waitForSendDoneFor:``: True once a send may proceed; False on time-out or if closed."""
        deadline = _deadline(timeout)
        while True:
            if self.send_done:
                return True
            # the connection may end with the last data: ask in this order, as the image does
            if not self.is_connected:
                return False
            remaining = _remaining(deadline)
            if (remaining is not None and remaining <= 0) or self.write_semaphore is None:
                return False
            self.write_semaphore.wait(remaining)

    def _check_sendable(self, sent: int, total: int) -> None:
        """After a failed wait: say why if it is not a time-out (the image would say time-out)."""
        self._handle()  # destroyed: InvalidSocketStatus
        status = self.connection_status()
        if (
            status
            in (SocketStatus.UNCONNECTED, SocketStatus.WAITING_FOR_CONNECTION, SocketStatus.INVALID)
            and sent == 0
        ):
            raise InvalidSocketStatus(
                f"cannot send on a socket that is not connected (it is {self.status_string})"
            )
        if status != SocketStatus.CONNECTED:
            raise ConnectionClosed(
                f"connection closed while sending ({sent} of {total} bytes sent; "
                f"the socket is {self.status_string})"
            )

    def send_some_data(
        self,
        data: str | bytes | bytearray | memoryview,
        start: int = 1,
        count: int | None = None,
        *,
        timeout: float | None = None,
    ) -> int:
        """``sendSomeData:startIndex:count:for:``: wait until a send may proceed, send once.

        Answers how many bytes the primitive took (maybe fewer than ``count``).
        """
        payload = _data_bytes(data)
        n = len(payload) - start + 1 if count is None else count
        limit = self.standard_timeout if timeout is None else timeout
        if not self.wait_for_send_done_for(limit):
            self._check_sendable(0, n)
            raise ConnectionTimedOut("send data timeout; data not sent")
        return int(
            self.image.plugin.primitiveSocketSendDataBufCount(self._handle(), payload, start, n)
        )

    def send_data(
        self, data: str | bytes | bytearray | memoryview, *, timeout: float | None = None
    ) -> int:
        """``sendData:``: send it all; answer the count.

        As Pharo's ``Socket>>sendData:`` does: before each send, wait up to
        ``timeout`` seconds (60 by default) for the send to be possible, then hand the
        primitive everything not sent yet (it sends what ``send()`` takes). Raises
        ConnectionTimedOut when a send is not possible in time, and ConnectionClosed
        when the connection has gone.
        """
        payload = _data_bytes(data)
        total = len(payload)
        limit = self.send_timeout if timeout is None else timeout
        sent = 0
        while sent < total:
            if not self.wait_for_send_done_for(limit):
                self._check_sendable(sent, total)
                raise ConnectionTimedOut(
                    f"send data timeout; data not sent ({sent} of {total} bytes sent)"
                )
            count = self.image.plugin.primitiveSocketSendDataBufCount(
                self._handle(),
                payload,
                sent + 1,
                total - sent,
            )
            sent += int(count)
        return sent

    def send_command(self, command: str) -> int:
        """``sendCommand:``: one line, CR LF terminated."""
        return self.send_data(command + "\r\n")

    # -- receiving ----------------------------------------------------------------------------

    @property
    def data_available(self) -> bool:
        """``dataAvailable``: is there data to read? (If not, the read semaphore will say.)"""
        if self.socket_handle is None:
            return False
        return bool(self.image.plugin.primitiveSocketReceiveDataAvailable(self.socket_handle))

    def _await_data(self, timeout: float | None) -> _Wait:
        """``waitForDataFor:ifClosed:ifTimedOut:`` without the blocks: what happened."""
        deadline = _deadline(timeout)
        while True:
            if self.data_available:
                return _Wait.DATA
            if not self.is_connected:
                return _Wait.CLOSED
            remaining = _remaining(deadline)
            if (remaining is not None and remaining <= 0) or self.read_semaphore is None:
                return _Wait.TIMED_OUT
            self.read_semaphore.wait(remaining)

    def wait_for_data_for(self, timeout: float) -> None:
        """``waitForDataFor:``: return when data is there; raise ConnectionClosed / TimedOut."""
        outcome = self._await_data(timeout)
        if outcome is _Wait.CLOSED:
            raise ConnectionClosed("Connection closed while waiting for data.")
        if outcome is _Wait.TIMED_OUT:
            raise ConnectionTimedOut(f"Data receive timed out (after {timeout} seconds).")

    def wait_for_data(self) -> None:
        """``waitForData``: wait as long as it takes; raise ConnectionClosed if it closes."""
        if self._await_data(None) is _Wait.CLOSED:
            raise ConnectionClosed("Connection closed while waiting for data.")

    def _receive_into(self, buffer: bytearray, start: int) -> int:
        return int(
            self.image.plugin.primitiveSocketReceiveDataBufCount(
                self._handle(),
                buffer,
                start,
                len(buffer) - start + 1,
            )
        )

    def receive_data_into(
        self, buffer: bytearray, start: int = 1, *, timeout: float | None = None
    ) -> int:
        """``receiveDataInto:startingAt:``: wait for data once, read what is there.

        Answers the number of bytes read into ``buffer`` from the 1-based
        ``start``; 0 means the connection closed with nothing left to read.
        With ``timeout``, raises ConnectionTimedOut when no data came in time.
        """
        deadline = _deadline(timeout)
        while True:
            outcome = self._await_data(_remaining(deadline))
            if outcome is _Wait.CLOSED:
                return 0
            if outcome is _Wait.TIMED_OUT:
                raise ConnectionTimedOut(f"Data receive timed out (after {timeout} seconds).")
            count = self._receive_into(buffer, start)
            if count:
                return count
            # data was announced but a read found none (or saw the end): look again

    def receive_data(self, timeout: float | None = None, *, size: int = _RECEIVE_BUFFER) -> bytes:
        """``receiveData``: wait until data arrives or the connection closes; answer the data.

        Answers what one read got (at most ``size`` bytes), or ``b""`` if the
        connection closed first. With ``timeout``, raises ConnectionTimedOut when
        nothing came in that many seconds (the image would wait for ever).
        """
        buffer = bytearray(size)
        count = self.receive_data_into(buffer, timeout=timeout)
        return bytes(buffer[:count])

    def receive_data_timeout(self, timeout: float, *, size: int = _RECEIVE_BUFFER) -> bytes:
        """``receiveDataTimeout:``: wait up to ``timeout`` seconds once; ``b""`` if nothing came."""
        self._await_data(timeout)
        if self.socket_handle is None or self.connection_status() not in (
            SocketStatus.CONNECTED,
            SocketStatus.OTHER_END_CLOSED,
        ):
            return b""
        buffer = bytearray(size)
        return bytes(buffer[: self._receive_into(buffer, 1)])

    def receive_data_with_timeout(self, *, size: int = _RECEIVE_BUFFER) -> bytes:
        """``receiveDataWithTimeout``: :meth:`receive_data_timeout` with the standard timeout."""
        return self.receive_data_timeout(self.standard_timeout, size=size)

    def receive_data_signalling_closed(
        self, timeout: float | None = None, *, size: int = _RECEIVE_BUFFER
    ) -> bytes:
        """``receiveDataSignallingClosedInto:``-like: as :meth:`receive_data`, but raises
        ConnectionClosed instead of answering ``b""`` when the connection closes."""
        data = self.receive_data(timeout, size=size)
        if not data:
            raise ConnectionClosed("Connection closed while waiting for data.")
        return data

    def receive_some_data(self, *, size: int = _RECEIVE_BUFFER) -> bytes:
        """``receiveSomeData``: what can be read now, without waiting (maybe ``b""``)."""
        buffer = bytearray(size)
        return bytes(buffer[: self._receive_into(buffer, 1)])

    def receive_available_data(self, *, size: int = _RECEIVE_BUFFER) -> bytes:
        """``receiveAvailableData``: read while data is available (up to ``size``); no waiting."""
        buffer = bytearray(size)
        position = 1
        while position <= size and self.data_available:
            count = self._receive_into(buffer, position)
            if not count:
                break
            position += count
        return bytes(buffer[: position - 1])

    def discard_received_data(self) -> int:
        """``discardReceivedData``: read and drop what is there now; answer how much."""
        total = 0
        buffer = bytearray(10000)
        while self.is_connected and self.data_available:
            count = self._receive_into(buffer, 1)
            if not count:
                break
            total += count
        return total

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """``close``: close this end gracefully (the peer sees end of stream)."""
        self.image.plugin.primitiveSocketCloseConnection(self._handle())

    def disconnect(self) -> None:
        """``disconnect``: ``primSocketAbortConnection:``, whatever the connection's state.

        Despite the name, the Unix plugin sends no reset: it turns lingering off
        ({l_onoff 0}, not {1, 0}) and closes, so the peer sees a FIN and reads EOF
        (sqUnixSocket.c, sqSocketAbortConnection; sqsocket.platform.sockets).
        """
        self.image.plugin.primitiveSocketAbortConnection(self._handle())

    def destroy(self) -> None:
        """``destroy``: abort any connection, free the plugin's socket, unregister the semaphores.

        Does nothing when already destroyed.
        """
        if self.socket_handle is None:
            return
        self._unregister_for_finalization()
        try:
            if self.is_valid:
                self.image.plugin.primitiveSocketDestroy(self.socket_handle)
        finally:
            self._unregister_semaphores()
            self.socket_handle = None

    def close_and_destroy(self, timeout: float = 20.0) -> None:
        """``closeAndDestroy:``: close gracefully, wait for the disconnection, then destroy.

        If the connection does not go away within ``timeout`` seconds it is
        aborted. Does nothing when already destroyed.
        """
        if self.socket_handle is None:
            return
        try:
            if self.is_connected:
                self.close()
                if not self.wait_for_disconnection_for(timeout):
                    # the other end did not close: abort
                    self.disconnect()
        finally:
            self.destroy()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close_and_destroy(1.0)

    # -- addresses --------------------------------------------------------------------------

    def local_socket_address(self) -> SocketAddress | None:
        """``localSocketAddress`` (new API): the bound address, None if there is none."""
        plugin = self.image.plugin
        return self._address(
            plugin.primitiveSocketLocalAddressSize, plugin.primitiveSocketLocalAddressResult
        )

    def remote_socket_address(self) -> SocketAddress | None:
        """``remoteSocketAddress`` (new API): the peer's address, None if there is none."""
        plugin = self.image.plugin
        return self._address(
            plugin.primitiveSocketRemoteAddressSize, plugin.primitiveSocketRemoteAddressResult
        )

    def _address(
        self,
        size: Callable[[bytearray], int],
        result: Callable[[bytearray, bytearray], Any],
    ) -> SocketAddress | None:
        """The ``xxxAddressSize`` / ``SocketAddress new:`` / ``xxxAddressResult:`` idiom."""
        n = int(size(self._handle()))
        if n <= 0:
            return None
        address = SocketAddress.new(n, self.image)
        result(self._handle(), address)
        return address

    def local_host_address(self) -> bytes:
        """``localAddress`` (old API): the 4-byte local IPv4 address (0.0.0.0 for others)."""
        return bytes(self.image.plugin.primitiveSocketLocalAddress(self._handle()))

    def remote_host_address(self) -> bytes:
        """``remoteAddress`` (old API): the peer's 4-byte IPv4 address."""
        return bytes(self.image.plugin.primitiveSocketRemoteAddress(self._handle()))

    @property
    def local_port(self) -> int:
        """``localPort``: the old primitive (IPv4); an IPv6 socket asks its address instead."""
        return self._port(self.image.plugin.primitiveSocketLocalPort, self.local_socket_address)

    @property
    def remote_port(self) -> int:
        """``remotePort``: the old primitive (IPv4); an IPv6 socket asks its address instead."""
        return self._port(self.image.plugin.primitiveSocketRemotePort, self.remote_socket_address)

    def _port(
        self, old_api: Callable[[bytearray], int], address: Callable[[], SocketAddress | None]
    ) -> int:
        """The old API's port, or (0: not an IPv4 socket) the port of an IPv6 address."""
        port = int(old_api(self._handle()))
        if port != 0:
            return port
        sa = address()
        return sa.port if sa is not None and sa.family == AddressFamily.INET6 else 0

    # -- options ---------------------------------------------------------------------------

    def set_option(self, name: str, value: object) -> list[int]:
        """``setOption:value:``: answers ``[error, negotiated value]``; True/False mean '1'/'0'."""
        if not self.is_valid:
            raise InvalidSocketStatus("Socket status must valid before setting an option")
        text = "1" if value is True else "0" if value is False else str(value)
        return list(self.image.plugin.primitiveSocketSetOptions(self._handle(), name, text))

    def get_option(self, name: str) -> list[int]:
        """``getOption:``: answers ``[error, value]``."""
        if not self.is_valid:
            raise InvalidSocketStatus("Socket status must valid before getting an option")
        return list(self.image.plugin.primitiveSocketGetOptions(self._handle(), name))

    # -- datagrams -------------------------------------------------------------------------

    def set_peer(self, host_address: bytes, port: int) -> None:
        """``setPeer:port:``: the default destination of a UDP socket."""
        self.image.plugin.primitiveSocketConnectToPort(self._handle(), host_address, port)

    def set_port(self, port: int) -> None:
        """``setPort:``: bind a UDP socket to a local port."""
        self.image.plugin.primitiveSocketListenWithOrWithoutBacklog(self._handle(), port)

    def send_udp_data_to_host_port(
        self,
        data: str | bytes | bytearray | memoryview,
        host_address: bytes,
        port: int,
        *,
        timeout: float = 20.0,
    ) -> int:
        """``sendUDPData:toHost:port:``: send one datagram; answer the bytes sent."""
        payload = _data_bytes(data)
        total = len(payload)
        sent = 0
        while True:
            if not self.wait_for_send_done_for(timeout):
                raise ConnectionTimedOut("send data timeout; data not sent")
            count = int(
                self.image.plugin.primitiveSocketSendUDPDataBufCount(
                    self._handle(),
                    payload,
                    host_address,
                    port,
                    sent + 1,
                    total - sent,
                )
            )
            if count == 0 and total != 0:
                raise NetworkError("failed to send data")
            sent += count
            if sent >= total:
                return sent

    # Squeak's Socket has both selectors for one datagram send: sendData:toHost:port:
    # (the older name) and sendUDPData:toHost:port:
    send_data_to_host_port = send_udp_data_to_host_port

    def receive_udp_data_into(self, buffer: bytearray) -> list[Any]:
        """``receiveUDPDataInto:``: ``[count, sender address (4 bytes), sender port, more?]``.

        Does not wait: ask :meth:`wait_for_data_for` first.
        """
        return list(
            self.image.plugin.primitiveSocketReceiveUDPDataBufCount(
                self._handle(), buffer, 1, len(buffer)
            )
        )

    # -- printing ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"a Socket[{self.status_string}]"
