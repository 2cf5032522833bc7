"""The image side: Socket, NetNameResolver, SocketAddress, written only on the primitives.

Python mirrors of Squeak/Pharo's Network-Kernel classes, with snake_case
selectors (``connectTo:`` is ``connect_to``), calling the emulated
:class:`~sqsocket.plugin.SocketPlugin` exactly where the image calls
``<primitive: ... module: 'SocketPlugin'>``::

    from sqsocket.image import NetNameResolver, Socket

    sa = NetNameResolver.address_for_socket_path("/tmp/sp")
    with Socket.new_ipc() as sock:
        sock.connect_to(sa)
        sock.send_data("Hello, from Smalltalk!")
        print(sock.receive_data(timeout=5))

Modules: :mod:`~.environment` (the :class:`Image`: plugin, external objects,
the default image), :mod:`~.exceptions`, :mod:`~.address`, :mod:`~.resolver`,
:mod:`~.resolverprims`, :mod:`~.addressinfo`, :mod:`~.socket`,
:mod:`~.server` (a Unix-domain server on the image side) and
:mod:`~.workspace` (the Pharo workspace example).
"""

from sqsocket.image.address import SocketAddress
from sqsocket.image.addressinfo import SocketAddressInformation
from sqsocket.image.environment import Image
from sqsocket.image.exceptions import (
    ConnectionClosed,
    ConnectionRefused,
    ConnectionTimedOut,
    InvalidSocketStatus,
    InvalidSocketStatusException,
    NameLookupFailure,
    NetworkError,
    NoNetworkError,
    SocketPrimitiveFailed,
)
from sqsocket.image.resolver import NetNameResolver
from sqsocket.image.server import UnixServer
from sqsocket.image.socket import Socket
from sqsocket.image.workspace import (
    run_netstring_example,
    run_tcp_example,
    run_workspace_example,
)

__all__ = [
    "ConnectionClosed",
    "ConnectionRefused",
    "ConnectionTimedOut",
    "Image",
    "InvalidSocketStatus",
    "InvalidSocketStatusException",
    "NameLookupFailure",
    "NetNameResolver",
    "NetworkError",
    "NoNetworkError",
    "Socket",
    "SocketAddress",
    "SocketAddressInformation",
    "SocketPrimitiveFailed",
    "UnixServer",
    "run_netstring_example",
    "run_tcp_example",
    "run_workspace_example",
]
