"""The old, synchronous IPv4 resolver: gethostbyname, gethostbyaddr, status and error.

Lookups touch only /etc/hosts: 'localhost' and 127.0.0.1 are there, and the
unknown name is a single 64-character label, which the DNS resolver refuses to
put in a query (labels are at most 63), so no packet leaves the machine.
"""

from __future__ import annotations

import socket

import pytest
from plugin_support import LOOPBACK, WAIT, Harness, fails

from sqsocket.platform.profiles import DEFAULT_PROFILE, PROFILES, STRICT, get_profile
from sqsocket.plugin import SocketPlugin

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]

UNKNOWN = "a" * 64  # fits lastName (MAXHOSTNAMELEN), can never be resolved
HOST_NOT_FOUND = 1


def test_name_lookup_of_localhost(harness: Harness) -> None:
    assert harness.p.primitiveResolverStartNameLookup("localhost") is None
    assert harness.resolver.wait(WAIT), "we're done before we even started: signalled"
    assert harness.p.primitiveResolverStatus() == 1
    assert harness.p.primitiveResolverError() == 0
    result = harness.p.primitiveResolverNameLookupResult()
    assert result == LOOPBACK and isinstance(result, bytes) and len(result) == 4


def test_name_lookup_of_an_unknown_name(harness: Harness) -> None:
    harness.p.primitiveResolverStartNameLookup(UNKNOWN)
    assert harness.resolver.wait(WAIT), "a failed lookup signals too"
    assert harness.p.primitiveResolverStatus() == 3
    assert harness.p.primitiveResolverError() == HOST_NOT_FOUND
    assert harness.p.primitiveResolverNameLookupResult() == b"\0\0\0\0"
    # the next good lookup clears the error
    harness.p.primitiveResolverStartNameLookup(b"localhost")
    assert (harness.p.primitiveResolverStatus(), harness.p.primitiveResolverError()) == (1, 0)


def test_the_name_is_a_c_string_cut_at_64_bytes(harness: Harness) -> None:
    harness.p.primitiveResolverStartNameLookup(b"localhost\0and whatever follows")
    assert harness.p.primitiveResolverNameLookupResult() == LOOPBACK
    harness.p.primitiveResolverStartNameLookup("localhost".ljust(64, "\0") + "x" * 10)
    assert harness.p.primitiveResolverNameLookupResult() == LOOPBACK
    # the name is kept in lastName, which the address lookup result also answers
    assert harness.p.primitiveResolverAddressLookupResult() == b"localhost"


def test_address_lookup_of_127_0_0_1() -> None:
    """With the address length right (the strict profile), gethostbyaddr finds localhost."""
    expected = socket.gethostbyaddr("127.0.0.1")[0].encode()
    with Harness.started("strict") as h:
        assert h.p.primitiveResolverStartAddressLookup(LOOPBACK) is None
        assert h.p.primitiveResolverStatus() == 1
        assert h.p.primitiveResolverError() == 0
        assert h.p.primitiveResolverAddressLookupResult() == expected
        assert h.resolver.wait(0.05) is False, "sqResolverStartAddrLookup signals nothing"


@pytest.mark.isolated_network  # the 8-byte lookup goes to DNS (docs/quirks.md, 23)
@pytest.mark.parametrize("profile", ["squeak-4.10", "pharo5-vm", "pharo-vm"])
def test_address_lookup_fails_on_a_64_bit_vm(profile: str) -> None:
    """addrToName passes sizeof(u_long), 8 on a 64-bit VM, as the length of an AF_INET
    address: gethostbyaddr refuses it, so every address lookup ends in an error."""
    with Harness.started(profile) as h:
        h.p.primitiveResolverStartAddressLookup(LOOPBACK)
        assert h.p.primitiveResolverStatus() == 3
        assert h.p.primitiveResolverError() != 0
        assert h.p.primitiveResolverAddressLookupResult() == b""
        assert h.resolver.wait(0.05) is False


def test_address_lookup_accepts_any_4_byte_object() -> None:
    with Harness.started("strict") as h:
        h.p.primitiveResolverStartAddressLookup(bytearray(LOOPBACK))
        assert h.p.primitiveResolverAddressLookupResult()
        h.p.primitiveResolverStartAddressLookup("\x7f\0\0\x01")
        assert h.p.primitiveResolverError() == 0


@pytest.mark.parametrize(
    "bad", [b"\x7f\0\0", b"\x7f\0\0\x01\0", b"", 2130706433, None, [127, 0, 0, 1]]
)
def test_address_lookup_needs_4_bytes(harness: Harness, bad: object) -> None:
    fails(harness.p.primitiveResolverStartAddressLookup, bad)


@pytest.mark.parametrize("bad", [None, 42, 4.2, ["localhost"], "☃"])
def test_name_lookup_needs_a_byte_string(harness: Harness, bad: object) -> None:
    fails(harness.p.primitiveResolverStartNameLookup, bad)
    assert harness.resolver.signals == 0


def test_results_before_any_lookup(harness: Harness) -> None:
    assert harness.p.primitiveResolverNameLookupResult() == b"\0\0\0\0"
    assert harness.p.primitiveResolverAddressLookupResult() == b""
    assert harness.p.primitiveResolverAbortLookup() is None
    assert harness.p.primitiveResolverStatus() == 1


def test_status_without_a_session_is_uninitialised() -> None:
    with SocketPlugin() as plugin:
        assert plugin.primitiveResolverStatus() == 0
        plugin.primitiveResolverStartNameLookup(UNKNOWN)
        assert plugin.primitiveResolverStatus() == 0, "no session: uninitialised, error or not"
        assert plugin.primitiveResolverError() == HOST_NOT_FOUND


def test_local_address_from_the_interfaces_is_four_bytes() -> None:
    """The 2016 code (opensmalltalk): the first INET address of eth0 or wlan0, else 0."""
    with Harness.started("opensmalltalk") as h:
        address = h.p.primitiveResolverLocalAddress()
    assert isinstance(address, bytes) and len(address) == 4


def test_local_address_is_the_host_names_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """squeak-4.10: nameToAddr(localHostName), the name sqNetworkInit remembered."""
    monkeypatch.setattr(socket, "gethostname", lambda: "localhost")
    with Harness.started() as h:
        assert h.p.primitiveResolverLocalAddress() == LOOPBACK
        assert h.p.primitiveResolverStatus() == 1


def test_an_unresolvable_host_name_leaves_the_resolver_in_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sqNetworkInit looks the host name up, and nameToAddr sets lastError."""
    monkeypatch.setattr(socket, "gethostname", lambda: UNKNOWN)
    with Harness.started() as h:
        assert h.p.primitiveResolverStatus() == 3
        assert h.p.primitiveResolverError() == HOST_NOT_FOUND
        assert h.p.primitiveResolverLocalAddress() == b"\0\0\0\0"
        h.p.primitiveResolverStartNameLookup("localhost")
        assert h.p.primitiveResolverStatus() == 1


def test_profiles() -> None:
    assert get_profile("strict") is STRICT
    assert set(PROFILES) >= {"squeak-4.10", "opensmalltalk", "pharo-vm", "pharo5-vm", "strict"}
    assert get_profile("squeak-4.10") is DEFAULT_PROFILE
    flags = STRICT.flags()
    assert "name" not in flags and "description" not in flags
    assert flags["local_lookup_mode_bit_test"] is False
    with pytest.raises(ValueError):
        get_profile("no-such-vm")
