"""Fuzzing every SocketPlugin primitive (issue 10): whatever the arguments, only the VM's
own failure comes out, and nothing is written or leaked that should not be.

Each example builds a :class:`~fuzz_support.World` (one emulated plugin with live
listeners, connected TCP and Unix pairs, UDP sockets, dead and foreign handles, real
addresses) and makes primitive calls in it with arguments drawn by
:class:`~fuzz_support.Fuzzer`: right and wrong kinds, sizes, windows (start/count),
forged, stale and foreign-session handles and addresses (bytes of real ones mutated),
every code value (netTypes, socket types, families, option names and values, ...).
After every call:

- only :class:`~sqsocket.errors.PrimitiveFailed` may have come out (an ``EmulatorError``
  or any other exception is a bug);
- no byte of any buffer outside what the primitive may write (a receive's window up to
  the count it answered, a result's size) has changed: every buffer is filled with a
  sentinel pattern and compared;
- the VM's next poll (``vm.relinquish(0)``, where an aio handler's error would surface
  as ``EmulatorError``) runs cleanly.

After every example, once the plugin is closed, the process has no more descriptors
than before it. Everything stays on this machine (see fuzz_support's docstring; the
session's network guard refuses and reports anything that would not).

Budgets come from the Hypothesis profile (tests/conftest.py): ``ci`` by default,
``--hypothesis-profile=long`` for a longer hunt.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from fuzz_support import (
    CALLS,
    PARAMETER_KINDS,
    Foreign,
    Fuzzer,
    World,
    check_answer,
    foreign_plugin,
    make_call,
    no_descriptor_growth,
    run_call,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sqsocket.plugin import PRIMITIVES, SocketPlugin

pytestmark = pytest.mark.timeout(300)

SUITE = "fuzz"
ENDINGS = frozenset(
    {
        "primitiveSocketDestroy",
        "primitiveSocketCloseConnection",
        "primitiveSocketAbortConnection",
        "primitiveDisableSocketAccess",
    }
)
PROFILES = ("squeak-4.10", "opensmalltalk", "strict")
# Hypothesis favours the first of a list: a harmless primitive first, the one that ends
# socket access for good last
NAMES = sorted(
    PRIMITIVES,
    key=lambda n: (n == "primitiveDisableSocketAccess", n != "primitiveSocketConnectionStatus", n),
)
# calls per example in the sequence test; examples per primitive in the focused one
SEQUENCE_CALLS = 24
PER_PRIMITIVE = max(6, settings().max_examples // 16)
# what `make test` (the ci profile) must reach in this suite alone (with the stateful
# suite's 4000: at least 10,000 in all)
MINIMUM_CALLS = 6000
_COMPLETED: set[str] = set()  # the fuzz tests that ran to the end in this session


@pytest.fixture(scope="module")
def foreign() -> Iterator[Foreign]:
    with foreign_plugin() as f:
        yield f


def fuzz_in_a_world(data: st.DataObject, foreign: Foreign, names: list[str], calls: int) -> None:
    profile = data.draw(st.sampled_from(PROFILES), label="profile")
    with no_descriptor_growth("a fuzzed world, closed"), World(profile, foreign, SUITE) as world:
        fuzzer = Fuzzer(world, data)
        gentle = [n for n in names if n not in ENDINGS] or names
        for _ in range(calls):
            if fuzzer.chance(0.01):
                world.restart()  # from here on, stale-session handles and addresses
            # the endings (destroy, close, ...) rarely: a world of dead sockets tests little
            pool = names if fuzzer.chance(0.1) else gentle
            name = data.draw(st.sampled_from(pool), label="primitive")
            call = make_call(fuzzer, name)
            if call.skipped:
                continue
            ok, result = run_call(world, call)
            if ok:
                check_answer(call, result)
                world.track_new(name, call.args, result)
            # an error in a handler this call armed surfaces in the VM's next poll
            world.p.vm.relinquish(0)


def test_every_parameter_has_a_generator() -> None:
    for name in NAMES:
        params = list(inspect.signature(getattr(SocketPlugin, name)).parameters)[1:]
        assert set(params) <= PARAMETER_KINDS, (name, set(params) - PARAMETER_KINDS)


@given(data=st.data())
def test_fuzzed_call_sequences(data: st.DataObject, foreign: Foreign) -> None:
    """Sequences of calls to any primitives: state built by one call is used by the next."""
    fuzz_in_a_world(data, foreign, NAMES, SEQUENCE_CALLS)


def test_fuzzed_call_sequences_done() -> None:
    _COMPLETED.add("sequences")  # (a @given test runs its body once per example)


@pytest.mark.parametrize("name", NAMES)
def test_each_primitive_fuzzed(name: str, foreign: Foreign) -> None:
    """Every primitive on its own, a few calls per example, so each gets its share."""

    @settings(max_examples=PER_PRIMITIVE)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        fuzz_in_a_world(data, foreign, [name], 4)

    run()
    _COMPLETED.add(name)


def test_the_suite_made_enough_calls() -> None:
    """`make test` (the ci profile) makes at least MINIMUM_CALLS fuzzed primitive calls here."""
    made = CALLS.by_suite.get(SUITE, 0)
    if len(_COMPLETED) < len(NAMES) + 1 or settings().max_examples < 200:
        pytest.skip(f"{made} calls: only part of the suite, or a smaller profile, ran")
    assert made >= MINIMUM_CALLS, f"only {made} fuzzed primitive calls"
