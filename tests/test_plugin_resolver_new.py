"""The 2007 resolver: getaddrinfo (with its Unix-path shortcut), getnameinfo, gethostname.

Only numeric hosts, 'localhost' (from /etc/hosts) and Unix paths are looked up:
nothing here sends a DNS query.
"""

from __future__ import annotations

import os
import socket

import pytest
from plugin_support import WAIT, Harness, fails, has_ipv6_loopback, path_in

from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.layouts import build_socket_address, sockaddr_in, sockaddr_to_python

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]

NUMERIC, PASSIVE = 1, 2
UNSPEC, FAM_LOCAL, FAM_INET4, FAM_INET6 = 0, 1, 2, 3
STREAM, DGRAM = 1, 2
PROTO_TCP, PROTO_UDP = 1, 2
EAI_FAMILY = socket.EAI_FAMILY


def results(h: Harness) -> list[tuple[int, int, int, bytes]]:
    """Walk the result list: (family, type, protocol, address) of each."""
    out = []
    while True:
        size = h.p.primitiveResolverGetAddressInfoSize()
        if size < 0:
            break
        address = bytearray(size)
        h.p.primitiveResolverGetAddressInfoResult(address)
        out.append(
            (
                h.p.primitiveResolverGetAddressInfoFamily(),
                h.p.primitiveResolverGetAddressInfoType(),
                h.p.primitiveResolverGetAddressInfoProtocol(),
                bytes(address),
            )
        )
        if not h.p.primitiveResolverGetAddressInfoNext():
            break
    return out


def assert_no_result(h: Harness) -> None:
    assert h.p.primitiveResolverGetAddressInfoSize() == -1
    fails(h.p.primitiveResolverGetAddressInfoFamily)
    fails(h.p.primitiveResolverGetAddressInfoType)
    fails(h.p.primitiveResolverGetAddressInfoProtocol)
    fails(h.p.primitiveResolverGetAddressInfoResult, bytearray(128))
    assert h.p.primitiveResolverGetAddressInfoNext() is False


# -- getaddrinfo ------------------------------------------------------------------------------


def test_numeric_inet4_stream_tcp(harness: Harness) -> None:
    harness.p.primitiveResolverGetAddressInfo(
        "127.0.0.1", "80", NUMERIC, FAM_INET4, STREAM, PROTO_TCP
    )
    assert harness.resolver.wait(WAIT)
    found = results(harness)
    assert len(found) == 1
    family, kind, protocol, address = found[0]
    assert (family, kind, protocol) == (FAM_INET4, STREAM, PROTO_TCP)
    assert address == build_socket_address(harness.session, sockaddr_in("127.0.0.1", 80))
    assert_no_result(harness)  # Next went past the end


def test_localhost_gives_several_results(harness: Harness) -> None:
    harness.p.primitiveResolverGetAddressInfo("localhost", "", 0, UNSPEC, 0, 0)
    found = results(harness)
    assert len(found) >= 2, "stream, datagram (and raw) for each address"
    families = {f for f, _, _, _ in found}
    assert FAM_INET4 in families and families <= {FAM_INET4, FAM_INET6}
    assert {(k, p) for _, k, p, _ in found} >= {(STREAM, PROTO_TCP), (DGRAM, PROTO_UDP)}
    for family, _kind, _protocol, address in found:
        py_family, where = sockaddr_to_python(address[8:])
        assert py_family == (socket.AF_INET if family == FAM_INET4 else socket.AF_INET6)
        assert isinstance(where, tuple) and where[0] in ("127.0.0.1", "::1")


