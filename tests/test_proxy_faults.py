"""The proxy's pieces without sockets: fault checks, --fault text, timers, the dump format."""

from __future__ import annotations

import io
import math
from dataclasses import FrozenInstanceError

import pytest

from sqsocket.proxy import (
    AcceptDelay,
    Bandwidth,
    CloseOnEof,
    Direction,
    Fault,
    FaultError,
    FaultSet,
    HalfClose,
    Latency,
    LimitData,
    NeverRead,
    Refuse,
    Reset,
    Slicer,
    Stall,
    parse_fault,
)
from sqsocket.proxy.dump import TrafficDump, hexdump
from sqsocket.proxy.faults import FAULT_TYPES
from sqsocket.proxy.spec import faults_help
from sqsocket.proxy.timers import Timers

ONE_OF_EACH: list[Fault] = [
    Latency(100, jitter=20, direction=Direction.UP),
    Bandwidth(5000, direction="down"),
    Slicer(7, ms=5),
    Stall(after=10, seconds=1.5, drop=True, direction="up"),
    Reset(after=100, seconds=2, direction="down"),
    HalfClose(after=3, direction="up"),
    LimitData(after=1000, direction="up"),
    CloseOnEof(direction="down"),
    AcceptDelay(250),
    NeverRead(),
    Refuse(rst=True),
]


def test_every_fault_type_is_covered_here() -> None:
    assert {type(f) for f in ONE_OF_EACH} == set(FAULT_TYPES.values())


@pytest.mark.parametrize("fault", ONE_OF_EACH, ids=lambda f: f.name)
def test_describe_reads_back_as_the_same_fault(fault: Fault) -> None:
    text = fault.describe()
    assert parse_fault(text) == fault
    assert text.startswith(f"{fault.direction.value}:" if hasattr(fault, "direction") else "")


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("up:slicer:size=7,ms=5", Slicer(7, ms=5, direction=Direction.UP)),
        ("slicer:size=7", Slicer(7)),  # no direction: both
        ("both:latency:ms=20", Latency(20)),
        ("down:latency:ms=200,jitter=50", Latency(200, jitter=50, direction=Direction.DOWN)),
        ("up:stall", Stall(direction=Direction.UP)),
        ("up:stall:after=1000,drop", Stall(after=1000, drop=True, direction=Direction.UP)),
        ("down:reset:after=100", Reset(after=100, direction=Direction.DOWN)),
        ("reset:seconds=0.5", Reset(seconds=0.5)),
        ("refuse:rst", Refuse(rst=True)),
        ("refuse:rst=no", Refuse(rst=False)),
        ("accept-delay:ms=500", AcceptDelay(500)),
        ("never-read", NeverRead()),
        (" up:half-close:after=0 ", HalfClose(after=0, direction=Direction.UP)),
    ],
)
def test_parse_fault(text: str, fault: Fault) -> None:
    assert parse_fault(text) == fault


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty fault"),
        ("up:", "empty fault"),
        ("zork", "unknown fault 'zork'.*faults are: latency, bandwidth"),
        ("sideways:latency:ms=1", "unknown fault 'sideways'"),
        ("up:slicer", "slicer needs size="),
        ("up:slicer:size=0", "size must be between 1 and"),
        ("up:slicer:size=-3", "size must be between 1 and"),
        ("up:slicer:size=7.5", "whole number of bytes"),
        ("up:slicer:size=7,size=8", "size given twice"),
        ("up:slicer:width=3", "unknown parameter 'width'; it takes size, ms"),
        ("latency:ms=nan", "finite"),
        ("latency:ms=inf", "finite"),
        ("latency:ms=-1", "between 0 and"),
        ("latency:ms=1e12", "between 0 and"),
        ("latency:ms=", "give a value"),
        ("latency:ms=fast", "is a number"),
        ("bandwidth:rate=0", "at least 1 byte/s"),
        ("bandwidth:rate=0.5", "at least 1 byte/s"),
        ("stall:seconds=0", "more than 0"),
        ("stall:drop=maybe", "true or false"),
        ("up:refuse", "takes no direction"),
        ("never-read:x=1", "it takes no parameters"),
    ],
)
def test_parse_fault_errors_say_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(FaultError, match=message) as info:
        parse_fault(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Slicer(0),
        lambda: Slicer(True),  # a bool is not a size
        lambda: Latency(math.nan),
        lambda: Latency(math.inf),
        lambda: Latency(-5),
        lambda: Bandwidth(-1),
        lambda: LimitData(after=-1),
        lambda: Reset(seconds=0),
        lambda: Stall(drop=1),  # type: ignore[arg-type]
        lambda: Latency(5, direction="sideways"),
    ],
)
def test_fault_values_are_checked_at_construction(make: object) -> None:
    with pytest.raises(FaultError):
        make()  # type: ignore[operator]


