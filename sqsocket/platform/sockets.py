"""Socket functions of sqUnixSocket.c: create, connect, listen, accept, send, receive, close.

Each public method is one ``sqSocket...`` function; each aio handler is the C
handler of the same name. Methods run with the network lock held (the plugin
takes it); handlers take it on the aio thread. State changes go through the
table in :mod:`sqsocket.platform.statetable` and nowhere else.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
from collections.abc import Callable

from sqsocket.platform import libc
from sqsocket.platform.aio import AIO_RWX, AIO_RX, AIO_WX, AioFlag
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
from sqsocket.platform.network import Network, PrivateSocket
from sqsocket.platform.options import MAX_OPTION_VALUE, find_option, parse_option_value
from sqsocket.platform.profiles import OptionValueRule
from sqsocket.platform.statetable import Event, Notify, transition

_WOULD_BLOCK = {errno.EWOULDBLOCK, errno.EAGAIN}


def _set_linger(sock: socket.socket | None, on: bool) -> None:
    """``setLinger(fd, flag)``: {flag, flag * LINGER_SECS}; errors ignored, as in C."""
    if sock is None:
        return
    try:
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", int(on), int(on) * LINGER_SECS)
        )
    except OSError:
        pass


def _socket_error(sock: socket.socket | None) -> int:
    """``socketError(fd)``: SO_ERROR, which also clears it."""
    if sock is None:
        return errno.EBADF
    try:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    except OSError as exc:
        return exc.errno or 0


def _readable(sock: socket.socket | None) -> int:
    """``socketReadable(fd)``: 1 data, 0 would block, -1 EOF or error (recv MSG_PEEK of 1 byte)."""
    if sock is None:
        return -1
    try:
        n = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError as exc:
        return 0 if exc.errno in _WOULD_BLOCK else -1
    return 1 if n else -1


def _writable(sock: socket.socket | None) -> bool:
    """``socketWritable(fd)``: select() with a zero timeout."""
    if sock is None:
        return False
    try:
        _, w, _ = select.select([], [sock], [], 0)
    except (OSError, ValueError):
        return False
    return bool(w)


class Sockets:
    def __init__(self, net: Network) -> None:
        self.net = net

    # -- state ---------------------------------------------------------------------

    def _apply(self, pss: PrivateSocket, event: Event) -> None:
        row = transition(pss.state, event)
        pss.state = row.target
        if row.notify is Notify.CONN:
            self.net.notify(pss, conn=True)
        elif row.notify is Notify.READ:
            self.net.notify(pss, read=True)
        elif row.notify is Notify.WRITE:
            self.net.notify(pss, write=True)

    # -- creation -------------------------------------------------------------------

    def create(
        self,
        net_type: int,
        socket_type: int,
        recv_buf: int,
        send_buf: int,
        sema: int,
        read_sema: int,
        write_sema: int,
    ) -> bytearray:
        """``sqSocketCreateNetTypeSocketTypeRecvBytesSendBytesSemaIDReadSemaIDWriteSemaID``.

        The buffer sizes are ignored, as the Unix plugin ignores them.
        """
        if not self.net.has_socket_access:
            raise PlatformFailure("socket access has been disabled (primitiveDisableSocketAccess)")
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
        except (OSError, ValueError) as exc:
            raise PlatformFailure(f"socket({domain}, {kind}) failed: {exc}") from None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        pss = PrivateSocket(
            sock=sock,
            conn_sema=sema,
            read_sema=read_sema,
            write_sema=write_sema,
            state=SocketStatus.INVALID,
            socket_type=socket_type,
        )
        if socket_type == SocketType.UDP:
            pss.state = transition(None, Event.CREATE_DGRAM).target
            self.net.aio.enable(sock, pss)
        else:
            pss.state = transition(None, Event.CREATE_STREAM).target
        return self.net.new_handle(pss, socket_type)

    def create_raw(
        self,
        domain: int,
        protocol: int,
        recv_buf: int,
        send_buf: int,
        sema: int,
        read_sema: int,
        write_sema: int,
    ) -> bytearray:
        """``sqSocketCreateRawProtoType...``: only protocol 1 (ICMP over IPv4) exists."""
        if not self.net.has_socket_access:
            raise PlatformFailure("socket access has been disabled (primitiveDisableSocketAccess)")
        if protocol != 1:
            raise PlatformFailure(f"raw protocol {protocol} is not 1 (ICMP)")
        if not self.net.session:
            raise PlatformFailure("the network is not initialized")
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except OSError as exc:
            raise PlatformFailure(
                f"socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) failed: {exc}"
            ) from None
        pss = PrivateSocket(sock, sema, read_sema, write_sema, SocketStatus.INVALID, SocketType.RAW)
        pss.state = transition(None, Event.CREATE_RAW).target
        self.net.aio.enable(sock, pss)
        return self.net.new_handle(pss, SocketType.RAW)

    # -- status ----------------------------------------------------------------------

    def connection_status(self, handle: bytes | bytearray) -> int:
        """``sqSocketConnectionStatus``: an Invalid socket is dropped and the primitive fails."""
        _h, pss = self.net.socket_of(handle)
        if pss.state == SocketStatus.INVALID:
            # "freeing invalidated pss": the handle's pointer is cleared
            self.net.sockets.pop(pss.ptr, None)
            self.net.clear_pointer(handle)
            raise PlatformFailure("the socket was invalidated by a failed accept (state -1)")
        return int(pss.state)

    def error(self, handle: bytes | bytearray) -> int:
        _h, pss = self.net.socket_of(handle)
        return pss.error

    # -- old API: IPv4 ints and ports --------------------------------------------------

    def local_address(self, handle: bytes | bytearray) -> int:
        _h, pss = self.net.socket_of(handle)
        sa = self._name(pss, libc.getsockname)
        if sa is None or len(sa) < 8 or sa[:2] != struct.pack("=H", socket.AF_INET):
            return 0
        return int.from_bytes(sa[4:8], "big")

    def local_port(self, handle: bytes | bytearray) -> int:
        _h, pss = self.net.socket_of(handle)
        sa = self._name(pss, libc.getsockname)
        if sa is None or len(sa) < 4 or sa[:2] != struct.pack("=H", socket.AF_INET):
            return 0
        return int.from_bytes(sa[2:4], "big")

    def remote_address(self, handle: bytes | bytearray) -> int:
        h, pss = self.net.socket_of(handle)
        if h.socket_type == SocketType.TCP:
            sa = self._name(pss, libc.getpeername)
            if sa is None or len(sa) < 8 or sa[:2] != struct.pack("=H", socket.AF_INET):
                return 0
            return int.from_bytes(sa[4:8], "big")
        # UDP/RAW: the default peer, read as a sockaddr_in whatever it holds
        return int.from_bytes(pss.peer[4:8].ljust(4, b"\0"), "big")

    def remote_port(self, handle: bytes | bytearray) -> int:
        h, pss = self.net.socket_of(handle)
        if h.socket_type == SocketType.TCP:
            sa = self._name(pss, libc.getpeername)
            if sa is None or len(sa) < 4 or sa[:2] != struct.pack("=H", socket.AF_INET):
                return 0
            return int.from_bytes(sa[2:4], "big")
        return int.from_bytes(pss.peer[2:4].ljust(2, b"\0"), "big")

    @staticmethod
    def _name(pss: PrivateSocket, fn: Callable[[int], bytes]) -> bytes | None:
        if pss.sock is None:
            return None
        try:
            return fn(pss.fd)
        except OSError:
            return None

    # -- listen / bind / connect --------------------------------------------------------

    def listen_on_port(
        self, handle: bytes | bytearray, port: int, backlog: int, interface: int
    ) -> None:
        """``sqSocketListenOnPortBacklogSizeInterface`` (bind and listen errors are ignored)."""
        if not self.net.has_socket_access:
            # SocketPlugin.c's listenOn primitives ask secCanListenOnPort first, and the
            # Unix SecurityPlugin's ioCanListenOnPort answers allowSocketAccess
            raise PlatformFailure("socket access has been disabled (primitiveDisableSocketAccess)")
        h, pss = self.net.socket_of(handle)
        if backlog > 1 and h.socket_type != SocketType.TCP:
            raise PlatformFailure("only TCP sockets have a backlog (> 1)")
        pss.multi_listen = backlog > 1
        sa = sockaddr_in(socket.inet_ntoa(interface.to_bytes(4, "big")), port)
        if pss.sock is not None:
            try:
                libc.bind(pss.fd, sa)
            except OSError:
                pass
        if h.socket_type == SocketType.TCP:
            self._start_listening(pss, backlog)

    def _start_listening(self, pss: PrivateSocket, backlog: int) -> None:
        if pss.sock is not None:
            try:
                pss.sock.listen(backlog)  # errors surface through acceptHandler
            except OSError:
                pass
        self._apply(pss, Event.LISTEN)
        if pss.sock is not None:
            self.net.aio.enable(pss.sock, pss)
            self.net.aio.handle(pss.sock, self._accept_handler, AIO_RX)

    def bind_to_port(self, handle: bytes | bytearray, address: int, port: int) -> None:
        """``sqSocketBindToPort``."""
        _h, pss = self.net.socket_of(handle)
        sa = sockaddr_in(socket.inet_ntoa(address.to_bytes(4, "big")), port)
        try:
            libc.bind(self._fd(pss), sa)
        except OSError as exc:
            pss.error = exc.errno or 0
            raise PlatformFailure(
                f"bind() failed: {os.strerror(pss.error)} ({pss.error})"
            ) from None

    def bind_to(self, handle: bytes | bytearray, address: bytes | bytearray) -> None:
        """``sqSocketBindToAddressSize``."""
        _h, pss = self.net.socket_of(handle)
        sockaddr = self.net.check_address(address)
        try:
            libc.bind(self._fd(pss), sockaddr)
        except OSError as exc:
            pss.error = exc.errno or 0
            raise PlatformFailure(
                f"bind() failed: {os.strerror(pss.error)} ({pss.error})"
            ) from None

    def listen_backlog(self, handle: bytes | bytearray, backlog: int) -> None:
        """``sqSocketListenBacklog``."""
        h, pss = self.net.socket_of(handle)
        if backlog > 1 and h.socket_type != SocketType.TCP:
            raise PlatformFailure("only TCP sockets have a backlog (> 1)")
        pss.multi_listen = backlog > 1
        if h.socket_type == SocketType.TCP:
            self._start_listening(pss, backlog)

    def connect_to_port(self, handle: bytes | bytearray, address: int, port: int) -> None:
        """``sqSocketConnectToPort``: TCP opens a connection, UDP sets the default peer."""
        if not self.net.has_socket_access:
            # primitiveSocketConnectToPort asks secCanConnectToPort first (ioCanConnectToPort
            # answers allowSocketAccess); primitiveSocketConnectTo asks nothing
            raise PlatformFailure("socket access has been disabled (primitiveDisableSocketAccess)")
        h, pss = self.net.socket_of(handle)
        self._connect(
            h.socket_type, pss, sockaddr_in(socket.inet_ntoa(address.to_bytes(4, "big")), port)
        )

    def connect_to(self, handle: bytes | bytearray, address: bytes | bytearray) -> None:
        """``sqSocketConnectToAddressSize``."""
        h, pss = self.net.socket_of(handle)
        sockaddr = self.net.check_address(address)
        self._connect(h.socket_type, pss, sockaddr)

    def _connect(self, socket_type: int, pss: PrivateSocket, sockaddr: bytes) -> None:
        if socket_type != SocketType.TCP:
            if pss.sock is not None:
                pss.peer = sockaddr
                pss.peer_size = len(sockaddr)
                try:
                    libc.connect(pss.fd, sockaddr)
                except OSError:
                    return
                self._apply(pss, Event.DGRAM_CONNECT)
            return
        if pss.sock is not None:
            self.net.aio.enable(pss.sock, pss)
        try:
            libc.connect(self._fd(pss), sockaddr)
        except OSError as exc:
            if exc.errno in (errno.EINPROGRESS, *_WOULD_BLOCK):
                self._apply(pss, Event.CONNECT_PENDING)
                self.net.aio.handle(pss.sock, self._connect_handler, AIO_WX)
            else:
                pss.error = exc.errno or 0
                self._apply(pss, Event.CONNECT_ERROR)
            return
        self._apply(pss, Event.CONNECT_SYNC)
        _set_linger(pss.sock, True)

    @staticmethod
    def _fd(pss: PrivateSocket) -> int:
        if pss.sock is None:
            return -1  # the call then fails with EBADF, as it does in C
        return pss.fd

    # -- accept -----------------------------------------------------------------------

    def accept_from(
        self,
        server: bytes | bytearray,
        recv_buf: int,
        send_buf: int,
        sema: int,
        read_sema: int,
        write_sema: int,
    ) -> bytearray:
        """``sqSocketAcceptFromRecvBytesSendBytesSemaIDReadSemaIDWriteSemaID``."""
        _h, spss = self.net.socket_of(server)
        if not spss.multi_listen:
            raise PlatformFailure("the server socket is not listening with a backlog > 1")
        if spss.accepted is None:
            # C checks acceptedSock < 0, but a new structure holds 0 there (calloc),
            # so the VM would hand out fd 0 (stdin) before the first connection.
            raise PlatformFailure("no connection is waiting to be accepted")
        newsock = spss.accepted
        spss.accepted = None
        self._apply(spss, Event.ACCEPT_TAKEN)
        self.net.aio.handle(spss.sock, self._accept_handler, AIO_RX)
        pss = PrivateSocket(
            sock=newsock,
            conn_sema=sema,
            read_sema=read_sema,
            write_sema=write_sema,
            state=SocketStatus.INVALID,
            socket_type=SocketType.TCP,
        )
        pss.state = transition(None, Event.ACCEPTED).target
        self.net.aio.enable(newsock, pss)
        # s->socketType is never set for an accepted socket: calloc'd ByteArray => 0 (TCP)
        return self.net.new_handle(pss, SocketType.TCP)

    # -- data ---------------------------------------------------------------------------

    def receive_data_available(self, handle: bytes | bytearray) -> bool:
        """``sqSocketReceiveDataAvailable``: peek; on "no", arm the data handler for reading."""
        _h, pss = self.net.socket_of(handle)
        if pss.state == SocketStatus.CONNECTED:
            n = _readable(pss.sock)
            if n > 0:
                return True
            if n < 0:
                self._apply(pss, Event.PEER_CLOSED_PEEK)
        self.net.aio.handle(pss.sock, self._data_handler, AIO_RX)
        return False

    def send_done(self, handle: bytes | bytearray) -> bool:
        """``sqSocketSendDone``: writable now? If not, arm the data handler for writing."""
        _h, pss = self.net.socket_of(handle)
        if pss.state == SocketStatus.CONNECTED:
            if _writable(pss.sock):
                return True
            self.net.aio.handle(pss.sock, self._data_handler, AIO_WX)
        return False

    def receive(self, handle: bytes | bytearray, buf: memoryview) -> int:
        """``sqSocketReceiveDataBufCount``: 0 when it would block; TCP EOF marks OtherEndClosed."""
        h, pss = self.net.socket_of(handle)
        pss.peer_size = 0
        if h.socket_type != SocketType.TCP:
            try:
                n, sender = libc.recvfrom(self._fd(pss), buf)
            except OSError as exc:
                if exc.errno not in _WOULD_BLOCK:
                    pss.error = exc.errno or 0
                return 0
            if n <= 0:
                return 0
            pss.peer = sender
            pss.peer_size = len(sender)
            return n
        try:
            if pss.sock is None:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            n = pss.sock.recv_into(buf, len(buf))
        except OSError as exc:
            if exc.errno in _WOULD_BLOCK:
                return 0
            pss.error = exc.errno or 0
            self._apply(pss, Event.PEER_CLOSED_READ)
            return 0
        if n <= 0:
            # read() answered 0 without setting errno: C stores whatever errno held
            stale = self.net.profile.stale_errno_after_eof
            pss.error = 0 if stale is None else stale
            self._apply(pss, Event.PEER_CLOSED_READ)
            return 0
        return n

    def send(self, handle: bytes | bytearray, data: memoryview) -> int:
        """``sqSocketSendDataBufCount``: 0 when it would block; a TCP error marks OtherEndClosed."""
        h, pss = self.net.socket_of(handle)
        if h.socket_type != SocketType.TCP:
            try:
                # sendto the default peer, with sizeof(union sockaddr_any) as its length
                peer = pss.peer.ljust(112, b"\0")
                n = libc.sendto(self._fd(pss), data, peer)
            except OSError as exc:
                if exc.errno not in _WOULD_BLOCK:
                    pss.error = exc.errno or 0
                return 0
            return n if n > 0 else 0
        try:
            if pss.sock is None:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            n = pss.sock.send(data, socket.MSG_NOSIGNAL)
        except OSError as exc:
            if exc.errno in _WOULD_BLOCK:
                return 0
            pss.error = exc.errno or 0
            self._apply(pss, Event.SEND_FAILED)
            return 0
        if n <= 0:
            self._apply(pss, Event.SEND_FAILED)
            return 0
        return n

    def receive_udp_old(
        self, handle: bytes | bytearray, buf: memoryview
    ) -> tuple[int, int, int, bool]:
        """``sqSocketReceiveUDPDataBufCountaddressportmoreFlag``: (count, address, port, more)."""
        h, pss = self.net.socket_of(handle)
        if h.socket_type == SocketType.TCP:
            raise PlatformFailure("receiveUDPData on a TCP socket")
        try:
            n, sender = libc.recvfrom(self._fd(pss), buf)
        except OSError as exc:
            if exc.errno in _WOULD_BLOCK:
                return 0, 0, 0, False
            pss.error = exc.errno or 0
            raise PlatformFailure(
                f"recvfrom() failed: {os.strerror(pss.error)} ({pss.error})"
            ) from None
        address = int.from_bytes(sender[4:8].ljust(4, b"\0"), "big") if len(sender) >= 2 else 0
        port = int.from_bytes(sender[2:4].ljust(2, b"\0"), "big") if len(sender) >= 2 else 0
        # the C code reads the sender as a sockaddr_in whatever its family
        return n, address, port, False

    def send_udp_old(
        self, handle: bytes | bytearray, address: int, port: int, data: memoryview
    ) -> int:
        """``sqSockettoHostportSendDataBufCount``."""
        h, pss = self.net.socket_of(handle)
        if h.socket_type == SocketType.TCP:
            raise PlatformFailure("sendUDPData on a TCP socket")
        sa = sockaddr_in(socket.inet_ntoa(address.to_bytes(4, "big")), port)
        try:
            return libc.sendto(self._fd(pss), data, sa)
        except OSError as exc:
            if exc.errno in _WOULD_BLOCK:
                return 0
            pss.error = exc.errno or 0
            raise PlatformFailure(
                f"sendto() failed: {os.strerror(pss.error)} ({pss.error})"
            ) from None

    # -- new API addresses -----------------------------------------------------------------

    def local_address_size(self, handle: bytes | bytearray) -> int:
        _h, pss = self.net.socket_of(handle)
        sa = self._name(pss, libc.getsockname)
        return 0 if sa is None else ADDRESS_HEADER_SIZE + len(sa)

    def local_address_result(self, handle: bytes | bytearray, size: int) -> bytes:
        _h, pss = self.net.socket_of(handle)
        sa = self._name(pss, libc.getsockname)
        if sa is None:
            raise PlatformFailure("getsockname() failed")
        if size != ADDRESS_HEADER_SIZE + len(sa):
            raise PlatformFailure(
                f"the address object has {size} bytes; it must have {8 + len(sa)}"
            )
        return build_socket_address(self.net.session, sa)

    def remote_address_size(self, handle: bytes | bytearray) -> int:
        h, pss = self.net.socket_of(handle)
        if h.socket_type == SocketType.TCP:
            sa = self._name(pss, libc.getpeername)
            if sa is not None and len(sa) < 112:
                pss.peer = sa
                pss.peer_size = len(sa)
                return ADDRESS_HEADER_SIZE + len(sa)
        elif pss.peer_size:
            return ADDRESS_HEADER_SIZE + pss.peer_size
        return -1

    def remote_address_result(self, handle: bytes | bytearray, size: int) -> bytes:
        _h, pss = self.net.socket_of(handle)
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

    def set_option(self, handle: bytes | bytearray, name: bytes, value: bytes) -> int:
        """``sqSocketSetOptions...``: answers the integer it set (0 for a verbatim value)."""
        _h, pss = self.net.socket_of(handle)
        opt = find_option(name, self.net.profile.extended_tcp_options)
        if opt is None:
            raise PlatformFailure(f"unknown socket option {name.decode('latin-1')!r}")
        if len(value) > MAX_OPTION_VALUE:
            raise PlatformFailure(
                f"an option value of {len(value)} bytes is over {MAX_OPTION_VALUE}"
            )
        single = self.net.profile.option_value_rule is OptionValueRule.SINGLE_CHARACTER
        buf, reported = parse_option_value(value, single_character=single)
        try:
            if pss.sock is None:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            pss.sock.setsockopt(opt.level, opt.optname, buf)
        except OSError as exc:
            raise PlatformFailure(
                f"setsockopt({opt.name}) failed: {exc.strerror} ({exc.errno})"
            ) from None
        return reported

    def get_option(self, handle: bytes | bytearray, name: bytes) -> int:
        _h, pss = self.net.socket_of(handle)
        opt = find_option(name, self.net.profile.extended_tcp_options)
        if opt is None:
            raise PlatformFailure(f"unknown socket option {name.decode('latin-1')!r}")
        try:
            if pss.sock is None:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            raw = pss.sock.getsockopt(opt.level, opt.optname, 4)
        except OSError as exc:
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
        _h, pss = self.net.socket_of(handle)
        self._close(pss)

    def _close(self, pss: PrivateSocket) -> None:
        if pss.sock is None:
            return  # already closed
        self.net.aio.disable(pss.sock)
        self._apply(pss, Event.CLOSE_BEGIN)
        try:
            self._close_fd(pss.sock)
        except OSError as exc:
            if exc.errno in _WOULD_BLOCK:
                self._apply(pss, Event.CLOSE_DEFERRED)
                self.net.aio.handle(pss.sock, self._close_handler, AIO_RWX, pss)
                return
            pss.error = exc.errno or 0
            self._apply(pss, Event.CLOSE_ERROR)
            return
        self._apply(pss, Event.CLOSE_DONE)
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
        _h, pss = self.net.socket_of(handle)
        self._abort(pss)

    def _abort(self, pss: PrivateSocket) -> None:
        _set_linger(pss.sock, False)
        self._close(pss)

    def destroy(self, handle: bytes | bytearray) -> None:
        """``sqSocketDestroy``: abort if open, free the structure, null the handle's pointer."""
        _h, pss = self.net.socket_of(handle)
        if pss.sock is not None:
            self._abort(pss)
        if pss.sock is not None:
            # a deferred close still pending: finish it now, nothing will wait for it
            self.net.aio.disable(pss.sock)
            pss.sock.close()
            pss.sock = None
        self.net.sockets.pop(pss.ptr, None)
        self.net.clear_pointer(handle)

    # -- aio handlers (run on the aio thread, lock held) ----------------------------------

    def _accept_handler(self, fd: int, data: object, flags: AioFlag) -> None:
        pss = data if isinstance(data, PrivateSocket) else None
        if pss is None or pss.sock is None or pss.fd != fd:
            return
        if flags & AioFlag.X:
            self.net.aio.disable(pss.sock)
            pss.error = _socket_error(pss.sock)
            pss.sock.close()
            pss.sock = None
            self._apply(pss, Event.ACCEPT_ERROR)
            return
        try:
            newsock, _addr = pss.sock.accept()
        except OSError as exc:
            if exc.errno in (errno.ECONNABORTED, *_WOULD_BLOCK):
                # "let's just pretend this never happened"
                self.net.aio.handle(pss.sock, self._accept_handler, AIO_RX)
                return
            pss.error = exc.errno or 0
            self.net.aio.disable(pss.sock)
            pss.sock.close()
            pss.sock = None
            self._apply(pss, Event.ACCEPT_ERROR)
            return
        _set_linger(newsock, True)
        if pss.multi_listen:
            pss.accepted = newsock
            self._apply(pss, Event.ACCEPT_QUEUED)
        else:
            # traditional listen: the client replaces the server in place
            self.net.aio.disable(pss.sock)
            pss.sock.close()
            pss.sock = newsock
            self.net.aio.enable(newsock, pss)
            self._apply(pss, Event.ACCEPT_IN_PLACE)

    def _connect_handler(self, fd: int, data: object, flags: AioFlag) -> None:
        pss = data if isinstance(data, PrivateSocket) else None
        if pss is None or pss.sock is None or pss.fd != fd:
            return
        if pss.state != SocketStatus.WAITING_FOR_CONNECTION:
            return
        err = _socket_error(pss.sock)
        if flags & AioFlag.X:
            self.net.aio.disable(pss.sock)
            pss.error = err
            self._apply(pss, Event.CONNECT_FAILED)
        elif err:
            pss.error = err
            self._apply(pss, Event.CONNECT_FAILED)
        else:
            self._apply(pss, Event.CONNECT_DONE)
            _set_linger(pss.sock, True)

    def _data_handler(self, fd: int, data: object, flags: AioFlag) -> None:
        pss = data if isinstance(data, PrivateSocket) else None
        if pss is None or pss.sock is None or pss.fd != fd:
            return  # "dataHandler: pss is NULL"
        closed = False
        if flags & AioFlag.R and _readable(pss.sock) != 1:
            # would-block here is "why?" in C; it is still treated as closed
            pss.error = _socket_error(pss.sock)
            self._apply(pss, Event.PEER_CLOSED_AIO)  # signals the read semaphore
            closed = True
        if flags & AioFlag.X:
            # out-of-band data: the image cannot read it, so it is discarded
            try:
                pss.sock.recv(1, socket.MSG_OOB)
            except OSError:
                pass
        if flags & AioFlag.R and not closed:
            # dataHandler: one notify(pss, READ_NOTIFY) per call, whether or not the
            # peer closed (PEER_CLOSED_AIO's row already gave it)
            self.net.notify(pss, read=True)
        if flags & AioFlag.W:
            self.net.notify(pss, write=True)

    def _close_handler(self, fd: int, data: object, flags: AioFlag) -> None:
        pss = data if isinstance(data, PrivateSocket) else None
        if pss is None or pss.sock is None:
            return
        self.net.aio.disable(pss.sock)
        self._apply(pss, Event.CLOSE_HANDLER)
        pss.sock = None
