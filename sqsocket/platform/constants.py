"""The numbers the image and the plugin agree on (SocketPlugin.h, sqUnixSocket.c, Socket class)."""

from __future__ import annotations

import socket
from enum import IntEnum, IntFlag


class SocketStatus(IntEnum):
    """``Socket>>statusString`` values; what primitiveSocketConnectionStatus answers."""

    INVALID = -1
    UNCONNECTED = 0
    WAITING_FOR_CONNECTION = 1
    CONNECTED = 2
    OTHER_END_CLOSED = 3
    THIS_END_CLOSED = 4


class SocketType(IntEnum):
    """The ``socketType`` argument of primitiveSocketCreate (and the handle's second field)."""

    TCP = 0  # SOCK_STREAM on the chosen domain
    UDP = 1  # SOCK_DGRAM
    RAW = 2  # SOCK_RAW (primitiveSocketCreateRAW only)
    SEQPACKET = 3  # named in sqUnixSocket.c, never created by it
    RELIABLE_DGRAM = 4  # ditto


# socketType + this = "use the socket systemd handed us" (sd_listen_fds); the Unix
# plugin only honours it for TCP.
REUSE_EXISTING_SOCKET = 65536


class NetDomain(IntEnum):
    """The ``netType`` argument of socket creation: the 2007 API's domain codes."""

    UNSPECIFIED = 0  # means INET4, as it always did
    LOCAL = 1
    INET4 = 2
    INET6 = 3


# What sqSocketCreate... maps each netType to. Any other value is passed to
# socket() unchanged, which is how the C code behaves (its switch has no default).
NET_DOMAIN_TO_AF: dict[int, int] = {
    NetDomain.UNSPECIFIED: socket.AF_INET,
    NetDomain.LOCAL: socket.AF_UNIX,
    NetDomain.INET4: socket.AF_INET,
    NetDomain.INET6: socket.AF_INET6,
}


class ResolverStatus(IntEnum):
    """primitiveResolverStatus."""

    UNINITIALISED = 0
    SUCCESS = 1
    BUSY = 2
    ERROR = 3


class AddressFamily(IntEnum):
    """SQ_SOCKET_FAMILY_*: getAddressInfo's family argument and GetAddressInfoFamily's answer."""

    UNSPECIFIED = 0
    LOCAL = 1
    INET4 = 2
    INET6 = 3


FAMILY_MAX = 4


class AddressType(IntEnum):
    """SQ_SOCKET_TYPE_*."""

    UNSPECIFIED = 0
    STREAM = 1
    DGRAM = 2


TYPE_MAX = 3


class AddressProtocol(IntEnum):
    """SQ_SOCKET_PROTOCOL_*."""

    UNSPECIFIED = 0
    TCP = 1
    UDP = 2


PROTOCOL_MAX = 3


class ResolverFlags(IntFlag):
    """SQ_SOCKET_NUMERIC / SQ_SOCKET_PASSIVE."""

    NONE = 0
    NUMERIC = 1
    PASSIVE = 2


# MAXHOSTNAMELEN on Linux; getAddressInfo rejects longer host or service names.
MAXHOSTNAMELEN = 64
# sizeof(((struct sockaddr_un *)0)->sun_path)
SUN_PATH_SIZE = 108
# SO_LINGER time the plugin sets on connected streams (LINGER_SECS).
LINGER_SECS = 1
