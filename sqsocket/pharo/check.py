"""Check Pharo sources: chunk structure, Pharo's grammar, names. Nothing is evaluated.

``check_pharo_source(text, filename)`` answers a list of :class:`Problem` (file, line,
column, what, the offending text): empty when the text would file in. A chunk-format
text (``images/pharo/*.st``, a generated script) is split as Pharo 13 splits it
(:mod:`.chunks`); every method and do-it is parsed with the grammar (:mod:`.grammar`)
and, when it parses, its names are resolved (:mod:`.names`). A Tonel file (``Class {
... }``, ``Foo >> bar [ ... ]``) is parsed whole.

Command line: ``python -m sqsocket.pharo FILE...`` (files in load order, so a class one
file defines is known in the next); exit status 0 clean, 1 problems, 2 bad usage.
"""

from __future__ import annotations

import argparse
import bisect
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqsocket.pharo import chunks, grammar, names

_TONEL_START = re.compile(r'\s*(?:"(?:[^"]|"")*"\s*)?(?:Class|Trait|Extension|Package)\s*\{')
TONEL_SUFFIXES = (".class.st", ".extension.st", ".trait.st")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: where (1-based line and column), what, and the text at fault."""

    path: str
    line: int
    column: int
    message: str
    text: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}: {self.message}"
        return f"{where}: {self.text}" if self.text else where


class _Lines:
    """File offsets to 1-based (line, column), and each line's text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def line_text(self, line: int) -> str:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return grammar.excerpt(self.text[start:end], 80)


def is_tonel(text: str, filename: str) -> bool:
    """Whether a text is a Tonel file rather than chunk format."""
    return filename.endswith(TONEL_SUFFIXES) or bool(_TONEL_START.match(text))


class Checker:
    """Checks texts in load order, remembering the classes and methods they define."""

    def __init__(self) -> None:
        self.classes: dict[str, names.ClassDefinition] = {}
        self.methods: dict[tuple[str, bool, str], str] = {}  # (class, meta, selector) -> where

    def instance_variables(self, class_name: str) -> frozenset[str] | None:
        """All instance variables of a class (inherited too); None for an unknown class."""
        collected: set[str] = set()
        seen: set[str] = set()
        current = class_name
        while current not in seen:  # bounded: each class once
            seen.add(current)
            if current in names.KNOWN_CLASSES:
                return frozenset(collected | names.KNOWN_CLASSES[current])
            definition = self.classes.get(current)
            if definition is None:
                return None if current == class_name else frozenset(collected)
            collected.update(definition.instance_variables)
            current = definition.superclass
        return frozenset(collected)

    def check(self, text: str, filename: str = "<string>") -> list[Problem]:
        """The problems of one text (chunk format or Tonel)."""
        lines = _Lines(text)
        found: list[tuple[int, str]] = []  # (file offset, message)
        if is_tonel(text, filename):
            parsed = grammar.parse(text, grammar.Form.TONEL)
            found += [(f.index, f.message) for f in grammar.syntax_errors(parsed)]
        else:
            declarations, errors = chunks.read_declarations(text)
            found += [(error.offset, error.message) for error in errors]
            for declaration in declarations:
                chunk = declaration.chunk
                for finding in self._declaration(declaration, filename, lines):
                    found.append((chunk.file_offset(finding.index), finding.message))
        problems = []
        for offset, message in found:
            line, column = lines.position(offset)
            problems.append(Problem(filename, line, column, message, lines.line_text(line)))
        return sorted(problems)

    def _declaration(
        self, declaration: chunks.Declaration, filename: str, lines: _Lines
    ) -> list[grammar.Finding]:
        text = declaration.chunk.text
        if isinstance(declaration, chunks.DoIt):
            if text.lstrip().startswith("----"):  # DoItChunk skips "----" chunks
                return []
            parsed = grammar.parse(text, grammar.Form.DOIT)
        else:
            parsed = grammar.parse(text, grammar.Form.METHOD)
        findings = grammar.syntax_errors(parsed)
        if findings:  # names in a broken tree would only add noise
            return findings
        if isinstance(declaration, chunks.DoIt):
            definition, findings = names.read_class_definition(parsed)
            if definition is not None:
                self.classes[definition.name] = definition
            return findings + names.unresolved_names(parsed, frozenset())
        return self._method(
            declaration, parsed, f"{filename}:{lines.position(declaration.chunk.start)[0]}"
        )

    def _method(
        self, method: chunks.MethodSource, parsed: grammar.Parsed, where: str
    ) -> list[grammar.Finding]:
        owner = f"{method.class_name}{' class' if method.meta else ''}"
        node = parsed.method()
        selector = grammar.selector(node, parsed) if node is not None else ""
        findings: list[grammar.Finding] = []
        key = (method.class_name, method.meta, selector)
        if key in self.methods:
            message = f"{owner}>>{selector} is defined twice (first at {self.methods[key]})"
            findings.append(grammar.Finding(0, message))
        self.methods.setdefault(key, where)
        variables = self.instance_variables(method.class_name)
        if variables is None:
            message = (
                f"methods for {method.class_name}, a class neither defined in these sources "
                "nor known to the check (names.KNOWN_CLASSES)"
            )
            findings.append(grammar.Finding(0, message))
        if variables is None or method.meta:  # class-side methods do not see these
            variables = frozenset()
        return findings + names.unresolved_names(parsed, variables)


def check_pharo_source(text: str, filename: str = "<string>") -> list[Problem]:
    """The problems of one Pharo text (chunk format or Tonel), checked on its own."""
    return Checker().check(text, filename)


def check_pharo_files(paths: Iterable[Path]) -> list[Problem]:
    """The problems of several files, in load order (a class one defines is known later)."""
    checker = Checker()
    problems: list[Problem] = []
    for path in paths:
        problems += checker.check(path.read_text(encoding="utf-8"), str(path))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sqsocket.pharo FILE...``: print each problem; exit 1 if there are any."""
    parser = argparse.ArgumentParser(
        prog="python -m sqsocket.pharo",
        description="Check Pharo sources (chunk format or Tonel) with Pharo's grammar.",
    )
    parser.add_argument("files", nargs="+", type=Path, help=".st files, in load order")
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        print(f"{parser.prog}: not a file: {', '.join(missing)} (give .st files)", file=sys.stderr)
        return 2
    problems = check_pharo_files(args.files)
    for problem in problems:
        print(problem)
    print(f"{len(args.files)} file(s), {len(problems)} problem(s)")
    return 1 if problems else 0
