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

from sqsocket.interop import dsl
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


def script_primitives(*, receiver: bool) -> list[str]:
    """The primitives the script defines a method for, sorted: ``SqConf``'s, or (with
    ``receiver``) ByteArray's, whose receiver is the socket address."""
    return [
        name
        for name in sorted(PRIMITIVES)
        if name not in SKIPPED_PRIMS and (name in RECEIVER_PRIMS) == receiver
    ]


def method_pattern(prim: str) -> str:
    """The method's pattern: ``primitiveFoo``, ``primitiveFoo: a1``, ``primitiveFoo: a1 with:
    a2`` ... (the keywords of :func:`selector_for`)."""
    n = _arity(prim)
    if n == 0:
        return prim
    return " ".join(f"{kw}: a{i + 1}" for i, kw in enumerate([prim, *["with"] * (n - 1)]))


def _methods_section(owner: str, protocol: str, prims: Sequence[str]) -> str:
    """One ``methodsFor:`` section (2.2 chunk format): a chunk per method, then an empty one."""
    methods = [
        f"{method_pattern(name)}\n\t<primitive: 117> #(SocketPlugin {name} 0 0) at: 1.\n"
        "\t^#sqFailed\n!"
        for name in prims
    ]
    return "\n".join([f"!{owner} methodsFor: '{protocol}'!", *methods]) + " !\n"


def primitive_methods() -> str:
    """``SqConf`` methods, one per primitive, and ByteArray methods for the receiver ones."""
    return (
        _methods_section("SqConf", "primitives", script_primitives(receiver=False))
        + "\n"
        + _methods_section("ByteArray", "sqconf", script_primitives(receiver=True))
    )


def interpreter_source() -> str:
    """``images/squeak/SqConf.st``: the step interpreter and the output format."""
    return (paths.smalltalk_dir() / "SqConf.st").read_text(encoding="latin-1")


def _arg(arg: dsl.Arg, fx: Fixture) -> str:
    if isinstance(arg, bool):
        raise TypeError("scenarios use no Booleans")
    if isinstance(arg, int):
        return f"(i {arg})"
    if isinstance(arg, dsl.Var):
        return f"(v {st_string(arg.name)})"
    if isinstance(arg, dsl.Path):
        return f"({'z' if arg.nul else 's'} {st_string(fx.path(arg))})"
    if isinstance(arg, dsl.Port):
        return f"(i {fx.port(arg)})"
    if isinstance(arg, dsl.Str):
        return f"(s {st_string(arg.text)})"
    if isinstance(arg, dsl.Bytes):
        return "(b (" + " ".join(str(b) for b in arg.data) + "))"
    if isinstance(arg, dsl.Buf):
        raise TypeError("use Alloc steps for buffers")
    if isinstance(arg, dsl.Sema):
        return f"(sema {st_string(arg.name)})"
    raise TypeError(f"unknown argument {arg!r}")


# How SqConf is told what a step records: a call's value, only ok/FAIL, or nothing; an
# await's outcome or nothing (an await has no OK form: it records its outcome).
_CALL_SHOW = {dsl.Show.VALUE: "v", dsl.Show.OK: "o", dsl.Show.NONE: "n"}
_AWAIT_SHOW = {dsl.Show.VALUE: "v", dsl.Show.OK: "v", dsl.Show.NONE: "n"}


def _step(i: int, step: dsl.Step, fx: Fixture) -> str:
    """One step as the literal Array SqConf's interpreter reads: ``(kind number ...)``."""
    s = st_string
    if isinstance(step, dsl.Call):
        receiver = step.prim in RECEIVER_PRIMS
        sel = selector_for(step.prim, len(step.args) - (1 if receiver else 0))
        args = " ".join(_arg(a, fx) for a in step.args)
        return (
            f"(call {i} {s(sel)} {_CALL_SHOW[step.show]} {s(step.bind or '')} "
            f"{1 if receiver else 0} ({args}))"
        )
    if isinstance(step, dsl.ShowVar):
        return f"(showvar {i} {s(step.name)})"
    if isinstance(step, dsl.Alloc):
        return f"(alloc {i} {s(step.bind)} {_arg(step.size, fx)})"
    if isinstance(step, dsl.Tweak):
        return f"(tweak {i} {s(step.name)} {step.index} {step.delta})"
    if isinstance(step, dsl.PathAddress):
        return f"(pathaddr {i} {s(step.bind)} {s(fx.path(step.path))} {s(step.handle)})"
    if isinstance(step, dsl.AbstractNameAddress):
        # the name travels without its NUL (SqConf adds it): a chunk literal stays text
        name = s(fx.abstract_name(step.name))
        return f"(abstractaddr {i} {s(step.bind)} {name} {s(step.handle)} {int(step.tight)})"
    if isinstance(step, dsl.AwaitSignal):
        show = _AWAIT_SHOW[step.show]
        return f"(awaitsignal {i} {s(step.sema)} {step.ms} {s(step.expect)} {show})"
    if isinstance(step, dsl.AwaitStatus):
        show = _AWAIT_SHOW[step.show]
        return f"(awaitstatus {i} {s(step.handle)} {step.status} {step.ms} {show})"
    if isinstance(step, dsl.AwaitData):
        show = _AWAIT_SHOW[step.show]
        return f"(awaitdata {i} {s(step.handle)} {s(step.sema)} {step.ms} {s(step.expect)} {show})"
    if isinstance(step, dsl.Expect):
        return f"(expect {i} {s(step.name)} {s(step.op.value)} {step.value} {s(step.reason)})"
    if isinstance(step, dsl.Peer):
        return f"(peer {i} {s(step.action)} {s(peer_argument(step, fx))})"
    raise TypeError(f"unknown step {step!r}")


def scenario_array(sc: dsl.Scenario, fx: Fixture) -> str:
    """The scenario's steps as one literal Array, a step per line."""
    return "#(" + "\n\t".join(_step(i, step, fx) for i, step in enumerate(sc.steps, 1)) + ")"


def peer_argument(step: dsl.Peer, fx: Fixture) -> str:
    """The ``@@peer`` line's argument: ``[ms:N,]path:P`` / ``port:N`` / hex data / ``-``."""
    later = f"ms:{step.ms}," if step.ms > 0 else ""
    if step.action == "connect":
        if isinstance(step.target, dsl.Path):
            return later + "path:" + fx.path(step.target)
        if isinstance(step.target, dsl.Port):
            return later + f"port:{fx.port(step.target)}"
    if step.action == "send":
        return later + (step.data.hex() or "-")
    return later + "-"


def assemble_script(
    interpreter: str, methods: str, scenarios: Sequence[dsl.Scenario], fx: Fixture, done: str
) -> str:
    """A conformance script in either dialect: the interpreter, the primitive methods, the
    set-up do-it, one do-it per scenario, then ``done`` (the do-it that prints ``@@done``)."""
    chunks = [interpreter, methods]
    chunks.append("Smalltalk at: #SqConfRun put: SqConf new.\n(Smalltalk at: #SqConfRun) setUp!\n")
    for sc in scenarios:
        steps = scenario_array(sc, fx)
        chunks.append(f"(Smalltalk at: #SqConfRun) run: {st_string(sc.name)} steps: {steps}!\n")
    chunks.append(done)
    return "\n".join(chunks)


def conformance_script(scenarios: Sequence[dsl.Scenario], fx: Fixture) -> str:
    """The whole Squeak 2.2 script."""
    done = "Transcript show: '@@done'; cr!\n"
    return assemble_script(interpreter_source(), primitive_methods(), scenarios, fx, done)
