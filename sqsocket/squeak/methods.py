"""CompiledMethods of a pre-closure (6502) image: header, bytecodes, primitive rewrite.

A CompiledMethod is one object: a header SmallInteger, ``numLiterals`` literal oops,
then bytecodes, then a trailer (a 4-byte source pointer, or temp names followed by
their length byte). The header value (the SmallInteger, not the oop) packs::

    bits 0-8   primitive index (low 9 bits)     bits 18-23 number of temps
    bits 9-16  number of literals               bits 24-27 number of arguments
    bit  17    large context frame              bit  28    primitive index bit 9

The VM runs a method's primitive first and its bytecodes only when it fails. The
interpreter addresses literals by index from its bytecodes, so inserting a literal at
the front means rewriting every literal-referencing bytecode (see :func:`shift_literals`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqsocket.squeak.imagefile import (
    FMT_METHOD,
    WORD,
    SqueakImage,
    method_literal_count,
    small_int_oop,
    small_int_value,
)

PRIMITIVE_EXTERNAL_CALL = 117  # "named primitive": first literal names module and function

# Numbered primitives the Debian 4.10 VM no longer has, and the named primitive that
# replaced each one (same arguments, same receiver layout).
NUMBERED_TO_NAMED: dict[int, tuple[str, str]] = {
    96: ("BitBltPlugin", "primitiveCopyBits"),
    150: ("FilePlugin", "primitiveFileAtEnd"),
    151: ("FilePlugin", "primitiveFileClose"),
    152: ("FilePlugin", "primitiveFileGetPosition"),
    153: ("FilePlugin", "primitiveFileOpen"),
    154: ("FilePlugin", "primitiveFileRead"),
    155: ("FilePlugin", "primitiveFileSetPosition"),
    156: ("FilePlugin", "primitiveFileDelete"),
    157: ("FilePlugin", "primitiveFileSize"),
    158: ("FilePlugin", "primitiveFileWrite"),
    159: ("FilePlugin", "primitiveFileRename"),
    160: ("FilePlugin", "primitiveDirectoryCreate"),
    161: ("FilePlugin", "primitiveDirectoryDelimitor"),
    162: ("FilePlugin", "primitiveDirectoryLookup"),
    163: ("FilePlugin", "primitiveDirectoryDelete"),
    169: ("FilePlugin", "primitiveDirectorySetMacTypeAndCreator"),
}


class LiteralShiftError(ValueError):
    """A bytecode's short form cannot address the shifted literal index."""


@dataclass(frozen=True)
class MethodHeader:
    """The decoded header SmallInteger of a CompiledMethod."""

    primitive: int
    num_literals: int
    large_frame: bool
    num_temps: int
    num_args: int

    @classmethod
    def decode(cls, header_oop: int) -> MethodHeader:
        value = small_int_value(header_oop)
        return cls(
            primitive=(value & 0x1FF) | ((value >> 19) & 0x200),
            num_literals=method_literal_count(header_oop),
            large_frame=bool(value & (1 << 17)),
            num_temps=(value >> 18) & 0x3F,
            num_args=(value >> 24) & 0xF,
        )

    def encode(self) -> int:
        """The header as a SmallInteger oop."""
        if not 0 <= self.primitive < 1024 or not 0 <= self.num_literals < 256:
            raise ValueError(f"header field out of range: {self}")
        value = (
            (self.primitive & 0x1FF)
            | (self.num_literals << 9)
            | (int(self.large_frame) << 17)
            | (self.num_temps << 18)
            | (self.num_args << 24)
            | ((self.primitive & 0x200) << 19)
        )
        return small_int_oop(value)


@dataclass(frozen=True)
class MethodParts:
    """A CompiledMethod taken apart: header, literal oops, bytecodes and trailer bytes."""

    header: MethodHeader
    literals: tuple[int, ...]
    code: bytes  # bytecodes followed by the trailer


def read_method(image: SqueakImage, oop: int) -> MethodParts:
    record = image.obj(oop)
    if not record.is_method:
        raise TypeError(f"oop {oop:#x} is not a CompiledMethod")
    header = MethodHeader.decode(image.word_at(record.body))
    literals = tuple(
        image.word_at(record.body + WORD * (1 + i)) for i in range(header.num_literals)
    )
    code_start = record.body + WORD * (1 + header.num_literals)
    code = bytes(image.memory[code_start : record.body + record.byte_size])
    return MethodParts(header, literals, code)


def append_method(image: SqueakImage, parts: MethodParts, class_oop: int) -> int:
    """Allocate a CompiledMethod (class ``class_oop``) from its parts; answer its oop."""
    if parts.header.num_literals != len(parts.literals):
        raise ValueError("literal count in header does not match literals")
    return image.append_object(
        class_oop,
        FMT_METHOD,
        pointers=(parts.header.encode(), *parts.literals),
        data=parts.code,
    )


