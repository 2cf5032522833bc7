"""What no grammar can tell about Pharo code: names, stores, class definitions.

* A lower-case name must be an argument, a temporary, a block argument or an
  instance variable of the method's class; anything else is an undeclared
  variable (Pharo 13 compiles it as an ``UndeclaredVariable``, nil at run time).
  Capitalised names are globals or class variables and are not checked: the image
  has thousands of them.
* Arguments of methods and blocks are read-only ("Cannot store into").
* A do-it that sends ``subclass:instanceVariableNames:...`` is not evaluated by Pharo
  13's importer: ``DoItChunk>>importFor:logSource:`` hands it to
  ``OldClassDefinitionBuilder``, which reads the arguments as literals (``argument
  value``) and looks the superclass up by name. So the superclass must be a plain
  name, the class name a symbol, the other arguments strings, and the variable lists
  valid names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from sqsocket.pharo.grammar import Finding, Parsed, named

PSEUDO_VARIABLES = frozenset({"self", "super", "nil", "true", "false", "thisContext"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Instance variables (inherited ones included) of the Pharo 13 classes that sources
# here extend or subclass, from their Tonel definitions (Network-Kernel, SUnit-Core;
# images/pharo/README.md cites the commit). A class missing here has none.
KNOWN_CLASSES: dict[str, frozenset[str]] = {
    "Object": frozenset(),
    "ByteArray": frozenset(),  # the conformance script's SocketAddress port primitives
    "Socket": frozenset({"semaphore", "socketHandle", "readSemaphore", "writeSemaphore"}),
    "NetNameResolver": frozenset(),
    "SocketAddress": frozenset(),
    "SocketAddressInformation": frozenset(
        {"socketAddress", "addressFamily", "socketType", "protocol"}
    ),
    "TestCase": frozenset({"testSelector", "expectedFails"}),
}

# The old-style definitions OldClassDefinitionBuilder accepts, in the forms sources use:
# a layout keyword, then instance variables, class variables, [pools,] package/category
# (its list has a few more, with uses: or slots:, which this check does not read).
_LAYOUTS = (
    "subclass:",
    "variableSubclass:",
    "variableByteSubclass:",
    "variableWordSubclass:",
    "weakSubclass:",
    "immediateSubclass:",
)
_TAILS = tuple(
    f"instanceVariableNames:classVariableNames:{pools}{where}"
    for pools in ("", "poolDictionaries:")
    for where in ("package:", "category:")
)
_NOT_READ_HERE = frozenset({"uses:", "slots:", "layout:", "classVariables:"})
CLASS_DEFINITIONS = frozenset(
    {"subclass:", "subclass:instanceVariableNames:"}
    | {layout + tail for layout in _LAYOUTS for tail in _TAILS}
)


@dataclass(frozen=True)
class ClassDefinition:
    """A class an old-style definition do-it creates."""

    name: str
    superclass: str
    instance_variables: tuple[str, ...]


def read_class_definition(parsed: Parsed) -> tuple[ClassDefinition | None, list[Finding]]:
    """The class a do-it defines (None if it is no class definition), and its mistakes."""
    send = _single_keyword_message(parsed)
    if send is None:
        return None, []
    receiver, parts = send
    keywords = [parsed.source(keyword) for keyword, _ in parts]
    if not keywords[0].endswith("ubclass:"):
        return None, []
    selector = "".join(keywords)
    if not _NOT_READ_HERE.isdisjoint(keywords):  # traits, slots: forms not read here
        return None, []
    if selector not in CLASS_DEFINITIONS:
        message = f"class definition {selector} is not a form Pharo 13's importer reads"
        return None, [parsed.finding(receiver, message)]
    findings: list[Finding] = []
    if receiver.type != "identifier":
        findings.append(parsed.finding(receiver, "the superclass must be a class name"))
    values: dict[str, str] = {}
    for keyword, argument in parts:
        key = parsed.source(keyword)
        wanted = "symbol" if key == keywords[0] else "string"
        if argument.type != wanted:
            findings.append(parsed.finding(argument, f"{key} needs a {wanted} literal"))
            continue
        values[key] = _literal_text(parsed.source(argument))
    name = values.get(keywords[0], "")
    if name and not name[0].isupper():
        findings.append(parsed.finding(parts[0][1], f"class name {name} must be capitalised"))
    variables = values.get("instanceVariableNames:", "").split()
    for key in ("instanceVariableNames:", "classVariableNames:"):
        for word in values.get(key, "").split():
            if not _NAME.match(word):
                argument = parts[keywords.index(key)][1]
                findings.append(parsed.finding(argument, f"{word!r} is not a variable name"))
    definition = ClassDefinition(name, parsed.source(receiver), tuple(variables)) if name else None
    return definition, findings


def _single_keyword_message(
    parsed: Parsed,
) -> tuple[tree_sitter.Node, list[tuple[tree_sitter.Node, tree_sitter.Node]]] | None:
    """A do-it that is one keyword message: its receiver and (keyword, argument) pairs."""
    method = parsed.method()
    body = _child(method, "method_body") if method is not None else None
    statements = [node for node in named(body) if node.type == "statement"] if body else []
    if len(statements) != 1 or not named(statements[0]):
        return None
    message = named(statements[0])[0]
    if message.type != "keyword_message":
        return None
    receiver, *rest = named(message)
    pairs = list(zip(rest[::2], rest[1::2], strict=False))
    if not pairs or any(keyword.type != "keyword" for keyword, _ in pairs):
        return None
    return receiver, pairs


def _literal_text(literal: str) -> str:
    """The characters of a string or symbol literal (``'it''s'``: it's; ``#Foo``: Foo)."""
    literal = literal.removeprefix("#")
    if literal.startswith("'") and literal.endswith("'") and len(literal) >= 2:
        literal = literal[1:-1].replace("''", "'")
    return literal


def _child(node: tree_sitter.Node, kind: str) -> tree_sitter.Node | None:
    return next((child for child in named(node) if child.type == kind), None)


def unresolved_names(parsed: Parsed, instance_variables: frozenset[str]) -> list[Finding]:
    """Undeclared lower-case variables, and stores into arguments, in a method or do-it."""
    method = parsed.method()
    if method is None:
        return []
    pattern = named(method)[0]
    arguments = {parsed.source(node) for node in named(pattern) if node.type == "identifier"}
    findings: list[Finding] = []
    body = _child(method, "method_body")
    if body is not None:
        _Scope(parsed, findings, set(instance_variables) | arguments, arguments).visit_children(
            body
        )
    return findings


class _Scope:
    """One method or block: the names it sees and the ones it may not store into."""

    SKIPPED = frozenset({"pragma", "literal_array", "byte_array", "symbol"})

    def __init__(
        self, parsed: Parsed, findings: list[Finding], names: set[str], read_only: set[str]
    ) -> None:
        self.parsed = parsed
        self.findings = findings
        self.names = names
        self.read_only = read_only

    def visit_children(self, node: tree_sitter.Node) -> None:
        for child in node.named_children:
            self.visit(child)

    def visit(self, node: tree_sitter.Node) -> None:
        kind = node.type
        if kind == "temporaries":
            self.names.update(
                self.parsed.source(n) for n in node.named_children if n.type == "identifier"
            )
        elif kind == "block":
            arguments = {
                self.parsed.source(argument).lstrip(":").strip()
                for argument in node.named_children
                if argument.type == "block_argument"
            }
            inner = _Scope(
                self.parsed, self.findings, self.names | arguments, self.read_only | arguments
            )
            inner.visit_children(node)
        elif kind == "assignment":
            target, *values = named(node)
            name = self.parsed.source(target)
            if name in self.read_only:
                self.findings.append(
                    self.parsed.finding(target, f"cannot store into argument {name}")
                )
            else:
                self.visit(target)
            for value in values:
                self.visit(value)
        elif kind == "identifier":
            name = self.parsed.source(node)
            if not (name in self.names or name in PSEUDO_VARIABLES or name[:1].isupper()):
                self.findings.append(self.parsed.finding(node, f"undeclared variable {name}"))
        elif kind not in self.SKIPPED:
            self.visit_children(node)
