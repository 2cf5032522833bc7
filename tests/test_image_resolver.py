"""NetNameResolver on the emulated plugin: network start-up, old lookups, getAddressInfo."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from plugin_support import LOOPBACK

from sqsocket.image import (
    Image,
    NameLookupFailure,
    NetNameResolver,
    SocketAddress,
    SocketAddressInformation,
)
from sqsocket.plugin import SocketPlugin

pytestmark = pytest.mark.timeout(30)

# A single 64-byte label: glibc builds no DNS query for it, so the lookup fails at home.
UNKNOWN_HOST = "no-such-host-" + "x" * 51


@pytest.fixture
def image() -> Iterator[Image]:
    """Bare (overrides tests/conftest.py's): these tests initialise the network."""
    with Image() as img:
        yield img


@pytest.fixture
def listening_path(sockdir: str) -> Iterator[str]:
    """A Unix-domain socket file with a (plain Python) listener behind it."""
    path = os.path.join(sockdir, "sp.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        srv.listen(1)
        yield path


def test_initialize_network_registers_one_resolver_semaphore(image: Image) -> None:
    assert NetNameResolver.resolver_status(image=image) == NetNameResolver.RESOLVER_UNINITIALIZED
    NetNameResolver.initialize_network(image=image)
    sema = image.resolver_semaphore
    assert sema is not None and image.have_network
    assert NetNameResolver.resolver_status(image=image) == NetNameResolver.RESOLVER_READY
    assert len(image.vm.external_objects) == 1
    NetNameResolver.initialize_network(image=image)  # a no-op the second time
    assert image.resolver_semaphore is sema
    assert len(image.vm.external_objects) == 1


def test_image_close_unregisters_and_shuts_down() -> None:
    img = Image(SocketPlugin(), owns_plugin=True)
    NetNameResolver.initialize_network(image=img)
    assert img.session_id != 0
    img.close()
    assert img.closed and len(img.vm.external_objects) == 0
    assert img.plugin.session_id == 0
    img.close()  # twice is fine


def test_address_for_name(image: Image) -> None:
    assert NetNameResolver.address_for_name("localhost", 5, image=image) == LOOPBACK
    # dotted decimal is answered without a lookup, as addressFromString: does
    assert NetNameResolver.address_for_name("10.1.2.3", 5, image=image) == bytes([10, 1, 2, 3])


def test_address_for_name_failure_is_name_lookup_failure(image: Image) -> None:
    with pytest.raises(NameLookupFailure, match=UNKNOWN_HOST) as info:
        NetNameResolver.address_for_name(UNKNOWN_HOST, 5, image=image)
    assert info.value.host_name == UNKNOWN_HOST
    assert NetNameResolver.resolver_status(image=image) == NetNameResolver.RESOLVER_ERROR
    assert NetNameResolver.resolver_error(image=image) != 0


@pytest.mark.isolated_network  # squeak-4.10's address lookup always asks DNS (quirk 23)
def test_name_for_address_and_local_host(image: Image) -> None:
    # squeak-4.10 passes sizeof(u_long) == 8 to gethostbyaddr: every lookup fails
    # (docs/quirks.md, 2); the strict profile looks the address up properly.
    assert NetNameResolver.name_for_address(LOOPBACK, 5, image=image) is None
    strict = Image(SocketPlugin(profile="strict"), owns_plugin=True)
    try:
        assert NetNameResolver.name_for_address(LOOPBACK, 5, image=strict) == "localhost"
    finally:
        strict.close()
    local = NetNameResolver.local_host_address(image=image)
    assert len(local) == 4
    assert NetNameResolver.local_host_name(image=image)
    assert NetNameResolver.host_name(image=image) == socket.gethostname()


def test_string_address_conversions() -> None:
    assert NetNameResolver.string_from_address(LOOPBACK) == "127.0.0.1"
    assert NetNameResolver.address_from_string("127.0.0.1") == LOOPBACK
    for text in ("localhost", "1.2.3", "1.2.3.256", "1.2.3.x", "1..2.3"):
        assert NetNameResolver.address_from_string(text) is None


def test_address_info_for_inet(image: Image) -> None:
    infos = SocketAddressInformation.for_host_service_flags_family_type_protocol(
        "127.0.0.1", "8080", 0, 2, 1, 0, image=image
    )
    assert len(infos) == 1
    info = infos[0]
    assert (info.address_family, info.socket_type) == (2, 1)
    assert info.protocol_name == "tcp"
    address = info.socket_address
    assert len(address) == 8 + 16 and address.family == 2 and address.family_name == "inet4"
    assert address.session_id == image.session_id
    assert address.port == 8080
    assert address.host_number == "127.0.0.1"
    assert address.host_name == "localhost"
    assert address.service_number == "8080"
    assert str(address) == "127.0.0.1(localhost),8080"
    assert str(info) == "127.0.0.1(localhost),8080-inet4-stream-tcp"
    address.port = 9999  # primitiveSocketAddressSetPort writes in place
    assert address.port == 9999 and str(address).endswith(",9999")


def test_address_info_unspecified_family_lists_every_answer(image: Image) -> None:
    infos = SocketAddressInformation.for_host_service_flags_family_type_protocol(
        "localhost", "80", 0, 0, 0, 0, image=image
    )
    assert infos, "localhost resolves to something"
    assert {i.address_family for i in infos} <= {2, 3}
    assert all(i.socket_address.port == 80 for i in infos)


def test_address_info_nothing_found_answers_empty(image: Image, sockdir: str) -> None:
    missing = os.path.join(sockdir, "missing")
    assert (
        SocketAddressInformation.for_host_service_flags_family_type_protocol(
            "", missing, 0, 1, 0, 0, image=image
        )
        == []
    )
    with pytest.raises(NameLookupFailure, match="no socket at"):
        NetNameResolver.address_for_socket_path(missing, image=image)


def test_address_for_socket_path(image: Image, listening_path: str) -> None:
    address = NetNameResolver.address_for_socket_path(listening_path, image=image)
    assert isinstance(address, SocketAddress)
    assert len(address) == 118  # 8-byte header + a full sockaddr_un
    assert address.family == 1 and address.is_local
    assert address.path == listening_path
    assert str(address) == listening_path
    assert address.service_name == listening_path  # getnameinfo gives a LOCAL path as service


def test_image_built_address_is_what_the_resolver_answers(
    image: Image, listening_path: str
) -> None:
    """SocketAddress.for_socket_path builds exactly the bytes getAddressInfo answers."""
    resolved = NetNameResolver.address_for_socket_path(listening_path, image=image)
    built = SocketAddress.for_socket_path(listening_path, resolved.session_id, image)
    assert bytes(built) == bytes(resolved)


def test_workspace_prims_step_by_step(image: Image, listening_path: str) -> None:
    """The seed's four resolver lines, one primitive each."""
    NetNameResolver.initialize_network(image=image)
    NetNameResolver.prim_get_address_info_host_service_flags_family_type_protocol(
        "", listening_path, 0, 1, 0, 0, image=image
    )
    size = NetNameResolver.prim_get_address_info_size(image=image)
    sa = SocketAddress.new(size, image)
    assert bytes(sa) == bytes(size)
    NetNameResolver.prim_get_address_info_result(sa, image=image)
    assert NetNameResolver.prim_get_address_info_family(image=image) == 1
    assert sa.path == listening_path
    assert not NetNameResolver.prim_get_address_info_next(image=image)
    assert NetNameResolver.prim_get_address_info_size(image=image) == -1
