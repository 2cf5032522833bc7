"""CompiledMethod headers, trailers and literal renumbering (no image needed)."""

from __future__ import annotations

import pytest

from sqsocket.squeak.imagefile import small_int_oop, small_int_value
from sqsocket.squeak.methods import (
    LiteralShiftError,
    MethodHeader,
    bytecode_end,
    iter_bytecodes,
    literal_index,
    shift_literals,
)


def test_small_integer_round_trip() -> None:
    for value in (0, 1, -1, 12345, (1 << 30) - 1, -(1 << 30)):
        assert small_int_value(small_int_oop(value)) == value
    with pytest.raises(ValueError):
        small_int_oop(1 << 30)


def test_decode_known_headers() -> None:
    # FileDirectory class>>primPathNameDelimiter in squeakjs.image: prim 161, 1 literal.
    header = MethodHeader.decode(small_int_oop(161 | 1 << 9))
    assert header == MethodHeader(161, 1, False, 0, 0)
    # Compiler>>evaluate:in:to:notifying:ifFail:: 11 literals, large frame, 8 temps, 5 args.
    value = 11 << 9 | 1 << 17 | 8 << 18 | 5 << 24
    assert MethodHeader.decode(small_int_oop(value)) == MethodHeader(0, 11, True, 8, 5)


def test_primitive_index_high_bit() -> None:
    """Primitive indices above 511 keep their tenth bit in header bit 28 (oop bit 29)."""
    header = MethodHeader(primitive=540, num_literals=3, large_frame=False, num_temps=1, num_args=1)
    oop = header.encode()
    assert oop & (1 << 29)
    assert small_int_value(oop) & 0x1FF == 540 & 0x1FF
    assert MethodHeader.decode(oop) == header


@pytest.mark.parametrize(
    "header",
    [
        MethodHeader(117, 2, False, 0, 0),
        MethodHeader(0, 255, True, 63, 15),
        MethodHeader(1023, 0, False, 0, 0),
    ],
)
def test_header_round_trip(header: MethodHeader) -> None:
    assert MethodHeader.decode(header.encode()) == header


def test_header_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        MethodHeader(0, 256, False, 0, 0).encode()


@pytest.mark.parametrize(
    ("instr", "index"),
    [
        (b"\x20", 0),  # push literal constant 0
        (b"\x3f", 31),
        (b"\x40", 0),  # push literal variable 0
        (b"\x5f", 31),
        (b"\xd0", 0),  # send literal selector 0, no arguments
        (b"\xef", 15),  # ... 1 argument
        (b"\xff", 15),  # ... 2 arguments
        (b"\x80\x85", 5),  # extended push literal constant 5
        (b"\x80\xc7", 7),  # extended push literal variable 7
        (b"\x80\x05", None),  # extended push receiver variable
        (b"\x80\x45", None),  # extended push temp
        (b"\x81\xc2", 2),  # extended store literal variable
        (b"\x82\xc2", 2),  # extended store-pop literal variable
        (b"\x83\x23", 3),  # single extended send, 1 argument
        (b"\x85\x23", 3),  # single extended super send
        (b"\x84\x01\x40", 64),  # double extended send
        (b"\x84\x60\x40", 64),  # double extended push literal constant
        (b"\x84\x40\x07", None),  # double extended push receiver variable
        (b"\x86\x7f", 63),  # second extended send
        (b"\x70", None),
        (b"\xb0", None),  # special selector +
        (b"\xa4\x03", None),  # long jump
    ],
)
def test_literal_index(instr: bytes, index: int | None) -> None:
    assert literal_index(instr) == index


def test_shift_literals_keeps_lengths_and_trailer() -> None:
    # BitBlt>>copyBitsAgain-like body: push self, send #primitiveFailed, pop, ^self;
    # then a 1-byte empty trailer.
    code = bytes([0x70, 0xD0, 0x87, 0x78, 0x00])
    shifted = shift_literals(code, bytecode_end(code))
    assert shifted == bytes([0x70, 0xD1, 0x87, 0x78, 0x00])


def test_shift_literals_every_form() -> None:
    code = bytes(
        [0x21, 0x42, 0xE3, 0x80, 0x84, 0x82, 0xC1, 0x83, 0x24, 0x84, 0x20, 0x07, 0x86, 0x48]
    )
    shifted = shift_literals(code, len(code))
    assert [literal_index(i) for _, i in iter_bytecodes(shifted, len(shifted))] == [
        2,
        3,
        4,
        5,
        2,
        5,
        8,
        9,
    ]
    assert len(shifted) == len(code)


@pytest.mark.parametrize("code", [b"\x3f", b"\x5f", b"\xdf", b"\x83\x1f", b"\x86\x3f"])
def test_shift_literals_overflow_is_an_error(code: bytes) -> None:
    """A short form cannot address the next literal: refuse rather than corrupt."""
    with pytest.raises(LiteralShiftError):
        shift_literals(code, len(code))


@pytest.mark.parametrize(
    ("code", "end"),
    [
        (bytes([0x70, 0xD0, 0x87, 0x78, 0x00]), 4),  # empty trailer
        (bytes([0x70, 0x7C, 0x00, 0x00, 0x00, 0x00]), 2),  # #(0 0 0 0) trailer
        (bytes([0x20, 0x7C, 0xEF, 0xA6, 0x01, 0xFD]), 2),  # 4-byte source pointer
        (bytes([0x70, 0xD0, 0x87, 0x78, 0x7C, 0xE0, 0x02]), 4),  # 2 bytes of temp names
    ],
)
def test_bytecode_end(code: bytes, end: int) -> None:
    assert bytecode_end(code) == end
