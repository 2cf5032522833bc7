"""Pharo's grammar over a method, a do-it or a Tonel file, and the syntax errors it finds.

The grammar is the ``pharo-tree-sitter`` package (import name ``tree_sitter_pharo``;
github.com/kilian-kier/tree-sitter-pharo), a tree-sitter grammar adapted from
tree-sitter-smalltalk. Its root rule ``source`` is either a ``method`` (a selector
pattern, pragmas and temporaries, statements: a method chunk as written between
``!``) or a ``source_file`` (a Tonel file: ``Class { ... }`` then ``Foo >> bar [ ... ]``).
There is no rule for a bare do-it, so a do-it is parsed as the body of a method
named ``DoIt`` -- which is also how Pharo compiles one. Its language is ABI 15, so the
``tree-sitter`` binding must be 0.25 or later (0.24 refuses it).

Two rules of Pharo 13's own parser (``RBParser``) are not in the grammar and are
checked on the tree: a cascade's first part must be an unparenthesised message
(``parseCascadeMessage``: "Message expected"), and a literal byte array holds
integers 0..255 (``parseLiteralByteArrayObject``: "8-bit integer expected").
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import tree_sitter

try:
    import tree_sitter_pharo
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError(
        "the Pharo grammar is not installed: pip install pharo-tree-sitter "
        "(in sqsocket's test extra)",
        name=exc.name,
    ) from exc

DOIT_SELECTOR = "DoIt"
MESSAGE_NODES = frozenset({"unary_message", "binary_message", "keyword_message"})
EXCERPT_LENGTH = 60


class Form(enum.Enum):
    """What a piece of source is, and so how it is parsed."""

    METHOD = "method"  # a method chunk: pattern, then body
    DOIT = "doit"  # a do-it chunk, or a script: statements only
    TONEL = "tonel"  # a whole Tonel file (.class.st, .extension.st, .trait.st)


@dataclass(frozen=True)
class Finding:
    """Something wrong at ``index`` (a character index into the parsed text)."""

    index: int
    message: str


@cache
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_pharo.language()))


@dataclass(frozen=True)
class Parsed:
    """A parse tree over ``text`` (behind a ``DoIt`` line for a do-it)."""

    text: str
    form: Form
    tree: tree_sitter.Tree
    data: bytes
    prefix: int  # bytes before text[0] in data

    @property
    def root(self) -> tree_sitter.Node:
        return self.tree.root_node

    def index(self, byte_offset: int) -> int:
        """The character index into :attr:`text` of a byte offset into :attr:`data`."""
        if byte_offset <= self.prefix:
            return 0
        return len(self.data[self.prefix : byte_offset].decode("utf-8", "ignore"))

    def source(self, node: tree_sitter.Node) -> str:
        """The text a node spans."""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def finding(self, node: tree_sitter.Node, message: str) -> Finding:
        return Finding(self.index(node.start_byte), message)

    def method(self) -> tree_sitter.Node | None:
        """The ``method`` node of a method or do-it (None for Tonel, or if it is missing)."""
        children = named(self.root)
        return children[0] if children and children[0].type == "method" else None


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    """The first line of ``text``, shortened for a report."""
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= length else line[: length - 3] + "..."


def parse(text: str, form: Form) -> Parsed:
    """Parse ``text`` as a method, a do-it or a Tonel file."""
    prefix = f"{DOIT_SELECTOR}\n".encode() if form is Form.DOIT else b""
    data = prefix + text.encode("utf-8")
    return Parsed(text, form, _parser().parse(data), data, len(prefix))


def named(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """A node's named children, comments left out (the grammar lets them go anywhere)."""
    return [child for child in node.named_children if child.type != "comment"]


