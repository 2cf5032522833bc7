"""Server addresses: what a server binds to, and how it is written down.

Three kinds of address cover everything the servers listen on:

* :class:`UnixAddress` -- a filesystem path (``AF_UNIX``); the socket file is
  created by ``bind`` and must be removed again by whoever created it.
* :class:`AbstractAddress` -- a Linux abstract-namespace name (``AF_UNIX`` with
  a leading NUL in ``sun_path``); no file, it vanishes with the socket.
* :class:`InetAddress` -- a host and a port (``AF_INET`` / ``AF_INET6``).

Each has a text form, used in ready lines (``listening on unix:/tmp/x``) and on
the command line, that :func:`parse_address` reads back, so a harness that
starts ``sqsocket serve ...`` as a subprocess can parse what it printed::

    unix:/tmp/x          /tmp/x            ./rel/path
    abstract:name        @name
    abstract-padded:name (the name NUL-padded to all of sun_path: see AbstractAddress)
    tcp:127.0.0.1:5000   tcp:[::1]:5000    127.0.0.1:5000    5000
    udp:127.0.0.1:5000   (same forms with the udp: scheme)

Hosts are IP literals or ``localhost``: these servers never look a name up (no DNS).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from dataclasses import dataclass
from typing import Literal

from sqsocket.servers.paths import MAX_SUN_PATH, SocketPathError, check_path_length

__all__ = [
    "READY_PREFIX",
    "SCHEMES",
    "AbstractAddress",
    "Address",
    "InetAddress",
    "SocketKind",
    "UnixAddress",
    "abstract_supported",
    "check_host",
    "check_port",
    "describe_peer",
    "is_loopback_host",
    "parse_address",
    "parse_ready_line",
]


#: Stream (``SOCK_STREAM``) or datagram (``SOCK_DGRAM``): the text form names both.
SocketKind = Literal["stream", "dgram"]

#: Address schemes and the socket kind each one names.
SCHEMES: dict[str, SocketKind] = {
    "unix": "stream",
    "unix-dgram": "dgram",
    "abstract": "stream",
    "abstract-dgram": "dgram",
    "abstract-padded": "stream",
    "abstract-padded-dgram": "dgram",
    "tcp": "stream",
    "udp": "dgram",
}


def abstract_supported() -> bool:
    """True where the kernel has an abstract socket namespace (Linux only)."""
    return sys.platform.startswith("linux")


@dataclass(frozen=True)
class UnixAddress:
    """A Unix-domain socket bound to a filesystem path."""

    path: str

    family = socket.AF_UNIX

    def __post_init__(self) -> None:
        # Fail at construction, with the reason, rather than as a bare bind() error.
        check_path_length(self.path)

    @property
    def sockaddr(self) -> str:
        """What ``socket.bind`` / ``socket.connect`` take."""
        return self.path

    def describe(self, kind: SocketKind = "stream") -> str:
        """``unix:PATH`` (stream) or ``unix-dgram:PATH`` (datagram)."""
        return f"{'unix' if kind == 'stream' else 'unix-dgram'}:{self.path}"

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class AbstractAddress:
    """A Linux abstract-namespace Unix-domain name (no file on disk).

    ``name`` is stored without the leading NUL; :attr:`sockaddr` adds it.

    An abstract name is every byte of ``sun_path`` after the NUL *up to the address
    length the caller passes*, NULs included. Python passes exactly the name
    ("tight"). The VM's SocketPlugin always passes ``sizeof(struct sockaddr_un)``, so
    the name a Smalltalk client connects to is the name followed by NULs up to
    ``sun_path``'s 108 bytes -- a different name, and a tight server is unreachable
    from Smalltalk (ECONNREFUSED). ``padded=True`` binds (and connects to) that
    NUL-padded name, as socat's ``unix-tightsocklen=0`` does.
    """

    name: str
    padded: bool = False

    family = socket.AF_UNIX

    def __post_init__(self) -> None:
        if not abstract_supported():
            raise SocketPathError(
                f"abstract socket names (@{self.name}) exist only on Linux, not {sys.platform}"
            )
        raw = self.name.encode("utf-8", "surrogateescape")
        # sun_path holds 108 bytes; the leading NUL takes one, and an abstract name is
        # not NUL-terminated, so the name itself may use all the remaining 107.
        if len(raw) > MAX_SUN_PATH:
            raise SocketPathError(
                f"abstract name @{self.name} is {len(raw)} bytes; the limit is {MAX_SUN_PATH}"
            )

    @property
    def sockaddr(self) -> bytes:
        """What ``socket.bind`` / ``socket.connect`` take: NUL + the name (+ NUL padding)."""
        raw = self.name.encode("utf-8", "surrogateescape")
        if self.padded:
            return b"\0" + raw + b"\0" * (MAX_SUN_PATH - len(raw))
        return b"\0" + raw

    def describe(self, kind: SocketKind = "stream") -> str:
        """``abstract[-padded]:NAME`` (stream) or ``abstract[-padded]-dgram:NAME`` (datagram)."""
        scheme = "abstract-padded" if self.padded else "abstract"
        return f"{scheme if kind == 'stream' else scheme + '-dgram'}:{self.name}"

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class InetAddress:
    """An IPv4 or IPv6 host and port; port 0 asks the kernel for an ephemeral port."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range 0..65535")

    @property
    def family(self) -> socket.AddressFamily:
        """``AF_INET6`` for an IPv6 literal, else ``AF_INET``."""
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def sockaddr(self) -> tuple[str, int]:
        """What ``socket.bind`` / ``socket.connect`` take."""
        return (self.host, self.port)

    @property
    def hostport(self) -> str:
        """``HOST:PORT``, with an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def describe(self, kind: SocketKind = "stream") -> str:
        """``tcp:HOST:PORT`` (stream) or ``udp:HOST:PORT`` (datagram)."""
        return f"{'tcp' if kind == 'stream' else 'udp'}:{self.hostport}"

    def __str__(self) -> str:
        return self.describe()


Address = UnixAddress | AbstractAddress | InetAddress


def describe_peer(addr: object) -> str:
    """An accepted peer's address as ``accept`` reported it, for logs: ``host:port``,
    ``[v6]:port``, a path, ``@name`` for an abstract name."""
    if isinstance(addr, tuple):
        host, port = addr[:2]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    if isinstance(addr, bytes):
        addr = addr.decode("utf-8", "replace").replace("\0", "@", 1)
    # Unix-domain clients are usually unbound: the kernel reports an empty name.
    return str(addr) or "(unnamed unix peer)"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and for loopback literals (127/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str) -> str:
    """``host`` if it is an IP literal or ``localhost`` (as 127.0.0.1); else ValueError.

    Names other than localhost are refused rather than looked up: a test server
    must not make DNS queries.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"bad host {host!r}: give an IPv4 or IPv6 address (or localhost); "
            "names are not looked up"
        ) from None
    return host


