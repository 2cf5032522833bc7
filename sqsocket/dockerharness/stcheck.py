"""A static check of Smalltalk sources in chunk (file-in) format, as Pharo 13 reads them.

There is no Pharo on sqsocket's machines, so this is what stands between a typo in
``images/pharo/*.st`` and a file-in that fails inside a Docker build nobody here can
run. It follows Pharo 13's own reader (``ChunkReadStream`` + ``ChunkFileFormatParser``):

* chunks end at a ``!`` that is not doubled (``!!`` is a literal ``!``);
* a chunk that starts with ``!`` is a preamble; ``Foo [class] methodsFor: 'protocol'``
  is followed by exactly **one** method chunk and then an empty chunk (``! !``).
  The older "several methods, then an empty chunk" layout is read wrongly by
  Pharo 13 (the second method becomes metadata), so it is an error here;
* any other chunk is a do-it: an expression sequence, or a class definition with
  one of the ``subclass:instanceVariableNames:...`` messages.

Every method and do-it is parsed with a full Smalltalk-80 expression grammar (plus
Pharo's literals: byte arrays, scaled decimals, radix numbers, dynamic arrays,
pragmas), and names are resolved: a lower-case name that is not an argument, a
temporary, an instance variable of the class or a pseudo-variable is reported, as
is an assignment to an argument. Nothing is compiled or evaluated.
"""

from __future__ import annotations

import argparse
import bisect
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PSEUDO_VARIABLES = frozenset({"self", "super", "nil", "true", "false", "thisContext"})
BINARY_CHARS = frozenset("+-*/\\<>=~@%&?,")
CLOSERS = frozenset({"rparen", "rbracket", "rbrace"})

# Instance and class variables of the Pharo 13 classes the sources extend, so an
# extension method's names can be resolved. Names of class variables start with a
# capital and so pass as globals; they are listed for completeness.
KNOWN_CLASSES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Object": (frozenset(), frozenset()),
    "Socket": (
        frozenset({"semaphore", "socketHandle", "readSemaphore", "writeSemaphore"}),
        frozenset(),
    ),
    "NetNameResolver": (frozenset(), frozenset()),
    "SocketAddress": (frozenset(), frozenset()),
    "SocketAddressInformation": (
        frozenset({"socketAddress", "addressFamily", "socketType", "protocol"}),
        frozenset(),
    ),
    "TestCase": (frozenset({"testSelector", "expectedFails"}), frozenset()),
    "Error": (frozenset({"messageText", "tag", "signaler", "signalContext"}), frozenset()),
}


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: where (1-based line and column) and what."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class SyntaxProblem(Exception):
    """Raised inside the parser; carries an offset into the chunk text."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


# -- chunks -------------------------------------------------------------------------


@dataclass
class Chunk:
    """A chunk's text (``!!`` undone) and, for each of its characters, the file offset."""

    text: str
    offsets: list[int]
    start: int  # file offset where the chunk's text begins
    end: int  # file offset of its terminating "!" (or of the end of the file)
    preamble: bool = False
    terminated: bool = True

    def file_offset(self, index: int) -> int:
        """The file offset of character ``index`` of :attr:`text` (clamped)."""
        if not self.offsets:
            return self.start
        if index >= len(self.offsets):
            return self.end
        return self.offsets[max(index, 0)]


