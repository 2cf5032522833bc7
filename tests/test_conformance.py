"""Conformance: every scenario on the emulator and on the real VM, compared line by line."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from sqsocket.interop import dsl
from sqsocket.interop.conformance import Report, SideResult, VMRun, run_conformance
from sqsocket.interop.dsl import Call, Scenario
from sqsocket.interop.record import normalize, raw
from sqsocket.interop.scenarios import SCENARIOS
from sqsocket.interop.vm_run import run_on_vm
from sqsocket.plugin import PRIMITIVES

# The old-resolver scenarios ask DNS on both sides: gethostbyaddr with the 8-byte length
# of a 64-bit VM always does, and so does an unknown name (docs/quirks.md, 23). In a
# loopback-only network namespace nothing can leave the machine (tests/netns.py).
pytestmark = pytest.mark.isolated_network


def test_there_are_at_least_70_scenarios_with_unique_names() -> None:
    assert len(SCENARIOS) >= 70
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


def test_no_scenario_sleeps() -> None:
    """Scenarios wait only for conditions: the language has no sleep step at all."""
    step_types = set(typing.get_args(dsl.Step))
    assert not any("sleep" in t.__name__.lower() for t in step_types)
    assert not hasattr(dsl, "Sleep")
    for sc in SCENARIOS:
        assert all(type(step) in step_types for step in sc.steps), sc.name


def test_every_scenario_that_connects_checks_that_it_resolved_and_connected() -> None:
    """A connect scenario whose resolve found no address would be broken, not a result."""
    for sc in SCENARIOS:
        calls = [s for s in sc.steps if isinstance(s, Call)]
        if any(c.prim == "primitiveSocketConnectTo" for c in calls) and any(
            c.prim == "primitiveResolverGetAddressInfo" for c in calls
        ):
            assert any(isinstance(s, dsl.Expect) for s in sc.steps), sc.name


def test_a_scenario_that_does_not_reach_its_point_is_broken_not_a_result() -> None:
    sc = Scenario(
        "connect-to-nothing",
        "resolve a path that does not exist, then claim to connect",
        (
            dsl.Call(
                "primitiveResolverGetAddressInfo",
                (dsl.Str(""), dsl.Path("missing"), 0, 1, 0, 0),
            ),
            dsl.Call("primitiveResolverGetAddressInfoSize", bind="saSize"),
            dsl.Expect("saSize", dsl.Op.GT, 0, "the path resolved"),
        ),
    )
    report = run_conformance(scenarios=[sc])
    assert report.broken() == {"connect-to-nothing": ["emulator: 3 the path resolved"]}
    assert report.failed()
    assert "[BROKEN]" in report.table()


def test_every_scenario_calls_only_known_primitives() -> None:
    for sc in SCENARIOS:
        for step in sc.steps:
            if isinstance(step, Call):
                assert step.prim in PRIMITIVES, (sc.name, step.prim)


def test_raw_and_normalize_hide_only_what_differs_between_runs() -> None:
    session = 0x01020304
    handle = bytes.fromhex("04030201") + bytes(12)
    assert normalize(raw(handle), session, {}) == "x:HANDLE"
    address = bytes.fromhex("04030201") + bytes.fromhex("10000000") + b"\x02\x00\x1f\x90"
    assert normalize(raw(address), session, {"echo": 8080}) == "x:SESSION10000000" + "0200<echo>"
    assert normalize(raw(8080), session, {"echo": 8080}) == "<port:echo>"
    assert normalize(raw([0, True, None]), session, {}) == "(0 true ok)"
    # a different session id is not hidden: a foreign address shows up as a difference
    assert "SESSION" not in normalize(raw(address), session + 1, {})


def test_emulator_side_runs_every_scenario() -> None:
    report = run_conformance(scenarios=SCENARIOS)
    assert report.vm is None
    for sc in SCENARIOS:
        assert report.emulator.lines.get(sc.name), f"{sc.name} recorded nothing"


def test_differences_are_found() -> None:
    sc = SCENARIOS[0]
    emu = SideResult("emulator", 1, {sc.name: ["1 ok", "2 118"]}, 0.0)
    vm = SideResult("squeak-vm", 2, {sc.name: ["1 ok", "2 -1"]}, 0.0)
    report = Report("squeak-4.10", [sc], emu, vm)
    diffs = report.differences()
    assert [(d.step, d.emulator, d.vm) for d in diffs] == [("2", "118", "-1")]
    assert "DIFF" in report.table()


@pytest.fixture
def on_squeak(squeak_vm: Path, squeak_image: Path) -> VMRun:
    """The conformance VM side: the scenarios on Debian's squeak-vm and the built image."""
    return lambda fx, scs: run_on_vm(fx, scs, vm=squeak_vm, image=squeak_image)


@pytest.mark.squeakvm
def test_no_differences_under_the_squeak_4_10_profile(on_squeak: VMRun) -> None:
    report = run_conformance("squeak-4.10", SCENARIOS, on_squeak)
    assert report.vm is not None
    assert not report.vm.error, report.vm.error
    assert len(report.scenarios) >= 30
    for sc in SCENARIOS:
        assert report.vm.lines.get(sc.name), f"the VM recorded nothing for {sc.name}"
    diffs = report.differences()
    assert not diffs, "\n".join(f"{d.scenario} {d.step}: {d.emulator} | {d.vm}" for d in diffs)
    assert report.broken() == {}


@pytest.mark.squeakvm
def test_ten_runs_of_each_side_give_the_same_lines(on_squeak: VMRun) -> None:
    """Deterministic on both sides: no scenario's output varies over 10 runs."""
    report = run_conformance("squeak-4.10", SCENARIOS, on_squeak, repeat=10)
    assert len(report.vm_runs) == len(report.emulator_runs) == 10
    assert all(not run.error for run in report.vm_runs), [r.error for r in report.vm_runs]
    assert report.unstable() == {}
    assert report.differences() == [] and report.broken() == {}


@pytest.mark.squeakvm
def test_the_strict_profile_differs_from_the_vm(on_squeak: VMRun) -> None:
    """The quirks are real: without them the emulator no longer matches the VM."""
    names = {"resolve-path-40", "old-resolver-localhost", "options", "resolve-regular-file"}
    chosen = [s for s in SCENARIOS if s.name in names]
    report = run_conformance("strict", chosen, on_squeak)
    differing = {d.scenario for d in report.differences()}
    assert differing == names


@pytest.mark.squeakvm
def test_conformance_command(squeak_vm: Path, squeak_image: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqsocket",
            "conformance",
            "--json",
            "--vm",
            str(squeak_vm),
            "--image",
            str(squeak_image),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["differences"] == []
    assert len(data["scenarios"]) >= 30


def test_scenario_type_is_data() -> None:
    assert all(isinstance(s, Scenario) for s in SCENARIOS)
