"""The reference entries, derived from the emulator's own tables and :mod:`.facts`.

One :class:`Entry` per exported primitive: its registry spec (name, arguments), its
Squeak selectors (read out of ``images/squeak/SocketPrims.st``, the methods the Squeak
side calls), its Pharo 13 selectors and hand-written facts (:mod:`.facts`), the state
table rows it applies and those of the handlers it arms, the profile flags that change
it with every profile's value and citation, and the conformance scenarios that call it.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from functools import cache

from sqsocket.interop.dsl import Call
from sqsocket.interop.scenarios import SCENARIOS
from sqsocket.platform.profiles import PROFILES, Evidence, Profile
from sqsocket.platform.statetable import TABLE, Event, Transition
from sqsocket.plugin import EXPORTED_PRIMITIVES, PRIMITIVES, SocketPlugin
from sqsocket.reference.facts import FACTS, FLAG_EFFECTS, HANDLE, SQUEAK_SELECTORS_FILE
from sqsocket.squeak import paths

COMMON_FAILURES = ("a wrong number of arguments, or an argument of the wrong kind",)
HANDLE_FAILURES = (
    "the socket argument is not a 16-byte handle of this network session, or its socket "
    "was destroyed (stale handles fail: the emulator keeps a table of live sockets)",
)
_KIND_TEXT = {
    "SmallInteger": "a SmallInteger",
    "String": "a String (or ByteArray)",
    "ByteArray": "a ByteArray",
    "Oop": "an object",
    "receiver": "the receiver",
    "[SmallInteger]": "an optional SmallInteger",
}
_HANDLE_NAMES = frozenset({"socket", "sockHandle"})


@dataclass(frozen=True)
class Argument:
    name: str
    kind: str
    range: str


@dataclass(frozen=True)
class ProfileValue:
    """One profile's value of a flag, and where it comes from."""

    profile: str
    value: str
    citation: str
    scenarios: tuple[str, ...]
    evidence: str


@dataclass(frozen=True)
class Difference:
    """A flag that changes the primitive: its effect and every profile's value."""

    flag: str
    effect: str
    values: tuple[ProfileValue, ...]

    @property
    def varies(self) -> bool:
        return len({v.value for v in self.values}) > 1


@dataclass(frozen=True)
class Entry:
    name: str
    c_function: str
    summary: str
    squeak: tuple[str, ...]
    pharo: tuple[str, ...]
    arguments: tuple[Argument, ...]
    answers: str
    fails: tuple[str, ...]
    rows: tuple[Transition, ...]
    armed: tuple[tuple[str, tuple[Transition, ...]], ...]
    differences: tuple[Difference, ...]
    scenarios: tuple[str, ...]
    exported_by: tuple[str, ...]


def value_text(value: object, *, brief: bool = False) -> str:
    """A flag value as the reference prints it: an enum by its value, a set sorted, an
    EventModel by the numbers that matter -- or, ``brief``, by its name (the profile
    listing of ``sqsocket primitives --profiles``)."""
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(value)) + "}" if value else "{}"
    enum_value = getattr(value, "value", None)
    if isinstance(enum_value, str):
        return enum_value
    if hasattr(value, "poll_interval"):
        # an EventModel: its name, or the numbers that matter in a fixed form
        model = value
        if brief:
            return str(getattr(model, "name", model))
        interval = getattr(model, "poll_interval", None)
        timer = getattr(model, "interval_timer", None)
        forced = getattr(model, "signal_forces_poll", False)
        drained = getattr(model, "poll_errno", None)
        parts = [f"poll every {int(interval * 1000)} ms" if interval else "no periodic poll"]
        parts.append("signals force a poll" if forced else "no forced polls")
        parts.append(f"timer EINTR every {int(timer * 1000)} ms" if timer else "no timer signal")
        if drained is not None:
            parts.append(f"every poll leaves errno {drained}")
        return ", ".join(parts)
    return str(value)


def profile_value(prof: Profile, flag: str, value: str | None = None) -> ProfileValue:
    """``prof``'s value of ``flag`` (``value``: shown instead of the flag's own) and its source."""
    source = prof.source(flag)
    return ProfileValue(
        prof.name,
        value_text(getattr(prof, flag)) if value is None else value,
        source.cite(),
        source.scenarios,
        source.evidence.name.lower(),
    )


