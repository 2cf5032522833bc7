"""The network session and the tables every other platform module shares.

``sqNetworkInit`` starts a session whose id (``clock() + time(0)``) is stamped on
every socket handle and socket address made in it; ``sqNetworkShutdown`` ends it,
after which every handle and address from it is invalid, even once a new session
has started. This module keeps that id and the live sockets (what the handles'
``privateSocketPtr`` points at). The aio layer, errno and the lock every primitive
and handler runs under belong to the VM (:mod:`sqsocket.vm.machine`).
"""

from __future__ import annotations

import itertools
import socket
import time
from dataclasses import dataclass

from sqsocket.platform.constants import SocketStatus
from sqsocket.platform.failure import PlatformFailure
from sqsocket.platform.layouts import (
    ADDRESS_HEADER_SIZE,
    SOCKET_HANDLE_SIZE,
    SocketHandle,
    parse_address_header,
    sockaddr_in,
)
from sqsocket.platform.layouts import (
    HANDLE_STRUCT as _HANDLE,
)
from sqsocket.platform.profiles import DEFAULT_PROFILE, Profile
from sqsocket.vm.aio import Aio
from sqsocket.vm.cruntime import CRuntime
from sqsocket.vm.machine import VirtualMachine

_WILDCARD = sockaddr_in("0.0.0.0", 0)  # "initial UDP peer := wildcard"


#: A socket's three external-object indices: connection, read, write (0: none).
#: The one-semaphore primitives pass the same index three times.
Semaphores = tuple[int, int, int]


@dataclass(eq=False)
class PrivateSocket:
    """``privateSocketStruct``: what a handle's privateSocketPtr points at."""

    sock: socket.socket | None  # ``s``; None where the C code holds -1
    conn_sema: int
    read_sema: int
    write_sema: int
    state: SocketStatus
    socket_type: int
    ptr: int = 0
    error: int = 0
    # default peer for UDP/RAW and the last recvfrom() sender; a wildcard
    # sockaddr_in until something sets it, as the C code initialises it
    peer: bytes = _WILDCARD
    peer_size: int = 0
    multi_listen: bool = False
    accepted: socket.socket | None = None  # acceptedSock (None where C holds -1)
    # notifiedOfWritability (OpenSmalltalk since 7deac028a): set by dataHandler's write
    # callback, cleared by every send; read by SendDone under SendDoneRule.POLL_OR_NOTIFIED
    notified_writable: bool = False

    @property
    def fd(self) -> int:
        return -1 if self.sock is None else self.sock.fileno()


