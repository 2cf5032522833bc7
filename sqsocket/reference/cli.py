"""``sqsocket reference``: one primitive's entry, the index, or the generated documents.

sqsocket reference                      the index: every primitive, one line each
sqsocket reference primitiveSocketSendDone
sqsocket reference --json [NAME]        the entries as JSON
sqsocket reference --write              regenerate docs/primitives.md and docs/statemachine.svg
sqsocket reference --check              exit 1 if those files are stale
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from sqsocket import ui
from sqsocket.cliparse import EXIT_USAGE, fail
from sqsocket.commands.catalog import add_command
from sqsocket.plugin import EXPORTED_PRIMITIVES

EXAMPLES = """\
examples:
  sqsocket reference
  sqsocket reference primitiveSocketSendDone
  sqsocket reference --json primitiveResolverGetAddressInfo
  sqsocket reference --check
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "reference", epilog=EXAMPLES)
    p.add_argument("name", nargs="?", help="a primitive name, e.g. primitiveSocketSendDone")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="regenerate the documents")
    action.add_argument("--check", action="store_true", help="exit 1 if the documents are stale")
    p.set_defaults(func=run)


def documents(docs: Path) -> dict[Path, str]:
    """The generated files and their contents."""
    from sqsocket.reference.markdown import SVG_NAME, render_document
    from sqsocket.reference.svg import render_svg

    return {docs / "primitives.md": render_document(), docs / SVG_NAME: render_svg()}


def docs_dir() -> Path:
    from sqsocket.squeak import paths

    return paths.repo_root() / "docs"


def stale(docs: Path) -> list[Path]:
    """The generated files that are missing or differ from what would be generated."""
    return [
        path
        for path, text in documents(docs).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def run(args: argparse.Namespace) -> int:
    if args.name is not None and args.name not in EXPORTED_PRIMITIVES:
        return fail(
            "reference",
            f"unknown primitive {args.name!r}; give an exported name "
            "(sqsocket primitives lists them), e.g. primitiveSocketSendDone",
            EXIT_USAGE,
        )
    if args.write or args.check:
        if args.name is not None:
            return fail("reference", "--write and --check take no NAME", EXIT_USAGE)
        docs = docs_dir()
        if not docs.is_dir():
            return fail("reference", f"no docs directory at {docs} (use a checkout)", EXIT_USAGE)
        if args.check:
            old = stale(docs)
            for path in old:
                print(f"stale: {path} (run sqsocket reference --write)")
            return 1 if old else 0
        for path, text in documents(docs).items():
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        return 0

    from sqsocket.reference.markdown import render_entry
    from sqsocket.reference.model import entries, entry

    if args.json:
        data: Any = to_json(entry(args.name)) if args.name else [to_json(e) for e in entries()]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if args.name:
        print(render_entry(entry(args.name)))
        return 0
    all_entries = entries()
    ui.print_table(("primitive", "what it does"), [(e.name, e.summary) for e in all_entries])
    print(f"\n{len(all_entries)} primitives; sqsocket reference NAME for one entry")
    return 0


def to_json(value: Any) -> Any:
    """Dataclasses, enums, sets and tuples as plain JSON values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, frozenset | set):
        return sorted(to_json(v) for v in value)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value
