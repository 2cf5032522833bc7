"""C library calls through ctypes, where Python's socket module would change the meaning.

The plugin hands the kernel raw ``struct sockaddr`` bytes taken from the image,
whatever their family and length (a sockaddr_in given to a Unix-domain socket,
a 110-byte sockaddr_un, an abstract name): bind/connect/sendto/recvfrom and
getsockname/getpeername here take and answer those bytes unchanged, so the
kernel sees exactly what the VM would pass it. The old resolver uses
``gethostbyname``/``gethostbyaddr`` and reports ``h_errno``; ``getnameinfo``
must see raw bytes (Python's only accepts INET tuples).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import sys
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

NI_MAXHOST = 1025
NI_MAXSERV = 32
NI_NUMERICHOST = 1
NI_NUMERICSERV = 2
NI_NOFQDN = 4

# h_errno values (netdb.h)
HOST_NOT_FOUND = 1
TRY_AGAIN = 2
NO_RECOVERY = 3
NO_DATA = 4


class _HostEnt(ctypes.Structure):
    _fields_ = [
        ("h_name", ctypes.c_char_p),
        ("h_aliases", ctypes.POINTER(ctypes.c_char_p)),
        ("h_addrtype", ctypes.c_int),
        ("h_length", ctypes.c_int),
        ("h_addr_list", ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))),
    ]


class _IfAddrs(ctypes.Structure):
    pass


_IfAddrs._fields_ = [
    ("ifa_next", ctypes.POINTER(_IfAddrs)),
    ("ifa_name", ctypes.c_char_p),
    ("ifa_flags", ctypes.c_uint),
    ("ifa_addr", ctypes.c_void_p),
    ("ifa_netmask", ctypes.c_void_p),
    ("ifa_ifu", ctypes.c_void_p),
    ("ifa_data", ctypes.c_void_p),
]


# The C prototypes this module calls: name -> (restype, argtypes), as <netdb.h>,
# <sys/socket.h> and <ifaddrs.h> declare them (socklen_t is an unsigned int).
_INT, _UINT, _SIZE, _SSIZE = ctypes.c_int, ctypes.c_uint, ctypes.c_size_t, ctypes.c_ssize_t
_PTR, _CHARS = ctypes.c_void_p, ctypes.c_char_p
_SOCKLEN_P = ctypes.POINTER(ctypes.c_uint)
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "gethostbyname": (ctypes.POINTER(_HostEnt), [_CHARS]),
    "gethostbyaddr": (ctypes.POINTER(_HostEnt), [_PTR, _UINT, _INT]),
    "__h_errno_location": (ctypes.POINTER(ctypes.c_int), []),
    "getnameinfo": (_INT, [_PTR, _UINT, _CHARS, _UINT, _CHARS, _UINT, _INT]),
    "getifaddrs": (_INT, [ctypes.POINTER(ctypes.POINTER(_IfAddrs))]),
    "freeifaddrs": (None, [ctypes.POINTER(_IfAddrs)]),
    "gai_strerror": (_CHARS, [_INT]),
    "bind": (_INT, [_INT, _PTR, _UINT]),
    "connect": (_INT, [_INT, _PTR, _UINT]),
    "setsockopt": (_INT, [_INT, _INT, _INT, _PTR, _UINT]),
    "getsockopt": (_INT, [_INT, _INT, _INT, _PTR, _SOCKLEN_P]),
    "getsockname": (_INT, [_INT, _PTR, _SOCKLEN_P]),
    "getpeername": (_INT, [_INT, _PTR, _SOCKLEN_P]),
    "sendto": (_SSIZE, [_INT, _PTR, _SIZE, _INT, _PTR, _UINT]),
    "recvfrom": (_SSIZE, [_INT, _PTR, _SIZE, _INT, _PTR, _SOCKLEN_P]),
}


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name or "libc.so.6", use_errno=True)
    except OSError:
        return None
    for fn, (restype, argtypes) in _PROTOTYPES.items():
        proto = getattr(lib, fn)
        proto.restype = restype
        if argtypes:
            proto.argtypes = argtypes
    return lib


def _lib() -> ctypes.CDLL:
    lib = _libc()
    if lib is None:  # pragma: no cover - glibc is always there on Linux
        raise OSError("the C library cannot be loaded")
    return lib


def _check(result: int) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def bind(fd: int, sockaddr: bytes) -> None:
    """``bind(fd, addr, len)`` with the raw bytes; raises OSError with the errno."""
    # a bytes object passes as a pointer to its own (immutable) buffer: no copy needed
    _check(_lib().bind(fd, sockaddr, len(sockaddr)))


def connect(fd: int, sockaddr: bytes) -> None:
    """``connect(fd, addr, len)`` with the raw bytes; raises OSError with the errno."""
    _check(_lib().connect(fd, sockaddr, len(sockaddr)))


def setsockopt(fd: int, level: int, optname: int, value: bytes) -> None:
    """``setsockopt(fd, level, name, buf, len)`` with raw bytes, whatever the socket's family.

    Python's socket.setsockopt takes only an integer for some families (AF_VSOCK),
    where the C code hands the kernel its bytes like everywhere else.
    """
    buf = ctypes.create_string_buffer(value, len(value))
    _check(_lib().setsockopt(fd, level, optname, ctypes.cast(buf, ctypes.c_void_p), len(value)))


def getsockopt(fd: int, level: int, optname: int, size: int) -> bytes:
    """``getsockopt(fd, level, name, buf, &len)`` into ``size`` bytes; answers what it wrote."""
    buf = ctypes.create_string_buffer(size)
    length = ctypes.c_uint(size)
    _check(
        _lib().getsockopt(
            fd, level, optname, ctypes.cast(buf, ctypes.c_void_p), ctypes.byref(length)
        )
    )
    return buf.raw[: min(length.value, size)]


SOCKADDR_STORAGE = 128


def _name(fn: str, fd: int) -> bytes:
    buf = ctypes.create_string_buffer(SOCKADDR_STORAGE)
    size = ctypes.c_uint(SOCKADDR_STORAGE)
    _check(getattr(_lib(), fn)(fd, ctypes.cast(buf, ctypes.c_void_p), ctypes.byref(size)))
    return buf.raw[: min(size.value, SOCKADDR_STORAGE)]


def getsockname(fd: int) -> bytes:
    """The raw local sockaddr, exactly as long as the kernel says."""
    return _name("getsockname", fd)


def getpeername(fd: int) -> bytes:
    """The raw peer sockaddr, exactly as long as the kernel says."""
    return _name("getpeername", fd)


def sendto(fd: int, data: memoryview | bytes, sockaddr: bytes | None) -> int:
    """``sendto(fd, buf, n, 0, addr, len)``; ``None`` sends with no address."""
    payload = bytes(data)
    buf = ctypes.create_string_buffer(payload, len(payload))
    if sockaddr is None:
        return _check(
            _lib().sendto(fd, ctypes.cast(buf, ctypes.c_void_p), len(payload), 0, None, 0)
        )
    sa = ctypes.create_string_buffer(sockaddr, len(sockaddr))
    return _check(
        _lib().sendto(
            fd,
            ctypes.cast(buf, ctypes.c_void_p),
            len(payload),
            0,
            ctypes.cast(sa, ctypes.c_void_p),
            len(sockaddr),
        )
    )


def recvfrom(fd: int, into: memoryview) -> tuple[int, bytes]:
    """``recvfrom`` into a writable buffer; answers (bytes read, raw sender sockaddr)."""
    n = len(into)
    tmp = ctypes.create_string_buffer(max(n, 1))
    sa = ctypes.create_string_buffer(SOCKADDR_STORAGE)
    size = ctypes.c_uint(SOCKADDR_STORAGE)
    got = _check(
        _lib().recvfrom(
            fd,
            ctypes.cast(tmp, ctypes.c_void_p),
            n,
            0,
            ctypes.cast(sa, ctypes.c_void_p),
            ctypes.byref(size),
        )
    )
    into[:got] = tmp.raw[:got]
    return got, sa.raw[: min(size.value, SOCKADDR_STORAGE)]


# gethostbyname and gethostbyaddr answer a pointer into one static buffer of the
# process (and set the process-wide h_errno): two emulated VMs resolving on two
# threads would read each other's answers, or freed memory. Every such call, and
# the copy of its answer, happens under this one lock.
_NONREENTRANT = threading.Lock()


def _h_errno(lib: ctypes.CDLL) -> int:
    return int(lib.__h_errno_location().contents.value)


def gethostbyname(name: bytes) -> tuple[int, int]:
    """Answer (IPv4 address as a host-order int, h_errno); 0 and the error on failure.

    gethostbyname is not re-entrant: the call and the copy of its answer hold a
    process-wide lock.
    """
    lib = _libc()
    if lib is None:  # pragma: no cover - glibc is always there on Linux
        try:
            return int.from_bytes(socket.inet_aton(socket.gethostbyname(name.decode())), "big"), 0
        except OSError:
            return 0, HOST_NOT_FOUND
    with _NONREENTRANT:
        he = lib.gethostbyname(name)
        if not he:
            return 0, _h_errno(lib) or HOST_NOT_FOUND
        addr = he.contents.h_addr_list[0]
        return int.from_bytes(bytes(addr[i] for i in range(4)), "big"), 0


def gethostbyaddr(address: int, length: int = 4) -> tuple[bytes, int]:
    """Answer (h_name, h_errno) for a host-order IPv4 address; b'' and the error on failure.

    ``length`` is the address length passed to the C library: the plugin passes
    ``sizeof(u_long)``, 8 on a 64-bit VM, with the address in its first 4 bytes.
    """
    lib = _libc()
    packed = address.to_bytes(4, "big") + bytes(max(0, length - 4))
    if lib is None:  # pragma: no cover
        try:
            return socket.gethostbyaddr(socket.inet_ntoa(packed))[0].encode(), 0
        except OSError:
            return b"", HOST_NOT_FOUND
    buf = ctypes.create_string_buffer(packed, len(packed))
    with _NONREENTRANT:
        he = lib.gethostbyaddr(ctypes.cast(buf, ctypes.c_void_p), length, socket.AF_INET)
        if not he:
            return b"", _h_errno(lib) or HOST_NOT_FOUND
        return bytes(he.contents.h_name or b""), 0


def getnameinfo(
    sockaddr: bytes, flags: int, hostlen: int = NI_MAXHOST, servlen: int = NI_MAXSERV
) -> tuple[int, bytes, bytes]:
    """Answer (gai error, host, service) for raw sockaddr bytes, as getnameinfo(3) does.

    ``hostlen``/``servlen`` are the caller's buffer sizes: a name that does not fit
    (with its NUL) makes getnameinfo answer EAI_OVERFLOW.
    """
    lib = _libc()
    if lib is None:  # pragma: no cover
        return socket.EAI_FAMILY, b"", b""
    sa = ctypes.create_string_buffer(sockaddr, len(sockaddr))
    host = ctypes.create_string_buffer(hostlen)
    serv = ctypes.create_string_buffer(servlen)
    err = lib.getnameinfo(
        ctypes.cast(sa, ctypes.c_void_p), len(sockaddr), host, hostlen, serv, servlen, flags
    )
    if err:
        return int(err), b"", b""
    return 0, host.value, serv.value


def gai_strerror(code: int) -> str:
    lib = _libc()
    if lib is None:  # pragma: no cover
        return f"error {code}"
    msg = lib.gai_strerror(code)
    return msg.decode() if msg else f"error {code}"


def getaddrinfo_ipv4(name: bytes) -> tuple[int, int]:
    """pharo-vm's ``nameToAddr``: ``getaddrinfo(name, NULL, NULL)``, the first AF_INET answer.

    Answers (IPv4 address as a host-order int, the getaddrinfo error): the error is
    the EAI code, negative on glibc (EAI_NONAME -2, EAI_AGAIN -3); a success without
    an AF_INET answer is (0, 0).
    """
    try:
        answers = socket.getaddrinfo(name, None)
    except socket.gaierror as exc:
        return 0, int(exc.errno or socket.EAI_FAIL)
    except UnicodeError:
        return 0, socket.EAI_NONAME
    for family, _kind, _proto, _canon, sockaddr in answers:
        if family == socket.AF_INET:
            return int.from_bytes(socket.inet_aton(str(sockaddr[0])), "big"), 0
    return 0, 0


IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40


@dataclass(frozen=True)
class Interface:
    """One entry of ``getifaddrs()``: name, flags, family and (for AF_INET) the address."""

    name: bytes
    flags: int
    family: int | None  # None: ifa_addr is NULL
    ipv4: int | None = None  # host order, AF_INET entries only


def getifaddrs() -> list[Interface]:
    """Every ``getifaddrs()`` entry, in the order the C library lists them."""
    lib = _lib()
    head = ctypes.POINTER(_IfAddrs)()
    if lib.getifaddrs(ctypes.byref(head)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    found: list[Interface] = []
    try:
        node = head
        for _ in range(4096):  # bounded: a real list is far shorter
            if not node:
                break
            entry = node.contents
            family = ipv4 = None
            if entry.ifa_addr:
                raw = ctypes.string_at(entry.ifa_addr, 8)
                family = int.from_bytes(raw[:2], sys.byteorder)
                if family == socket.AF_INET:
                    ipv4 = int.from_bytes(raw[4:8], "big")
            found.append(Interface(entry.ifa_name or b"", int(entry.ifa_flags), family, ipv4))
            node = entry.ifa_next
    finally:
        lib.freeifaddrs(head)
    return found
