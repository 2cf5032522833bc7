"""``sqsocket primitives``: list every SocketPlugin primitive the emulator implements."""

from __future__ import annotations

import argparse
import json

from sqsocket import ui
from sqsocket.commands.catalog import add_command
from sqsocket.platform.profiles import PROFILES, Profile, get_profile
from sqsocket.platform.statetable import TABLE_HEADER, table_rows
from sqsocket.plugin import EXPORTED_PRIMITIVES, PRIMITIVES

EXAMPLES = """\
examples:
  sqsocket primitives
  sqsocket primitives --profile pharo-vm --json
  sqsocket primitives --states
  sqsocket primitives --profiles
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "primitives", epilog=EXAMPLES)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--states", action="store_true", help="print the connection-status state table")
    p.add_argument(
        "--profiles",
        action="store_true",
        help="list the emulator profiles: what each is, which VMs it stands for, its flags",
    )
    p.add_argument(
        "--profile",
        choices=list(PROFILES),
        help="list only the primitives this profile's SocketPlugin exports",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.states:
        if args.json:
            print(json.dumps([dict(zip(TABLE_HEADER, r, strict=True)) for r in table_rows()]))
        else:
            ui.print_table(TABLE_HEADER, table_rows())
        return 0
    if args.profiles:
        if args.json:
            print(json.dumps([_profile_json(p) for p in PROFILES.values()], indent=2))
        else:
            for index, each in enumerate(PROFILES.values()):
                if index:
                    print()
                _print_profile(each)
        return 0
    profile = get_profile(args.profile) if args.profile else None
    names = [
        name
        for name in EXPORTED_PRIMITIVES
        if profile is None or name not in profile.missing_primitives
    ]
    missing = [name for name in names if name not in PRIMITIVES]
    if args.json:
        rows = [
            {
                "name": name,
                "implemented": name in PRIMITIVES,
                "selector": PRIMITIVES[name].selector if name in PRIMITIVES else None,
                "arguments": list(PRIMITIVES[name].arguments) if name in PRIMITIVES else None,
                "doc": PRIMITIVES[name].doc if name in PRIMITIVES else None,
            }
            for name in names
        ]
        print(json.dumps(rows, indent=2))
    else:
        ui.print_table(
            ("primitive", "arguments", ui.Column("what it does", status=True)),
            [
                (name, ", ".join(PRIMITIVES[name].arguments) or "-", PRIMITIVES[name].doc)
                if name in PRIMITIVES
                else (name, "", "MISSING")
                for name in names
            ],
        )
        whose = f"the {profile.name} SocketPlugin" if profile else "SocketPlugin.c"
        print(
            f"\n{len(names) - len(missing)} of {len(names)} primitives exported by {whose} "
            "are implemented."
        )
    return 1 if missing else 0


def _value_text(value: object) -> str:
    """A flag's value as the listing shows it: as the reference does, an EventModel by name."""
    # imported here: the reference's tables load only when a profile is listed
    from sqsocket.reference.model import value_text

    return value_text(value, brief=True)


def _print_profile(profile: Profile) -> None:
    print(f"{profile.name}: {profile.description}")
    print(f"stands for: {profile.stands_for}")
    ui.print_table(
        ("flag", "value", "evidence", "source"),
        [
            (
                flag,
                _value_text(value),
                profile.source(flag).evidence.name.lower(),
                profile.source(flag).cite(),
            )
            for flag, value in profile.flags().items()
        ],
    )


def _profile_json(profile: Profile) -> dict[str, object]:
    return {
        "name": profile.name,
        "description": profile.description,
        "stands_for": profile.stands_for,
        "flags": {
            flag: {
                "value": _value_text(value),
                "source": {
                    "repository": profile.source(flag).repository,
                    "commit": profile.source(flag).commit,
                    "file": profile.source(flag).file,
                    "function": profile.source(flag).function,
                    "evidence": profile.source(flag).evidence.name.lower(),
                    "note": profile.source(flag).note,
                    "scenarios": list(profile.source(flag).scenarios),
                },
            }
            for flag, value in profile.flags().items()
        },
    }
