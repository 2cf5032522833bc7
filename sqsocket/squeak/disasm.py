"""Print pre-closure bytecodes and literals readably: the image ships no sources.

Used to study the image (``describe_method``) and by tests to check that a rewrite
kept each instruction pointing at the same literal.
"""

from __future__ import annotations

from collections.abc import Callable

from sqsocket.squeak.heap import Heap
from sqsocket.squeak.imagefile import is_small_int, small_int_value
from sqsocket.squeak.methods import (
    MethodParts,
    bytecode_end,
    iter_bytecodes,
    literal_index,
    read_method,
)

SPECIAL_SELECTORS = (
    "+",
    "-",
    "<",
    ">",
    "<=",
    ">=",
    "=",
    "~=",
    "*",
    "/",
    "\\\\",
    "@",
    "bitShift:",
    "//",
    "bitAnd:",
    "bitOr:",
    "at:",
    "at:put:",
    "size",
    "next",
    "nextPut:",
    "atEnd",
    "==",
    "class",
    "blockCopy:",
    "value",
    "value:",
    "do:",
    "new",
    "new:",
    "x",
    "y",
)
_SPECIAL_PUSH = ("self", "true", "false", "nil", "-1", "0", "1", "2")
_RETURNS = ("^self", "^true", "^false", "^nil", "^top", "blockReturn")
_EXTENDED_84 = (
    "send",
    "super send",
    "push rcvr",
    "push lit",
    "push var",
    "store rcvr",
    "popInto rcvr",
    "store var",
)

Lit = Callable[[int], str]
#: The bytecodes whose operand is the opcode's low bits: (first opcode, end, text), where
#: ``text(n, instr, lit)`` is given n, the opcode minus the first (and the instruction,
#: whose second byte the long jumps add).
_RANGES: tuple[tuple[int, int, Callable[[int, bytes, Lit], str]], ...] = (
    (0x00, 0x10, lambda n, _i, _lit: f"push rcvr[{n}]"),
    (0x10, 0x20, lambda n, _i, _lit: f"push temp[{n}]"),
    (0x20, 0x40, lambda n, _i, lit: f"push {lit(n)}"),
    (0x40, 0x60, lambda n, _i, lit: f"push var {lit(n)}"),
    (0x60, 0x68, lambda n, _i, _lit: f"popInto rcvr[{n}]"),
    (0x68, 0x70, lambda n, _i, _lit: f"popInto temp[{n}]"),
    (0x70, 0x78, lambda n, _i, _lit: f"push {_SPECIAL_PUSH[n]}"),
    (0x78, 0x7E, lambda n, _i, _lit: _RETURNS[n]),
    (0x90, 0x98, lambda n, _i, _lit: f"jump +{n + 1}"),
    (0x98, 0xA0, lambda n, _i, _lit: f"jumpFalse +{n + 1}"),
    (0xA0, 0xA8, lambda n, i, _lit: f"jump {(n - 4) * 256 + i[1]:+d}"),
    (0xA8, 0xAC, lambda n, i, _lit: f"jumpTrue +{n * 256 + i[1]}"),
    (0xAC, 0xB0, lambda n, i, _lit: f"jumpFalse +{n * 256 + i[1]}"),
    (0xB0, 0xD0, lambda n, _i, _lit: f"send #{SPECIAL_SELECTORS[n]}"),
)
_ONE_BYTE = {0x87: "pop", 0x88: "dup", 0x89: "push thisContext"}


def describe_instruction(instr: bytes, lit: Lit) -> str:
    """One instruction as text; ``lit(i)`` renders literal ``i``."""
    op = instr[0]
    index = literal_index(instr)
    for first, end, text in _RANGES:
        if first <= op < end:
            return text(op - first, instr, lit)
    if op in (0x80, 0x81, 0x82):
        verb = ("push", "store", "popInto")[op - 0x80]
        kind = instr[1] >> 6
        where = ("rcvr", "temp", "lit", "var")[kind]
        target = lit(index) if index is not None else f"[{instr[1] & 0x3F}]"
        return f"{verb} {where} {target}"
    if op in (0x83, 0x85) and index is not None:
        sup = "super " if op == 0x85 else ""
        return f"{sup}send {lit(index)} ({instr[1] >> 5} args)"
    if op == 0x84:
        target = lit(instr[2]) if index is not None else f"[{instr[2]}]"
        return f"{_EXTENDED_84[instr[1] >> 5]} {target} (x84 {instr[1] & 0x1F})"
    if op == 0x86 and index is not None:
        return f"send {lit(index)} ({instr[1] >> 6} args)"
    if op in _ONE_BYTE:
        return _ONE_BYTE[op]
    if index is not None:
        return f"send {lit(index)} ({(op - 0xD0) >> 4} args)"
    return f"?? {instr.hex()}"


def literal_text(heap: Heap, oop: int, depth: int = 0) -> str:
    """A short printString of a literal oop."""
    image = heap.image
    if is_small_int(oop):
        return str(small_int_value(oop))
    if oop == image.nil:
        return "nil"
    record = image.obj(oop)
    cls = heap.class_name(image.class_of(oop))
    if record.is_bytes:
        text = image.bytes_of(oop).decode("latin-1")
        return f"#{text}" if cls == "Symbol" else repr(text) if cls == "String" else cls
    if cls == "Association" and depth < 2:
        return "{" + literal_text(heap, image.fetch(oop, 0), depth + 1) + "}"
    if cls == "Array" and depth < 2:
        return "#(" + " ".join(literal_text(heap, x, depth + 1) for x in image.fields(oop)) + ")"
    return f"a {cls}"


def describe_parts(heap: Heap, parts: MethodParts) -> list[str]:
    """Header, literals and bytecodes of a method, one line each."""
    lines = [repr(parts.header)]
    lines += [f"  lit{i}: {literal_text(heap, o)}" for i, o in enumerate(parts.literals)]

    def lit(i: int) -> str:
        if i < len(parts.literals):
            return literal_text(heap, parts.literals[i])
        return f"<lit{i}?>"

    end = bytecode_end(parts.code)
    for pc, instr in iter_bytecodes(parts.code, end):
        lines.append(f"  {pc:3d} {instr.hex():<6} {describe_instruction(instr, lit)}")
    lines.append(f"  trailer {parts.code[end:].hex()}")
    return lines


def describe_method(heap: Heap, class_name: str, selector: str) -> str:
    """``Class>>selector`` disassembled, e.g. ``describe_method(h, "Object", "error:")``."""
    entry = heap.method(class_name, selector)
    return "\n".join(
        [f"{class_name}>>{selector}", *describe_parts(heap, read_method(heap.image, entry.method))]
    )
