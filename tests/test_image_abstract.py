"""Linux abstract names from the image side: the full-length address names the padded name.

docs/quirks.md, 22: a LOCAL address laid out as the resolver's (a whole 110-byte
``sockaddr_un``) carries the abstract name NUL-padded to the end of ``sun_path``;
the plugin hands ``connect()`` that length, so only a server bound to the padded
name answers. Checked here on the image layer and, through the conformance
scenario, on the real VM.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from sqsocket.image import (
    ConnectionRefused,
    Image,
    NetworkError,
    Socket,
    SocketAddress,
)
from sqsocket.interop.conformance import run_conformance
from sqsocket.interop.fixtures import Fixture
from sqsocket.interop.scenarios import BY_NAME
from sqsocket.interop.stcodegen import conformance_script
from sqsocket.interop.vm_run import run_on_vm
from sqsocket.servers import AbstractEchoServer
from sqsocket.servers.address import abstract_supported

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not abstract_supported(), reason="abstract names are Linux-only"),
]

SCENARIO = BY_NAME["connect-abstract-full-sockaddr"]


def _name(tag: str) -> str:
    return f"sqsocket-test-{os.getpid()}-{tag}"


def test_full_length_layout() -> None:
    address = SocketAddress.for_abstract_name("name", 77)
    assert len(address) == 118
    assert struct.unpack_from("=iiH", address) == (77, 110, 1)
    assert bytes(address[10:15]) == b"\0name"
    assert bytes(address[15:]) == bytes(103)  # NULs to the end of sun_path
    assert address.path == "@name" and address.is_local


def test_tight_layout() -> None:
    address = SocketAddress.for_abstract_name(b"name", 77, tight=True)
    assert len(address) == 8 + 2 + 1 + 4
    assert struct.unpack_from("=iiH", address) == (77, 7, 1)
    assert bytes(address[10:]) == b"\0name"
    assert address.path == "@name"


def test_names_that_do_not_fit_are_refused() -> None:
    with pytest.raises(NetworkError, match="1 to 107 bytes"):
        SocketAddress.for_abstract_name("", 1)
    with pytest.raises(NetworkError, match="1 to 107 bytes"):
        SocketAddress.for_abstract_name("x" * 108, 1)
    assert len(SocketAddress.for_abstract_name("x" * 107, 1)) == 118


def test_the_session_is_learned_from_a_handle(image: Image) -> None:
    address = SocketAddress.for_abstract_name("name", image=image)
    assert address.session_id == image.session_id != 0
    assert address.image is image


def _echo(image: Image, address: SocketAddress, payload: bytes) -> bytes:
    with Socket.new_ipc(image=image) as sock:
        sock.connect_to(address, timeout=5)
        sock.send_data(payload, timeout=5)
        return sock.receive_data(timeout=5)


def test_a_client_reaches_the_padded_server_not_the_tight_one(image: Image) -> None:
    padded, tight = _name("padded"), _name("tight")
    with AbstractEchoServer(padded, padded=True), AbstractEchoServer(tight):
        assert _echo(image, SocketAddress.for_abstract_name(padded, image=image), b"hi") == b"hi"
        with pytest.raises(ConnectionRefused):
            _echo(image, SocketAddress.for_abstract_name(tight, image=image), b"x")
        # the short form is the tight name: that server answers, the padded one does not
        short = SocketAddress.for_abstract_name(tight, tight=True, image=image)
        assert _echo(image, short, b"short") == b"short"
        with pytest.raises(ConnectionRefused):
            _echo(image, SocketAddress.for_abstract_name(padded, tight=True, image=image), b"x")


def test_one_name_two_servers_the_image_reaches_the_padded_one(image: Image) -> None:
    """Bound both ways at once (they are different names to Linux): which one answers?"""
    name = _name("both")
    with AbstractEchoServer(name) as tight, AbstractEchoServer(name, padded=True) as padded:
        _echo(image, SocketAddress.for_abstract_name(name, image=image), b"which")
        assert padded.total_connections == 1 and tight.total_connections == 0


# -- the conformance scenario ---------------------------------------------------------------


def test_the_fixture_has_both_servers_and_the_script_builds_the_addresses() -> None:
    with Fixture() as fx:
        tight, padded = fx.abstract_name("tight"), fx.abstract_name("padded")
        assert tight != padded and os.path.basename(fx.root) in tight
        script = conformance_script([SCENARIO], fx)
        assert f"(abstractaddr 2 'ta' '{tight}' 's' 0)" in script
        assert f"(abstractaddr 17 'ua' '{tight}' 'u' 1)" in script
        with pytest.raises(KeyError):
            fx.abstract_name("other")


def _values(lines: list[str]) -> dict[int, str]:
    return {int(n): v for n, _, v in (line.partition(" ") for line in lines)}


def test_the_scenario_on_the_emulator() -> None:
    report = run_conformance(scenarios=[SCENARIO])
    assert report.broken() == {}
    got = _values(report.normalized(report.emulator, SCENARIO.name))
    assert got[5] == "0"  # the full-length address to the tight server: refused
    assert got[10] == "2"  # to the padded server: connected
    assert got[20] == "2"  # the short address to the tight server: connected
    assert got[3].startswith("x:SESSION6e000000" + "0100")  # header size 110, AF_UNIX


@pytest.mark.squeakvm
def test_the_scenario_on_the_vm(squeak_vm: Path, squeak_image: Path) -> None:
    report = run_conformance(
        "squeak-4.10",
        [SCENARIO],
        lambda fx, scs: run_on_vm(fx, scs, vm=squeak_vm, image=squeak_image),
    )
    assert report.vm is not None and not report.vm.error, report.vm
    assert report.broken() == {} and report.differences() == []
    got = _values(report.normalized(report.vm, SCENARIO.name))
    assert (got[5], got[10], got[20]) == ("0", "2", "2")
    assert got[14] == "8" and got[15].startswith("x:" + b"abstract".hex())
