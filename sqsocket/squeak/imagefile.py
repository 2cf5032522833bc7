"""Read, edit and write a 32-bit V3 Squeak image (format 6502), in either byte order.

The file is a 64-byte header followed by the object memory exactly as the VM saved it,
one object after another. Every object starts with one, two or three header words:

* 1 word ("short"): the base header; the class is a *compact class*, named by a
  5-bit index into the compact-classes array (special object 28).
* 2 words: ``class oop | 1``, then the base header.
* 3 words: ``size in bytes | 0``, then ``class oop | 0``, then the base header.

The base header holds, from the low bits up: header type (2 bits), size in words
including the base header (6 bits; 0 when a 3-word header carries it), format
(4 bits), compact class index (5 bits), identity hash (12 bits), GC bits (3 bits).
An oop is the address of the base header word (``old base address`` + offset into
the object memory); a SmallInteger is an odd oop.

The VM loads the file by ``fread``-ing the object memory and, when the image's byte
order differs from the machine's, swapping every word and then swapping the words of
byte objects back. So in the file, pointer and word objects are stored in the image's
byte order while byte objects (Strings, ByteArrays, bytecodes) are stored in memory
order, identical in both byte orders. :class:`SqueakImage` keeps the memory as raw
bytes in the file's order and reads words with that order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

ByteOrder = Literal["big", "little"]

IMAGE_FORMAT_6502 = 6502
WORD = 4

# Header types, in the low two bits of every header word.
HEADER_3_WORDS = 0
HEADER_2_WORDS = 1
HEADER_FREE = 2
HEADER_1_WORD = 3

# Object formats (bits 8-11 of the base header).
FMT_EMPTY = 0
FMT_FIXED = 1
FMT_VARIABLE = 2
FMT_FIXED_VARIABLE = 3
FMT_WEAK = 4
FMT_WORDS = 6
FMT_BYTES = 8  # 8-11: low two bits are the count of unused bytes in the last word
FMT_METHOD = 12  # 12-15: idem; header and literals are oops, then bytecodes

# Indices into the special objects array that the builder needs.
SPECIAL_NIL = 0
SPECIAL_FALSE = 1
SPECIAL_TRUE = 2
SPECIAL_CLASS_SMALLINTEGER = 5
SPECIAL_CLASS_STRING = 6
SPECIAL_CLASS_ARRAY = 7
SPECIAL_SMALLTALK = 8
SPECIAL_CLASS_COMPILED_METHOD = 16
SPECIAL_CLASS_BYTE_ARRAY = 26
SPECIAL_COMPACT_CLASSES = 28

_SIZE_MASK = 0xFC  # size in bytes of a short object, base header included
_HASH_SHIFT = 17
_HASH_MASK = 0xFFF


class ImageFormatError(ValueError):
    """The bytes are not a 32-bit V3 (6502) image this module understands."""


@dataclass(frozen=True)
class ImageHeader:
    """The fixed header at the start of the file (every field one 32-bit word).

    ``data_size`` is the number of bytes of object memory after the header; the VM
    reads exactly that many. ``last_hash`` seeds the identity-hash generator.
    """

    version: int
    header_size: int
    data_size: int
    old_base: int
    special_objects_oop: int
    last_hash: int
    saved_window_size: int
    full_screen_flag: int
    extra_vm_memory: int
    padding: bytes  # the rest of the header, kept as saved


_HEADER_FIELDS = 9


@dataclass(frozen=True)
class ObjectRecord:
    """Where one object lives in the object memory and what its header words say."""

    oop: int
    start: int  # offset of the first header word in the object memory
    header_words: int  # 1, 2 or 3
    format: int
    compact_index: int  # 0 when the class is in a header word
    class_word: int  # the class oop from the header (0 for a short header)
    hash: int
    body_words: int  # words after the base header

    @property
    def body(self) -> int:
        """Offset of the first field (the word after the base header)."""
        return self.start + WORD * self.header_words

    @property
    def end(self) -> int:
        """Offset just after the object's last word: where the next object starts."""
        return self.body + WORD * self.body_words

    @property
    def is_bytes(self) -> bool:
        return FMT_BYTES <= self.format < FMT_METHOD

    @property
    def is_method(self) -> bool:
        return self.format >= FMT_METHOD

    @property
    def is_pointers(self) -> bool:
        return self.format <= FMT_WEAK

    @property
    def is_words(self) -> bool:
        return self.format == FMT_WORDS

    @property
    def byte_size(self) -> int:
        """Number of indexable bytes of a byte object or CompiledMethod."""
        return WORD * self.body_words - (self.format & 3)