def test_faults_are_frozen_and_hashable() -> None:
    fault = Slicer(7)
    with pytest.raises(FrozenInstanceError):
        fault.size = 8  # type: ignore[misc]
    assert len({Slicer(7), Slicer(7), Slicer(8)}) == 2


def test_fault_set_indexes_by_direction() -> None:
    faults = FaultSet.of([Latency(10), Slicer(3, direction="up"), Refuse()])
    assert faults.up.latency == faults.down.latency == Latency(10)
    assert faults.up.slicer == Slicer(3, direction="up") and faults.down.slicer is None
    assert faults.refuse == Refuse() and faults.never_read is None
    assert faults.describe() == "both:latency:ms=10 up:slicer:size=3 refuse"


@pytest.mark.parametrize(
    "pair",
    [
        [Latency(1), Latency(2, direction="up")],
        [Slicer(1, direction="down"), Slicer(2, direction="down")],
        [Refuse(), Refuse(rst=True)],
    ],
)
def test_fault_set_refuses_two_of_a_kind_on_one_direction(pair: list[Fault]) -> None:
    with pytest.raises(FaultError, match="two"):
        FaultSet.of(pair)


def test_same_kind_on_different_directions_is_fine() -> None:
    faults = FaultSet.of([Latency(1, direction="up"), Latency(2, direction="down")])
    assert faults.up.latency == Latency(1, direction="up")
    assert faults.down.latency == Latency(2, direction="down")


def test_help_lists_every_fault_and_parameter() -> None:
    text = faults_help()
    for name, cls in FAULT_TYPES.items():
        assert name in text
        for pname, *_rest in cls.params():
            assert f"{pname}=" in text


# -- timers ---------------------------------------------------------------------------


def test_timers_run_in_order_and_cancelled_ones_never() -> None:
    timers = Timers()
    ran: list[str] = []
    timers.schedule(3.0, lambda now: ran.append("c"))
    timers.schedule(1.0, lambda now: ran.append("a"))
    cancelled = timers.schedule(2.0, lambda now: ran.append("never"))
    timers.schedule(2.0, lambda now: ran.append("b"))
    cancelled.cancel()
    assert timers.timeout(0.0) == 1.0 and len(timers) == 3
    assert timers.run_due(2.5) == 2 and ran == ["a", "b"]
    assert timers.timeout(2.5) == pytest.approx(0.5)
    assert timers.timeout(10.0) == 0.0  # overdue: select must not wait
    timers.run_due(10.0)
    assert ran == ["a", "b", "c"] and timers.timeout(10.0) is None


def test_timers_a_callback_scheduling_due_timers_cannot_loop_for_ever() -> None:
    timers = Timers()
    count = 0

    def again(now: float) -> None:
        nonlocal count
        count += 1
        timers.schedule(now, again)  # due at once, every time

    timers.schedule(0.0, again)
    assert timers.run_due(1.0) == 1  # one per call: the loop gets back to select()
    assert timers.run_due(1.0) == 1 and count == 2


# -- the dump format -------------------------------------------------------------------


def test_hexdump_shows_hex_and_text() -> None:
    lines = hexdump(b"Hello, from Smalltalk!\r\n\x00\xff")
    assert lines == [
        "    0000  48 65 6c 6c 6f 2c 20 66 72 6f 6d 20 53 6d 61 6c  Hello, from Smal",
        "    0010  6c 74 61 6c 6b 21 0d 0a 00 ff                    ltalk!....",
    ]


def test_dump_records_events_and_data_with_timestamps() -> None:
    out = io.StringIO()
    dump = TrafficDump(out)
    dump.header("proxy a -> b")
    dump.event(1, "accepted from x")
    dump.data(1, "up", b"abc")
    dump.close()
    dump.event(1, "after close: not written")
    lines = out.getvalue().splitlines()
    assert lines[0] == "# proxy a -> b"
    assert lines[1].endswith(" #1 accepted from x")
    assert lines[2].endswith(" #1 up 3 bytes")
    stamp, relative = lines[2].split()[:2]
    assert stamp.count(":") == 2 and relative.startswith("+")
    assert lines[3].strip().startswith("0000  61 62 63")
    assert len(lines) == 4 and not out.closed  # a stream the caller gave stays open
