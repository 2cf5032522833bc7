"""The lifecycle every server shares: bind, serve (here or in a thread), stop.

A :class:`Server` owns one bound socket and a ``selectors`` loop. The loop is
woken by a private socketpair, so :meth:`Server.stop` (from any thread) and
:meth:`Server.request_stop` (safe in a signal handler) always end it promptly,
whatever the peers are doing. Three ways to run one::

    with UnixEchoServer("/tmp/x") as srv:      # start() + stop()
        ...                                    # srv.address, srv.sockaddr

    srv = TCPEchoServer(port=0).start()        # background thread; returns once bound
    ...; srv.stop()

    srv.bind(); print(srv.address); srv.serve_forever()   # the CLI: this thread

``bind`` happens in the caller's thread, so an unusable address raises right
there, and once ``start`` returns the socket is listening: a client may connect
at once (the kernel queues it until the loop accepts).

Subclasses implement :meth:`Server._open` (create and bind the socket, register
it with the selector) and :meth:`Server._close_peers`; events are dispatched to
the callable stored as each selector key's ``data``.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Self, TypedDict

from sqsocket.servers.address import (
    AbstractAddress,
    Address,
    InetAddress,
    SocketKind,
    UnixAddress,
    is_loopback_host,
    parse_address,
)
from sqsocket.servers.paths import DEFAULT_SOCKET_MODE, BoundPath, bind_unix_path
from sqsocket.servers.peercred import supported as peer_credentials_supported
from sqsocket.servers.process import signals_wake
from sqsocket.servers.ratelog import RateLimitedLog

__all__ = [
    "AddressLike",
    "Handler",
    "Server",
    "ServerOptions",
    "coerce_address",
    "connect",
    "open_bound_socket",
]

#: Anything a server constructor accepts as an address.
AddressLike = Address | str | tuple[str, int]

#: Called by the loop with the ready key's event mask.
Handler = Callable[[int], None]

log = logging.getLogger("sqsocket.servers")


class ServerOptions(TypedDict, total=False):
    """The keyword options every server takes besides its address (see :class:`Server`).

    Subclasses take them as ``**options: Unpack[ServerOptions]`` (or a TypedDict
    extending this one) and hand them on, so each option and its default is written
    once, in :meth:`Server.__init__`.
    """

    mode: int | None
    allow_remote: bool
    allow_uids: frozenset[int] | set[int] | None
    insecure_dir: bool
    verbose: bool


def coerce_address(address: AddressLike) -> Address:
    """Turn a path, ``@name``, ``(host, port)`` or address text into an :data:`Address`."""
    if isinstance(address, UnixAddress | AbstractAddress | InetAddress):
        return address
    if isinstance(address, tuple):
        host, port = address
        return InetAddress(host, int(port))
    return parse_address(address)


def open_bound_socket(
    address: Address,
    kind: int,
    *,
    mode: int | None = DEFAULT_SOCKET_MODE,
    allow_remote: bool = False,
    insecure_dir: bool = False,
) -> tuple[socket.socket, Address, BoundPath | None]:
    """Create a non-blocking socket of type ``kind`` bound to ``address``.

    Returns the socket, the address actually bound (the real port when port 0
    was asked for) and, for a filesystem path, the :class:`BoundPath` to remove
    on stop. Internet hosts must be loopback unless ``allow_remote``: these are
    test servers, and an echo server reachable from the network is a gift to
    anyone looking for a traffic reflector. ``insecure_dir`` lets a socket file be
    bound in a directory other users can write (see :mod:`~sqsocket.servers.dircheck`).
    """
    if isinstance(address, InetAddress) and not allow_remote and not is_loopback_host(address.host):
        raise ValueError(
            f"refusing to listen on non-loopback host {address.host!r}; "
            "use 127.0.0.1 or ::1 (or pass allow_remote=True / --allow-remote)"
        )
    sock = socket.socket(address.family, kind)
    try:
        bound_path: BoundPath | None = None
        if isinstance(address, UnixAddress):
            bound_path = bind_unix_path(sock, address.path, mode=mode, insecure_dir=insecure_dir)
            actual: Address = address
        elif isinstance(address, AbstractAddress):
            sock.bind(address.sockaddr)
            actual = address
        else:
            if kind == socket.SOCK_STREAM:
                # Restarting a test server on the same fixed port must not wait out
                # TIME_WAIT from the previous run.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if address.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address.sockaddr)
            host, port = sock.getsockname()[:2]
            actual = InetAddress(host, port)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock, actual, bound_path


def connect(address: AddressLike, *, timeout: float | None = 5.0) -> socket.socket:
    """A blocking stream socket connected to ``address`` (any form a server takes).

    ``timeout`` applies to the connect and stays on the socket for later calls,
    so a test client never hangs on a silent server.
    """
    addr = coerce_address(address)
    sock = socket.socket(addr.family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(addr.sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


#: Longest single wait of the loop. Timers further away are simply re-checked: the
#: kernel's wait takes at most INT_MAX milliseconds, and Python raises OverflowError
#: (ending the loop) for more.
MAX_WAIT = 3600.0


def _bounded_wait(timeout: float | None) -> float | None:
    """``timeout`` clamped to [0, MAX_WAIT]; a NaN (a broken timer) counts as MAX_WAIT."""
    if timeout is None:
        return None
    if timeout != timeout:  # NaN: waiting 0 s forever would spin the CPU
        return MAX_WAIT
    return min(max(timeout, 0.0), MAX_WAIT)


class Server:
    """Base class: one bound socket served by a selector loop.

    Subclasses set :attr:`kind` and implement :meth:`_open` and
    :meth:`_close_peers`; they may override :meth:`_next_timeout` and
    :meth:`_tick` for timers (idle timeouts).

    ``allow_uids`` (Unix-domain addresses only, Linux): serve only peers whose
    uid the kernel reports in that set; ``None`` serves everyone the socket's
    permissions let in. ``insecure_dir``: bind a socket file even in a directory
    other users can write. Warnings about peers go through :attr:`warnings`, a
    :class:`~sqsocket.servers.ratelog.RateLimitedLog`.
    """

    #: ``"stream"`` or ``"dgram"``: the scheme the ready line uses.
    kind: SocketKind = "stream"

    def __init__(
        self,
        address: AddressLike,
        *,
        mode: int | None = DEFAULT_SOCKET_MODE,
        allow_remote: bool = False,
        allow_uids: frozenset[int] | set[int] | None = None,
        insecure_dir: bool = False,
        verbose: bool = False,
    ) -> None:
        self.requested_address: Address = coerce_address(address)
        self.mode = mode
        self.allow_remote = allow_remote
        self.insecure_dir = insecure_dir
        self.allow_uids = None if allow_uids is None else frozenset(allow_uids)
        if self.allow_uids is not None:
            if isinstance(self.requested_address, InetAddress):
                raise ValueError(
                    "a uid allow-list needs a Unix-domain address: TCP and UDP peers "
                    "have no credentials (SO_PEERCRED)"
                )
            if not peer_credentials_supported():
                raise ValueError("this platform does not report peer credentials (SO_PEERCRED)")
        self.verbose = verbose
        self.log = log.getChild(type(self).__name__)
        #: Rate-limited warnings about peers (bad frames, refused connections...).
        self.warnings = RateLimitedLog(self.log)
        self._address: Address | None = None
        self._bound_path: BoundPath | None = None
        self._sock: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._stop_requested = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.RLock()  # re-entrant: serve_forever binds under it
        self._loop_thread: threading.Thread | None = None
        self._closed = False  # no (more) serving: set by stop() and by cleanup
        self._cleaned = False  # cleanup has run (it must run exactly once)

    # -- addresses -------------------------------------------------------------

    @property
    def address(self) -> Address:
        """The bound address (with the real port when port 0 was asked for)."""
        if self._address is None:
            raise RuntimeError("server is not bound yet; call bind() or start()")
        return self._address

    @property
    def sockaddr(self) -> str | bytes | tuple[str, int]:
        """The bound address in the form ``socket.connect`` takes."""
        return self.address.sockaddr

    @property
    def family(self) -> socket.AddressFamily:
        """``AF_UNIX``, ``AF_INET`` or ``AF_INET6``."""
        return self.address.family

    @property
    def url(self) -> str:
        """The address as the ready line prints it: ``unix:/tmp/x``, ``tcp:127.0.0.1:5000``."""
        return self.address.describe(self.kind)

    @property
    def path(self) -> str | None:
        """The socket file's path for a filesystem address, else None."""
        return self._address.path if isinstance(self._address, UnixAddress) else None

    @property
    def port(self) -> int | None:
        """The bound port for an internet address, else None."""
        return self._address.port if isinstance(self._address, InetAddress) else None

    @property
    def ready_line(self) -> str:
        """``listening on <url>``: what the CLI prints once bound."""
        return f"listening on {self.url}"

    def connect(self, timeout: float | None = 5.0) -> socket.socket:
        """A blocking client socket connected to this (stream) server."""
        return connect(self.address, timeout=timeout)

    def _info(self, msg: str, *args: object) -> None:
        """Connection-level events: INFO when verbose, DEBUG otherwise."""
        self.log.log(logging.INFO if self.verbose else logging.DEBUG, msg, *args)

    # -- lifecycle -------------------------------------------------------------

    def bind(self) -> Self:
        """Create and bind the socket (idempotent). Errors surface here, in the caller."""
        with self._lifecycle:
            if self._closed:
                raise RuntimeError("server was stopped; create a new one")
            if self._selector is not None:
                return self
            selector = selectors.DefaultSelector()
            wake_r, wake_w = socket.socketpair()
            try:
                wake_r.setblocking(False)
                wake_w.setblocking(False)
                selector.register(wake_r, selectors.EVENT_READ, self._on_wake)
                self._selector, self._wake_r, self._wake_w = selector, wake_r, wake_w
                self._open()
            except BaseException:
                self._selector = self._wake_r = self._wake_w = None
                self._release_listener()
                selector.close()
                wake_r.close()
                wake_w.close()
                raise
        self._info("%s %s", type(self).__name__, self.ready_line)
        return self

    def start(self) -> Self:
        """Bind, then serve in a daemon thread; returns once the socket is bound."""
        self.bind()
        with self._lifecycle:
            if self._thread is not None or self._loop_thread is not None:
                raise RuntimeError("server is already running")
            self._thread = threading.Thread(
                target=self.serve_forever, name=f"{type(self).__name__}({self.url})", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Run the loop in this thread until :meth:`stop` / :meth:`request_stop`, then clean up."""
        with self._lifecycle:
            if self._closed:
                return  # stopped before the loop got going (stop() right after start())
            # bind under the same (re-entrant) lock, so stop() cannot slip in between
            self.bind()
            if self._loop_thread is not None:
                raise RuntimeError("server loop is already running")
            self._loop_thread = threading.current_thread()
            selector = self._selector
        assert selector is not None
        try:
            # a stop signal must wake the wait even if it lands just before it
            with signals_wake(self._wake_w):
                self._loop(selector)
        finally:
            self._cleanup()

    def _loop(self, selector: selectors.BaseSelector) -> None:
        """Wait for events and run their handlers (then the timers) until a stop is asked."""
        while not self._stop_requested.is_set():
            for key, mask in selector.select(_bounded_wait(self._next_timeout())):
                handler: Handler = key.data
                try:
                    handler(mask)
                except Exception:
                    # One peer's bug must not take the whole server down; the
                    # handlers close their own peer on the OSErrors they expect.
                    # Rate-limited: a peer that triggers it once can trigger it often.
                    self.warnings.log(
                        "unexpected error",
                        "unexpected error in %s",
                        handler,
                        level=logging.ERROR,
                        exc_info=True,
                    )
                if self._stop_requested.is_set():
                    break
            now = time.monotonic()
            self._tick(now)
            self.warnings.tick(now)

    def request_stop(self) -> None:
        """Ask the loop to end; safe from signal handlers and any thread, never blocks."""
        self._stop_requested.set()
        self._wake()

    def _wake(self) -> None:
        """Wake the loop from any thread (or a signal handler), never blocking."""
        wake = self._wake_w
        if wake is not None:
            # A full wake buffer already guarantees a wake-up; a closed one means the
            # loop is gone. Either way there is nothing more to do.
            with contextlib.suppress(OSError):
                wake.send(b"\0")

    def stop(self, timeout: float = 5.0) -> None:
        """End the loop, close every socket, remove the socket file we created.

        Idempotent; waits up to ``timeout`` seconds for the loop to finish. Safe
        to call without :meth:`start` (after :meth:`bind` only, or not even that).
        """
        self.request_stop()
        with self._lifecycle:
            loop_thread = self._loop_thread
            # No loop has run yet: none ever will, so the cleanup is ours to do.
            self._closed = True
        me = threading.current_thread()
        if loop_thread is None:
            self._cleanup()
        elif loop_thread is not me and not self._stopped.wait(timeout):
            self.log.warning("server loop did not stop within %.1fs", timeout)
        thread = self._thread
        if thread is not None and thread is not me:
            thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped and cleaned up; False on timeout."""
        return self._stopped.wait(timeout)

    @property
    def running(self) -> bool:
        """True between bind and the end of cleanup."""
        return self._selector is not None and not self._cleaned

    def __enter__(self) -> Self:
        # ``with Server(...).start() as srv`` is fine too: only start if not running.
        if self._thread is None and self._loop_thread is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- loop internals --------------------------------------------------------

    def _on_wake(self, mask: int) -> None:
        assert self._wake_r is not None
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)

    def _next_timeout(self) -> float | None:
        """Seconds until the next timer is due, None for none (stop wakes the loop anyway)."""
        return None

    def _tick(self, now: float) -> None:
        """Run due timers; called after every loop iteration."""

    def _open(self) -> None:
        """Create, bind and register the socket; set ``_sock``, ``_address``, ``_bound_path``."""
        raise NotImplementedError

    def _close_peers(self) -> None:
        """Close every per-peer resource (connections, queued fds)."""

    def _bind_socket(self, kind: int) -> socket.socket:
        """Helper for :meth:`_open`: bind the requested address, record what was bound."""
        sock, actual, bound_path = open_bound_socket(
            self.requested_address,
            kind,
            mode=self.mode,
            allow_remote=self.allow_remote,
            insecure_dir=self.insecure_dir,
        )
        self._sock, self._address, self._bound_path = sock, actual, bound_path
        return sock

    def _release_listener(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        bound, self._bound_path = self._bound_path, None
        if bound is not None and bound.remove():
            self._info("removed %s", bound.path)

    def _cleanup(self) -> None:
        with self._lifecycle:
            if self._cleaned:
                return
            self._cleaned = self._closed = True
        try:
            self._close_peers()
        finally:
            self.warnings.flush()
            self._release_listener()
            selector, self._selector = self._selector, None
            if selector is not None:
                selector.close()
            for attr in ("_wake_r", "_wake_w"):
                wake = getattr(self, attr)
                setattr(self, attr, None)
                if wake is not None:
                    wake.close()
            self._stopped.set()
            self._info("%s on %s stopped", type(self).__name__, self._address)
