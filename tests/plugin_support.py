"""Helpers shared by the SocketPlugin emulator tests (``tests/test_plugin_*.py``).

Every test drives real sockets on this machine: Unix-domain sockets in short
private directories under /tmp, 127.0.0.1, and ::1 where the machine has it;
never any other address. Waits are bounded by :data:`WAIT` seconds.

The fixtures built on these helpers (a ``harness`` per test, a module-wide
descriptor-leak guard) live in ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from sqsocket.errors import PrimitiveFailed
from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.layouts import (
    build_socket_address,
    sockaddr_in,
    sockaddr_in6,
    sockaddr_un,
)
from sqsocket.platform.network import PrivateSocket
from sqsocket.platform.profiles import DEFAULT_PROFILE, Profile, get_profile
from sqsocket.plugin import SocketPlugin
from sqsocket.vm.cruntime import StderrMode
from sqsocket.vm.machine import VirtualMachine
from sqsocket.vm.semaphores import Semaphore

WAIT = 5.0  # the longest any test waits for anything
LOOPBACK = b"\x7f\x00\x00\x01"


def wait_until(
    predicate: Callable[[], bool],
    timeout: float = WAIT,
    idle: Callable[[float], object] = time.sleep,
) -> bool:
    """Ask ``predicate`` until it answers true; False if ``timeout`` passed first.

    Between two questions ``idle(0.002)`` runs: pass an emulated VM's ``sleep`` (a
    Delay: its idle process polls for I/O) when the answer depends on the VM's
    aio handlers, which run only where the VM polls.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        idle(0.002)


# -- descriptors ------------------------------------------------------------------------


def open_fds() -> dict[int, str]:
    """This process's open descriptors and what they are."""
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the descriptor listdir itself used, already closed
    return fds


def fd_leak_guard() -> Iterator[None]:
    """Body of a module-scoped fixture: the descriptor count must come back to its baseline."""
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    wait_until(lambda: len(open_fds()) <= len(before), timeout=2.0)
    after = open_fds()
    leaked = {fd: what for fd, what in after.items() if before.get(fd) != what}
    assert len(after) <= len(before), f"descriptors leaked by this module: {leaked}"