def is_small_int(oop: int) -> bool:
    return oop & 1 == 1


def small_int_value(oop: int) -> int:
    """Decode a SmallInteger oop (31-bit two's complement value, tag bit 0)."""
    value = oop >> 1
    return value - (1 << 31) if value & (1 << 30) else value


def small_int_oop(value: int) -> int:
    """Encode a Python int as a SmallInteger oop."""
    if not -(1 << 30) <= value < (1 << 30):
        raise ValueError(f"{value} does not fit a SmallInteger")
    return ((value << 1) | 1) & 0xFFFFFFFF


def next_hash(last_hash: int) -> int:
    """The VM's identity-hash generator (``ObjectMemory>>newObjectHash``): a 16-bit LCG."""
    return (13849 + 27181 * last_hash) & 0xFFFF


class SqueakImage:
    """A loaded image: header, object memory and an index of every object.

    Edits go through :meth:`set_word` and :meth:`append_object`; :meth:`to_bytes`
    writes the file back in the original byte order, or the other one.
    """

    def __init__(self, header: ImageHeader, memory: bytearray, byteorder: ByteOrder) -> None:
        self.header = header
        self.memory = memory
        self.byteorder: ByteOrder = byteorder
        self._word = struct.Struct(">I" if byteorder == "big" else "<I")
        self.objects: list[ObjectRecord] = []
        self._by_oop: dict[int, ObjectRecord] = {}
        self._scan()

    # ----------------------------------------------------------------- reading
    @classmethod
    def from_bytes(cls, data: bytes) -> SqueakImage:
        """Parse an image file; the byte order is whichever makes the version 6502."""
        if len(data) < _HEADER_FIELDS * WORD:
            raise ImageFormatError("file too short for an image header")
        byteorder: ByteOrder
        for byteorder in ("big", "little"):
            if int.from_bytes(data[:4], byteorder) == IMAGE_FORMAT_6502:
                break
        else:
            raise ImageFormatError(
                f"image format {int.from_bytes(data[:4], 'big')} is not 6502 "
                "(a 32-bit pre-closure V3 image) in either byte order"
            )
        prefix = ">" if byteorder == "big" else "<"
        fields: tuple[int, ...] = struct.unpack(prefix + "9I", data[: _HEADER_FIELDS * WORD])
        header_size = fields[1]
        header = ImageHeader(
            version=fields[0],
            header_size=header_size,
            data_size=fields[2],
            old_base=fields[3],
            special_objects_oop=fields[4],
            last_hash=fields[5],
            saved_window_size=fields[6],
            full_screen_flag=fields[7],
            extra_vm_memory=fields[8],
            padding=bytes(data[_HEADER_FIELDS * WORD : header_size]),
        )
        memory = bytearray(data[header_size : header_size + header.data_size])
        if len(memory) != header.data_size:
            raise ImageFormatError(
                f"header says {header.data_size} bytes of objects, file has {len(memory)}"
            )
        return cls(header, memory, byteorder)

    @classmethod
    def read(cls, path: Path) -> SqueakImage:
        return cls.from_bytes(path.read_bytes())

    def _scan(self) -> None:
        """Walk the object memory once and index every object by oop."""
        self.objects = []
        self._by_oop = {}
        offset = 0
        while offset < len(self.memory):
            record = self._record_at(offset)
            self.objects.append(record)
            self._by_oop[record.oop] = record
            offset = record.end
        if offset != len(self.memory):
            raise ImageFormatError("last object runs past the end of the object memory")

    def _record_at(self, start: int) -> ObjectRecord:
        first = self.word_at(start)
        kind = first & 3
        class_word = 0
        if kind == HEADER_3_WORDS:
            words = 3
            size_bytes = first & ~3
            class_word = self.word_at(start + 4) & ~3
        elif kind == HEADER_2_WORDS:
            words = 2
            class_word = first & ~3
        elif kind == HEADER_1_WORD:
            words = 1
        else:
            raise ImageFormatError(f"free chunk at offset {start}: image was not compacted")
        base = self.word_at(start + WORD * (words - 1))
        if base & 3 != kind:
            raise ImageFormatError(f"inconsistent header words at offset {start}")
        if kind != HEADER_3_WORDS:
            size_bytes = base & _SIZE_MASK
        body_words = size_bytes // WORD - 1
        if body_words < 0:
            raise ImageFormatError(f"object at offset {start} has size 0")
        return ObjectRecord(
            oop=self.header.old_base + start + WORD * (words - 1),
            start=start,
            header_words=words,
            format=(base >> 8) & 0xF,
            compact_index=(base >> 12) & 0x1F,
            class_word=class_word,
            hash=(base >> _HASH_SHIFT) & _HASH_MASK,
            body_words=body_words,
        )

    # ----------------------------------------------------------------- access
    def word_at(self, offset: int) -> int:
        """The 32-bit word at a memory offset, in the image's byte order."""
        return int(self._word.unpack_from(self.memory, offset)[0])

    def set_word_at(self, offset: int, value: int) -> None:
        self._word.pack_into(self.memory, offset, value & 0xFFFFFFFF)

    def obj(self, oop: int) -> ObjectRecord:
        try:
            return self._by_oop[oop]
        except KeyError:
            raise KeyError(f"no object at oop {oop:#x}") from None

    def has_object(self, oop: int) -> bool:
        return oop in self._by_oop

    def fetch(self, oop: int, index: int) -> int:
        """Field ``index`` (0-based) of a pointer object, or a literal slot of a method."""
        record = self.obj(oop)
        if not 0 <= index < record.body_words:
            raise IndexError(f"field {index} out of range for oop {oop:#x}")
        return self.word_at(record.body + WORD * index)

    def store(self, oop: int, index: int, value: int) -> None:
        record = self.obj(oop)
        if not 0 <= index < record.body_words:
            raise IndexError(f"field {index} out of range for oop {oop:#x}")
        self.set_word_at(record.body + WORD * index, value)

    def fields(self, oop: int) -> list[int]:
        record = self.obj(oop)
        return [self.word_at(record.body + WORD * i) for i in range(record.body_words)]

    def bytes_of(self, oop: int) -> bytes:
        """The indexable bytes of a byte object (memory order: same in both byte orders)."""
        record = self.obj(oop)
        if not record.is_bytes:
            raise TypeError(f"oop {oop:#x} is not a byte object (format {record.format})")
        return bytes(self.memory[record.body : record.body + record.byte_size])

    @property
    def special_objects(self) -> list[int]:
        return self.fields(self.header.special_objects_oop)

    def special(self, index: int) -> int:
        return self.fetch(self.header.special_objects_oop, index)

    @property
    def nil(self) -> int:
        return self.special(SPECIAL_NIL)

    def class_of(self, oop: int) -> int:
        """The class oop of an object (SmallIntegers answer class SmallInteger)."""
        if is_small_int(oop):
            return self.special(SPECIAL_CLASS_SMALLINTEGER)
        record = self.obj(oop)
        if record.header_words == 1:
            return self.fetch(self.special(SPECIAL_COMPACT_CLASSES), record.compact_index - 1)
        return record.class_word

    def compact_index_of_class(self, class_oop: int) -> int:
        """The class's 1-based index in the compact classes array, or 0."""
        table = self.fields(self.special(SPECIAL_COMPACT_CLASSES))
        return table.index(class_oop) + 1 if class_oop in table else 0

    def iter_objects(self) -> Iterator[ObjectRecord]:
        return iter(self.objects)

    # ----------------------------------------------------------------- editing
    def append_object(
        self,
        class_oop: int,
        fmt: int,
        *,
        pointers: Sequence[int] = (),
        data: bytes = b"",
    ) -> int:
        """Allocate a new object after the last one and answer its oop.

        ``pointers`` are the oop slots (all fields of a pointer object, or header and
        literals of a CompiledMethod); ``data`` the bytes of a byte object or the
        bytecodes of a method. For byte formats the low two format bits are set here
        from the padding. Uses the shortest header the VM allows: one word when the
        class is compact and the object has fewer than 63 body words.
        """
        if fmt >= FMT_BYTES:
            fmt &= ~3
            raw = b"".join(self._word.pack(p) for p in pointers) + data
            pad = -len(raw) % WORD
            raw += bytes(pad)
            fmt |= pad
        else:
            if data:
                raise ValueError("pointer objects take no data bytes")
            raw = b"".join(self._word.pack(p & 0xFFFFFFFF) for p in pointers)
        body_words = len(raw) // WORD
        compact = self.compact_index_of_class(class_oop)
        size_bytes = WORD * (body_words + 1)
        last_hash = next_hash(self.header.last_hash)
        self.header = replace(self.header, last_hash=last_hash)
        base = (last_hash & _HASH_MASK) << _HASH_SHIFT | compact << 12 | fmt << 8
        words: list[int]
        if size_bytes <= _SIZE_MASK and compact:
            words = [base | size_bytes | HEADER_1_WORD]
        elif size_bytes <= _SIZE_MASK:
            words = [class_oop | HEADER_2_WORDS, base | size_bytes | HEADER_2_WORDS]
        else:
            words = [size_bytes | HEADER_3_WORDS, class_oop | HEADER_3_WORDS, base]
        start = len(self.memory)
        self.memory += b"".join(self._word.pack(w) for w in words) + raw
        self.header = replace(self.header, data_size=len(self.memory))
        record = self._record_at(start)
        self.objects.append(record)
        self._by_oop[record.oop] = record
        return record.oop

    # ----------------------------------------------------------------- writing
    def header_bytes(self, byteorder: ByteOrder) -> bytes:
        h = self.header
        prefix = ">" if byteorder == "big" else "<"
        fields = struct.pack(
            prefix + "9I",
            h.version,
            h.header_size,
            h.data_size,
            h.old_base,
            h.special_objects_oop,
            h.last_hash,
            h.saved_window_size,
            h.full_screen_flag,
            h.extra_vm_memory,
        )
        return fields + h.padding

    def to_bytes(self, byteorder: ByteOrder | None = None) -> bytes:
        """The image file; ``byteorder`` (default: as read) chooses the word order."""
        order = byteorder or self.byteorder
        memory = self.memory if order == self.byteorder else self._swapped_memory()
        return self.header_bytes(order) + bytes(memory)

    def write(self, path: Path, byteorder: ByteOrder | None = None) -> None:
        path.write_bytes(self.to_bytes(byteorder))

    def _swapped_memory(self) -> bytearray:
        """The object memory with every word swapped except the bytes of byte objects
        and the bytecodes of methods, which stay in memory order."""
        out = bytearray(self.memory)
        for record in self.objects:
            word_end = record.end
            if record.is_bytes:
                word_end = record.body
            elif record.is_method:
                literals = method_literal_count(self.word_at(record.body))
                word_end = record.body + WORD * (1 + literals)
            _swap_words(out, record.start, word_end)
        return out


def method_literal_count(header_oop: int) -> int:
    """How many literals a CompiledMethod's header SmallInteger declares (bits 9..16):
    the words of the method that are oops, before its bytecodes."""
    return (small_int_value(header_oop) >> 9) & 0xFF


def _swap_words(buf: bytearray, start: int, end: int) -> None:
    """Reverse the bytes of each 32-bit word in ``buf[start:end]`` in place."""
    chunk = buf[start:end]
    count = len(chunk) // WORD
    swapped = struct.pack(f"<{count}I", *struct.unpack(f">{count}I", chunk))
    buf[start:end] = swapped