# --------------------------------------------------------------------- bytecodes
def bytecode_length(op: int) -> int:
    """Length in bytes of the pre-closure (Blue Book + Squeak) bytecode starting with ``op``."""
    if op in (0x80, 0x81, 0x82, 0x83, 0x85, 0x86) or 0xA0 <= op <= 0xAF:
        return 2
    if op == 0x84:
        return 3
    return 1


def iter_bytecodes(code: bytes, end: int) -> list[tuple[int, bytes]]:
    """Split ``code[:end]`` into (offset, instruction bytes)."""
    out: list[tuple[int, bytes]] = []
    pc = 0
    while pc < end:
        n = bytecode_length(code[pc])
        out.append((pc, code[pc : pc + n]))
        pc += n
    return out


def literal_index(instr: bytes) -> int | None:
    """The literal index an instruction refers to, or None."""
    op = instr[0]
    if 0x20 <= op <= 0x3F:
        return op - 0x20
    if 0x40 <= op <= 0x5F:
        return op - 0x40
    if 0xD0 <= op <= 0xFF:
        return op & 0x0F
    if op in (0x80, 0x81, 0x82):
        return instr[1] & 0x3F if instr[1] >> 6 in (2, 3) else None
    if op in (0x83, 0x85):
        return instr[1] & 0x1F
    if op == 0x86:
        return instr[1] & 0x3F
    if op == 0x84:
        return instr[2] if instr[1] >> 5 in (0, 1, 3, 4, 7) else None
    return None


def _with_literal_index(instr: bytes, index: int) -> bytes:
    op = instr[0]
    limit: int
    if 0x20 <= op <= 0x3F:
        limit, new = 31, bytes([0x20 + index])
    elif 0x40 <= op <= 0x5F:
        limit, new = 31, bytes([0x40 + index])
    elif 0xD0 <= op <= 0xFF:
        limit, new = 15, bytes([(op & 0xF0) | index])
    elif op in (0x80, 0x81, 0x82, 0x86):
        limit, new = 63, bytes([op, (instr[1] & 0xC0) | index])
    elif op in (0x83, 0x85):
        limit, new = 31, bytes([op, (instr[1] & 0xE0) | index])
    elif op == 0x84:
        limit, new = 255, bytes([op, instr[1], index])
    else:  # pragma: no cover - guarded by literal_index
        raise AssertionError(op)
    if index > limit:
        raise LiteralShiftError(
            f"bytecode {instr.hex()} cannot address literal {index} (limit {limit})"
        )
    return new


def shift_literals(code: bytes, end: int, by: int = 1) -> bytes:
    """``code`` with every literal index in ``code[:end]`` increased by ``by``.

    Instruction lengths never change (an overflow raises :class:`LiteralShiftError`),
    so jump offsets stay valid and the trailer after ``end`` is kept as is.
    """
    out = bytearray()
    for _pc, instr in iter_bytecodes(code, end):
        index = literal_index(instr)
        out += instr if index is None else _with_literal_index(instr, index + by)
    return bytes(out) + code[end:]


def bytecode_end(code: bytes) -> int:
    """Offset where the bytecodes stop and the trailer starts (``CompiledMethod>>endPC``).

    The last byte says which trailer the method has: >= 252 is the high byte of a
    4-byte source pointer (biased by 251); 1-251 is the length of the encoded temp
    names that precede it; 0 is an empty trailer of up to four zero bytes (the
    compiler's ``#(0 0 0 0)``; a method's last bytecode, a return or jump, is never 0).
    """
    flag = code[-1]
    if flag >= 252:
        return len(code) - 4
    if flag > 0:
        return len(code) - flag - 1
    for i in range(1, 5):
        if code[len(code) - 1 - i] != 0:
            return len(code) - i
    return len(code) - 1


def rewrite_to_named_primitive(image: SqueakImage, method: int, spec_array: int) -> MethodParts:
    """The parts of ``method`` changed to call a named primitive (117).

    ``spec_array`` (``#('Module' 'function' 0 0)``) becomes literal 0; the other
    literals move up one and the bytecodes are renumbered to match. Everything
    else (temps, args, frame size, trailer) is kept.
    """
    parts = read_method(image, method)
    code_end = bytecode_end(parts.code)
    header = replace(
        parts.header, primitive=PRIMITIVE_EXTERNAL_CALL, num_literals=parts.header.num_literals + 1
    )
    return MethodParts(
        header, (spec_array, *parts.literals), shift_literals(parts.code, code_end, 1)
    )
