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
from sqsocket.interop.stcodegen import assemble_script, method_pattern, script_primitives
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
    out = [
        _method("SqConf", PROTOCOL, method_pattern(name), name)
        for name in script_primitives(receiver=False)
    ]
    out += [
        _method("ByteArray", EXTENSION, method_pattern(name), name)
        for name in script_primitives(receiver=True)
    ]
    return "\n".join(out)


def conformance_script(scenarios: Sequence[Scenario], fx: Fixture) -> str:
    """The whole script: the interpreter, the primitives, then one do-it per scenario."""
    done = "(Smalltalk at: #SqConfRun) line: '@@done'!\n"
    return assemble_script(interpreter_source(), primitive_methods(), scenarios, fx, done)