@contextlib.contextmanager
def short_tmpdir(prefix: str = "sqp-") -> Iterator[str]:
    """A private directory with a short path (pytest's tmp_path can exceed sun_path's
    107 bytes): /tmp/PREFIX and 8 random characters, removed on leaving."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir="/tmp", ignore_cleanup_errors=True) as path:
        yield path


def path_in(directory: str, name: str, word: int = 4) -> str:
    """``directory/name``, padded so that its length is not a multiple of ``word``.

    squeak-4.10's getAddressInfo stat()s the image's String without a NUL: a path
    that fills its last 4-byte word is read on into the next object and not found
    (the ``unterminated_path_word`` quirk). Paths from here avoid that.
    """
    path = os.path.join(directory, name)
    while len(path) % word == 0:
        path += "_"
    return path


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def can_create_raw_icmp() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except OSError:
        return False
    return True


# -- the emulated VM ---------------------------------------------------------------------


@dataclass
class Sock:
    """A socket handle and the three semaphores it was created with."""

    handle: bytearray
    conn: Semaphore
    read: Semaphore
    write: Semaphore

    def signals(self) -> tuple[int, int, int]:
        return self.conn.signals, self.read.signals, self.write.signals


class Harness:
    """A SocketPlugin with its network initialised, plus conveniences for tests."""

    def __init__(self, plugin: SocketPlugin, resolver: Semaphore, resolver_index: int) -> None:
        self.p = plugin
        self.resolver = resolver
        self.resolver_index = resolver_index
        self._count = 0

    @classmethod
    @contextlib.contextmanager
    def started(
        cls, profile: Profile | str = DEFAULT_PROFILE, stderr: StderrMode | None = None
    ) -> Iterator[Harness]:
        """A started plugin under ``profile``; ``stderr`` given, its own VM writes
        stderr that way (the plugin makes a default one otherwise)."""
        prof = get_profile(profile) if isinstance(profile, str) else profile
        vm = None if stderr is None else VirtualMachine(prof.events, stderr=stderr)
        plugin = SocketPlugin(vm, prof)
        try:
            resolver, index = plugin.vm.new_semaphore("resolver")
            plugin.primitiveInitializeNetwork(index)
            yield cls(plugin, resolver, index)
        finally:
            plugin.close()
            if vm is not None:
                vm.close()  # a VM the plugin did not make is not closed with it

    @property
    def session(self) -> int:
        return self.p.session_id

    def semaphore(self, name: str) -> tuple[Semaphore, int]:
        return self.p.vm.new_semaphore(name)

    def semaphores(self, name: str = "") -> tuple[Semaphore, Semaphore, Semaphore, int, int, int]:
        self._count += 1
        label = name or f"s{self._count}"
        conn, ci = self.semaphore(f"{label}.conn")
        read, ri = self.semaphore(f"{label}.read")
        write, wi = self.semaphore(f"{label}.write")
        return conn, read, write, ci, ri, wi

    def create(
        self, net_type: int = NetDomain.INET4, socket_type: int = SocketType.TCP, name: str = ""
    ) -> Sock:
        """primitiveSocketCreate3Semaphores with three fresh semaphores."""
        conn, read, write, ci, ri, wi = self.semaphores(name)
        handle = self.p.primitiveSocketCreate3Semaphores(net_type, socket_type, 0, 0, ci, ri, wi)
        return Sock(handle, conn, read, write)

    def accept(self, listener: Sock, name: str = "") -> Sock:
        """primitiveSocketAccept3Semaphores (the listener must have accepted one already)."""
        conn, read, write, ci, ri, wi = self.semaphores(name)
        handle = self.p.primitiveSocketAccept3Semaphores(listener.handle, 0, 0, ci, ri, wi)
        return Sock(handle, conn, read, write)

    def status(self, s: Sock | bytearray) -> int:
        handle = s.handle if isinstance(s, Sock) else s
        return int(self.p.primitiveSocketConnectionStatus(handle))

    def wait_status(self, s: Sock, expected: int, timeout: float = WAIT) -> bool:
        return wait_until(lambda: self.status(s) == expected, timeout, self.p.vm.sleep)

    def pss(self, s: Sock | bytearray) -> PrivateSocket:
        """The emulator's private structure behind a handle (white-box checks only)."""
        handle = s.handle if isinstance(s, Sock) else s
        return self.p.net.socket_of(handle)[1]

    # -- addresses --------------------------------------------------------------------

    def unix_address(self, path: bytes | str) -> bytearray:
        raw = path.encode() if isinstance(path, str) else path
        return bytearray(build_socket_address(self.session, sockaddr_un(raw)))

    def inet_address(self, port: int, host: str = "127.0.0.1") -> bytearray:
        return bytearray(build_socket_address(self.session, sockaddr_in(host, port)))

    def inet6_address(self, port: int, host: str = "::1") -> bytearray:
        return bytearray(build_socket_address(self.session, sockaddr_in6(host, port)))

    def local_address(self, s: Sock) -> bytearray:
        size = self.p.primitiveSocketLocalAddressSize(s.handle)
        result = bytearray(size)
        self.p.primitiveSocketLocalAddressResult(s.handle, result)
        return result

    # -- connections -------------------------------------------------------------------

    def tcp_listener(self, backlog: int = 5, name: str = "listener") -> tuple[Sock, int]:
        """A TCP listener on 127.0.0.1 and an ephemeral port; answers it and the port."""
        listener = self.create(NetDomain.INET4, SocketType.TCP, name)
        self.p.primitiveSocketListenOnPortBacklogInterface(listener.handle, 0, backlog, LOOPBACK)
        port = self.p.primitiveSocketLocalPort(listener.handle)
        assert port > 0
        return listener, port

    def unix_listener(self, path: str, backlog: int = 5, name: str = "listener") -> Sock:
        listener = self.create(NetDomain.LOCAL, SocketType.TCP, name)
        self.p.primitiveSocketBindTo(listener.handle, self.unix_address(path))
        self.p.primitiveSocketListenWithBacklog(listener.handle, backlog)
        return listener

    def take(self, listener: Sock, name: str = "server") -> Sock:
        """Wait until a backlog > 1 listener has a connection, then accept it."""
        assert listener.conn.wait(WAIT), "the listener was never signalled"
        return self.accept(listener, name)

    def tcp_pair(self) -> tuple[Sock, Sock, Sock]:
        """A connected TCP pair over 127.0.0.1: (client, server side, listener)."""
        listener, port = self.tcp_listener()
        client = self.create(NetDomain.INET4, SocketType.TCP, "client")
        self.p.primitiveSocketConnectToPort(client.handle, LOOPBACK, port)
        server = self.take(listener)
        assert self.wait_status(client, 2)
        return client, server, listener

    def unix_pair(self, directory: str) -> tuple[Sock, Sock, Sock]:
        """A connected Unix stream pair: (client, server side, listener)."""
        path = os.path.join(directory, "pair.sock")
        listener = self.unix_listener(path)
        client = self.create(NetDomain.LOCAL, SocketType.TCP, "client")
        self.p.primitiveSocketConnectTo(client.handle, self.unix_address(path))
        server = self.take(listener)
        assert self.wait_status(client, 2)
        return client, server, listener

    # -- data -----------------------------------------------------------------------------

    def send_all(self, s: Sock, data: bytes) -> None:
        sent = 0
        deadline = time.monotonic() + WAIT
        while sent < len(data):
            n = self.p.primitiveSocketSendDataBufCount(s.handle, data, sent + 1, len(data) - sent)
            sent += n
            if n == 0:
                assert time.monotonic() < deadline, "send did not finish"
                if not self.p.primitiveSocketSendDone(s.handle):
                    s.write.wait(0.1)

    def fill(self, s: Sock) -> None:
        """Send until the socket's buffer is full (a send answers 0); bounded."""
        send = self.p.primitiveSocketSendDataBufCount
        _until_nothing_moves(send, s, bytes(65536), 200, "the send buffer never filled")

    def drain(self, s: Sock) -> None:
        """Receive until nothing is left to read (a receive answers 0); bounded."""
        receive = self.p.primitiveSocketReceiveDataBufCount
        _until_nothing_moves(receive, s, bytearray(65536), 400, "the receive side never emptied")

    def receive_exactly(self, s: Sock, n: int) -> bytes:
        """Read ``n`` bytes, waiting on the read semaphore as Socket>>waitForData does."""
        out = bytearray()
        buf = bytearray(max(n, 1))
        deadline = time.monotonic() + WAIT
        while len(out) < n:
            assert time.monotonic() < deadline, f"only {len(out)} of {n} bytes arrived"
            if not self.p.primitiveSocketReceiveDataAvailable(s.handle):
                assert self.status(s) == 2, "the connection ended"
                s.read.wait(0.1)
                continue
            got = self.p.primitiveSocketReceiveDataBufCount(s.handle, buf, 1, n - len(out))
            out += buf[:got]
        return bytes(out)


