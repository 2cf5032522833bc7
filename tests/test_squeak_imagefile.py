"""Reading and writing the V3 (6502) image: round trips in both byte orders, new objects."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from sqsocket.squeak.heap import Heap
from sqsocket.squeak.imagefile import (
    FMT_BYTES,
    FMT_FIXED,
    FMT_VARIABLE,
    SPECIAL_CLASS_ARRAY,
    SPECIAL_CLASS_STRING,
    ByteOrder,
    ImageFormatError,
    SqueakImage,
    small_int_oop,
)


@pytest.fixture(scope="module")
def source_bytes(squeak_source_image: Path) -> bytes:
    return squeak_source_image.read_bytes()


def test_header(source_bytes: bytes) -> None:
    image = SqueakImage.from_bytes(source_bytes)
    assert image.byteorder == "big"
    assert image.header.version == 6502
    assert image.header.header_size == 64
    assert image.header.data_size == len(source_bytes) - 64
    assert image.header.old_base == 0


def test_round_trip_is_byte_identical(source_bytes: bytes) -> None:
    assert SqueakImage.from_bytes(source_bytes).to_bytes() == source_bytes


def test_every_header_form_occurs(source_bytes: bytes) -> None:
    image = SqueakImage.from_bytes(source_bytes)
    assert {r.header_words for r in image.objects} == {1, 2, 3}
    # The objects tile the memory exactly.
    ends = [r.end for r in image.objects]
    starts = [r.start for r in image.objects]
    assert starts[0] == 0
    assert starts[1:] == ends[:-1]
    assert ends[-1] == len(image.memory)


def test_little_endian_copy(source_bytes: bytes) -> None:
    """Swap to little-endian: words swap, bytes of byte objects and bytecodes do not."""
    big = SqueakImage.from_bytes(source_bytes)
    little_bytes = big.to_bytes("little")
    assert little_bytes != source_bytes
    assert struct.unpack_from("<I", little_bytes)[0] == 6502
    little = SqueakImage.from_bytes(little_bytes)
    assert little.byteorder == "little"
    assert little.to_bytes() == little_bytes
    assert little.to_bytes("big") == source_bytes
    assert [(r.oop, r.format, r.body_words) for r in little.objects] == [
        (r.oop, r.format, r.body_words) for r in big.objects
    ]
    heap_big, heap_little = Heap(big), Heap(little)
    assert heap_little.globals().keys() == heap_big.globals().keys()
    for oop in (heap_big.symbol("printString"), heap_big.global_value("Object")):
        record = big.obj(oop)
        if record.is_bytes:
            assert little.bytes_of(oop) == big.bytes_of(oop)
        else:
            assert little.fields(oop) == big.fields(oop)


def test_class_and_method_lookup(source_bytes: bytes) -> None:
    heap = Heap(SqueakImage.from_bytes(source_bytes))
    assert heap.class_name(heap.behavior("Object")) == "Object"
    assert heap.class_name(heap.behavior("Object class")) == "Object class"
    entry = heap.method("SystemDictionary", "startUp")
    assert entry.selector == "startUp"
    with pytest.raises(KeyError):
        heap.method("Object", "noSuchSelectorAnywhere")
    with pytest.raises(KeyError):
        heap.symbol("noSuchSymbolAnywhere")


@pytest.mark.parametrize("byteorder", ["big", "little"])
def test_appended_objects_survive_a_write(source_bytes: bytes, byteorder: ByteOrder) -> None:
    image = SqueakImage.from_bytes(SqueakImage.from_bytes(source_bytes).to_bytes(byteorder))
    heap = Heap(image)
    text = heap.new_string("héllo, 6502")  # String is not compact in 2.2: 2-word header
    items = [small_int_oop(i) for i in range(70)]
    array = heap.new_array(items)  # 70 fields: 3-word header
    point = image.append_object(heap.global_value("Point"), FMT_FIXED, pointers=items[:2])
    assert image.obj(text).header_words == 2
    assert image.obj(array).header_words == 3
    assert image.obj(point).header_words == 1  # Point is compact class 9
    reread = SqueakImage.from_bytes(image.to_bytes())
    assert reread.header.data_size == len(reread.memory) > len(source_bytes) - 64
    assert reread.bytes_of(text) == "héllo, 6502".encode("latin-1")
    assert reread.obj(text).format == FMT_BYTES + 1  # 11 bytes: one unused in the last word
    assert reread.class_of(text) == reread.special(SPECIAL_CLASS_STRING)
    assert reread.fields(array) == items
    assert reread.obj(array).format == FMT_VARIABLE
    assert reread.class_of(array) == reread.special(SPECIAL_CLASS_ARRAY)
    assert reread.fields(point) == items[:2]
    # Hashes come from the VM's generator, so the same edits give the same bytes.
    again = SqueakImage.from_bytes(SqueakImage.from_bytes(source_bytes).to_bytes(byteorder))
    heap_again = Heap(again)
    heap_again.new_string("héllo, 6502")
    heap_again.new_array(items)
    again.append_object(heap_again.global_value("Point"), FMT_FIXED, pointers=items[:2])
    assert again.to_bytes() == image.to_bytes()


def test_rejects_other_formats() -> None:
    with pytest.raises(ImageFormatError):
        SqueakImage.from_bytes(struct.pack(">9I", 6504, 64, 0, 0, 0, 0, 0, 0, 0) + bytes(28))
    with pytest.raises(ImageFormatError):
        SqueakImage.from_bytes(b"\x00\x00")


def test_rejects_truncated_memory(source_bytes: bytes) -> None:
    with pytest.raises(ImageFormatError):
        SqueakImage.from_bytes(source_bytes[:-100])