@cache
def squeak_selectors() -> dict[str, tuple[str, ...]]:
    """Primitive name → the Squeak methods that call it (:data:`.facts.SQUEAK_SELECTORS_FILE`)."""
    text = (paths.repo_root() / SQUEAK_SELECTORS_FILE).read_text(encoding="latin-1")
    found: dict[str, list[str]] = {}
    for selector, prim in re.findall(r"#([A-Za-z][\w:]*)\s+#(primitive\w+)", text):
        found.setdefault(prim, []).append(f"SqSocketPlugin class>>{selector}")
    # the SocketAddress methods compiled from source: pattern line, then the literal array
    method = re.compile(r"!SocketAddress methodsFor: '[^']*'!\s*(.*?)!\s*!", re.DOTALL)
    for block in method.findall(text):
        for chunk in block.split("\n!\n"):
            lines = chunk.strip().splitlines()
            prim_match = re.search(r"#\(SocketPlugin (primitive\w+)", chunk)
            if lines and prim_match:
                pattern = "".join(part for part in lines[0].split() if part.endswith(":"))
                selector = pattern or lines[0].strip()
                found.setdefault(prim_match.group(1), []).append(f"SocketAddress>>{selector}")
    return {prim: tuple(sels) for prim, sels in found.items()}


def _arguments(name: str) -> tuple[Argument, ...]:
    spec = PRIMITIVES[name]
    params = [p for p in inspect.signature(getattr(SocketPlugin, name)).parameters if p != "self"]
    ranges = FACTS[name].ranges
    out = []
    for param, kind in zip(params, spec.arguments, strict=True):
        default = HANDLE if param in _HANDLE_NAMES else _KIND_TEXT.get(kind, kind)
        out.append(Argument(param, kind, ranges.get(param, default)))
    return tuple(out)


def _handler_rows(handler: str) -> tuple[Transition, ...]:
    return tuple(row for row in TABLE if row.where.startswith(handler))


def _rows(events: tuple[Event, ...]) -> tuple[Transition, ...]:
    by_event = {row.event: row for row in TABLE}
    return tuple(by_event[event] for event in events)


def _scenarios_calling(name: str) -> tuple[str, ...]:
    return tuple(
        sc.name
        for sc in SCENARIOS
        if any(isinstance(step, Call) and step.prim == name for step in sc.steps)
    )


def _differences(name: str) -> tuple[Difference, ...]:
    out = []
    for flag, effect in FLAG_EFFECTS.items():
        if name not in effect.primitives:
            continue
        if flag == "missing_primitives":  # the set itself says nothing of this primitive
            values = tuple(
                profile_value(
                    p, flag, "not exported" if name in p.missing_primitives else "exported"
                )
                for p in PROFILES.values()
            )
        else:
            values = tuple(profile_value(p, flag) for p in PROFILES.values())
        out.append(Difference(flag, effect.effect, values))
    return tuple(out)


def entry(name: str) -> Entry:
    """The reference entry of one primitive (``KeyError`` for an unknown name)."""
    facts = FACTS[name]
    spec = PRIMITIVES[name]
    args = _arguments(name)
    fails = list(COMMON_FAILURES)
    if any(a.name in _HANDLE_NAMES for a in args):
        fails += HANDLE_FAILURES
    fails += facts.fails
    return Entry(
        name=name,
        c_function=facts.c,
        summary=spec.doc,
        squeak=squeak_selectors().get(name, ()),
        pharo=facts.pharo,
        arguments=args,
        answers=facts.answers,
        fails=tuple(fails),
        rows=_rows(facts.events),
        armed=tuple((handler, _handler_rows(handler)) for handler in facts.arms),
        differences=_differences(name),
        scenarios=_scenarios_calling(name),
        exported_by=tuple(p.name for p in PROFILES.values() if name not in p.missing_primitives),
    )


def entries() -> list[Entry]:
    """Every exported primitive's entry, in SocketPlugin.c's export order."""
    return [entry(name) for name in EXPORTED_PRIMITIVES]


def evidence_legend() -> list[tuple[str, str]]:
    return [(e.name.lower(), e.value) for e in Evidence]
