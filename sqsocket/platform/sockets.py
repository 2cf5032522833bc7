"""Socket functions of sqUnixSocket.c: create, connect, listen, accept, send, receive, close.

Each public method is one ``sqSocket...`` function; each aio handler is the C
handler of the same name, run only where the VM polls (:mod:`sqsocket.vm.machine`).
Methods and handlers run with the VM lock held. State changes go through the
table in :mod:`sqsocket.platform.statetable` and nowhere else; which row applies
is decided by that module's pure functions from what the system call answered.

Every emulated system call that fails records its errno in the VM's errno cell
(``self.c``), and the C code's ``perror()``/``fprintf(stderr, ...)`` calls go to the
VM's stderr model, because the C code later reads ``errno`` where the last call
did not fail (see :mod:`sqsocket.vm.cruntime`).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
from collections.abc import Callable

from sqsocket.platform import libc
from sqsocket.platform.constants import (
    LINGER_SECS,
    NET_DOMAIN_TO_AF,
    REUSE_EXISTING_SOCKET,
    SocketStatus,
    SocketType,
)
from sqsocket.platform.failure import PlatformFailure
from sqsocket.platform.layouts import (
    ADDRESS_HEADER_SIZE,
    build_socket_address,
    sockaddr_in,
)
from sqsocket.platform.network import Network, PrivateSocket, Semaphores
from sqsocket.platform.options import (
    MAX_OPTION_VALUE,
    SocketOption,
    find_option,
    parse_option_value,
)
from sqsocket.platform.profiles import OptionValueRule, SendDoneRule, WouldBlockRule
from sqsocket.platform.statetable import (
    Event,
    Notify,
    StateChanged,
    accept_event,
    close_event,
    connect_event,
    connect_handler_event,
    create_event,
    data_handler_event,
    peek_event,
    read_event,
    send_event,
    transition,
)
from sqsocket.vm.aio import AIO_RWX, AIO_RX, AIO_WX, AioFlag

_EWOULDBLOCK = errno.EWOULDBLOCK
_AF_INET = struct.pack("=H", socket.AF_INET)
# sizeof(union sockaddr_any): what the UDP send passes as the default peer's length
_SOCKADDR_ANY = 112
_LINGER_ON = struct.pack("ii", 1, LINGER_SECS)
_LINGER_OFF = struct.pack("ii", 0, 0)
_POLL_WRITABLE = select.POLLOUT | select.POLLERR  # select()'s POLLOUT_SET
_EBADF = OSError(errno.EBADF, os.strerror(errno.EBADF))
# socket.MSG_* are IntFlags, whose "|" costs half a microsecond: plain ints here
_PEEK = int(socket.MSG_PEEK) | int(socket.MSG_DONTWAIT)
_NOSIGNAL = int(socket.MSG_NOSIGNAL)


# struct sockaddr_in: sin_port at bytes 2..4, sin_addr at 4..8 (network order)
_SIN_PORT = slice(2, 4)
_SIN_ADDR = slice(4, 8)


def _sockaddr_in_of(address: int, port: int) -> bytes:
    """The old API's ``struct sockaddr_in`` for an IPv4 address given as an int and a port."""
    return sockaddr_in(socket.inet_ntoa(address.to_bytes(4, "big")), port)


def _sockaddr_in_field(sa: bytes | None, field: slice) -> int:
    """A sockaddr_in's port or address as the old API reads it: 0 unless it is AF_INET."""
    if sa is None or len(sa) < field.stop or sa[:2] != _AF_INET:
        return 0
    return int.from_bytes(sa[field], "big")


def _send_nosignal(sock: socket.socket, data: memoryview) -> int:
    """``send(fd, buf, count, MSG_NOSIGNAL)``: a closed peer is EPIPE, not SIGPIPE."""
    return sock.send(data, _NOSIGNAL)


