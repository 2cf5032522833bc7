"""Translate conformance scenarios into a Smalltalk script in Pharo's dialect.

The same scenarios as :mod:`sqsocket.interop.stcodegen` (Squeak 2.2), for a user's own
Pharo VM and image: ``images/pharo/SqConf.st`` (the interpreter, Pharo 13 syntax and
library) plus one named-primitive method per primitive of the emulator's registry,
``<primitive: 'primitiveX' module: 'SocketPlugin'>`` answering ``#sqFailed`` when it
fails. Each scenario is one literal Array, the same text the Squeak script carries
(:func:`~sqsocket.interop.stcodegen.scenario_array`): Pharo reads ``#(call 1 'sel' v
...)`` as the same nested Arrays of Symbols, Strings and numbers. The script is chunk
format, filed in by Pharo's command line: ``pharo --headless Pharo.image st --quit
script.st``; every part of it parses with Pharo's grammar
(:func:`sqsocket.pharo.check.check_pharo_source`), which the tests check.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqsocket.interop.dsl import Scenario
from sqsocket.interop.fixtures import Fixture
from sqsocket.interop.stcodegen import (
    RECEIVER_PRIMS,
    SKIPPED_PRIMS,
    _arity,
    scenario_array,
    st_string,
)
from sqsocket.plugin import PRIMITIVES
from sqsocket.squeak import paths

PROTOCOL = "primitives"
EXTENSION = "*SqSocket-Conformance"


def pharo_dir() -> Path:
    """``images/pharo``: the Pharo sources."""
    return paths.repo_root() / "images" / "pharo"


def interpreter_source() -> str:
    """``images/pharo/SqConf.st``: the step interpreter and the output format."""
    return (pharo_dir() / "SqConf.st").read_text(encoding="utf-8")


def _method(owner: str, protocol: str, pattern: str, prim: str) -> str:
    """One method under its own preamble, closed by an empty chunk (Pharo's file-in)."""
    return (
        f"!{owner} methodsFor: '{protocol}'!\n{pattern}\n"
        f"\t<primitive: '{prim}' module: 'SocketPlugin'>\n\t^ #sqFailed\n! !\n"
    )


def primitive_methods() -> str:
    """``SqConf`` methods, one per primitive, and ByteArray methods for the receiver ones."""
    out = []
    for name in sorted(PRIMITIVES):
        if name in SKIPPED_PRIMS or name in RECEIVER_PRIMS:
            continue
        n = _arity(name)
        keywords = [name, *["with"] * (n - 1)]
        pattern = name if n == 0 else " ".join(f"{kw}: a{i + 1}" for i, kw in enumerate(keywords))
        out.append(_method("SqConf", PROTOCOL, pattern, name))
    out.append(
        _method(
            "ByteArray", EXTENSION, "primitiveSocketAddressGetPort", "primitiveSocketAddressGetPort"
        )
    )
    out.append(
        _method(
            "ByteArray",
            EXTENSION,
            "primitiveSocketAddressSetPort: a1",
            "primitiveSocketAddressSetPort",
        )
    )
    return "\n".join(out)


def conformance_script(scenarios: Sequence[Scenario], fx: Fixture) -> str:
    """The whole script: the interpreter, the primitives, then one do-it per scenario."""
    chunks = [interpreter_source(), primitive_methods()]
    chunks.append("Smalltalk at: #SqConfRun put: SqConf new.\n(Smalltalk at: #SqConfRun) setUp!\n")
    for sc in scenarios:
        steps = scenario_array(sc, fx)
        chunks.append(f"(Smalltalk at: #SqConfRun) run: {st_string(sc.name)} steps: {steps}!\n")
    chunks.append("(Smalltalk at: #SqConfRun) line: '@@done'!\n")
    return "\n".join(chunks)