def _until_nothing_moves(
    transfer: Callable[[bytearray, bytes | bytearray, int, int], int],
    s: Sock,
    buf: bytes | bytearray,
    attempts: int,
    failure: str,
) -> None:
    """Send or receive a whole ``buf`` at a time (``transfer`` is primitiveSocketSend- or
    ReceiveDataBufCount) until one call moves nothing; at most ``attempts`` calls."""
    for _ in range(attempts):
        if transfer(s.handle, buf, 1, len(buf)) == 0:
            return
    raise AssertionError(failure)


@contextlib.contextmanager
def close_fails_once(
    plugin: SocketPlugin, monkeypatch: pytest.MonkeyPatch, err: int
) -> Iterator[None]:
    """The plugin's next close() fails with ``err`` and leaves the descriptor open.

    Linux's close() never answers EWOULDBLOCK, so this goes through the
    ``Sockets._close_fd`` seam; later closes are real. The descriptor the failed
    close kept is shut on leaving, whatever happened.
    """
    sockets = plugin.sockets
    real_close = sockets._close_fd
    left_open: list[socket.socket] = []

    def failing_close(sock: socket.socket) -> None:
        if not left_open:
            left_open.append(sock)
            raise OSError(err, os.strerror(err))
        real_close(sock)

    monkeypatch.setattr(sockets, "_close_fd", failing_close)
    try:
        yield
    finally:
        for sock in left_open:
            sock.close()


def fails(method: Callable[..., object], *args: object) -> PrimitiveFailed:
    """Call a primitive that must fail; check it names itself, and answer the failure.

    Nothing but PrimitiveFailed may escape a primitive, so any other exception
    propagates and fails the test.
    """
    name = getattr(method, "__name__", "")
    try:
        method(*args)
    except PrimitiveFailed as exc:
        assert exc.primitive == name, f"{name} failed naming {exc.primitive!r}"
        assert exc.reason, "a failure says why"
        return exc
    raise AssertionError(f"{name}{args!r} did not fail")
