"""The command catalog is the command surface: every parser's help and description come
from its row, every row is a parser, in the order ``sqsocket --help`` lists them."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest
from cli_examples import all_parsers

from sqsocket.commands import catalog
from sqsocket.commands.catalog import BY_PATH, COMMANDS, add_command

PARSERS = [(path, parser) for path, parser in all_parsers() if path]  # not the top level


def _listed_help(path: tuple[str, ...]) -> str | None:
    """The line the parent's list of commands shows for ``path``."""
    parent = dict(all_parsers())[path[:-1]]
    commands = next(a for a in parent._actions if isinstance(a, argparse._SubParsersAction))
    return next(c.help for c in commands._choices_actions if c.dest == path[-1])


def _matches(template: str | None, text: str | None) -> bool:
    """Whether ``text`` is ``template`` with its ``{name}`` placeholders filled."""
    if template is None or text is None:
        return template == text
    pattern = ".+".join(re.escape(part) for part in re.split(r"\{\w+\}", template))
    return re.fullmatch(pattern, text, re.S) is not None


def test_the_rows_are_the_parsers_in_the_order_help_lists_them() -> None:
    assert [row.path for row in COMMANDS] == [" ".join(path) for path, _ in PARSERS]
    assert len(BY_PATH) == len(COMMANDS), "a path is in the table twice"


@pytest.mark.parametrize("path,parser", PARSERS, ids=[" ".join(p) for p, _ in PARSERS])
def test_each_parser_says_what_its_row_says(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    row = BY_PATH[" ".join(path)]
    assert row.name == path[-1]
    assert _listed_help(path) == row.help
    assert _matches(row.description, parser.description)
    if row.fills:
        assert "{" not in str(parser.description), "a placeholder left unfilled"


def test_a_filled_description_and_the_checks_on_fill() -> None:
    sub = argparse.ArgumentParser(prog="sqsocket serve").add_subparsers()
    parser = add_command(sub, "serve netstring", fill={"framings": "u32: four bytes"})
    assert "Framings: u32: four bytes. A bad frame" in str(parser.description)
    with pytest.raises(TypeError, match="fills"):
        add_command(sub, "serve netstring")
    with pytest.raises(TypeError, match="fills"):
        add_command(sub, "serve echo", fill={"framings": "u32"})
    with pytest.raises(KeyError, match="no command 'serve nothing'"):
        add_command(sub, "serve nothing")


def test_extra_keywords_go_to_the_parser() -> None:
    sub = argparse.ArgumentParser(prog="sqsocket").add_subparsers()
    parser = add_command(sub, "trace", epilog="examples: none", add_help=False)
    assert parser.epilog == "examples: none" and not parser.add_help
    assert parser.description == BY_PATH["trace"].description


def test_the_catalog_imports_nothing_of_the_package() -> None:
    """The feature modules import it: it can import none of them."""
    tree = ast.parse(Path(catalog.__file__).read_text(encoding="utf-8"))
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ] + [
        "." * node.level + (node.module or "")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module != "__future__"
    ]
    assert imported and not [m for m in imported if m.startswith(("sqsocket", "."))]
