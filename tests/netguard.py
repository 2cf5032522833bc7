"""A session-wide guard: no test may reach a destination that is not loopback (issue 10, #9).

The project's tests talk only to 127.0.0.0/8, ::1 and Unix-domain sockets, and look
up only names /etc/hosts answers. This pytest plugin (registered by ``conftest.py``)
wraps, for the whole session, every way Python code in the test process reaches the
network:

- ``socket.socket.connect``, ``connect_ex`` and ``sendto`` (by the destination's
  address; a host *name* in the address is resolved by the C library, so it must be
  one /etc/hosts answers with loopback addresses);
- ``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex`` and ``gethostbyaddr``
  (by whether the C library could send a DNS query for them);
- the emulator's own C-library calls (:mod:`sqsocket.platform.libc`): ``connect`` and
  ``sendto`` with raw ``struct sockaddr`` bytes, and the old resolver's
  ``gethostbyname``/``gethostbyaddr`` and ``getnameinfo``, which glibc answers from
  DNS whenever /etc/hosts does not (``gethostbyaddr`` with the 8-byte length of a
  64-bit VM always asks DNS: docs/quirks.md, 23).

A call that would leave the machine is **recorded and refused** (it fails as it would
in a loopback-only network namespace: ENETUNREACH, EAI_AGAIN, TRY_AGAIN), so no
packet ever goes out. The test that made it fails at teardown, and the session fails
at the end if anything was recorded, in a test or outside one (a thread, collection).

In a loopback-only network namespace (the ``isolated_network`` tests, tests/netns.py)
nothing can leave, so nothing is recorded there.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sqsocket.platform import libc

__all__ = ["Violation", "expect_violations", "rules", "violations"]

HOSTS_FILE = "/etc/hosts"
# glibc's resolver refuses to build a query for a name with a label longer than this
_MAX_LABEL = 63
_TRY_AGAIN = 2  # h_errno


@dataclass(frozen=True)
class Violation:
    """One refused call: who made it, what it was, where it would have gone."""

    test: str  # the test's node id ("" outside any test)
    call: str
    destination: str

    def __str__(self) -> str:
        where = self.test or "outside any test"
        return f"{self.call}({self.destination}) in {where}"


# -- what is loopback -----------------------------------------------------------------------------


def _is_local_ip(text: str) -> bool:
    """127.0.0.0/8, ::1, the wildcard (which Linux sends to the host itself), v4-mapped."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _numeric(text: str) -> bool:
    """A numeric host the C library parses without any lookup (inet_aton forms included)."""
    host = text.split("%", 1)[0]
    try:
        socket.inet_pton(socket.AF_INET6, host)
        return True
    except OSError:
        pass
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        return False


def _hosts_table(path: str = HOSTS_FILE) -> dict[str, set[str]]:
    """/etc/hosts as name (lower case) -> its addresses."""
    table: dict[str, set[str]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) < 2:
                    continue
                for name in fields[1:]:
                    table.setdefault(name.lower(), set()).add(fields[0])
    except OSError:
        pass
    return table


class _Rules:
    """Which destinations and lookups stay on this machine."""

    def __init__(self) -> None:
        self.hosts = _hosts_table()
        self.host_addresses = {a for addrs in self.hosts.values() for a in addrs}
        names = {name for _i, name in socket.if_nameindex()}
        #: True in a loopback-only network namespace: nothing can leave it.
        self.isolated = names <= {"lo"}

    def _name_stays(self, name: str, family: int) -> bool:
        """Could the C library answer this name without asking DNS?"""
        if not name or _numeric(name):
            return True
        labels = (name[:-1] if name.endswith(".") else name).split(".")
        if any(len(label) > _MAX_LABEL or not label for label in labels):
            return True  # no query can be built for it
        addrs = self.hosts.get(name.lower())
        if not addrs:
            return False
        v4 = {a for a in addrs if ":" not in a}
        v6 = addrs - v4
        wanted = v4 if family == socket.AF_INET else v6 if family == socket.AF_INET6 else addrs
        return bool(wanted) and all(_is_local_ip(a) for a in wanted)

    def lookup_stays(self, host: object, family: int = 0) -> bool:
        if host is None or family == socket.AF_UNIX:
            return True  # no host, or a family glibc refuses at once
        if isinstance(host, bytes | bytearray):
            host = bytes(host).split(b"\0", 1)[0].decode("latin-1")
        return self._name_stays(str(host), family)

    def address_stays(self, family: int, address: object) -> bool:
        """A Python socket address: loopback, the wildcard, Unix, or a name hosts maps so."""
        if family not in (socket.AF_INET, socket.AF_INET6):
            return family != getattr(socket, "AF_PACKET", -1)
        if not isinstance(address, tuple) or not address:
            return True  # malformed: the call fails before anything is sent
        host = address[0]
        if isinstance(host, bytes | bytearray):
            host = bytes(host).decode("latin-1")
        host = str(host)
        if host in ("", "<broadcast>"):
            return host == ""
        if _numeric(host):
            return _is_local_ip(host)
        return self._name_stays(host, family)

    def sockaddr_stays(self, sockaddr: bytes, sending: bool) -> bool:
        """Raw ``struct sockaddr`` bytes as the emulator hands them to the kernel."""
        if len(sockaddr) < 2:
            return True
        (family,) = struct.unpack_from("=H", sockaddr)
        # udp_sendmsg takes AF_UNSPEC as AF_INET ("compatibility"); connect() with it
        # only dissolves an association
        if family == socket.AF_INET or (family == socket.AF_UNSPEC and sending):
            if len(sockaddr) < 8:
                return True
            return _is_local_ip(socket.inet_ntoa(sockaddr[4:8]))
        if family == socket.AF_INET6:
            if len(sockaddr) < 24:
                return True
            return _is_local_ip(socket.inet_ntop(socket.AF_INET6, sockaddr[8:24]))
        return family != getattr(socket, "AF_PACKET", -1)

    def reverse_stays(self, address: str) -> bool:
        return address in self.host_addresses