class ChunkStream:
    """Pharo 13's ``ChunkReadStream`` over a source text, keeping file offsets."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0

    def skip_separators(self) -> None:
        """Skip white space, as ``ChunkReadStream>>skipSeparators``."""
        while self.pos < len(self.source) and self.source[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        """Whether only white space is left."""
        self.skip_separators()
        return self.pos >= len(self.source)

    def next_is_preamble(self) -> bool:
        """``isNextChunkMetaData``: a ``!`` here marks a preamble; it is consumed."""
        if self.pos < len(self.source) and self.source[self.pos] == "!":
            self.pos += 1
            return True
        return False

    def next(self, preamble: bool = False) -> Chunk:
        """Read up to the next single ``!`` (``!!`` is a literal ``!``), after white space."""
        self.skip_separators()
        source = self.source
        size = len(source)
        pos = start = self.pos
        chars: list[str] = []
        offsets: list[int] = []
        terminated = False
        while pos < size:
            ch = source[pos]
            if ch == "!":
                if pos + 1 < size and source[pos + 1] == "!":
                    chars.append("!")
                    offsets.append(pos)
                    pos += 2
                    continue
                terminated = True
                break
            chars.append(ch)
            offsets.append(pos)
            pos += 1
        self.pos = pos + 1 if terminated else pos
        return Chunk("".join(chars), offsets, start, pos, preamble, terminated)


def read_chunks(source: str) -> Iterator[Chunk]:
    """Yield the top-level declarations' chunks in order (preambles marked)."""
    stream = ChunkStream(source)
    while not stream.at_end():
        preamble = stream.next_is_preamble()
        yield stream.next(preamble)
        if preamble:
            yield stream.next()
            yield stream.next()


# -- tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A lexical token: kind, text, value (for literals) and offset into the chunk."""

    kind: str  # ident keyword binary bar number string char symbol assign caret
    #            period semicolon colon lparen rparen lbracket rbracket lbrace rbrace
    #            litarray bytearray pragma_open eof
    text: str
    offset: int
    value: object = None
    end: int = 0


