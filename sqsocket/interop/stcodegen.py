"""Translate conformance scenarios into a Smalltalk script for the real VM (Squeak 2.2 dialect).

The script defines ``SqConf``: one method per SocketPlugin primitive (a named
primitive through primitive 117 whose fallback answers ``#sqFailed``), a small
interpreter for the scenario steps, and the same line format as
:mod:`sqsocket.interop.record`. Each scenario travels as one literal Array, so
the compiled code is the same for every scenario and no method grows past the
2.2 compiler's literal limit. Peer steps print ``@@peer …`` and then block
reading one byte from stdin, which the harness writes once it has acted.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqsocket.interop.dsl import (
    AbstractNameAddress,
    Alloc,
    Arg,
    AwaitData,
    AwaitSignal,
    AwaitStatus,
    Buf,
    Bytes,
    Call,
    Expect,
    Path,
    PathAddress,
    Peer,
    Port,
    Scenario,
    Sema,
    Show,
    ShowVar,
    Str,
    Tweak,
    Var,
)
from sqsocket.interop.fixtures import Fixture
from sqsocket.plugin import PRIMITIVES
from sqsocket.squeak import paths

# Primitives whose receiver is the first argument (SocketAddress methods in the image).
RECEIVER_PRIMS = {"primitiveSocketAddressGetPort", "primitiveSocketAddressSetPort"}
# Primitives the generated class does not define (argument count depends on the call).
SKIPPED_PRIMS = {"primitiveSocketListenWithOrWithoutBacklog"}


def st_string(text: str) -> str:
    """A String literal inside a chunk: quotes doubled, and ``!`` doubled for the chunk."""
    return "'" + text.replace("'", "''").replace("!", "!!") + "'"


def selector_for(prim: str, nargs: int) -> str:
    """``primitiveFoo`` with 3 arguments → ``primitiveFoo:with:with:``."""
    if nargs == 0:
        return prim
    return prim + ":" + "with:" * (nargs - 1)


def _arity(prim: str) -> int:
    return len([a for a in PRIMITIVES[prim].arguments if a != "receiver"])


def primitive_methods() -> str:
    """``SqConf`` methods, one per primitive, and ByteArray methods for the receiver ones."""
    out = ["!SqConf methodsFor: 'primitives'!"]
    for name in sorted(PRIMITIVES):
        if name in SKIPPED_PRIMS or name in RECEIVER_PRIMS:
            continue
        n = _arity(name)
        pattern = (
            name
            if n == 0
            else " ".join(f"{kw}: a{i + 1}" for i, kw in enumerate([name, *["with"] * (n - 1)]))
        )
        out.append(
            f"{pattern}\n\t<primitive: 117> #(SocketPlugin {name} 0 0) at: 1.\n\t^#sqFailed\n!"
        )
    out[-1] += " !\n"  # the empty chunk that ends the section
    out.append("!ByteArray methodsFor: 'sqconf'!")
    out.append(
        "primitiveSocketAddressGetPort\n"
        "\t<primitive: 117> #(SocketPlugin primitiveSocketAddressGetPort 0 0) at: 1.\n"
        "\t^#sqFailed\n!"
    )
    out.append(
        "primitiveSocketAddressSetPort: a1\n"
        "\t<primitive: 117> #(SocketPlugin primitiveSocketAddressSetPort 0 0) at: 1.\n"
        "\t^#sqFailed\n! !\n"
    )
    return "\n".join(out)


def interpreter_source() -> str:
    """``images/squeak/SqConf.st``: the step interpreter and the output format."""
    return (paths.smalltalk_dir() / "SqConf.st").read_text(encoding="latin-1")


def _arg(arg: Arg, fx: Fixture) -> str:
    if isinstance(arg, bool):
        raise TypeError("scenarios use no Booleans")
    if isinstance(arg, int):
        return f"(i {arg})"
    if isinstance(arg, Var):
        return f"(v {st_string(arg.name)})"
    if isinstance(arg, Path):
        return f"({'z' if arg.nul else 's'} {st_string(fx.path(arg))})"
    if isinstance(arg, Port):
        return f"(i {fx.port(arg)})"
    if isinstance(arg, Str):
        return f"(s {st_string(arg.text)})"
    if isinstance(arg, Bytes):
        return "(b (" + " ".join(str(b) for b in arg.data) + "))"
    if isinstance(arg, Buf):
        raise TypeError("use Alloc steps for buffers")
    if isinstance(arg, Sema):
        return f"(sema {st_string(arg.name)})"
    raise TypeError(f"unknown argument {arg!r}")


def scenario_array(sc: Scenario, fx: Fixture) -> str:
    parts: list[str] = []
    for i, step in enumerate(sc.steps, 1):
        if isinstance(step, Call):
            receiver = step.prim in RECEIVER_PRIMS
            nargs = len(step.args) - (1 if receiver else 0)
            sel = selector_for(step.prim, nargs)
            show = {Show.VALUE: "v", Show.OK: "o", Show.NONE: "n"}[step.show]
            args = " ".join(_arg(a, fx) for a in step.args)
            parts.append(
                f"(call {i} {st_string(sel)} {show} {st_string(step.bind or '')} "
                f"{1 if receiver else 0} ({args}))"
            )
        elif isinstance(step, ShowVar):
            parts.append(f"(showvar {i} {st_string(step.name)})")
        elif isinstance(step, Alloc):
            parts.append(f"(alloc {i} {st_string(step.bind)} {_arg(step.size, fx)})")
        elif isinstance(step, Tweak):
            parts.append(f"(tweak {i} {st_string(step.name)} {step.index} {step.delta})")
        elif isinstance(step, PathAddress):
            parts.append(
                f"(pathaddr {i} {st_string(step.bind)} {st_string(fx.path(step.path))} "
                f"{st_string(step.handle)})"
            )
        elif isinstance(step, AbstractNameAddress):
            # the name travels without its NUL (SqConf adds it): a chunk literal stays text
            parts.append(
                f"(abstractaddr {i} {st_string(step.bind)} "
                f"{st_string(fx.abstract_name(step.name))} {st_string(step.handle)} "
                f"{1 if step.tight else 0})"
            )
        elif isinstance(step, AwaitSignal):
            show = {Show.VALUE: "v", Show.OK: "v", Show.NONE: "n"}[step.show]
            expect = st_string(step.expect)
            parts.append(f"(awaitsignal {i} {st_string(step.sema)} {step.ms} {expect} {show})")
        elif isinstance(step, AwaitStatus):
            show = {Show.VALUE: "v", Show.OK: "v", Show.NONE: "n"}[step.show]
            parts.append(
                f"(awaitstatus {i} {st_string(step.handle)} {step.status} {step.ms} {show})"
            )
        elif isinstance(step, AwaitData):
            show = {Show.VALUE: "v", Show.OK: "v", Show.NONE: "n"}[step.show]
            parts.append(
                f"(awaitdata {i} {st_string(step.handle)} {st_string(step.sema)} {step.ms} "
                f"{st_string(step.expect)} {show})"
            )
        elif isinstance(step, Expect):
            parts.append(
                f"(expect {i} {st_string(step.name)} {st_string(step.op.value)} {step.value} "
                f"{st_string(step.why or f'{step.name} {step.op.value} {step.value}')})"
            )
        elif isinstance(step, Peer):
            parts.append(
                f"(peer {i} {st_string(step.action)} {st_string(peer_argument(step, fx))})"
            )
        else:
            raise TypeError(f"unknown step {step!r}")
    return "#(" + "\n\t".join(parts) + ")"


def peer_argument(step: Peer, fx: Fixture) -> str:
    """The ``@@peer`` line's argument: ``[ms:N,]path:P`` / ``port:N`` / hex data / ``-``."""
    later = f"ms:{step.ms}," if step.ms > 0 else ""
    if step.action == "connect":
        if isinstance(step.target, Path):
            return later + "path:" + fx.path(step.target)
        if isinstance(step.target, Port):
            return later + f"port:{fx.port(step.target)}"
    if step.action == "send":
        return later + (step.data.hex() or "-")
    return later + "-"


def conformance_script(scenarios: Sequence[Scenario], fx: Fixture) -> str:
    chunks = [interpreter_source(), primitive_methods()]
    chunks.append("Smalltalk at: #SqConfRun put: SqConf new.\n(Smalltalk at: #SqConfRun) setUp!\n")
    for sc in scenarios:
        steps = scenario_array(sc, fx)
        chunks.append(f"(Smalltalk at: #SqConfRun) run: {st_string(sc.name)} steps: {steps}!\n")
    chunks.append("Transcript show: '@@done'; cr!\n")
    return "\n".join(chunks)
