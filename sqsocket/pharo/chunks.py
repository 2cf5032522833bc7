"""The chunk (file-in) format, split the way Pharo 13's file-in splits it.

Pharo 13 files a ``.st`` file in with ``CodeImporter``: ``ChunkReadStream`` cuts the
text at every ``!`` that is not doubled (``!!`` stands for one ``!``), and
``ChunkFileFormatParser>>parseNextDeclaration`` sorts the chunks:

* a chunk that starts with ``!`` is metadata. After ``Foo [class] methodsFor:
  'protocol'``, Pharo 13 compiles method chunks until an empty one (``! !``)
  (``parseMethodDeclarations:``). Pharo's later reader (pharo-project/pharo pull
  request 18621, merged October 2025, not in the Pharo13 branch read for this) takes
  exactly one method and keeps the chunk after it as that method's metadata, so a
  second method under one preamble is silently dropped there. One method per preamble, each
  followed by ``! !``, reads the same in both, and this check asks for it.
  ``commentStamp:`` takes one chunk, ``reorganize`` two; any other metadata chunk is
  ignored, and the chunks after it become do-its;
* every other chunk is a do-it (an expression, or a class definition);
* after a chunk, a ``]`` is read as the start of a ``]lang[`` tag (Pharo 13's
  ``ChunkReadStream>>parseLangTagFor:``).

The check is stricter than Pharo in one place: a last chunk without its ``!`` is
still read by Pharo, but is reported here (it is nearly always a forgotten ``!``).

:func:`read_declarations` answers the do-its and methods, each with the file offset
of every character, and the places where that reading goes wrong.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# Character>>isSeparator: space, tab, CR, LF, form feed (not Python's wider isspace).
SEPARATORS = frozenset(" \t\r\n\f")
TERMINATOR = "!"
SECOND_METHOD = (
    "one method per methodsFor: preamble: Pharo 13 compiles this one too, but Pharo's "
    "later chunk reader (pull request 18621) takes it for the metadata of the method "
    "before and drops it"
)

_PREAMBLE = re.compile(
    r"""\s*(?P<name>[A-Za-z_]\w*)(?:\s+(?P<meta>class|classTrait))?
        \s+methodsFor:\s*'(?P<protocol>(?:[^']|'')*)'
        (?:\s+stamp:\s*'(?:[^']|'')*')?\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Chunk:
    """A chunk's text (``!!`` undone) and where it lies in the file."""

    text: str
    start: int  # file offset of text[0]
    escapes: tuple[int, ...] = ()  # indexes in text of each "!" that the file spells "!!"
    terminated: bool = True

    def file_offset(self, index: int) -> int:
        """The file offset of ``text[index]`` (clamped to the chunk)."""
        index = min(max(index, 0), len(self.text))
        return self.start + index + bisect.bisect_left(self.escapes, index)


@dataclass(frozen=True)
class DoIt:
    """A chunk Pharo evaluates: statements, or a class definition."""

    chunk: Chunk


@dataclass(frozen=True)
class MethodSource:
    """A method chunk, with the class and protocol its preamble names."""

    chunk: Chunk
    class_name: str
    meta: bool
    protocol: str


Declaration = DoIt | MethodSource


@dataclass(frozen=True)
class ChunkError:
    """The chunk structure goes wrong at ``offset`` (into the file)."""

    offset: int
    message: str


