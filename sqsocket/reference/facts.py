"""The facts about each primitive that no table in the emulator holds, written once.

Everything else in the reference is derived: names, argument kinds and the Squeak
selector from :data:`sqsocket.plugin.PRIMITIVES`, state changes and signals from
:data:`sqsocket.platform.statetable.TABLE`, the per-VM differences from the profiles'
flags and sources, the option names from the option table, the scenarios from
:data:`sqsocket.interop.scenarios.SCENARIOS`. What is written, per primitive, is data:
``facts.toml`` beside this module, read once by :func:`read_facts` into :data:`FACTS`:

- ``c``: the platform function (sqUnixSocket.c, pharo-vm's SocketPluginImpl.c) it calls;
- ``answers``: what it answers when it succeeds;
- ``fails``: every failure condition beyond the common ones (a wrong argument count or
  kind, for a socket argument: not a handle of this session's live socket);
- ``ranges``: what each argument may be, where the kind alone does not say;
- ``events`` / ``arms``: the state-table rows it applies itself, and the aio handlers it
  arms (whose rows then run in a later poll);
- ``pharo``: the Pharo 13 methods whose ``<primitive: ... module: 'SocketPlugin'>`` names
  it, read in pharo-project/pharo @ :data:`PHARO13_COMMIT` (``src/Network-Kernel``).

And, per profile flag, the primitives whose behaviour it changes (:data:`FLAG_EFFECTS`,
the file's ``flag_effects``). A text may name a phrase of the file's ``[texts]`` table
as ``${name}``: what several primitives share is written once there.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from string import Template

from sqsocket.platform.statetable import Event

PHARO13_REPO = "pharo-project/pharo"
PHARO13_COMMIT = "9b55ea408a6ac583655e07c12d63f26dd64c6f87"  # branch Pharo13, 2024-10-22
PHARO13_FILES = (
    "src/Network-Kernel/Socket.class.st",
    "src/Network-Kernel/NetNameResolver.class.st",
)
SQUEAK_SELECTORS_FILE = "images/squeak/SocketPrims.st"

# The handlers a primitive can arm (aio.c aioHandle), by their C names; their rows are the
# state-table rows whose ``where`` starts with the name.
HANDLERS = ("acceptHandler", "connectHandler", "dataHandler", "closeHandler")

FACTS_FILE = "facts.toml"


@dataclass(frozen=True)
class Facts:
    """One primitive's hand-written facts (a ``[primitives.NAME]`` table of the file)."""

    c: str
    answers: str
    fails: tuple[str, ...] = ()
    ranges: dict[str, str] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    arms: tuple[str, ...] = ()
    pharo: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlagEffect:
    """Which primitives a profile flag changes, and how (one line)."""

    primitives: tuple[str, ...]
    effect: str


@dataclass(frozen=True)
class FactsFile:
    """What ``facts.toml`` holds, its ``${name}`` phrases filled in."""

    texts: dict[str, str]
    primitives: dict[str, Facts]
    flag_effects: dict[str, FlagEffect]


def read_facts() -> FactsFile:
    """Parse ``facts.toml``, its ``${name}`` phrases filled in.

    A key :class:`Facts` does not have, an unknown event name or an unknown ``${name}``
    raises (TypeError, KeyError): a typo in the file fails the import, not the docs.
    """
    text = resources.files("sqsocket.reference").joinpath(FACTS_FILE).read_text("utf-8")
    data = tomllib.loads(text)
    texts: dict[str, str] = data["texts"]

    def fill(value: str) -> str:
        return Template(value).substitute(texts)

    def facts(
        c: str,
        answers: str,
        fails: Sequence[str] = (),
        ranges: Mapping[str, str] | None = None,
        events: Sequence[str] = (),
        arms: Sequence[str] = (),
        pharo: Sequence[str] = (),
    ) -> Facts:
        return Facts(
            c,
            fill(answers),
            tuple(fill(text) for text in fails),
            {name: fill(text) for name, text in (ranges or {}).items()},
            tuple(Event[name] for name in events),
            tuple(arms),
            tuple(pharo),
        )

    return FactsFile(
        texts,
        {name: facts(**table) for name, table in data["primitives"].items()},
        {
            flag: FlagEffect(tuple(table["primitives"]), fill(table["effect"]))
            for flag, table in data["flag_effects"].items()
        },
    )


_FILE = read_facts()
FACTS: dict[str, Facts] = _FILE.primitives
FLAG_EFFECTS: dict[str, FlagEffect] = _FILE.flag_effects
#: What an argument that is a socket handle may be (the reference's default for one).
HANDLE = _FILE.texts["handle"]
