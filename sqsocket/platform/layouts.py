"""Binary layouts shared with the VM, declared with ``construct``.

* The socket handle is ``SQSocket`` from SocketPlugin.h: ``{int sessionID;
  int socketType; void *privateSocketPtr;}``, 16 bytes on a 64-bit VM. The image
  keeps it in a ByteArray and hands it back to every primitive.
* A socket address (the 2007 API) is an 8-byte native-endian header
  ``{int sessionID; int size;}`` followed by ``size`` bytes of the raw Linux
  ``struct sockaddr``. The resolver answers a full ``sockaddr_un`` (110 bytes) for
  a Unix-domain path, so such an address is 118 bytes.
"""

from __future__ import annotations

import socket
import struct
from typing import NamedTuple

from construct import (
    Bytes,
    Const,
    Int16ub,
    Int16un,
    Int32sn,
    Int32ub,
    Int32un,
    Int64un,
    Padding,
    Struct,
    this,
)

from sqsocket.platform.constants import SUN_PATH_SIZE

SQSocketLayout = Struct(
    "sessionID" / Int32sn,
    "socketType" / Int32sn,
    "privateSocketPtr" / Int64un,
)
SOCKET_HANDLE_SIZE = SQSocketLayout.sizeof()  # 16

AddressHeaderLayout = Struct(
    "sessionID" / Int32sn,
    "size" / Int32sn,
)
ADDRESS_HEADER_SIZE = AddressHeaderLayout.sizeof()  # 8

SockaddrUnLayout = Struct(
    "sun_family" / Const(socket.AF_UNIX, Int16un),
    "sun_path" / Bytes(SUN_PATH_SIZE),
)
SOCKADDR_UN_SIZE = SockaddrUnLayout.sizeof()  # 110

SockaddrInLayout = Struct(
    "sin_family" / Const(socket.AF_INET, Int16un),
    "sin_port" / Int16ub,
    "sin_addr" / Bytes(4),
    Padding(8),
)
SOCKADDR_IN_SIZE = SockaddrInLayout.sizeof()  # 16

SockaddrIn6Layout = Struct(
    "sin6_family" / Const(socket.AF_INET6, Int16un),
    "sin6_port" / Int16ub,
    "sin6_flowinfo" / Int32ub,
    "sin6_addr" / Bytes(16),
    "sin6_scope_id" / Int32un,
)
SOCKADDR_IN6_SIZE = SockaddrIn6Layout.sizeof()  # 28

# A whole socket address as the image holds it: header, then the sockaddr bytes.
SocketAddressLayout = Struct(
    "header" / AddressHeaderLayout,
    "sockaddr" / Bytes(this.header.size),
)

# The construct declarations above are the reference. Handles and headers are parsed on
# every primitive call, where construct's interpreter costs ~25 us; these equivalent
# struct formats do the same in ~0.2 us (tests check that the two always agree).
HANDLE_STRUCT = struct.Struct("=iiQ")
HEADER_STRUCT = struct.Struct("=ii")
# SockaddrInLayout after its native-order family: port and address in network order, zeros
_SIN_FAMILY = struct.pack("=H", socket.AF_INET)
_SIN_REST = struct.Struct("!H4s8x")
assert HANDLE_STRUCT.size == SOCKET_HANDLE_SIZE
assert HEADER_STRUCT.size == ADDRESS_HEADER_SIZE

# sa_family sits in the first two bytes of every sockaddr (native order on Linux).
SaFamilyLayout = Int16un


class SocketHandle(NamedTuple):
    """The decoded contents of a socket handle ByteArray (a tuple: cheap on every call)."""

    session_id: int
    socket_type: int
    private_ptr: int

    @classmethod
    def parse(cls, data: bytes | bytearray) -> SocketHandle:
        return cls(*HANDLE_STRUCT.unpack(data))

    def build(self) -> bytes:
        """The 16 bytes, by the struct format that agrees with ``SQSocketLayout``."""
        return HANDLE_STRUCT.pack(self.session_id, self.socket_type, self.private_ptr)


def build_socket_address(session_id: int, sockaddr: bytes) -> bytes:
    """Header + raw sockaddr, as sqResolverGetAddressInfoResultSize writes it.

    By the struct format that agrees with ``SocketAddressLayout`` (tests check both).
    """
    return HEADER_STRUCT.pack(session_id, len(sockaddr)) + bytes(sockaddr)


def parse_address_header(data: bytes | bytearray) -> tuple[int, int]:
    """Answer (sessionID, size) from the first 8 bytes of an address."""
    session_id, size = HEADER_STRUCT.unpack_from(data)
    return int(session_id), int(size)


