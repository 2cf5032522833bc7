"""One line of a primitive trace: what :class:`~sqsocket.tracing.tracer.Tracer` hands its sink."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Kind(Enum):
    """What an entry records."""

    CALL = "call"
    ANSWER = "answer"
    FAIL = "fail"
    STATE = "state"
    SIGNAL = "signal"
    POLL = "poll"


@dataclass(frozen=True)
class TraceEntry:
    """One line of the trace.

    ``text`` is the readable rendering (no time, no indentation); ``fields`` the same
    facts for machines; ``within`` the primitive (or ``"poll"``) the entry happened
    inside, None at top level; ``vm`` and ``thread`` number the VMs and threads of
    the trace from 1.
    """

    at: float
    kind: Kind
    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    within: str | None = None
    vm: int = 1
    thread: int = 1

    def as_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"at": round(self.at, 6), "kind": self.kind.value}
        record.update(self.fields)
        if self.within is not None:
            record["within"] = self.within
        record["vm"] = self.vm
        record["thread"] = self.thread
        return record

    def json_line(self) -> str:
        return json.dumps(self.as_json(), ensure_ascii=False)