# -- the record -----------------------------------------------------------------------------------


_lock = threading.Lock()
_recorded: list[Violation] = []
_expected: list[list[Violation]] = []
_current_test = ""
_rules: _Rules | None = None


def rules() -> _Rules:
    """The guard's judgement of what stays on this machine (for generators of test input)."""
    global _rules
    if _rules is None:
        _rules = _Rules()
    return _rules


def violations() -> list[Violation]:
    """Everything refused so far in this session (outside :func:`expect_violations`)."""
    with _lock:
        return list(_recorded)


@contextlib.contextmanager
def expect_violations() -> Iterator[list[Violation]]:
    """Collect the violations made inside the block instead of failing (the guard's own tests)."""
    caught: list[Violation] = []
    with _lock:
        _expected.append(caught)
    try:
        yield caught
    finally:
        with _lock:
            _expected.remove(caught)


def _refuse(call: str, destination: str) -> None:
    violation = Violation(_current_test, call, destination)
    with _lock:
        (_expected[-1] if _expected else _recorded).append(violation)


# -- the wrappers ---------------------------------------------------------------------------------

_originals: list[tuple[object, str, object]] = []


def _patch(owner: object, name: str, make: Callable[[Any], Any]) -> None:
    original = getattr(owner, name)
    _originals.append((owner, name, original))
    setattr(owner, name, functools.wraps(original)(make(original)))


def _unreachable(call: str) -> OSError:
    """What a loopback-only namespace answers a send or connect beyond it."""
    return OSError(
        errno.ENETUNREACH, f"{os.strerror(errno.ENETUNREACH)} (tests/netguard.py: {call})"
    )