_NUMBER = re.compile(
    r"""
    (?P<radix>\d+r[0-9A-Z]+(?:\.[0-9A-Z]+)?)
    | (?P<decimal>\d+(?:\.\d+)?(?:[edq]-?\d+)?(?:s\d*)?)
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    """Split a chunk into tokens; raise :class:`SyntaxProblem` on a lexical error."""
    tokens: list[Token] = []
    pos = 0
    size = len(text)
    while True:
        # whitespace and comments
        while pos < size:
            ch = text[pos]
            if ch.isspace():
                pos += 1
            elif ch == '"':
                end = pos + 1
                while True:
                    end = text.find('"', end)
                    if end < 0:
                        raise SyntaxProblem(pos, 'comment not terminated (missing closing ")')
                    if end + 1 < size and text[end + 1] == '"':
                        end += 2
                        continue
                    break
                pos = end + 1
            else:
                break
        if pos >= size:
            tokens.append(Token("eof", "", size, end=size))
            return tokens
        start = pos
        ch = text[pos]
        if ch.isalpha() or ch == "_":
            end = pos + 1
            while end < size and (text[end].isalnum() or text[end] == "_"):
                end += 1
            if end < size and text[end] == ":" and (end + 1 >= size or text[end + 1] != "="):
                tokens.append(Token("keyword", text[pos : end + 1], start, end=end + 1))
                pos = end + 1
            else:
                tokens.append(Token("ident", text[pos:end], start, end=end))
                pos = end
        elif ch.isdigit():
            match = _NUMBER.match(text, pos)
            assert match is not None  # a digit always matches
            end = match.end()
            tokens.append(Token("number", text[pos:end], start, text[pos:end], end=end))
            pos = end
        elif ch == "'":
            value, pos = _read_string(text, pos)
            tokens.append(Token("string", text[start:pos], start, value, end=pos))
        elif ch == "$":
            if pos + 1 >= size:
                raise SyntaxProblem(pos, "character literal $ at the end of the chunk")
            tokens.append(Token("char", text[pos : pos + 2], start, text[pos + 1], end=pos + 2))
            pos += 2
        elif ch == "#":
            pos = _read_hash(text, pos, tokens)
        elif ch == ":":
            if pos + 1 < size and text[pos + 1] == "=":
                tokens.append(Token("assign", ":=", start, end=pos + 2))
                pos += 2
            else:
                tokens.append(Token("colon", ":", start, end=pos + 1))
                pos += 1
        elif ch in "^.;()[]{}|":
            kind = {
                "^": "caret",
                ".": "period",
                ";": "semicolon",
                "(": "lparen",
                ")": "rparen",
                "[": "lbracket",
                "]": "rbracket",
                "{": "lbrace",
                "}": "rbrace",
                "|": "bar",
            }[ch]
            tokens.append(Token(kind, ch, start, end=pos + 1))
            pos += 1
        elif ch in BINARY_CHARS:
            end = pos + 1
            while end < size and text[end] in BINARY_CHARS:
                # "x := -1" and "a - -1": a minus directly before a digit starts a number
                if text[end] == "-" and end + 1 < size and text[end + 1].isdigit():
                    break
                end += 1
            tokens.append(Token("binary", text[pos:end], start, end=end))
            pos = end
        elif ch == "!":
            raise SyntaxProblem(pos, "'!' inside code: a chunk ended early, or write '!!'")
        else:
            raise SyntaxProblem(pos, f"unexpected character {ch!r}")


def _read_string(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted string starting at ``pos``; answer its value and the end offset."""
    out: list[str] = []
    end = pos + 1
    while True:
        close = text.find("'", end)
        if close < 0:
            raise SyntaxProblem(pos, "string not terminated (missing closing ')")
        out.append(text[end:close])
        if close + 1 < len(text) and text[close + 1] == "'":
            out.append("'")
            end = close + 2
            continue
        return "".join(out), close + 1


def _read_hash(text: str, pos: int, tokens: list[Token]) -> int:
    size = len(text)
    nxt = text[pos + 1] if pos + 1 < size else ""
    if nxt == "(":
        tokens.append(Token("litarray", "#(", pos, end=pos + 2))
        return pos + 2
    if nxt == "[":
        tokens.append(Token("bytearray", "#[", pos, end=pos + 2))
        return pos + 2
    if nxt == "'":
        value, end = _read_string(text, pos + 1)
        tokens.append(Token("symbol", text[pos:end], pos, value, end=end))
        return end
    if nxt.isalpha() or nxt == "_":
        end = pos + 1
        while end < size and (text[end].isalnum() or text[end] in "_:"):
            end += 1
        value = text[pos + 1 : end]
        if ":" in value and not re.fullmatch(r"(?:[A-Za-z_]\w*:)+(?:[A-Za-z_]\w*)?", value):
            raise SyntaxProblem(pos, f"malformed symbol #{value}")
        tokens.append(Token("symbol", text[pos:end], pos, value, end=end))
        return end
    if nxt and (nxt in BINARY_CHARS or nxt == "|"):
        end = pos + 1
        while end < size and (text[end] in BINARY_CHARS or text[end] == "|"):
            end += 1
        tokens.append(Token("symbol", text[pos:end], pos, text[pos + 1 : end], end=end))
        return end
    raise SyntaxProblem(pos, "'#' must start a symbol, #( ... ) or #[ ... ]")


# -- parser -------------------------------------------------------------------------


@dataclass
class Scope:
    """Names visible in a method or block; ``args`` may not be assigned."""

    args: set[str] = field(default_factory=set)
    temps: set[str] = field(default_factory=set)


@dataclass
class ClassInfo:
    """What the checker knows of a class: instance and class-side instance variables."""

    ivars: frozenset[str]
    class_ivars: frozenset[str]


class Parser:
    """Recursive-descent parser over one chunk's tokens, with name resolution.

    ``instance_names`` are the names a method body may use besides its own
    arguments and temporaries (the class's instance variables); ``None`` means
    "unknown class": lower-case names are then not checked.
    """

    def __init__(self, text: str, instance_names: frozenset[str] | None) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.instance_names = instance_names
        self.scopes: list[Scope] = []
        self.doit = False
        self.undeclared: list[tuple[int, str]] = []

    # token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tok
        if token.kind != "eof":
            self.index += 1
        return token

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise SyntaxProblem(
                self.tok.offset, f"expected {what}, found {self.describe(self.tok)}"
            )
        return self.advance()

    @staticmethod
    def describe(token: Token) -> str:
        return "end of chunk" if token.kind == "eof" else repr(token.text)

    # entry points
    def parse_method(self) -> str:
        """Parse a whole method; answer its selector."""
        self.scopes.append(Scope())
        selector = self.parse_pattern()
        self.parse_method_header()
        self.parse_statements(until="eof")
        self.expect("eof", "end of method")
        self.scopes.pop()
        return selector

    def parse_doit(self) -> None:
        """Parse a do-it: temporaries and statements."""
        self.doit = True
        self.scopes.append(Scope())
        self.parse_temporaries()
        self.parse_statements(until="eof")
        self.expect("eof", "end of do-it")
        self.scopes.pop()

    # method structure
    def parse_pattern(self) -> str:
        token = self.tok
        scope = self.scopes[-1]
        if token.kind == "ident":
            self.advance()
            return token.text
        if token.kind in {"binary", "bar"}:
            self.advance()
            arg = self.expect("ident", "an argument name after the binary selector")
            self.declare(scope.args, arg)
            return token.text
        if token.kind == "keyword":
            parts: list[str] = []
            while self.tok.kind == "keyword":
                parts.append(self.advance().text)
                arg = self.expect("ident", f"an argument name after {parts[-1]}")
                self.declare(scope.args, arg)
            return "".join(parts)
        raise SyntaxProblem(
            token.offset,
            f"a method must start with its selector pattern, found {self.describe(token)}",
        )

    def parse_method_header(self) -> None:
        # Pharo allows pragmas before and after the temporaries.
        self.parse_pragmas()
        self.parse_temporaries()
        self.parse_pragmas()

    def parse_pragmas(self) -> None:
        while self.tok.kind == "binary" and self.tok.text == "<":
            self.advance()
            if self.tok.kind == "ident":
                self.advance()
            elif self.tok.kind == "keyword":
                while self.tok.kind == "keyword":
                    self.advance()
                    self.parse_literal_or_name_in_pragma()
            else:
                raise SyntaxProblem(self.tok.offset, "a pragma needs a selector: <primitive: ...>")
            close = self.tok
            if not (close.kind == "binary" and close.text == ">"):
                raise SyntaxProblem(
                    close.offset, f"pragma not closed with '>', found {self.describe(close)}"
                )
            self.advance()

    def parse_literal_or_name_in_pragma(self) -> None:
        token = self.tok
        if token.kind == "ident":
            self.advance()  # e.g. <primitive: 60 error: ec>
            return
        if token.kind == "binary" and token.text == "-" and self.peek().kind == "number":
            self.advance()
        self.parse_literal()

    def parse_temporaries(self) -> None:
        scope = self.scopes[-1]
        if self.tok.kind != "bar":
            return
        self.advance()
        while self.tok.kind == "ident":
            self.declare(scope.temps, self.advance())
        self.expect("bar", "'|' closing the temporaries")

    def declare(self, names: set[str], token: Token) -> None:
        if token.text in PSEUDO_VARIABLES:
            raise SyntaxProblem(
                token.offset, f"{token.text} is a pseudo-variable, not a name to declare"
            )
        names.add(token.text)

    # statements
    def parse_statements(self, until: str, opener: Token | None = None) -> None:
        """Statements up to the token kind ``until``; ``opener`` is the '[' or '{' if any."""
        while self.tok.kind != until:
            if self.tok.kind == "period":
                self.advance()  # empty statements are allowed
                continue
            returned = self.tok.kind == "caret"
            if returned:
                self.advance()
            self.parse_expression()
            if self.tok.kind == "period":
                self.advance()
                if not returned:
                    continue
                while self.tok.kind == "period":
                    self.advance()
            if self.tok.kind == until:
                return
            self.statement_end_problem(until, opener, returned)

    def statement_end_problem(self, until: str, opener: Token | None, returned: bool) -> None:
        """Raise the most telling error for a statement that does not end where it should."""
        token = self.tok
        if token.kind == "eof" and opener is not None:
            raise SyntaxProblem(opener.offset, f"{opener.text!r} is never closed")
        if token.kind in CLOSERS and token.kind != until:
            raise SyntaxProblem(token.offset, f"unmatched {token.text!r}")
        if returned:
            raise SyntaxProblem(token.offset, "statement after a return (^) cannot be reached")
        raise SyntaxProblem(
            token.offset, f"expected '.' between statements, found {self.describe(token)}"
        )

    def parse_expression(self) -> None:
        if self.tok.kind == "ident" and self.peek().kind == "assign":
            target = self.advance()
            self.advance()
            self.check_assignable(target)
            self.parse_expression()
            return
        receiver_is_send = self.parse_keyword_expression()
        if self.tok.kind == "semicolon":
            if not receiver_is_send:
                raise SyntaxProblem(self.tok.offset, "cascade ';' without a message before it")
            while self.tok.kind == "semicolon":
                self.advance()
                self.parse_cascade_message()

    def parse_cascade_message(self) -> None:
        token = self.tok
        if token.kind == "ident":
            self.advance()
            while self.tok.kind == "ident":
                self.check_unary_selector(self.advance())
            self.parse_binary_tail()
            self.parse_keyword_tail()
        elif token.kind in {"binary", "bar"}:
            self.parse_binary_tail()
            self.parse_keyword_tail()
        elif token.kind == "keyword":
            self.parse_keyword_tail()
        else:
            raise SyntaxProblem(
                token.offset, f"expected a message after ';', found {self.describe(token)}"
            )

    def parse_keyword_expression(self) -> bool:
        sent = self.parse_binary_expression()
        return self.parse_keyword_tail() or sent

    def parse_keyword_tail(self) -> bool:
        sent = False
        while self.tok.kind == "keyword":
            self.advance()
            self.parse_binary_expression()
            sent = True
        return sent

    def parse_binary_expression(self) -> bool:
        sent = self.parse_unary_expression()
        return self.parse_binary_tail() or sent

    def parse_binary_tail(self) -> bool:
        sent = False
        while self.tok.kind in {"binary", "bar"}:
            operator = self.advance()
            if self.tok.kind in {"eof", "period", "rparen", "rbracket", "rbrace", "semicolon"}:
                raise SyntaxProblem(
                    operator.offset, f"binary message {operator.text} has no argument"
                )
            self.parse_unary_expression()
            sent = True
        return sent

    def parse_unary_expression(self) -> bool:
        self.parse_primary()
        sent = False
        while self.tok.kind == "ident":
            selector = self.advance()
            self.check_unary_selector(selector)
            sent = True
        return sent

    def check_unary_selector(self, selector: Token) -> None:
        """``t := 3 <newline> t foo`` parses as ``3 t foo``: a variable sent as a message.

        Only a name that starts a new line is suspected: ``aBlock value`` with a
        temporary called ``value`` is fine.
        """
        name = selector.text
        previous = self.tokens[self.index - 2] if self.index >= 2 else None
        if previous is None or "\n" not in self.text[previous.end : selector.offset]:
            return
        if name in PSEUDO_VARIABLES or any(
            name in scope.args or name in scope.temps for scope in self.scopes
        ):
            raise SyntaxProblem(
                selector.offset,
                f"{name} is a variable but is sent as a message here: a missing '.' before it?",
            )

    def parse_primary(self) -> None:
        token = self.tok
        if token.kind == "ident":
            self.advance()
            self.resolve(token)
        elif token.kind == "lparen":
            self.advance()
            self.parse_expression()
            if self.tok.kind == "eof":
                raise SyntaxProblem(token.offset, "'(' is never closed")
            self.expect("rparen", "')'")
        elif token.kind == "lbracket":
            self.parse_block()
        elif token.kind == "lbrace":
            self.advance()
            self.parse_statements(until="rbrace", opener=token)
            self.expect("rbrace", "'}' closing the brace array")
        elif token.kind == "binary" and token.text == "-" and self.peek().kind == "number":
            self.advance()
            self.advance()
        elif token.kind in {"number", "string", "char", "symbol", "litarray", "bytearray"}:
            self.parse_literal()
        else:
            raise SyntaxProblem(
                token.offset, f"expected an expression, found {self.describe(token)}"
            )

    def parse_block(self) -> None:
        open_token = self.expect("lbracket", "'['")
        scope = Scope()
        self.scopes.append(scope)
        had_args = False
        while self.tok.kind == "colon":
            self.advance()
            self.declare(scope.args, self.expect("ident", "a block argument name after ':'"))
            had_args = True
        if had_args:
            if self.tok.kind == "bar":
                self.advance()
            elif self.tok.kind != "rbracket":
                raise SyntaxProblem(self.tok.offset, "block arguments must be followed by '|'")
        self.parse_temporaries()
        self.parse_statements(until="rbracket", opener=open_token)
        if self.tok.kind != "rbracket":
            raise SyntaxProblem(open_token.offset, "block '[' is never closed")
        self.advance()
        self.scopes.pop()

    def parse_literal(self) -> None:
        token = self.advance()
        if token.kind in {"number", "string", "char", "symbol"}:
            return
        if token.kind == "litarray":
            self.parse_literal_array_body(token)
            return
        if token.kind == "bytearray":
            while self.tok.kind == "number":
                value = self.advance().text
                if not value.isdigit() or int(value) > 255:
                    raise SyntaxProblem(
                        self.tok.offset, f"byte array element {value} is not 0..255"
                    )
            self.expect("rbracket", "']' closing the byte array (only integers 0..255)")
            return
        raise SyntaxProblem(token.offset, f"expected a literal, found {self.describe(token)}")

    def parse_literal_array_body(self, open_token: Token) -> None:
        while True:
            token = self.tok
            if token.kind == "rparen":
                self.advance()
                return
            if token.kind == "eof":
                raise SyntaxProblem(open_token.offset, "literal array #( is never closed")
            if token.kind in {"lparen", "litarray"}:
                self.advance()
                self.parse_literal_array_body(token)
            elif token.kind == "bytearray":
                self.parse_literal()
            elif token.kind in {
                "ident",
                "keyword",
                "binary",
                "bar",
                "number",
                "string",
                "char",
                "symbol",
            }:
                self.advance()
                if token.kind == "binary" and token.text == "-" and self.tok.kind == "number":
                    self.advance()
            else:
                raise SyntaxProblem(
                    token.offset, f"{self.describe(token)} cannot appear in a literal array"
                )

    # names
    def resolve(self, token: Token) -> None:
        name = token.text
        if name in PSEUDO_VARIABLES or name[0].isupper():
            return  # globals and class variables: not checkable without an image
        if any(name in scope.args or name in scope.temps for scope in self.scopes):
            return
        if self.instance_names is None or name in self.instance_names:
            return
        self.undeclared.append((token.offset, name))

    def check_assignable(self, token: Token) -> None:
        name = token.text
        if name in PSEUDO_VARIABLES:
            raise SyntaxProblem(token.offset, f"cannot assign to the pseudo-variable {name}")
        if self.doit and name[0].isupper():
            # In a do-it a capitalised name is a global: the assignment would make one.
            raise SyntaxProblem(token.offset, f"assignment to the global {name} in a do-it")
        for scope in reversed(self.scopes):
            if name in scope.temps:
                return
            if name in scope.args:
                raise SyntaxProblem(token.offset, f"cannot assign to the argument {name}")
        self.resolve(token)


# -- file-level checks --------------------------------------------------------------

_PREAMBLE = re.compile(
    r"""^(?P<cls>[A-Z]\w*)(?P<meta>\s+class)?\s+methodsFor:\s*'(?P<protocol>(?:[^']|'')*)'
        (?:\s+stamp:\s*'(?:[^']|'')*')?\s*$""",
    re.VERBOSE | re.DOTALL,
)
_CLASS_DEFINITION = re.compile(
    r"^(?:subclass|variableSubclass|variableByteSubclass|variableWordSubclass|weakSubclass)"
    r":instanceVariableNames:classVariableNames:(?:poolDictionaries:)?(?:package|category):$"
)
_CLASS_SIDE_IVARS = "instanceVariableNames:"


Report = Callable[[int, str], None]


class SourceChecker:
    """Checks a set of files together, so a class defined in one is known in the next."""

    def __init__(self) -> None:
        self.classes: dict[str, ClassInfo] = {
            name: ClassInfo(ivars, class_ivars)
            for name, (ivars, class_ivars) in KNOWN_CLASSES.items()
        }
        self.methods: dict[tuple[str, bool, str], str] = {}
        self._where: Callable[[int], str] = str
        self.problems: list[Problem] = []
        self.method_count = 0
        self.doit_count = 0

    def check_file(self, path: Path) -> list[Problem]:
        """Check one file; answer the problems found in it."""
        return self.check_text(path.read_text(encoding="utf-8"), str(path))

    def check_text(self, source: str, path: str = "<string>") -> list[Problem]:
        """Check ``source`` (the contents of ``path``); answer the problems found in it."""
        lines = _LineIndex(source)
        found: list[Problem] = []
        self._where = lambda offset: f"{path}:{lines.position(offset)[0]}"

        def report(offset: int, message: str) -> None:
            line, column = lines.position(offset)
            found.append(Problem(path, line, column, message))

        stream = ChunkStream(source)
        while not stream.at_end():
            is_preamble = stream.next_is_preamble()
            chunk = stream.next(is_preamble)
            self._check_chunk_end(source, chunk, report)
            if not is_preamble:
                if chunk.text.strip():
                    self._check_doit(chunk, report)
                continue
            match = _PREAMBLE.match(chunk.text.strip())
            if match is None:
                report(
                    chunk.start,
                    "preamble must read: ClassName [class] methodsFor: 'protocol' [stamp: '...']",
                )
                continue
            # As ChunkFileFormatParser>>parseMethodDeclarations: method, then metadata.
            method = stream.next()
            self._check_chunk_end(source, method, report)
            metadata = stream.next()
            if not method.text.strip():
                report(chunk.start, "methodsFor: preamble is not followed by a method")
                continue
            if metadata.text.strip() or not metadata.terminated:
                report(
                    metadata.start,
                    "a method must be followed by an empty chunk ('! !'): Pharo 13 reads one "
                    "method per methodsFor: preamble and takes the next chunk as metadata",
                )
            self._check_method(match, method, report)
        self.problems.extend(found)
        return found

    @staticmethod
    def _check_chunk_end(source: str, chunk: Chunk, report: Report) -> None:
        if not chunk.terminated and chunk.text.strip():
            report(chunk.start, "chunk is not terminated by '!'")
        # ChunkReadStream peeks past a chunk for "]lang[" and glues a stray "]" on.
        after = chunk.end + 1
        while after < len(source) and source[after].isspace():
            after += 1
        if chunk.terminated and after < len(source) and source[after] == "]":
            report(after, "a chunk may not start with ']' (Pharo reads it as a ]lang[ tag)")

    def _check_method(self, match: re.Match[str], method: Chunk, report: Report) -> None:
        class_name = match.group("cls")
        meta = bool(match.group("meta"))
        protocol = match.group("protocol")
        if not protocol.strip():
            report(method.start, "empty method protocol in methodsFor:")
        info = self.classes.get(class_name)
        if info is None:
            report(
                method.start,
                f"class {class_name} is neither defined in these sources nor a known Pharo class",
            )
        names = None if info is None else (info.class_ivars if meta else info.ivars)
        try:
            parser = Parser(method.text, names)
            selector = parser.parse_method()
        except SyntaxProblem as exc:
            report(method.file_offset(exc.offset), exc.message)
            return
        self.method_count += 1
        for offset, name in parser.undeclared:
            report(
                method.file_offset(offset),
                f"undeclared variable {name} in {class_name}>>{selector}",
            )
        key = (class_name, meta, selector)
        side = f"{class_name}{' class' if meta else ''}>>{selector}"
        if key in self.methods:
            report(method.start, f"{side} is defined twice (first at {self.methods[key]})")
        else:
            self.methods[key] = self._where(method.start)

    def _check_doit(self, chunk: Chunk, report: Report) -> None:
        try:
            parser = Parser(chunk.text, frozenset())
            parser.parse_doit()
        except SyntaxProblem as exc:
            report(chunk.file_offset(exc.offset), exc.message)
            return
        self.doit_count += 1
        for offset, name in parser.undeclared:
            report(chunk.file_offset(offset), f"undeclared variable {name} in a do-it")
        self._record_class_definition(chunk, parser.tokens, report)

    def _record_class_definition(
        self, chunk: Chunk, tokens: Sequence[Token], report: Report
    ) -> None:
        """Learn (and check) ``Super subclass: #Name instanceVariableNames: '...' ...``."""
        if len(tokens) < 3 or tokens[0].kind != "ident":
            return
        if tokens[1].kind == "ident" and tokens[1].text == "class" and tokens[2].kind == "keyword":
            # "Foo class instanceVariableNames: 'a b'": class-side instance variables
            if tokens[2].text == _CLASS_SIDE_IVARS and tokens[3].kind == "string":
                owner = self.classes.get(tokens[0].text)
                names = self._names(chunk, tokens[3], report, lower=True)
                if owner is not None:
                    self.classes[tokens[0].text] = ClassInfo(owner.ivars, frozenset(names))
            return
        keywords = [t for t in tokens if t.kind == "keyword"]
        selector = "".join(t.text for t in keywords)
        if not any(t.text.endswith("ubclass:") for t in keywords[:1]):
            return
        if not _CLASS_DEFINITION.match(selector):
            report(
                chunk.file_offset(keywords[0].offset),
                f"unsupported class definition message {selector}",
            )
            return
        arguments = [tokens[tokens.index(k) + 1] for k in keywords]
        name_token = arguments[0]
        if name_token.kind != "symbol" or not str(name_token.value)[:1].isupper():
            report(
                chunk.file_offset(name_token.offset),
                "class name must be a capitalised symbol, e.g. #Foo",
            )
            return
        for keyword, argument in zip(keywords[1:], arguments[1:], strict=True):
            if argument.kind != "string":
                report(chunk.file_offset(argument.offset), f"{keyword.text} needs a string literal")
                return
        superclass = tokens[0].text
        inherited = self.classes.get(superclass)
        if inherited is None:
            report(chunk.file_offset(tokens[0].offset), f"superclass {superclass} is not known")
        ivars = self._names(chunk, arguments[1], report, lower=True)
        self._names(chunk, arguments[2], report, lower=False)
        package = str(arguments[-1].value).strip()
        if not package:
            report(chunk.file_offset(arguments[-1].offset), "empty package/category name")
        base = inherited.ivars if inherited is not None else frozenset()
        self.classes[str(name_token.value)] = ClassInfo(base | frozenset(ivars), frozenset())

    @staticmethod
    def _names(chunk: Chunk, token: Token, report: Report, *, lower: bool) -> list[str]:
        names = str(token.value).split()
        for name in names:
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                report(chunk.file_offset(token.offset), f"{name!r} is not a variable name")
            elif lower and not name[0].islower():
                report(
                    chunk.file_offset(token.offset),
                    f"instance variable {name} should start lower-case",
                )
            elif not lower and not name[0].isupper():
                report(
                    chunk.file_offset(token.offset),
                    f"class variable {name} should start upper-case",
                )
        return names


class _LineIndex:
    """Offset -> (line, column), both 1-based."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1


def check_files(paths: Sequence[Path]) -> list[Problem]:
    """Check ``paths`` in order (definitions carry over); answer every problem found."""
    checker = SourceChecker()
    for path in paths:
        checker.check_file(path)
    return sorted(checker.problems)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sqsocket.dockerharness.stcheck FILE...``: exit 1 when a problem is found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="+", type=Path, help="chunk-format .st files, in load order")
    args = parser.parse_args(argv)
    problems = check_files(args.files)
    for problem in problems:
        print(problem)
    print(f"{len(args.files)} file(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