def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Every node under ``node``, depth first, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def syntax_errors(parsed: Parsed) -> list[Finding]:
    """The grammar's errors (unexpected and missing tokens); if none, Pharo's own two rules."""
    findings = _grammar_errors(parsed) or _parser_rules(parsed)
    if parsed.form is not Form.TONEL and not findings and parsed.method() is None:
        findings.append(Finding(0, "not a method or do-it"))
    return findings


def _grammar_errors(parsed: Parsed) -> list[Finding]:
    if not parsed.root.has_error:
        return []
    findings: list[Finding] = []
    stack = [parsed.root]
    while stack:  # bounded by the tree's size
        node = stack.pop()
        if node.is_missing:
            findings.append(parsed.finding(node, _missing(node)))
        elif node.is_error:
            findings.append(parsed.finding(node, _unexpected(parsed, node)))
        elif node.has_error:
            faulty = [c for c in node.children if c.has_error or c.is_missing or c.is_error]
            if faulty:
                stack.extend(reversed(faulty))
            else:  # the missing piece is one of the grammar's hidden tokens
                kind = node.type.replace("_", " ")
                findings.append(
                    Finding(parsed.index(node.end_byte), f"syntax error: incomplete {kind}")
                )
    return sorted(findings, key=lambda finding: finding.index)


def _missing(node: tree_sitter.Node) -> str:
    if not node.is_named:  # punctuation: a closing bracket, a period, ...
        return f"syntax error: missing '{node.type}'"
    # A named token the grammar made up to recover (often any literal would do):
    # say what is incomplete and what kind of thing belongs there.
    parent = node.parent.type if node.parent is not None else "text"
    if parent.endswith("_selector"):
        wanted = "an argument name"
    elif node.type in ("identifier", "string", "number", "symbol", "character"):
        wanted = "an expression"
    else:
        wanted = node.type.split("_token", 1)[0].replace("_", " ")
    return f"syntax error: incomplete {parent.replace('_', ' ')}: {wanted} expected"


def _unexpected(parsed: Parsed, node: tree_sitter.Node) -> str:
    text = parsed.source(node).strip()
    if not text:
        return "syntax error: unexpected end of the text"
    if text[0] in ")]}":
        return f"syntax error: unmatched '{text[0]}'"
    if node.end_byte >= len(parsed.data.rstrip()):
        # The grammar ran out of text inside something: say which opener is still open.
        for opener, what in (("'", "string"), ('"', "comment")):
            if text.count(opener) % 2:
                return f"syntax error: {what} not terminated (missing closing {opener})"
    return f"syntax error: unexpected '{excerpt(text, 20)}'"


def _parser_rules(parsed: Parsed) -> list[Finding]:
    findings: list[Finding] = []
    for node in walk(parsed.root):
        if node.type == "cascade":
            receiver = node.child_by_field_name("receiver")
            if receiver is not None and receiver.type not in MESSAGE_NODES:
                message = "a cascade needs an unparenthesised message before ';' (Message expected)"
                findings.append(parsed.finding(node, message))
        elif node.type == "byte_array":
            for element in named(node):
                literal = parsed.source(element)
                value = _integer(literal)
                if value is None or not 0 <= value <= 255:
                    message = f"a byte array holds integers 0..255, not {literal}"
                    findings.append(parsed.finding(element, message))
    return findings


def _integer(literal: str) -> int | None:
    """The value of an integer literal (``255``, ``16rFF``), or None for any other."""
    radix, r, digits = literal.partition("r")
    try:
        return int(digits, int(radix)) if r else int(literal, 10)
    except ValueError:
        return None


def selector(method: tree_sitter.Node, parsed: Parsed) -> str:
    """The selector a ``method`` node's pattern declares (``at:put:``, ``+``, ``size``)."""
    children = named(method)
    if not children:
        return ""
    pattern = children[0]
    if pattern.type == "keyword_selector":
        return "".join(parsed.source(part) for part in named(pattern) if part.type == "keyword")
    if pattern.type == "binary_selector":
        return parsed.source(named(pattern)[0])
    return parsed.source(pattern)