def _install(rules: _Rules) -> None:
    def connect(original: Any) -> Any:
        def wrapper(self: socket.socket, address: Any) -> Any:
            if not rules.address_stays(self.family, address):
                _refuse("socket.connect", repr(address))
                raise _unreachable("connect")
            return original(self, address)

        return wrapper

    def connect_ex(original: Any) -> Any:
        def wrapper(self: socket.socket, address: Any) -> Any:
            if not rules.address_stays(self.family, address):
                _refuse("socket.connect_ex", repr(address))
                return errno.ENETUNREACH
            return original(self, address)

        return wrapper

    def sendto(original: Any) -> Any:
        def wrapper(self: socket.socket, data: Any, *rest: Any) -> Any:
            address = rest[-1] if rest else None
            if not rules.address_stays(self.family, address):
                _refuse("socket.sendto", repr(address))
                raise _unreachable("sendto")
            return original(self, data, *rest)

        return wrapper

    def getaddrinfo(original: Any) -> Any:
        def wrapper(
            host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
        ) -> Any:
            if not int(flags) & socket.AI_NUMERICHOST and not rules.lookup_stays(host, family):
                _refuse("socket.getaddrinfo", f"{host!r}, family {int(family)}")
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            return original(host, port, family, type, proto, flags)

        return wrapper

    def by_name(original: Any) -> Any:
        def wrapper(host: Any) -> Any:
            if not rules.lookup_stays(host, socket.AF_INET):
                _refuse(f"socket.{original.__name__}", repr(host))
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            return original(host)

        return wrapper

    def by_addr(original: Any) -> Any:
        def wrapper(host: Any) -> Any:
            text = str(host)
            if not (rules.reverse_stays(text) or (not _numeric(text) and rules.lookup_stays(text))):
                _refuse("socket.gethostbyaddr", repr(host))
                raise socket.herror(_TRY_AGAIN, "Host name lookup failure")
            return original(host)

        return wrapper

    _patch(socket.socket, "connect", connect)
    _patch(socket.socket, "connect_ex", connect_ex)
    _patch(socket.socket, "sendto", sendto)
    _patch(socket, "getaddrinfo", getaddrinfo)
    _patch(socket, "gethostbyname", by_name)
    _patch(socket, "gethostbyname_ex", by_name)
    _patch(socket, "gethostbyaddr", by_addr)

    # the emulator's C-library calls
    def c_connect(original: Any) -> Any:
        def wrapper(fd: int, sockaddr: bytes) -> Any:
            if not rules.sockaddr_stays(bytes(sockaddr), sending=False):
                _refuse("libc.connect", bytes(sockaddr).hex())
                raise _unreachable("connect")
            return original(fd, sockaddr)

        return wrapper

    def c_sendto(original: Any) -> Any:
        def wrapper(fd: int, data: Any, sockaddr: bytes | None) -> Any:
            if sockaddr is not None and not rules.sockaddr_stays(bytes(sockaddr), sending=True):
                _refuse("libc.sendto", bytes(sockaddr).hex())
                raise _unreachable("sendto")
            return original(fd, data, sockaddr)

        return wrapper

    def c_gethostbyname(original: Any) -> Any:
        def wrapper(name: bytes) -> Any:
            if not rules.lookup_stays(name, socket.AF_INET):
                _refuse("libc.gethostbyname", repr(bytes(name)))
                return 0, _TRY_AGAIN
            return original(name)

        return wrapper

    def c_gethostbyaddr(original: Any) -> Any:
        def wrapper(address: int, length: int = 4) -> Any:
            dotted = socket.inet_ntoa(address.to_bytes(4, "big"))
            # any length but 4 is refused by /etc/hosts and goes to DNS (quirk 23)
            if length != 4 or not rules.reverse_stays(dotted):
                _refuse("libc.gethostbyaddr", f"{dotted}, length {length}")
                return b"", _TRY_AGAIN
            return original(address, length)

        return wrapper

    def c_getnameinfo(original: Any) -> Any:
        def wrapper(sockaddr: bytes, flags: int, *rest: Any) -> Any:
            raw = bytes(sockaddr)
            if not flags & libc.NI_NUMERICHOST and len(raw) >= 2:
                (family,) = struct.unpack_from("=H", raw)
                text = ""
                if family == socket.AF_INET and len(raw) >= 8:
                    text = socket.inet_ntoa(raw[4:8])
                elif family == socket.AF_INET6 and len(raw) >= 24:
                    text = socket.inet_ntop(socket.AF_INET6, raw[8:24])
                if text and not rules.reverse_stays(text):
                    _refuse("libc.getnameinfo", text)
                    return socket.EAI_AGAIN, b"", b""  # what a loopback-only namespace answers
            return original(sockaddr, flags, *rest)

        return wrapper

    _patch(libc, "connect", c_connect)
    _patch(libc, "sendto", c_sendto)
    _patch(libc, "gethostbyname", c_gethostbyname)
    _patch(libc, "gethostbyaddr", c_gethostbyaddr)
    _patch(libc, "getnameinfo", c_getnameinfo)


def _uninstall() -> None:
    while _originals:
        owner, name, original = _originals.pop()
        setattr(owner, name, original)


# -- pytest hooks ---------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    if not rules().isolated:
        _install(rules())


def pytest_unconfigure(config: pytest.Config) -> None:
    _uninstall()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _current_test
    _current_test = item.nodeid
    try:
        yield
    finally:
        _current_test = ""


@pytest.fixture(autouse=True)
def _no_traffic_off_this_machine(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test that tried to reach a non-loopback destination (it was refused)."""
    before = len(violations())
    yield
    new = violations()[before:]
    mine = [v for v in new if v.test == request.node.nodeid]
    if mine:
        pytest.fail(
            "this test tried to reach the network beyond loopback (refused): "
            + "; ".join(f"{v.call}({v.destination})" for v in mine),
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    recorded = violations()
    if recorded:
        terminalreporter.section("non-loopback destinations (refused by tests/netguard.py)")
        for v in recorded:
            terminalreporter.line(str(v))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if violations() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