class Network:
    """State shared by the resolver and the socket functions of one emulated VM."""

    # Fake pointers: big, aligned, and never reused within a process, so a stale
    # handle can never reach another socket's structure.
    _pointers = itertools.count(0x5600_0000_1000, 0x100)

    def __init__(self, vm: VirtualMachine, profile: Profile = DEFAULT_PROFILE) -> None:
        self.vm = vm
        self.profile = profile
        self.lock = vm.lock
        self.aio: Aio = vm.aio
        self.c: CRuntime = vm.c
        self.session = 0  # thisNetSession; 0 = no network
        self.resolver_sema = 0
        self.sockets: dict[int, PrivateSocket] = {}
        self.has_socket_access = True

    def require_socket_access(self) -> None:
        """Fail the primitive if ``primitiveDisableSocketAccess`` turned access off.

        Where the plugin asks: creation, and the SecurityPlugin's ioCanListenOnPort /
        ioCanConnectToPort (both answer allowSocketAccess), which SocketPlugin.c's
        listenOn and connectToPort primitives call first; connectTo asks nothing.
        """
        if not self.has_socket_access:
            raise PlatformFailure("socket access has been disabled (primitiveDisableSocketAccess)")

    # -- session ---------------------------------------------------------------

    def network_init(self, resolver_sema: int) -> int:
        """``sqNetworkInit``: a no-op (answering 0) when a session is already running.

        Note that the resolver semaphore of a second call is ignored, as in C.
        """
        if self.session != 0:
            return 0
        # clock() is CPU time in microseconds; the sum is truncated to a C int
        session = (int(time.time()) + int(time.process_time() * 1_000_000)) & 0xFFFFFFFF
        if session >= 1 << 31:
            session -= 1 << 32
        self.session = session or 1
        self.resolver_sema = resolver_sema
        return 0

    def network_shutdown(self) -> None:
        """``sqNetworkShutdown``: session 0, and aioFini closes every enabled socket."""
        self.session = 0
        self.resolver_sema = 0
        for pss in list(self.sockets.values()):
            self.release(pss)
        # The C code frees nothing here; the structures stay reachable from stale
        # handles only through the session check, which now fails for all of them.
        self.sockets.clear()

    def release(self, pss: PrivateSocket) -> None:
        """Disable and close both descriptors of a socket structure that is going away.

        Its own, and a connection its listener accepted that was never taken.
        """
        for sock in (pss.sock, pss.accepted):
            if sock is not None:
                self.aio.disable(sock)
                sock.close()
        pss.sock = pss.accepted = None

    # -- handles ------------------------------------------------------------------

    def new_handle(self, pss: PrivateSocket, socket_type: int) -> bytearray:
        pss.ptr = next(self._pointers)
        self.sockets[pss.ptr] = pss
        return bytearray(SocketHandle(self.session, socket_type, pss.ptr).build())

    def socket_of(self, handle: bytes | bytearray) -> tuple[int, PrivateSocket]:
        """``socketValid``: the handle is non-null, of this session, and points at a socket.

        Answers the handle's socketType field and the socket structure.
        """
        if len(handle) != SOCKET_HANDLE_SIZE:
            raise PlatformFailure(
                f"a socket handle is {SOCKET_HANDLE_SIZE} bytes, not {len(handle)}"
            )
        session, socket_type, ptr = _HANDLE.unpack_from(handle)
        pss = self.sockets.get(ptr)
        if pss is not None and session == self.session and session:
            return socket_type, pss
        if not self.session:
            raise PlatformFailure("the network is not initialized")
        if session != self.session:
            raise PlatformFailure(
                f"the handle is from network session {session}, not {self.session}"
            )
        if ptr == 0:
            raise PlatformFailure("the socket has been destroyed (privateSocketPtr is null)")
        # C would follow a dangling pointer here; the emulator refuses instead
        raise PlatformFailure("the handle points at no live socket (destroyed or never made)")

    @staticmethod
    def clear_pointer(handle: bytes | bytearray) -> None:
        """``_PSP(s) = 0``: the C code writes into the image's ByteArray."""
        if isinstance(handle, bytearray):
            handle[8:16] = bytes(8)

    # -- addresses ------------------------------------------------------------------

    def address_valid(self, address: bytes | bytearray) -> bool:
        """``addressValid(A, S)``: this session, and the header's size matches the object."""
        if len(address) < ADDRESS_HEADER_SIZE or not self.session:
            return False
        session_id, size = parse_address_header(address)
        return session_id == self.session and size == len(address) - ADDRESS_HEADER_SIZE

    def check_address(self, address: bytes | bytearray) -> bytes:
        """The sockaddr part of a valid address, or a failure that says what is wrong."""
        if len(address) < ADDRESS_HEADER_SIZE:
            raise PlatformFailure(
                f"a socket address has an {ADDRESS_HEADER_SIZE}-byte header; this one has "
                f"{len(address)} bytes"
            )
        if not self.session:
            raise PlatformFailure("the network is not initialized")
        session_id, size = parse_address_header(address)
        if session_id != self.session:
            raise PlatformFailure(
                f"the address is from network session {session_id}, not {self.session}"
            )
        if size != len(address) - ADDRESS_HEADER_SIZE:
            raise PlatformFailure(
                f"the address header says {size} bytes of sockaddr but {len(address) - 8} follow"
            )
        return bytes(address[ADDRESS_HEADER_SIZE:])

    # -- messages on stderr -----------------------------------------------------------

    def perror(self, prefix: str) -> None:
        """The C code's ``perror(prefix)``; pharo-vm's logger prints nothing and keeps errno."""
        if self.profile.stderr_messages:
            self.c.perror(prefix)

    def fprintf(self, text: str) -> None:
        """The C code's ``fprintf(stderr, ...)`` (orients stderr); pharo-vm logs nothing."""
        if self.profile.stderr_messages:
            self.c.fprintf(text)

    # -- semaphores ---------------------------------------------------------------

    def notify(
        self, pss: PrivateSocket, conn: bool = False, read: bool = False, write: bool = False
    ) -> None:
        """``notify(pss, MASK)``: signal the socket's semaphores by index."""
        if conn:
            self.vm.signal_semaphore_with_index(pss.conn_sema)
        if read:
            self.vm.signal_semaphore_with_index(pss.read_sema)
        if write:
            self.vm.signal_semaphore_with_index(pss.write_sema)
