"""The resolvers of sqUnixSocket.c: the old synchronous IPv4 one and the 2007 one.

Both are synchronous ("we're done before we even started") and keep their
results in module state (here: in this object) until the next lookup.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from sqsocket.platform import libc
from sqsocket.platform.constants import (
    FAMILY_MAX,
    PROTOCOL_MAX,
    SUN_PATH_SIZE,
    TYPE_MAX,
    AddressFamily,
    AddressProtocol,
    AddressType,
    ResolverFlags,
    ResolverStatus,
)
from sqsocket.platform.failure import PlatformFailure
from sqsocket.platform.layouts import build_socket_address, sockaddr_from_python, sockaddr_un
from sqsocket.platform.network import Network
from sqsocket.platform.profiles import LocalAddressRule, NameLookup, ResolverChecks


@dataclass(frozen=True)
class AddrInfo:
    """One ``struct addrinfo`` of the current result list."""

    family: int
    socktype: int
    protocol: int
    sockaddr: bytes


def _c_string(data: bytes) -> bytes:
    """What C sees of a buffer copied and NUL-terminated: up to the first NUL."""
    return data.split(b"\0", 1)[0]


class Resolver:
    def __init__(self, net: Network) -> None:
        self.net = net
        # old resolver
        self.last_name = b""
        self.last_addr = 0
        self.last_error = 0
        # new resolver
        self.addr_list: list[AddrInfo] = []
        self.addr_index = -1  # -1: addrInfo == NULL
        self.host_name_info = b""
        self.serv_name_info = b""
        self.name_info_valid = False
        self.local_host_name = b""

    @property
    def limit(self) -> int:
        """MAXHOSTNAMELEN (FQDN_LEN): the longest name this build takes."""
        return self.net.profile.max_name_length

    def network_started(self) -> None:
        """What sqNetworkInit does for the resolver: remember the host name and look it up.

        pharo-vm (d46d3678a) no longer looks it up, so its lastError is left alone.
        """
        self.local_host_name = socket.gethostname().encode()[: self.limit]
        if self.net.profile.lookup_host_at_init:
            self._name_to_addr(self.local_host_name)

    def _name_to_addr(self, name: bytes) -> int:
        """``nameToAddr``: the IPv4 address of a name, 0 on failure (which sets lastError).

        gethostbyname stores h_errno (0 when it succeeded); pharo-vm's getaddrinfo
        stores the EAI code (negative) on failure and leaves lastError on success.
        """
        if self.net.profile.name_lookup is NameLookup.GETADDRINFO:
            addr, err = libc.getaddrinfo_ipv4(name)
            if err:
                self.last_error = err
            return addr
        addr, self.last_error = libc.gethostbyname(name)
        return addr

    # -- old API ----------------------------------------------------------------

    def status(self) -> int:
        """``sqResolverStatus``."""
        if not self.net.session:
            return ResolverStatus.UNINITIALISED
        if self.last_error != 0:
            return ResolverStatus.ERROR
        return ResolverStatus.SUCCESS

    def start_name_lookup(self, name: bytes) -> None:
        """``sqResolverStartNameLookup``: gethostbyname now, then signal the resolver semaphore."""
        self.last_name = _c_string(name[: self.limit])
        self.last_error = 0
        self.last_addr = self._name_to_addr(self.last_name)
        self.net.vm.signal_semaphore_with_index(self.net.resolver_sema)

    def start_address_lookup(self, address: int) -> None:
        """``sqResolverStartAddrLookup``: gethostbyaddr now; note: no semaphore signal."""
        self.last_error = 0
        name, self.last_error = libc.gethostbyaddr(address, self.net.profile.address_lookup_length)
        self.last_name = name[: self.limit]

    def name_lookup_result(self) -> int:
        """``sqResolverNameLookupResult``; pharo-vm (bff779466) fails while lastError != 0."""
        if self.net.profile.name_lookup_result_fails_on_error and self.last_error:
            raise PlatformFailure(f"the last lookup failed (ResolverError {self.last_error})")
        return self.last_addr

    def address_lookup_result(self) -> bytes:
        return self.last_name

    def error(self) -> int:
        return self.last_error

    def local_address(self) -> int:
        """``sqResolverLocalAddress``, by the profile's rule (see :func:`choose_local_address`)."""
        rule = self.net.profile.local_address_rule
        if rule is LocalAddressRule.HOST_NAME:
            # the older code: nameToAddr(localHostName), which also sets lastError
            return self._name_to_addr(self.local_host_name)
        try:
            interfaces = libc.getifaddrs()
        except OSError as exc:
            self.net.c.failed(exc.errno)
            raise PlatformFailure(f"getifaddrs() failed: {exc.strerror}") from None
        return choose_local_address(interfaces, rule)

    # -- new API: getaddrinfo ------------------------------------------------------

    def _current(self) -> AddrInfo | None:
        if 0 <= self.addr_index < len(self.addr_list):
            return self.addr_list[self.addr_index]
        return None

    def get_address_info(
        self, host: bytes, service: bytes, flags: int, family: int, socktype: int, protocol: int
    ) -> None:
        """``sqResolverGetAddressInfoHostSizeServiceSizeFlagsFamilyTypeProtocol``."""
        self.addr_list = []
        self.addr_index = -1
        profile = self.net.profile
        limit = self.limit
        problems = []
        if not self.net.session:
            problems.append("the network is not initialized")
        if len(host) > limit:
            problems.append(f"host name longer than {limit} bytes")
        if len(service) > limit:
            problems.append(f"service name longer than {limit} bytes")
        if profile.resolver_checks is ResolverChecks.UP_FRONT:
            problems += _range_problems(family, socktype, protocol, False)
        if problems:
            raise PlatformFailure("; ".join(problems))

        if (
            service
            and family == AddressFamily.LOCAL
            and len(service) < SUN_PATH_SIZE
            and not flags & ResolverFlags.NUMERIC
        ):
            if not profile.local_lookup_stat:
                # PR 691: any path gets its sockaddr_un, whether anything is there or not
                self._local_result(service)
                return
            # stat() is given the image's String itself, not the NUL-terminated copy:
            # it reads up to the first NUL, which is in the String when the image put
            # one there, in the object's padding otherwise -- or, when the String fills
            # its last word exactly, in the next object's header (not found).
            path = _c_string(service)
            word = self.net.profile.unterminated_path_word
            if b"\0" not in service and word and len(service) % word == 0:
                path += b"\x01"
            if self._looks_like_socket(path):
                self._local_result(service)
                return

        if profile.resolver_checks is not ResolverChecks.UP_FRONT:
            # eb2d9e2d1: the switches that build the request fail on what they lack a case for
            unspecified = profile.resolver_checks is ResolverChecks.IN_SWITCH_UNSPECIFIED_FAILS
            problems = _range_problems(family, socktype, protocol, unspecified)
            if problems:
                raise PlatformFailure("; ".join(problems))

        ai_flags = 0
        if flags & ResolverFlags.NUMERIC:
            ai_flags |= socket.AI_NUMERICHOST
        if flags & ResolverFlags.PASSIVE:
            ai_flags |= socket.AI_PASSIVE
        ai_family = {
            AddressFamily.LOCAL: socket.AF_UNIX,
            AddressFamily.INET4: socket.AF_INET,
            AddressFamily.INET6: socket.AF_INET6,
        }.get(AddressFamily(family), socket.AF_UNSPEC)
        ai_type = {
            AddressType.STREAM: socket.SOCK_STREAM,
            AddressType.DGRAM: socket.SOCK_DGRAM,
        }.get(AddressType(socktype), 0)
        ai_proto = {
            AddressProtocol.TCP: socket.IPPROTO_TCP,
            AddressProtocol.UDP: socket.IPPROTO_UDP,
        }.get(AddressProtocol(protocol), 0)
        try:
            results = socket.getaddrinfo(
                _c_string(host) if host else None,
                _c_string(service) if service else None,
                ai_family,
                ai_type,
                ai_proto,
                ai_flags,
            )
        except (OSError, UnicodeError) as exc:
            # glibc has no EAI_BADHINTS, so every getaddrinfo error "succeeds with
            # zero results", and the C code prints it on stderr
            code = exc.errno if isinstance(exc, socket.gaierror) and exc.errno else 0
            self.net.fprintf(f"getaddrinfo: {libc.gai_strerror(code) if code else exc}\n")
            results = []
        self.addr_list = [
            AddrInfo(fam, kind, proto, sockaddr_from_python(fam, addr))
            for fam, kind, proto, _canon, addr in results
        ]
        self.addr_index = 0 if self.addr_list else -1
        self.net.vm.signal_semaphore_with_index(self.net.resolver_sema)

    def _local_result(self, service: bytes) -> None:
        """The LOCAL shortcut's one result: a full 110-byte sockaddr_un, SOCK_STREAM."""
        self.addr_list = [AddrInfo(socket.AF_UNIX, socket.SOCK_STREAM, 0, sockaddr_un(service))]
        self.addr_index = 0
        self.net.vm.signal_semaphore_with_index(self.net.resolver_sema)

    def _looks_like_socket(self, path: bytes) -> bool:
        try:
            mode = socket_stat(path)
        except OSError as exc:
            self.net.c.failed(exc.errno)  # stat() failing leaves ENOENT (say) in errno
            return False
        if self.net.profile.local_lookup_mode_bit_test:
            return bool(mode & stat.S_IFSOCK)
        return stat.S_ISSOCK(mode)

    def address_info_size(self) -> int:
        """``sqResolverGetAddressInfoSize``: -1 when there is no current result."""
        cur = self._current()
        return -1 if cur is None else 8 + len(cur.sockaddr)

    def address_info_result(self, size: int) -> bytes:
        cur = self._current()
        if cur is None:
            raise PlatformFailure("there is no current getAddressInfo result")
        if size < 8 + len(cur.sockaddr):
            raise PlatformFailure(
                f"the address object has {size} bytes; the result needs {8 + len(cur.sockaddr)}"
            )
        return build_socket_address(self.net.session, cur.sockaddr)

    def address_info_family(self) -> int:
        cur = self._require()
        families: dict[int, AddressFamily] = {
            socket.AF_UNIX: AddressFamily.LOCAL,
            socket.AF_INET: AddressFamily.INET4,
            socket.AF_INET6: AddressFamily.INET6,
        }
        return families.get(cur.family, AddressFamily.UNSPECIFIED)

    def address_info_type(self) -> int:
        cur = self._require()
        types: dict[int, AddressType] = {
            socket.SOCK_STREAM: AddressType.STREAM,
            socket.SOCK_DGRAM: AddressType.DGRAM,
        }
        return types.get(cur.socktype, AddressType.UNSPECIFIED)

    def address_info_protocol(self) -> int:
        cur = self._require()
        return {
            socket.IPPROTO_TCP: AddressProtocol.TCP,
            socket.IPPROTO_UDP: AddressProtocol.UDP,
        }.get(cur.protocol, AddressProtocol.UNSPECIFIED)

    def address_info_next(self) -> bool:
        """``sqResolverGetAddressInfoNext``: advance; false (and no current result) at the end."""
        if self._current() is None:
            return False
        self.addr_index += 1
        if self.addr_index >= len(self.addr_list):
            self.addr_index = -1
            return False
        return True

    def _require(self) -> AddrInfo:
        cur = self._current()
        if cur is None:
            raise PlatformFailure("there is no current getAddressInfo result")
        return cur

    # -- new API: getnameinfo --------------------------------------------------------

    def get_name_info(self, address: bytes | bytearray, flags: int) -> None:
        self.name_info_valid = False
        sockaddr = self.net.check_address(address)
        ni_flags = libc.NI_NOFQDN
        if flags & ResolverFlags.NUMERIC:
            ni_flags |= libc.NI_NUMERICHOST | libc.NI_NUMERICSERV
        # sqResolverGetNameInfoSizeFlags passes its static hostNameInfo/servNameInfo,
        # MAXHOSTNAMELEN+1 bytes each: longer names (a Unix path of 65 bytes or more on
        # a 64-byte build) fail with EAI_OVERFLOW, shorter ones fit (NI_MAXSERV would
        # refuse 32+)
        limit = self.limit
        err, host, serv = libc.getnameinfo(sockaddr, ni_flags, limit + 1, limit + 1)
        if err:
            self.last_error = err
            self.net.fprintf(f"getnameinfo: {libc.gai_strerror(err)}\n")
            raise PlatformFailure(f"getnameinfo: {libc.gai_strerror(err)} ({err})")
        self.host_name_info = host[:limit]
        self.serv_name_info = serv[:limit]
        self.name_info_valid = True
        self.net.vm.signal_semaphore_with_index(self.net.resolver_sema)

    def name_info_host(self) -> bytes:
        if not self.name_info_valid:
            raise PlatformFailure("there is no getNameInfo result")
        return self.host_name_info

    def name_info_service(self) -> bytes:
        if not self.name_info_valid:
            raise PlatformFailure("there is no getNameInfo result")
        return self.serv_name_info

    def host_name(self) -> bytes:
        """``gethostname()`` into a MAXHOSTNAMELEN+1 buffer."""
        return socket.gethostname().encode()[: self.limit + 1]