def test_a_result_buffer_may_be_larger_but_not_smaller(harness: Harness) -> None:
    harness.p.primitiveResolverGetAddressInfo("127.0.0.1", "7", NUMERIC, FAM_INET4, DGRAM, 0)
    size = harness.p.primitiveResolverGetAddressInfoSize()
    assert size == 24
    fails(harness.p.primitiveResolverGetAddressInfoResult, bytearray(size - 1))
    fails(harness.p.primitiveResolverGetAddressInfoResult, bytes(size))
    fails(harness.p.primitiveResolverGetAddressInfoResult, "x" * size)
    larger = bytearray(b"\xee" * (size + 4))
    harness.p.primitiveResolverGetAddressInfoResult(larger)
    assert larger[size:] == b"\xee" * 4, "only the address is written"
    assert harness.p.primitiveResolverGetAddressInfoType() == DGRAM


def test_passive_with_no_host_is_the_wildcard(harness: Harness) -> None:
    harness.p.primitiveResolverGetAddressInfo("", "8080", PASSIVE, FAM_INET4, STREAM, 0)
    (found,) = results(harness)
    assert sockaddr_to_python(found[3][8:]) == (socket.AF_INET, ("0.0.0.0", 8080))


def test_ipv6_numeric(harness: Harness) -> None:
    if not has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    harness.p.primitiveResolverGetAddressInfo("::1", "443", NUMERIC, FAM_INET6, STREAM, 0)
    (found,) = results(harness)
    assert found[0] == FAM_INET6 and len(found[3]) == 8 + 28


@pytest.mark.parametrize(
    ("host", "service", "flags", "family"),
    [
        ("localhost", "80", NUMERIC, FAM_INET4),  # a name where a number is required
        ("", "", 0, UNSPEC),  # neither host nor service
        ("127.0.0.1", "no-such-service-name", 0, FAM_INET4),
        ("", "/no/such/socket", 0, FAM_LOCAL),  # getaddrinfo knows no AF_UNIX
    ],
)
def test_lookups_without_results_succeed_empty(
    harness: Harness, host: str, service: str, flags: int, family: int
) -> None:
    harness.p.primitiveResolverGetAddressInfo(host, service, flags, family, 0, 0)
    assert harness.resolver.wait(WAIT), "no result is still an answer"
    assert_no_result(harness)


@pytest.mark.parametrize(
    "args",
    [
        ("127.0.0.1", "80", 0, 4, 0, 0),  # family out of range
        ("127.0.0.1", "80", 0, -1, 0, 0),
        ("127.0.0.1", "80", 0, 0, 3, 0),  # type out of range
        ("127.0.0.1", "80", 0, 0, 0, 3),  # protocol out of range
        ("h" * 65, "80", 0, 0, 0, 0),  # longer than MAXHOSTNAMELEN
        ("127.0.0.1", "s" * 65, 0, 0, 0, 0),
        (None, "80", 0, 0, 0, 0),
        ("127.0.0.1", 80, 0, 0, 0, 0),
        ("127.0.0.1", "80", "0", 0, 0, 0),
        ("127.0.0.1", "80", 0, True, 0, 0),
    ],
)
def test_get_address_info_argument_failures(harness: Harness, args: tuple[object, ...]) -> None:
    harness.p.primitiveResolverGetAddressInfo("127.0.0.1", "80", NUMERIC, FAM_INET4, 0, 0)
    fails(harness.p.primitiveResolverGetAddressInfo, *args)
    assert harness.resolver.signals == 1, "a failed request signals nothing"


def test_the_previous_results_are_freed_by_a_failed_request(harness: Harness) -> None:
    harness.p.primitiveResolverGetAddressInfo("127.0.0.1", "80", NUMERIC, FAM_INET4, 0, 0)
    assert harness.p.primitiveResolverGetAddressInfoSize() == 24
    fails(harness.p.primitiveResolverGetAddressInfo, "127.0.0.1", "80", 0, 9, 0, 0)
    assert_no_result(harness)


# -- the Unix-path shortcut ----------------------------------------------------------------------