class Sockets:
    def __init__(self, net: Network) -> None:
        self.net = net
        self.c = net.c  # the VM's errno cell and stderr
        self.aio = net.aio
        # one poll object for socketWritable's zero-timeout question (register, ask,
        # unregister): callers hold the VM lock, so one at a time uses it
        self._writable_poll = select.poll()

    # -- little C helpers ---------------------------------------------------------------

    def _failed(self, exc: OSError) -> int:
        """A system call failed: errno holds its error now. Answers it."""
        return self.c.failed(exc.errno)

    def _set_linger(self, sock: socket.socket | None, on: bool) -> None:
        """``setLinger(fd, flag)``: {flag, flag * LINGER_SECS}; its result is ignored."""
        if sock is None:
            self.c.failed(errno.EBADF)
            return
        linger = _LINGER_ON if on else _LINGER_OFF
        try:
            libc.setsockopt(sock.fileno(), socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError as exc:
            self._failed(exc)

    def _eof_error(self) -> int:
        """The socket error stored when a call answered 0 (EOF, a 0-byte send or datagram).

        The C code stores errno, which that call did not set: whatever the last failing
        call left. OpenSmalltalk since 3f34f58f0 reads errno only when the call failed: 0.
        """
        return self.c.errno if self.net.profile.eof_error_from_errno else 0

    def _socket_error(self, sock: socket.socket | None) -> int:
        """``socketError(fd)``: SO_ERROR (which also clears it); a failed call answers 0."""
        if sock is None:
            self.c.failed(errno.EBADF)
            return 0
        try:
            return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
        except OSError as exc:
            self._failed(exc)
            return 0

    def _readable(self, sock: socket.socket | None) -> int:
        """``socketReadable(fd)``: 1 data, 0 would block, -1 EOF or error (1-byte MSG_PEEK)."""
        if sock is None:
            self.c.failed(errno.EBADF)
            return -1
        try:
            n = sock.recv(1, _PEEK)
        except OSError as exc:
            return 0 if self._failed(exc) == _EWOULDBLOCK else -1
        return 1 if n else -1

    def _writable(self, sock: socket.socket | None) -> bool:
        """``socketWritable(fd)``: writable now, by a zero-timeout poll.

        The C code uses select() with an fd_set, which cannot hold a descriptor of
        1024 or more (glibc's FD_SET check aborts the VM there); poll() has no such
        limit and answers the same below it.
        """
        if sock is None:
            self.c.failed(errno.EBADF)
            return False
        poller = self._writable_poll
        fd = sock.fileno()
        poller.register(fd, select.POLLOUT)
        try:
            ready = poller.poll(0)
        except OSError as exc:
            self._failed(exc)
            return False
        finally:
            poller.unregister(fd)
        return bool(ready and ready[0][1] & _POLL_WRITABLE)

    # -- state ---------------------------------------------------------------------

    def _apply(self, pss: PrivateSocket, event: Event) -> None:
        before = pss.state
        row = transition(before, event)
        pss.state = row.target
        notify = row.notify
        index = 0
        if notify is Notify.CONN:
            index = pss.conn_sema
        elif notify is Notify.READ:
            index = pss.read_sema
        elif notify is Notify.WRITE:
            index = pss.write_sema
        if index:
            self.net.vm.signal_semaphore_with_index(index)
        vm = self.net.vm
        if vm.observed:
            vm.emit(
                StateChanged(
                    vm.now(), pss.ptr, event, before, row.target, (index,) if index else ()
                )
            )

    def _born(self, pss: PrivateSocket, event: Event) -> None:
        """A new socket takes its first state from the table."""
        pss.state = transition(None, event).target
        vm = self.net.vm
        if vm.observed:
            vm.emit(StateChanged(vm.now(), pss.ptr, event, None, pss.state, ()))

    # -- creation -------------------------------------------------------------------

    def create(self, net_type: int, socket_type: int, semaphores: Semaphores) -> bytearray:
        """``sqSocketCreateNetTypeSocketTypeRecvBytesSendBytesSemaIDReadSemaIDWriteSemaID``.

        The buffer sizes are not passed: the Unix plugin ignores them.
        """
        self.net.require_socket_access()
        domain = NET_DOMAIN_TO_AF.get(net_type, net_type)
        if socket_type == SocketType.TCP:
            kind = socket.SOCK_STREAM
        elif socket_type == SocketType.UDP:
            kind = socket.SOCK_DGRAM
        elif socket_type == REUSE_EXISTING_SOCKET + SocketType.TCP:
            # systemd socket activation: fd 3 when LISTEN_FDS says one was passed
            raise PlatformFailure(
                "no socket was handed over by the service manager (sd_listen_fds)"
            )
        else:
            raise PlatformFailure(f"socket type {socket_type} is neither TCP (0) nor UDP (1)")
        if not self.net.session:
            # the C code makes the socket and stamps session 0 on it: every later
            # primitive then fails on the handle; refuse at once and leak nothing
            raise PlatformFailure("the network is not initialized")
        try:
            if domain < 0:
                # Python's socket() reads family -1 as "the default" (AF_INET); the
                # C code's socket(-1, ...) fails with EAFNOSUPPORT
                raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
            sock = socket.socket(domain, kind, 0)
        except OSError as exc:
            self._failed(exc)
            raise PlatformFailure(f"socket({domain}, {kind}) failed: {exc.strerror}") from None
        except ValueError as exc:
            self.c.failed(errno.EINVAL)
            raise PlatformFailure(f"socket({domain}, {kind}) failed: {exc}") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        except OSError as exc:
            self._failed(exc)  # the C code ignores the result
        # a UDP socket is aio-enabled at once; a TCP one when it listens or connects
        udp = socket_type == SocketType.UDP
        return self._adopt(sock, socket_type, semaphores, create_event(socket_type), enable=udp)

    def _adopt(
        self,
        sock: socket.socket,
        socket_type: int,
        semaphores: Semaphores,
        born: Event,
        *,
        enable: bool,
    ) -> bytearray:
        """A new socket's structure, its handle, and its first state (the ``born`` row).

        ``enable``: ``aioEnable`` it now. ``socket_type`` is what the handle records.
        """
        pss = PrivateSocket(sock, *semaphores, SocketStatus.INVALID, socket_type)
        handle = self.net.new_handle(pss, socket_type)
        self._born(pss, born)
        if enable:
            self.aio.enable(sock, pss)
        return handle

    def create_raw(self, domain: int, protocol: int, semaphores: Semaphores) -> bytearray:
        """``sqSocketCreateRawProtoType...``: only protocol 1 (ICMP over IPv4) exists."""
        self.net.require_socket_access()
        if protocol != 1:
            self.net.fprintf(f"primSocketCreateRAW: socket() failed; protocol = {protocol}\n")
            raise PlatformFailure(f"raw protocol {protocol} is not 1 (ICMP)")
        if not self.net.session:
            raise PlatformFailure("the network is not initialized")
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except OSError as exc:
            err = self._failed(exc)
            self.net.fprintf(
                f"primSocketCreateRAW: socket() failed; protocol = {protocol}, errno = {err}\n"
            )
            raise PlatformFailure(
                f"socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) failed: {exc.strerror}"
            ) from None
        raw = SocketType.RAW
        return self._adopt(sock, raw, semaphores, create_event(raw), enable=True)

    # -- status ----------------------------------------------------------------------

    def connection_status(self, handle: bytes | bytearray) -> int:
        """``sqSocketConnectionStatus``: an Invalid socket is dropped and the primitive fails."""
        _type, pss = self.net.socket_of(handle)
        if pss.state == SocketStatus.INVALID:
            # "freeing invalidated pss": the handle's pointer is cleared
            self.net.fprintf("socketStatus: freeing invalidated pss\n")
            self.net.sockets.pop(pss.ptr, None)
            self.net.clear_pointer(handle)
            raise PlatformFailure("the socket was invalidated by a failed accept (state -1)")
        return int(pss.state)

    def error(self, handle: bytes | bytearray) -> int:
        _type, pss = self.net.socket_of(handle)
        return pss.error

    # -- old API: IPv4 ints and ports --------------------------------------------------

    def local_address(self, handle: bytes | bytearray) -> int:
        _type, pss = self.net.socket_of(handle)
        return _sockaddr_in_field(self._name(pss, libc.getsockname), _SIN_ADDR)

    def local_port(self, handle: bytes | bytearray) -> int:
        _type, pss = self.net.socket_of(handle)
        return _sockaddr_in_field(self._name(pss, libc.getsockname), _SIN_PORT)

    def remote_address(self, handle: bytes | bytearray) -> int:
        return self._peer_field(handle, _SIN_ADDR)

    def remote_port(self, handle: bytes | bytearray) -> int:
        return self._peer_field(handle, _SIN_PORT)

    def _peer_field(self, handle: bytes | bytearray, field: slice) -> int:
        """TCP: the field of getpeername's answer; UDP/RAW: of the default peer."""
        socket_type, pss = self.net.socket_of(handle)
        if socket_type == SocketType.TCP:
            return _sockaddr_in_field(self._name(pss, libc.getpeername), field)
        # UDP/RAW: the default peer, read as a sockaddr_in whatever it holds
        width = field.stop - field.start
        return int.from_bytes(pss.peer[field].ljust(width, b"\0"), "big")

    def _name(self, pss: PrivateSocket, fn: Callable[[int], bytes]) -> bytes | None:
        if pss.sock is None:
            self.c.failed(errno.EBADF)
            return None
        try:
            return fn(pss.fd)
        except OSError as exc:
            self._failed(exc)
            return None

    # -- listen / bind / connect --------------------------------------------------------

    def listen_on_port(
        self, handle: bytes | bytearray, port: int, backlog: int, interface: int
    ) -> None:
        """``sqSocketListenOnPortBacklogSizeInterface`` (bind and listen errors are ignored)."""
        self.net.require_socket_access()
        socket_type, pss = self.net.socket_of(handle)
        if backlog > 1 and socket_type != SocketType.TCP:
            raise PlatformFailure("only TCP sockets have a backlog (> 1)")
        pss.multi_listen = backlog > 1
        sa = _sockaddr_in_of(interface, port)
        self._call(pss, libc.bind, sa)
        if socket_type == SocketType.TCP:
            self._start_listening(pss, backlog)

    def _call(self, pss: PrivateSocket, fn: Callable[[int, bytes], None], sa: bytes) -> int:
        """``fn(SOCKET(s), addr, len)`` as C calls it: answer 0, or the errno it failed with."""
        try:
            fn(self._fd(pss), sa)
        except OSError as exc:
            return self._failed(exc)
        return 0

    def _start_listening(self, pss: PrivateSocket, backlog: int) -> None:
        if pss.sock is None:
            self.c.failed(errno.EBADF)  # listen(-1, ...)
        else:
            try:
                pss.sock.listen(backlog)  # "acceptHandler catches errors"
            except OSError as exc:
                self._failed(exc)
        self._apply(pss, Event.LISTEN)
        if pss.sock is not None:
            self.aio.enable(pss.sock, pss)
            self.aio.handle(pss.sock, self._accept_handler, AIO_RX)

    def bind_to_port(self, handle: bytes | bytearray, address: int, port: int) -> None:
        """``sqSocketBindToPort``."""
        _type, pss = self.net.socket_of(handle)
        sa = _sockaddr_in_of(address, port)
        self._bind(pss, sa)

    def bind_to(self, handle: bytes | bytearray, address: bytes | bytearray) -> None:
        """``sqSocketBindToAddressSize``."""
        _type, pss = self.net.socket_of(handle)
        self._bind(pss, self.net.check_address(address))

    def _bind(self, pss: PrivateSocket, sockaddr: bytes) -> None:
        """The bind primitives' ``bind()``: a failure is kept as the socket's error."""
        err = self._call(pss, libc.bind, sockaddr)
        if err:
            pss.error = err
            raise PlatformFailure(f"bind() failed: {os.strerror(err)} ({err})")

    def listen_backlog(self, handle: bytes | bytearray, backlog: int) -> None:
        """``sqSocketListenBacklog``."""
        socket_type, pss = self.net.socket_of(handle)
        if backlog > 1 and socket_type != SocketType.TCP:
            raise PlatformFailure("only TCP sockets have a backlog (> 1)")
        pss.multi_listen = backlog > 1
        if socket_type == SocketType.TCP:
            self._start_listening(pss, backlog)

    def connect_to_port(self, handle: bytes | bytearray, address: int, port: int) -> None:
        """``sqSocketConnectToPort``: TCP opens a connection, UDP sets the default peer."""
        self.net.require_socket_access()
        socket_type, pss = self.net.socket_of(handle)
        sa = _sockaddr_in_of(address, port)
        self._connect(socket_type, pss, sa, "sqConnectToPort")

    def connect_to(self, handle: bytes | bytearray, address: bytes | bytearray) -> None:
        """``sqSocketConnectToAddressSize``."""
        socket_type, pss = self.net.socket_of(handle)
        sockaddr = self.net.check_address(address)
        self._connect(socket_type, pss, sockaddr, "sqConnectToAddressSize")

    def _connect(self, socket_type: int, pss: PrivateSocket, sockaddr: bytes, who: str) -> None:
        if socket_type != SocketType.TCP:
            if pss.sock is not None:
                pss.peer = sockaddr
                pss.peer_size = len(sockaddr)
                if self._call(pss, libc.connect, sockaddr) == 0:
                    self._apply(pss, Event.DGRAM_CONNECT)
            return
        if pss.sock is not None:
            self.aio.enable(pss.sock, pss)
        event = connect_event(self._call(pss, libc.connect, sockaddr))
        if event is Event.CONNECT_SYNC:
            self._apply(pss, event)
            self._set_linger(pss.sock, True)
        elif event is Event.CONNECT_PENDING:
            self._apply(pss, event)
            self.aio.handle(pss.sock, self._connect_handler, AIO_WX)
        else:
            # perror() runs before errno is read: on a fresh write-only stderr it
            # changes errno (sqsocket.vm.cruntime), and that is what is kept
            self.net.perror(who)
            pss.error = self.c.errno
            self._apply(pss, event)

    @staticmethod
    def _fd(pss: PrivateSocket) -> int:
        if pss.sock is None:
            return -1  # the call then fails with EBADF, as it does in C
        return pss.fd

    # -- accept -----------------------------------------------------------------------

    def accept_from(self, server: bytes | bytearray, semaphores: Semaphores) -> bytearray:
        """``sqSocketAcceptFromRecvBytesSendBytesSemaIDReadSemaIDWriteSemaID`` (sizes ignored)."""
        _type, spss = self.net.socket_of(server)
        if not spss.multi_listen:
            raise PlatformFailure("the server socket is not listening with a backlog > 1")
        if spss.accepted is None:
            # C checks acceptedSock < 0, but a new structure holds 0 there (calloc),
            # so the VM would hand out fd 0 (stdin) before the first connection.
            self.net.fprintf("acceptFrom: no socket available\n")
            raise PlatformFailure("no connection is waiting to be accepted")
        newsock = spss.accepted
        spss.accepted = None
        self._apply(spss, Event.ACCEPT_TAKEN)
        self.aio.handle(spss.sock, self._accept_handler, AIO_RX)
        # s->socketType is never set for an accepted socket: calloc'd ByteArray => 0 (TCP)
        return self._adopt(newsock, SocketType.TCP, semaphores, Event.ACCEPTED, enable=True)

    # -- data ---------------------------------------------------------------------------

    def receive_data_available(self, handle: bytes | bytearray) -> bool:
        """``sqSocketReceiveDataAvailable``: peek; on "no", arm the data handler for reading."""
        _type, pss = self.net.socket_of(handle)
        if pss.state == SocketStatus.CONNECTED:
            n = self._readable(pss.sock)
            if n > 0:
                return True
            event = peek_event(pss.state, n)
            if event is not None:
                self._apply(pss, event)
        self.aio.handle(pss.sock, self._data_handler, AIO_RX)
        return False

    def send_done(self, handle: bytes | bytearray) -> bool:
        """``sqSocketSendDone``: writable now? If not, arm the data handler for writing.

        OpenSmalltalk first trusts the flag its data handler set when the socket was
        last reported writable; pharo-vm answers true while Connected, looking at
        nothing and arming nothing (the profile's ``send_done_rule``).
        """
        _type, pss = self.net.socket_of(handle)
        if pss.state == SocketStatus.CONNECTED:
            rule = self.net.profile.send_done_rule
            if rule is SendDoneRule.CONNECTED:
                return True
            if rule is SendDoneRule.POLL_OR_NOTIFIED and pss.notified_writable:
                return True
            if self._writable(pss.sock):
                return True
            self.aio.handle(pss.sock, self._data_handler, AIO_WX)
        return False

    def receive(self, handle: bytes | bytearray, buf: memoryview) -> int:
        """``sqSocketReceiveDataBufCount``: 0 when it would block; TCP EOF marks OtherEndClosed.

        At end-of-file ``read()`` answers 0 and sets no errno; the socket error is then
        whatever errno the VM process last left (the errno cell).
        """
        socket_type, pss = self.net.socket_of(handle)
        pss.peer_size = 0
        if socket_type != SocketType.TCP:
            try:
                n, sender = libc.recvfrom(self._fd(pss), buf)
            except OSError as exc:
                return self._datagram_failed(pss, exc)
            pss.peer = sender  # recvfrom writes the sender over the default peer
            if n <= 0:
                pss.error = self._eof_error()
                return 0
            pss.peer_size = len(sender)
            return n
        # recv_into(buf) fills at most len(buf), as read(fd, buf, count) does
        return self._stream_transfer(pss, socket.socket.recv_into, buf, read_event)

    def send(self, handle: bytes | bytearray, data: memoryview) -> int:
        """``sqSocketSendDataBufCount``: what ``send()`` took; 0 when it would block.

        A TCP error (or a send of nothing, which answers 0) marks OtherEndClosed.
        """
        socket_type, pss = self.net.socket_of(handle)
        pss.notified_writable = False  # clearNoticeOfWritability before any send
        if socket_type != SocketType.TCP:
            try:
                # sendto the default peer, with sizeof(union sockaddr_any) as its length
                n = libc.sendto(self._fd(pss), data, pss.peer.ljust(_SOCKADDR_ANY, b"\0"))
            except OSError as exc:
                return self._datagram_failed(pss, exc)
            if n <= 0:
                # sendto() answered 0 (an empty datagram): C reads the errno left over
                err = self._eof_error()
                if err != _EWOULDBLOCK:
                    pss.error = err
                return 0
            return n
        return self._stream_transfer(pss, _send_nosignal, data, send_event)

    def _datagram_failed(self, pss: PrivateSocket, exc: OSError) -> int:
        """recvfrom()/sendto() failed: the socket keeps the error unless it would block."""
        err = self._failed(exc)
        if err != _EWOULDBLOCK:
            pss.error = err
        return 0

    def _stream_transfer(
        self,
        pss: PrivateSocket,
        call: Callable[[socket.socket, memoryview], int],
        buf: memoryview,
        classify: Callable[[int, int], Event | None],
    ) -> int:
        """A TCP read()/send(): the bytes it moved, else 0 once the outcome is applied.

        A failure leaves its errno, an answer of 0 (EOF, or a send of nothing) the
        errno cell's (``_eof_error``); ``classify`` (statetable's read_event or
        send_event) says whether that changes the state, as the C code's tests do.
        """
        sock = pss.sock
        try:
            if sock is None:
                raise _EBADF
            n = call(sock, buf)
        except OSError as exc:
            err = self._failed(exc)
            n = -1
        else:
            if n > 0:
                return n
            err = self._eof_error()
        event = classify(n, err)
        if event is not None:
            pss.error = err
            self._apply(pss, event)
        return 0

    def receive_udp_old(
        self, handle: bytes | bytearray, buf: memoryview
    ) -> tuple[int, int, int, bool]:
        """``sqSocketReceiveUDPDataBufCountaddressportmoreFlag``: (count, address, port, more)."""
        socket_type, pss = self.net.socket_of(handle)
        if socket_type == SocketType.TCP:
            raise PlatformFailure("receiveUDPData on a TCP socket")
        try:
            n, sender = libc.recvfrom(self._fd(pss), buf)
        except OSError as exc:
            err = self._failed(exc)
            if err == _EWOULDBLOCK:
                return 0, 0, 0, False
            pss.error = err
            raise PlatformFailure(f"recvfrom() failed: {os.strerror(err)} ({err})") from None
        # the C code reads the sender as a sockaddr_in whatever its family
        address = int.from_bytes(sender[4:8].ljust(4, b"\0"), "big") if len(sender) >= 2 else 0
        port = int.from_bytes(sender[2:4].ljust(2, b"\0"), "big") if len(sender) >= 2 else 0
        return n, address, port, False

    def send_udp_old(
        self, handle: bytes | bytearray, address: int, port: int, data: memoryview
    ) -> int:
        """``sqSockettoHostportSendDataBufCount``."""
        socket_type, pss = self.net.socket_of(handle)
        if socket_type == SocketType.TCP:
            raise PlatformFailure("sendUDPData on a TCP socket")
        sa = _sockaddr_in_of(address, port)
        pss.notified_writable = False
        try:
            return libc.sendto(self._fd(pss), data, sa)
        except OSError as exc:
            err = self._failed(exc)
            if err == _EWOULDBLOCK:
                return 0
            pss.error = err
            raise PlatformFailure(f"sendto() failed: {os.strerror(err)} ({err})") from None

    # -- new API addresses -----------------------------------------------------------------

    def local_address_size(self, handle: bytes | bytearray) -> int:
        _type, pss = self.net.socket_of(handle)
        sa = self._name(pss, libc.getsockname)
        return 0 if sa is None else ADDRESS_HEADER_SIZE + len(sa)

    def local_address_result(self, handle: bytes | bytearray, size: int) -> bytes:
        _type, pss = self.net.socket_of(handle)
        sa = self._name(pss, libc.getsockname)
        if sa is None:
            raise PlatformFailure("getsockname() failed")
        if size != ADDRESS_HEADER_SIZE + len(sa):
            raise PlatformFailure(
                f"the address object has {size} bytes; it must have {8 + len(sa)}"
            )
        return build_socket_address(self.net.session, sa)

    def remote_address_size(self, handle: bytes | bytearray) -> int:
        socket_type, pss = self.net.socket_of(handle)
        if socket_type == SocketType.TCP:
            sa = self._name(pss, libc.getpeername)
            if sa is not None and len(sa) < _SOCKADDR_ANY:
                pss.peer = sa
                pss.peer_size = len(sa)
                return ADDRESS_HEADER_SIZE + len(sa)
        elif pss.peer_size:
            return ADDRESS_HEADER_SIZE + pss.peer_size
        return -1

    def remote_address_result(self, handle: bytes | bytearray, size: int) -> bytes:
        _type, pss = self.net.socket_of(handle)
        if not pss.peer_size:
            raise PlatformFailure("there is no remote address (ask RemoteAddressSize first)")
        if size != ADDRESS_HEADER_SIZE + pss.peer_size:
            raise PlatformFailure(
                f"the address object has {size} bytes; it must have {8 + pss.peer_size}"
            )
        result = build_socket_address(
            self.net.session, pss.peer[: pss.peer_size].ljust(pss.peer_size, b"\0")
        )
        pss.peer_size = 0
        return result

    # -- options ------------------------------------------------------------------------

    def _option(self, name: bytes) -> SocketOption:
        prof = self.net.profile
        opt = find_option(
            name, prof.tcp_cork_option, prof.tcp_keepalive_options, prof.option_name_buffer
        )
        if opt is None:
            if len(name) < 32:
                text = name.split(b"\0", 1)[0].decode("latin-1")
                self.net.fprintf(f"SocketPlugin: ignoring unknown option '{text}'\n")
            raise PlatformFailure(f"unknown socket option {name.decode('latin-1')!r}")
        return opt

    def set_option(self, handle: bytes | bytearray, name: bytes, value: bytes) -> int:
        """``sqSocketSetOptions...``: answers the integer it set (0 for a verbatim value)."""
        _type, pss = self.net.socket_of(handle)
        opt = self._option(name)
        if len(value) > MAX_OPTION_VALUE:
            raise PlatformFailure(
                f"an option value of {len(value)} bytes is over {MAX_OPTION_VALUE}"
            )
        single = self.net.profile.option_value_rule is OptionValueRule.SINGLE_CHARACTER
        buf, reported = parse_option_value(value, single_character=single)
        try:
            if pss.sock is None:
                raise _EBADF
            libc.setsockopt(pss.sock.fileno(), opt.level, opt.optname, buf)
        except OSError as exc:
            self._failed(exc)
            self.net.perror("setsockopt")
            raise PlatformFailure(
                f"setsockopt({opt.name}) failed: {exc.strerror} ({exc.errno})"
            ) from None
        return reported

    def get_option(self, handle: bytes | bytearray, name: bytes) -> int:
        _type, pss = self.net.socket_of(handle)
        opt = self._option(name)
        try:
            if pss.sock is None:
                raise _EBADF
            raw = libc.getsockopt(pss.sock.fileno(), opt.level, opt.optname, 4)
        except OSError as exc:
            self._failed(exc)
            raise PlatformFailure(
                f"getsockopt({opt.name}) failed: {exc.strerror} ({exc.errno})"
            ) from None
        if len(raw) != 4:
            # optlen != sizeof(int); SO_LINGER never gets here: the kernel truncates it to l_onoff
            raise PlatformFailure(f"getsockopt({opt.name}) answered {len(raw)} bytes, not an int")
        return int(struct.unpack("i", raw)[0])

    # -- close ---------------------------------------------------------------------------

    def close(self, handle: bytes | bytearray) -> None:
        """``sqSocketCloseConnection``."""
        _type, pss = self.net.socket_of(handle)
        self._close(pss)

    def _close(self, pss: PrivateSocket) -> None:
        sock = pss.sock
        if sock is None:
            return  # already closed
        self.aio.disable(sock)
        self._apply(pss, Event.CLOSE_BEGIN)
        try:
            self._close_fd(sock)
        except OSError as exc:
            err = self._failed(exc)
            event = close_event(-1, err)
        else:
            err = 0
            event = close_event(0, 0)
        if event is Event.CLOSE_DEFERRED:
            self._apply(pss, event)
            self.aio.handle(sock, self._close_handler, AIO_RWX, pss)
            return
        if event is Event.CLOSE_ERROR:
            pss.error = err
            self._apply(pss, event)
            self.net.perror("closeConnection")
            if sock.fileno() < 0:
                pss.sock = None  # the descriptor is gone whatever close() answered
            return
        self._apply(pss, event)
        pss.sock = None
        # an accepted-but-never-taken connection is left alone by the C code (a
        # leaked descriptor); the emulator closes it with its listener
        if pss.accepted is not None:
            pss.accepted.close()
            pss.accepted = None

    @staticmethod
    def _close_fd(sock: socket.socket) -> None:
        """``close(fd)``; a seam so tests can make it answer EWOULDBLOCK as other systems may."""
        sock.close()

    def abort(self, handle: bytes | bytearray) -> None:
        """``sqSocketAbortConnection``: setLinger(fd, 0), i.e. {l_onoff 0, l_linger 0}.

        That turns lingering off (close() returns at once, the kernel still sends a
        FIN); it is not {1, 0}, so no reset is sent.
        """
        _type, pss = self.net.socket_of(handle)
        self._abort(pss)

    def _abort(self, pss: PrivateSocket) -> None:
        try:
            self._set_linger(pss.sock, False)
        finally:
            # whatever the linger call did, abort closes: nothing else would
            self._close(pss)

    def destroy(self, handle: bytes | bytearray) -> None:
        """``sqSocketDestroy``: abort if open, free the structure, null the handle's pointer.

        Whatever the abort answered, the descriptor is closed: the structure that
        knew it is freed, so nothing could ever close it later.
        """
        _type, pss = self.net.socket_of(handle)
        try:
            if pss.sock is not None:
                self._abort(pss)
        finally:
            self.net.release(pss)
            self.net.sockets.pop(pss.ptr, None)
            self.net.clear_pointer(handle)

    # -- aio handlers (run inside the VM's poll, lock held) --------------------------------

    def _accept_handler(self, fd: int, data: object, flags: AioFlag) -> None:
        pss = self._client(data, "acceptHandler")
        sock = pss.sock
        assert sock is not None and sock.fileno() == fd, "acceptHandler on a foreign descriptor"
        if flags & AioFlag.X:
            # "error during listen()"
            pss.error = self._socket_error(sock)
            self._abort_server(pss, sock, Event.ACCEPT_ERROR)
            return
        try:
            newsock, _addr = sock.accept()
        except OSError as exc:
            err = self._failed(exc)
            event = accept_event(False, err, pss.multi_listen)
            if event is None:
                # "let's just pretend this never happened"
                self.aio.handle(sock, self._accept_handler, AIO_RX)
                return
            pss.error = err
            self.net.perror("acceptHandler")
            self._abort_server(pss, sock, event)
            return
        event = accept_event(False, None, pss.multi_listen)
        self._set_linger(newsock, True)
        if event is Event.ACCEPT_QUEUED:
            if pss.accepted is not None:
                # the C code overwrites acceptedSock: the parked connection leaks there;
                # the emulator closes it rather than leak the descriptor
                pss.accepted.close()
            pss.accepted = newsock
        else:
            # traditional listen: the client replaces the server in place
            self.aio.disable(sock)
            sock.close()
            pss.sock = newsock
            self.aio.enable(newsock, pss)
        assert event is not None
        self._apply(pss, event)

    def _abort_server(self, pss: PrivateSocket, sock: socket.socket, event: Event) -> None:
        """acceptHandler gives up on a listener: its descriptor closed, the error row applied."""
        self.aio.disable(sock)
        sock.close()
        pss.sock = None
        self.net.fprintf("acceptHandler: aborting server\n")
        self._apply(pss, event)

    def _connect_handler(self, fd: int, data: object, flags: AioFlag) -> None:
        pss = self._client(data, "connectHandler")
        exception = bool(flags & AioFlag.X)
        if exception:
            # "error during asynchronous connect()"
            self.aio.disable(pss.sock)
        err = self._socket_error(pss.sock)
        event = connect_handler_event(exception, err)
        if event is Event.CONNECT_FAILED:
            pss.error = err
            self._apply(pss, event)
            if exception:
                self.net.perror("connectHandler")
        else:
            self._apply(pss, event)
            self._set_linger(pss.sock, True)

    def _data_handler(self, fd: int, data: object, flags: AioFlag) -> None:
        if not isinstance(data, PrivateSocket):
            # a descriptor armed but never enabled has no client data in aio.c
            self.net.fprintf(
                f"dataHandler: pss is NULL fd={fd} data=(nil) flags=0x{int(flags):x}\n"
            )
            return
        pss = data
        closed = False
        rule = self.net.profile.data_handler_would_block
        if flags & AioFlag.R:
            n = self._readable(pss.sock)
            if n == 0 and rule is WouldBlockRule.REARM_SILENT:
                # pharo-vm (826736844): try for OOB data, wait for reading again, signal nothing
                self._discard_oob(pss)
                self.aio.handle(pss.sock, self._data_handler, AIO_RX)
                return
            if n == 0:
                self.net.fprintf(
                    f"dataHandler: selected socket fd={fd} flags=0x{int(flags):x} "
                    "would block (why?)\n"
                )
            event = data_handler_event(n, rule is WouldBlockRule.CLOSE)
            if event is not None:
                pss.error = self._socket_error(pss.sock)
                self._apply(pss, event)  # signals the read semaphore
                closed = True
        if flags & AioFlag.X:
            # out-of-band data: the image cannot read it, so it is discarded
            self._discard_oob(pss)
        if flags & AioFlag.R and not closed:
            # dataHandler: one notify(pss, READ_NOTIFY) per call, whether or not the
            # peer closed (PEER_CLOSED_AIO's row already gave it)
            self.net.notify(pss, read=True)
        if flags & AioFlag.W:
            pss.notified_writable = True  # setNoticeOfWritability (read by some builds)
            self.net.notify(pss, write=True)

    def _discard_oob(self, pss: PrivateSocket) -> None:
        """``recv(fd, buf, 1, MSG_OOB)``: the image cannot read OOB data, so it is dropped."""
        try:
            if pss.sock is not None and pss.sock.recv(1, socket.MSG_OOB):
                self.net.fprintf("socket: received OOB data\n")
        except OSError as exc:
            self._failed(exc)

    def _close_handler(self, fd: int, data: object, flags: AioFlag) -> None:
        pss = self._client(data, "closeHandler")
        self.aio.disable(pss.sock)
        self._apply(pss, Event.CLOSE_HANDLER)
        if self.net.profile.close_handler_notifies_read:
            self.net.notify(pss, read=True)  # pharo-vm (f69a694e2): READ_NOTIFY | CONN_NOTIFY
        pss.sock = None

    @staticmethod
    def _client(data: object, handler: str) -> PrivateSocket:
        """The handler's client data: a socket structure (C would dereference NULL)."""
        if not isinstance(data, PrivateSocket):
            raise AssertionError(f"{handler} called with no socket structure (C: NULL)")
        return data