def socket_stat(path: bytes) -> int:
    """st_mode of ``stat(path)`` (follows symlinks, as the C code's stat does)."""
    return os.stat(path).st_mode


def _range_problems(family: int, socktype: int, protocol: int, unspecified: bool) -> list[str]:
    """What getAddressInfo's checks refuse; ``unspecified``: 0 type or protocol too."""
    problems = []
    if not 0 <= family < FAMILY_MAX:
        problems.append(f"family {family} is not 0..{FAMILY_MAX - 1}")
    low = 1 if unspecified else 0
    if not low <= socktype < TYPE_MAX:
        problems.append(f"type {socktype} is not {low}..{TYPE_MAX - 1}")
    if not low <= protocol < PROTOCOL_MAX:
        problems.append(f"protocol {protocol} is not {low}..{PROTOCOL_MAX - 1}")
    return problems


_FLAG_BITS = libc.IFF_UP | libc.IFF_BROADCAST | libc.IFF_RUNNING


def choose_local_address(interfaces: Iterable[libc.Interface], rule: LocalAddressRule) -> int:
    """The address sqResolverLocalAddress answers from ``getifaddrs()`` (0: none).

    ETH0_WLAN0: the first AF_INET entry of an interface named exactly ``eth0`` or
    ``wlan0``, in list order. INTERFACE_FLAGS (PR 458): the first AF_INET entry that is
    not loopback and has any of UP, BROADCAST, RUNNING (the code tests the three with one
    mask, so one bit is enough). getnameinfo(NI_NUMERICHOST) of an AF_INET address,
    which both rules ask, cannot fail, so it is not modelled.
    """
    for ifa in interfaces:
        if ifa.family != socket.AF_INET or ifa.ipv4 is None:
            continue
        if rule is LocalAddressRule.ETH0_WLAN0 and ifa.name in (b"eth0", b"wlan0"):
            return ifa.ipv4
        if (
            rule is LocalAddressRule.INTERFACE_FLAGS
            and ifa.flags & _FLAG_BITS
            and not ifa.flags & libc.IFF_LOOPBACK
        ):
            return ifa.ipv4
    return 0