def test_local_family_with_a_socket_path(harness: Harness, sockdir: str) -> None:
    path = path_in(sockdir, "srv.sock")
    harness.unix_listener(path)
    harness.p.primitiveResolverGetAddressInfo("", path, 0, FAM_LOCAL, 0, 0)
    assert harness.resolver.wait(WAIT)
    (found,) = results(harness)
    assert found[:3] == (FAM_LOCAL, STREAM, 0)
    assert len(found[3]) == 118


def test_local_family_numeric_flag_skips_the_shortcut(harness: Harness, sockdir: str) -> None:
    path = path_in(sockdir, "srv.sock")
    harness.unix_listener(path)
    harness.p.primitiveResolverGetAddressInfo("", path, NUMERIC, FAM_LOCAL, 0, 0)
    assert_no_result(harness)


@pytest.mark.parametrize(("profile", "found"), [("squeak-4.10", True), ("strict", False)])
def test_local_family_with_a_directory_depends_on_the_profile(
    sockdir: str, profile: str, found: bool
) -> None:
    """st_mode & S_IFSOCK is a bit test: directories and regular files pass it too."""
    regular = path_in(sockdir, "plain-file")
    with open(regular, "w"):
        pass
    with Harness.started(profile) as h:
        for path in (sockdir, regular):
            h.p.primitiveResolverGetAddressInfo("", path, 0, FAM_LOCAL, 0, 0)
            assert (h.p.primitiveResolverGetAddressInfoSize() == 118) is found


@pytest.mark.parametrize(("profile", "found"), [("squeak-4.10", False), ("strict", True)])
def test_a_socket_path_filling_its_last_word_is_not_found_by_squeak_4_10(
    sockdir: str, profile: str, found: bool
) -> None:
    """stat() is given the image's String, not NUL-terminated: a path whose length is a
    multiple of 4 runs on into the next object's header (unterminated_path_word)."""
    path = os.path.join(sockdir, "s")
    path += "x" * (-len(path) % 4)
    assert len(path) % 4 == 0
    with Harness.started(profile) as h:
        h.unix_listener(path)
        h.p.primitiveResolverGetAddressInfo("", path, 0, FAM_LOCAL, 0, 0)
        assert (h.p.primitiveResolverGetAddressInfoSize() == 118) is found
        # one byte more and squeak-4.10 finds it too
        longer = path + "y"
        h.unix_listener(longer)
        h.p.primitiveResolverGetAddressInfo("", longer, 0, FAM_LOCAL, 0, 0)
        assert h.p.primitiveResolverGetAddressInfoSize() == 118


# -- getnameinfo ----------------------------------------------------------------------------------


def name_info(h: Harness) -> tuple[bytes, bytes]:
    host_size = h.p.primitiveResolverGetNameInfoHostSize()
    service_size = h.p.primitiveResolverGetNameInfoServiceSize()
    host, service = bytearray(host_size), bytearray(service_size)
    h.p.primitiveResolverGetNameInfoHostResult(host)
    h.p.primitiveResolverGetNameInfoServiceResult(service)
    return bytes(host), bytes(service)


def test_name_info_numeric_and_by_name(harness: Harness) -> None:
    address = harness.inet_address(80)
    harness.p.primitiveResolverGetNameInfo(address, NUMERIC)
    assert harness.resolver.wait(WAIT)
    assert name_info(harness) == (b"127.0.0.1", b"80")
    harness.p.primitiveResolverGetNameInfo(address, 0)
    host, service = name_info(harness)
    assert host == socket.gethostbyaddr("127.0.0.1")[0].encode()
    assert service in (b"http", b"80")


def test_name_info_of_a_unix_path(harness: Harness, sockdir: str) -> None:
    """glibc answers the node name and the path; both fit MAXHOSTNAMELEN+1 byte buffers."""
    path = os.path.join(sockdir, "a-rather-longer-socket-name-over-32-bytes.sock")
    assert 32 < len(path) <= 64
    harness.p.primitiveResolverGetNameInfo(harness.unix_address(path), NUMERIC)
    host, service = name_info(harness)
    assert service == path.encode()
    assert host in (b"localhost", os.uname().nodename.encode())