class ChunkReader:
    """``ChunkReadStream`` over a source text, keeping file offsets."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.errors: list[ChunkError] = []

    def skip_separators(self) -> None:
        while self.pos < len(self.source) and self.source[self.pos] in SEPARATORS:
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_separators()
        return self.pos >= len(self.source)

    def next_is_metadata(self) -> bool:
        """``isNextChunkMetaData``: a ``!`` here marks metadata; it is consumed."""
        if self.source.startswith(TERMINATOR, self.pos):
            self.pos += 1
            return True
        return False

    def next(self) -> Chunk:
        """``basicNextChunk``: separators skipped, then text up to a single ``!``."""
        self.skip_separators()
        source, start = self.source, self.pos
        parts: list[str] = []
        escapes: list[int] = []
        length = 0
        while True:
            bang = source.find(TERMINATOR, self.pos)
            if bang < 0:
                parts.append(source[self.pos :])
                self.pos = len(source)
                chunk = Chunk("".join(parts), start, tuple(escapes), terminated=False)
                break
            parts.append(source[self.pos : bang])
            length += bang - self.pos
            if source.startswith(TERMINATOR, bang + 1):  # "!!" is one "!"
                parts.append(TERMINATOR)
                escapes.append(length)
                length += 1
                self.pos = bang + 2
                continue
            self.pos = bang + 1
            chunk = Chunk("".join(parts), start, tuple(escapes))
            break
        self._check_lang_tag()
        return chunk

    def _check_lang_tag(self) -> None:
        # parseLangTagFor: a "]" after a chunk starts a "]lang[" tag; anything else
        # there is glued onto the chunk before it.
        self.skip_separators()
        if self.source.startswith("]", self.pos):
            message = "a chunk must not start with ']': Pharo's reader takes it for a ]lang[ tag"
            self.errors.append(ChunkError(self.pos, message))


def read_declarations(source: str) -> tuple[list[Declaration], list[ChunkError]]:
    """The do-its and methods of a chunk-format text, and its structure errors."""
    reader = ChunkReader(source)
    declarations: list[Declaration] = []
    errors = reader.errors
    while not reader.at_end():  # every turn consumes at least one character
        metadata = reader.next_is_metadata()
        chunk = reader.next()
        if metadata and not chunk.text.strip():
            errors.append(ChunkError(chunk.start - 1, "a stray '!' (an empty preamble)"))
            continue
        if not chunk.terminated:
            errors.append(ChunkError(chunk.start, "chunk not terminated by '!'"))
        if not metadata:
            declarations.append(DoIt(chunk))
            continue
        preamble = _PREAMBLE.match(chunk.text)
        if preamble is None:
            _skip_other_metadata(reader, chunk, errors)
            continue
        method = reader.next()
        if not method.text.strip():
            # "!Foo methodsFor: 'x'! !": the empty chunk meant to close the section
            errors.append(ChunkError(method.start, "empty method chunk"))
            continue
        meta, protocol = preamble["meta"] is not None, preamble["protocol"].replace("''", "'")
        first = True
        while method.text.strip():  # Pharo 13's loop; each turn consumes a chunk
            if not method.terminated:
                errors.append(ChunkError(method.start, "method not terminated by '!'"))
                break
            declarations.append(MethodSource(method, preamble["name"], meta, protocol))
            if not first:
                errors.append(ChunkError(method.start, SECOND_METHOD))
            first = False
            if reader.at_end():
                message = "a method must be followed by an empty chunk ('! !')"
                errors.append(ChunkError(len(source.rstrip()) - 1, message))
                break
            method = reader.next()
    return declarations, errors


def _skip_other_metadata(reader: ChunkReader, chunk: Chunk, errors: list[ChunkError]) -> None:
    """A metadata chunk that is not a well-formed preamble: consume what Pharo consumes."""
    words = chunk.text.split()
    if "methodsFor:" in words:  # Pharo still takes the next two chunks as method + metadata
        reader.next()
        reader.next()
        message = "method preamble must read: ClassName [class] methodsFor: 'protocol'"
    elif "commentStamp:" in words:
        reader.next()
        return
    elif "reorganize" in words:
        reader.next()
        reader.next()
        return
    else:
        message = (
            "a '!' chunk must be a methodsFor:, commentStamp: or reorganize preamble "
            "(Pharo 13 ignores any other and runs the chunks after it as do-its)"
        )
    errors.append(ChunkError(chunk.start, message))
