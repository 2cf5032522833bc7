"""``sqsocket primitives``: list every SocketPlugin primitive the emulator implements."""

from __future__ import annotations

import argparse
import json

from sqsocket.platform.profiles import PROFILES
from sqsocket.platform.statetable import render_markdown
from sqsocket.plugin import EXPORTED_PRIMITIVES, PRIMITIVES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "primitives",
        help="list the SocketPlugin primitives the emulator implements",
        description=(
            "List every primitive SocketPlugin.c exports, with its Smalltalk selector, "
            "argument kinds and what it does; mark any the emulator lacks."
        ),
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--states", action="store_true", help="print the connection-status state table")
    p.add_argument("--profiles", action="store_true", help="list the emulator profiles")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.states:
        print(render_markdown())
        return 0
    if args.profiles:
        for profile in PROFILES.values():
            print(f"{profile.name}: {profile.description}")
            for key, value in profile.flags().items():
                print(f"    {key} = {value}")
        return 0
    missing = [name for name in EXPORTED_PRIMITIVES if name not in PRIMITIVES]
    if args.json:
        rows = [
            {
                "name": name,
                "implemented": name in PRIMITIVES,
                "selector": PRIMITIVES[name].selector if name in PRIMITIVES else None,
                "arguments": list(PRIMITIVES[name].arguments) if name in PRIMITIVES else None,
                "doc": PRIMITIVES[name].doc if name in PRIMITIVES else None,
            }
            for name in EXPORTED_PRIMITIVES
        ]
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(n) for n in EXPORTED_PRIMITIVES)
        for name in EXPORTED_PRIMITIVES:
            spec = PRIMITIVES.get(name)
            if spec is None:
                print(f"{name:<{width}}  MISSING")
                continue
            args_text = ", ".join(spec.arguments) or "-"
            print(f"{name:<{width}}  ({args_text})  {spec.doc}")
        print(
            f"\n{len(EXPORTED_PRIMITIVES) - len(missing)} of {len(EXPORTED_PRIMITIVES)} "
            "primitives exported by SocketPlugin.c are implemented."
        )
    return 1 if missing else 0