def test_name_info_of_a_path_over_64_bytes_fails(harness: Harness, sockdir: str) -> None:
    path = os.path.join(sockdir, "p" * (70 - len(sockdir)))
    assert len(path) > 64
    fails(harness.p.primitiveResolverGetNameInfo, harness.unix_address(path), NUMERIC)
    assert harness.p.primitiveResolverError() == socket.EAI_OVERFLOW


def test_name_info_results_need_room_and_a_mutable_buffer(harness: Harness) -> None:
    harness.p.primitiveResolverGetNameInfo(harness.inet_address(80), NUMERIC)
    fails(harness.p.primitiveResolverGetNameInfoHostResult, bytearray(8))
    fails(harness.p.primitiveResolverGetNameInfoHostResult, b"x" * 9)
    fails(harness.p.primitiveResolverGetNameInfoServiceResult, bytearray(1))
    fails(harness.p.primitiveResolverGetNameInfoServiceResult, "xx")
    bigger = bytearray(b"#" * 12)
    harness.p.primitiveResolverGetNameInfoHostResult(bigger)
    assert bigger == b"127.0.0.1###"


def test_name_info_failures_leave_no_result(harness: Harness) -> None:
    harness.p.primitiveResolverGetNameInfo(harness.inet_address(80), NUMERIC)
    wrong_session = harness.inet_address(80)
    wrong_session[0] ^= 1
    fails(harness.p.primitiveResolverGetNameInfo, wrong_session, NUMERIC)
    for getter in (
        harness.p.primitiveResolverGetNameInfoHostSize,
        harness.p.primitiveResolverGetNameInfoServiceSize,
    ):
        fails(getter)
    fails(harness.p.primitiveResolverGetNameInfoHostResult, bytearray(64))
    fails(harness.p.primitiveResolverGetNameInfoServiceResult, bytearray(64))
    unknown_family = bytearray(build_socket_address(harness.session, b"\x63\x00" + bytes(14)))
    fails(harness.p.primitiveResolverGetNameInfo, unknown_family, NUMERIC)
    assert harness.p.primitiveResolverError() == EAI_FAMILY
    assert harness.p.primitiveResolverStatus() == 3
    fails(harness.p.primitiveResolverGetNameInfo, harness.inet_address(80), "1")
    fails(harness.p.primitiveResolverGetNameInfo, 80, NUMERIC)


def test_name_info_before_any_request_fails(harness: Harness) -> None:
    fails(harness.p.primitiveResolverGetNameInfoHostSize)
    fails(harness.p.primitiveResolverGetNameInfoServiceSize)


# -- gethostname --------------------------------------------------------------------------------


def test_host_name(harness: Harness) -> None:
    expected = socket.gethostname().encode()
    size = harness.p.primitiveResolverHostNameSize()
    assert size == len(expected)
    name = bytearray(size)
    harness.p.primitiveResolverHostNameResult(name)
    assert name == expected
    fails(harness.p.primitiveResolverHostNameResult, bytearray(size - 1))
    fails(harness.p.primitiveResolverHostNameResult, bytes(size))
    roomy = bytearray(size + 3)
    harness.p.primitiveResolverHostNameResult(roomy)
    assert roomy[:size] == expected


def test_resolver_results_outlive_sockets(harness: Harness, sockdir: str) -> None:
    """The result list is module state: it survives until the next lookup."""
    harness.p.primitiveResolverGetAddressInfo("127.0.0.1", "1", NUMERIC, FAM_INET4, 0, 0)
    client, server, listener = harness.unix_pair(sockdir)
    for s in (client, server, listener):
        harness.p.primitiveSocketDestroy(s.handle)
    assert harness.p.primitiveResolverGetAddressInfoSize() == 24
    assert harness.create(NetDomain.LOCAL, SocketType.TCP)
