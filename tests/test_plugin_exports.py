"""The exported primitives: every one SocketPlugin.c exports exists, and is described."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from plugin_support import Harness, fails

from sqsocket.errors import PrimitiveFailed
from sqsocket.platform.profiles import SQUEAK_4_10
from sqsocket.plugin import EXPORTED_PRIMITIVES, PRIMITIVES, SocketPlugin
from sqsocket.plugin.exports import MODULE_FUNCTIONS, MODULE_NAME

pytestmark = pytest.mark.usefixtures("no_leaked_fds")


def test_every_exported_primitive_is_registered_and_is_a_plugin_method() -> None:
    missing_spec = [n for n in EXPORTED_PRIMITIVES if n not in PRIMITIVES]
    missing_method = [
        n for n in EXPORTED_PRIMITIVES if not callable(getattr(SocketPlugin, n, None))
    ]
    assert missing_spec == [], f"exported but not in PRIMITIVES: {missing_spec}"
    assert missing_method == [], f"exported but not a SocketPlugin method: {missing_method}"


def test_no_primitive_is_registered_that_the_plugin_does_not_export() -> None:
    assert sorted(PRIMITIVES) == sorted(EXPORTED_PRIMITIVES)
    assert len(set(EXPORTED_PRIMITIVES)) == len(EXPORTED_PRIMITIVES) == 62


def test_exports_match_what_the_real_vm_exports(squeak_vm: Path) -> None:
    """The names in Debian's squeakvm binary (its built-in SocketPlugin's export table):
    the same 62 but primitiveSocketCreateRAW, which the 2012 plugin does not have and
    the squeak-4.10 profile therefore fails."""
    data = squeak_vm.read_bytes()
    pattern = (
        rb"primitive(?:Socket|Resolver|InitializeNetwork|HasSocketAccess|DisableSocketAccess)\w*"
    )
    in_vm = {m.decode() for m in re.findall(pattern, data)}
    assert in_vm == set(EXPORTED_PRIMITIVES) - SQUEAK_4_10.missing_primitives
    assert SQUEAK_4_10.missing_primitives == {"primitiveSocketCreateRAW"}


def test_a_primitive_the_profile_lacks_fails_by_name() -> None:
    with SocketPlugin(profile="squeak-4.10") as p:
        with pytest.raises(PrimitiveFailed) as info:
            p.primitiveSocketCreateRAW(0, 1, 8000, 8000, 0, 0, 0)
        assert info.value.primitive == "primitiveSocketCreateRAW"
        assert "does not export" in info.value.reason


@pytest.mark.parametrize("name", EXPORTED_PRIMITIVES)
def test_spec_matches_the_method(name: str) -> None:
    spec = PRIMITIVES[name]
    assert spec.name == name
    assert spec.selector and spec.doc, "every primitive has a selector and a one-line doc"
    params = list(inspect.signature(getattr(SocketPlugin, name)).parameters.values())[1:]
    fixed = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    optional = [a for a in spec.arguments if a.startswith("[")]
    assert len(fixed) == len(spec.arguments) - len(optional)
    assert getattr(SocketPlugin, name).__name__ == name


def test_module_functions_exist() -> None:
    for name in MODULE_FUNCTIONS:
        assert callable(getattr(SocketPlugin, name, None)), name
    with SocketPlugin() as plugin:
        assert plugin.getModuleName() == MODULE_NAME
        assert plugin.initialiseModule() is True


def test_lookup_and_call_by_vm_name() -> None:
    with Harness.started() as h:
        assert h.p.lookup("primitiveHasSocketAccess")() is True
        assert h.p.call("primitiveResolverStatus") == 1
        fails(h.p.primitiveSocketConnectionStatus, bytearray(16))


def test_lookup_of_an_unknown_name_fails_with_that_name() -> None:
    with SocketPlugin() as plugin, pytest.raises(PrimitiveFailed) as info:
        plugin.call("primitiveSocketFrobnicate")
    assert info.value.primitive == "primitiveSocketFrobnicate"