def sockaddr_family(sockaddr: bytes) -> int:
    """The sa_family of a raw sockaddr (0 when it is too short to have one)."""
    if len(sockaddr) < 2:
        return 0
    return int(SaFamilyLayout.parse(sockaddr[:2]))


def sockaddr_un(path: bytes, full: bool = True) -> bytes:
    """A ``struct sockaddr_un`` for ``path``.

    ``full=True`` gives the 110-byte structure the resolver answers (path NUL-padded);
    ``full=False`` gives what getsockname()/getpeername() answer on Linux: the family
    and the path with its NUL, so the length says how long the path is.
    """
    if len(path) > SUN_PATH_SIZE:
        raise ValueError(f"path of {len(path)} bytes does not fit sun_path ({SUN_PATH_SIZE})")
    if full:
        return bytes(SockaddrUnLayout.build({"sun_path": path.ljust(SUN_PATH_SIZE, b"\0")}))
    raw = SaFamilyLayout.build(socket.AF_UNIX) + path
    if path and not path.startswith(b"\0") and len(path) < SUN_PATH_SIZE:
        raw += b"\0"
    return bytes(raw)


def sockaddr_in(host: str, port: int) -> bytes:
    """A ``struct sockaddr_in`` as ``SockaddrInLayout`` builds it (by struct: old-API
    primitives such as the UDP send build one on every call)."""
    return _SIN_FAMILY + _SIN_REST.pack(port & 0xFFFF, socket.inet_aton(host))


def sockaddr_in6(host: str, port: int, flowinfo: int = 0, scope_id: int = 0) -> bytes:
    return bytes(
        SockaddrIn6Layout.build(
            {
                "sin6_port": port & 0xFFFF,
                "sin6_flowinfo": flowinfo,
                "sin6_addr": socket.inet_pton(socket.AF_INET6, host),
                "sin6_scope_id": scope_id,
            }
        )
    )


def sockaddr_to_python(sockaddr: bytes) -> tuple[int, object]:
    """Turn a raw sockaddr into (family, address) as Python's socket module wants it.

    Raises ValueError for a family or length the emulator cannot hand to the kernel
    through Python; the C code would pass the bytes through unchanged.
    """
    family = sockaddr_family(sockaddr)
    if family == socket.AF_UNIX:
        path = sockaddr[2:]
        if path.startswith(b"\0"):
            # abstract name: every byte counts, as the length says
            return family, path
        return family, path.split(b"\0", 1)[0]
    if family == socket.AF_INET:
        if len(sockaddr) < SOCKADDR_IN_SIZE:
            raise ValueError(f"sockaddr_in of {len(sockaddr)} bytes is too short")
        c = SockaddrInLayout.parse(sockaddr[:SOCKADDR_IN_SIZE])
        return family, (socket.inet_ntoa(c.sin_addr), c.sin_port)
    if family == socket.AF_INET6:
        if len(sockaddr) < SOCKADDR_IN6_SIZE:
            raise ValueError(f"sockaddr_in6 of {len(sockaddr)} bytes is too short")
        c6 = SockaddrIn6Layout.parse(sockaddr[:SOCKADDR_IN6_SIZE])
        return family, (
            socket.inet_ntop(socket.AF_INET6, c6.sin6_addr),
            c6.sin6_port,
            c6.sin6_flowinfo,
            c6.sin6_scope_id,
        )
    raise ValueError(f"address family {family} is not supported")


def sockaddr_from_python(family: int, address: object) -> bytes:
    """The raw sockaddr the kernel would answer for a Python socket address."""
    if family == socket.AF_UNIX:
        if isinstance(address, str):
            path = address.encode("utf-8", "surrogateescape")
        elif isinstance(address, bytes | bytearray):
            path = bytes(address)
        else:
            path = b""
        return sockaddr_un(path, full=False)
    if family == socket.AF_INET and isinstance(address, tuple):
        host4, port4 = address[0], address[1]
        return sockaddr_in(str(host4), int(port4))
    if family == socket.AF_INET6 and isinstance(address, tuple):
        host6, port6, flowinfo, scope_id = address
        return sockaddr_in6(str(host6).split("%", 1)[0], int(port6), int(flowinfo), int(scope_id))
    raise ValueError(f"address family {family} is not supported")


def port_of_sockaddr(sockaddr: bytes) -> int | None:
    """The port of an INET4/INET6 sockaddr, None for any other family."""
    family = sockaddr_family(sockaddr)
    if family in (socket.AF_INET, socket.AF_INET6) and len(sockaddr) >= 4:
        return int(Int16ub.parse(sockaddr[2:4]))
    return None


def with_port(sockaddr: bytes, port: int) -> bytes:
    """A copy of an INET4/INET6 sockaddr with another port (``htons(port)``)."""
    return sockaddr[:2] + Int16ub.build(port & 0xFFFF) + sockaddr[4:]