def check_port(text: str) -> int:
    """A port number 0..65535 written in ASCII digits; else ValueError."""
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or int(text) > 65535:
        raise ValueError(f"bad port {text!r}: give a number from 0 to 65535")
    return int(text)


def _parse_host_port(text: str, default_host: str) -> InetAddress:
    """``[HOST:]PORT`` with IPv6 hosts in brackets (``[::1]:5000``)."""
    host = default_host
    port_text = text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            raise ValueError(f"bad address {text!r}: expected [IPV6]:PORT")
        host, port_text = text[1:end], text[end + 2 :]
        if ":" not in host:
            raise ValueError(f"bad address {text!r}: brackets are for IPv6 hosts only")
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
        if ":" in host:
            raise ValueError(f"bad address {text!r}: put an IPv6 host in brackets, [::1]:PORT")
        host = host or default_host
    # localhost becomes 127.0.0.1 now, so the bound address (and the ready line) is a literal.
    return InetAddress(check_host(host), check_port(port_text))


def parse_address(text: str, *, default_host: str = "127.0.0.1") -> Address:
    """Read an address in any of the forms in the module docstring.

    A scheme (see :data:`SCHEMES`) decides the kind of address; without one,
    ``@name`` (or a leading NUL) is abstract, anything with a ``/`` is a path,
    and ``[HOST:]PORT`` is an internet address. The scheme's stream/datagram
    half is not part of the result: the server that binds it decides that.
    """
    if not text:
        raise ValueError("empty address")
    scheme, sep, rest = text.partition(":")
    if sep and scheme in SCHEMES:
        if scheme.startswith("unix"):
            if rest[:1] in ("@", "\0"):
                return AbstractAddress(rest[1:])
            if not rest:
                raise ValueError(f"bad address {text!r}: empty path")
            check_path_length(rest)
            return UnixAddress(rest)
        if scheme.startswith("abstract"):
            name = rest[1:] if rest[:1] in ("@", "\0") else rest
            return AbstractAddress(name, padded=scheme.startswith("abstract-padded"))
        return _parse_host_port(rest, default_host)
    if text[0] in ("@", "\0"):
        return AbstractAddress(text[1:])
    if "/" in text:
        check_path_length(text)
        return UnixAddress(text)
    return _parse_host_port(text, default_host)


READY_PREFIX = "listening on "


def parse_ready_line(line: str) -> tuple[SocketKind, Address]:
    """Read back a server's ready line (``listening on tcp:127.0.0.1:41234``).

    Returns the socket kind the scheme names and the address, so a harness that
    started ``sqsocket serve ...`` can connect to what the server really bound
    (an ephemeral port, say).
    """
    line = line.strip()
    if not line.startswith(READY_PREFIX):
        raise ValueError(f"not a ready line: {line!r}")
    text = line[len(READY_PREFIX) :]
    scheme = text.partition(":")[0]
    if scheme not in SCHEMES:
        raise ValueError(f"ready line without a known scheme: {line!r}")
    return SCHEMES[scheme], parse_address(text)
