"""Python peers for the SocketPlugin: echo servers and friends.

Every server binds in the caller's thread and serves from a selector loop,
either in a background thread (``start()`` / context manager) or in the
calling thread (``serve_forever()``, the ``sqsocket serve`` CLI)::

    from sqsocket.servers import UnixEchoServer, echo_once

    with UnixEchoServer("/tmp/sq.sock") as srv:
        assert echo_once(srv.address, b"hi") == b"hi"
    # the socket file is gone again

Modules, one job each: :mod:`~.paths` (socket files: stale, refused, created
with their mode, removed), :mod:`~.dircheck` (is the socket's directory safe),
:mod:`~.address` (Unix path / abstract name / host:port, ready lines),
:mod:`~.base` (the lifecycle), :mod:`~.listener` (accept, back off, uid
allow-list), :mod:`~.peercred` (SO_PEERCRED), :mod:`~.ratelog` (rate-limited
warnings), :mod:`~.stream` (many non-blocking clients), :mod:`~.echo`,
:mod:`~.dgram`, :mod:`~.framing` (u32, netstring, line), :mod:`~.netstring`
(the reversing server), :mod:`~.pair` (socketpair + fork), :mod:`~.fdpass`
(SCM_RIGHTS introduction server), :mod:`~.argtypes` and :mod:`~.cli`
(``sqsocket serve``).
"""

from sqsocket.servers.address import (
    AbstractAddress,
    Address,
    InetAddress,
    UnixAddress,
    parse_address,
    parse_ready_line,
)
from sqsocket.servers.base import Server, connect
from sqsocket.servers.dgram import DatagramClient, DatagramEchoServer, UDPEchoServer, dgram_echo
from sqsocket.servers.echo import (
    AbstractEchoServer,
    EchoServer,
    TCPEchoServer,
    UnixEchoServer,
    echo_once,
)
from sqsocket.servers.fdpass import IntroClient, IntroductionError, IntroductionServer
from sqsocket.servers.framing import Framing, MalformedFrame
from sqsocket.servers.netstring import (
    FrameError,
    FrameTooLarge,
    NetstringClient,
    NetstringServer,
    TruncatedFrame,
)
from sqsocket.servers.pair import PairExchange, ping_pong, taco_cat
from sqsocket.servers.paths import MAX_SUN_PATH, SocketPathError, prepare_socket_path

__all__ = [
    "MAX_SUN_PATH",
    "AbstractAddress",
    "AbstractEchoServer",
    "Address",
    "DatagramClient",
    "DatagramEchoServer",
    "EchoServer",
    "FrameError",
    "FrameTooLarge",
    "Framing",
    "InetAddress",
    "IntroClient",
    "IntroductionError",
    "IntroductionServer",
    "MalformedFrame",
    "NetstringClient",
    "NetstringServer",
    "PairExchange",
    "Server",
    "SocketPathError",
    "TCPEchoServer",
    "TruncatedFrame",
    "UDPEchoServer",
    "UnixAddress",
    "UnixEchoServer",
    "connect",
    "dgram_echo",
    "echo_once",
    "parse_address",
    "parse_ready_line",
    "ping_pong",
    "prepare_socket_path",
    "taco_cat",
]
