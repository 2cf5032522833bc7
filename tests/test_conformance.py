"""Conformance: every scenario on the emulator and on the real VM, compared line by line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sqsocket.interop.conformance import Report, SideResult, run_conformance
from sqsocket.interop.dsl import Call, Scenario
from sqsocket.interop.record import normalize, raw
from sqsocket.interop.scenarios import SCENARIOS
from sqsocket.interop.vm_run import run_on_vm
from sqsocket.plugin import PRIMITIVES


def test_there_are_at_least_30_scenarios_with_unique_names() -> None:
    assert len(SCENARIOS) >= 30
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


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


@pytest.mark.squeakvm
def test_no_differences_under_the_squeak_4_10_profile(squeak_vm: Path, squeak_image: Path) -> None:
    report = run_conformance(
        "squeak-4.10",
        SCENARIOS,
        lambda fx, scs: run_on_vm(fx, scs, vm=squeak_vm, image=squeak_image),
    )
    assert report.vm is not None
    assert not report.vm.error, report.vm.error
    assert len(report.scenarios) >= 30
    for sc in SCENARIOS:
        assert report.vm.lines.get(sc.name), f"the VM recorded nothing for {sc.name}"
    diffs = report.differences()
    assert not diffs, "\n".join(f"{d.scenario} {d.step}: {d.emulator} | {d.vm}" for d in diffs)


@pytest.mark.squeakvm
def test_the_strict_profile_differs_from_the_vm(squeak_vm: Path, squeak_image: Path) -> None:
    """The quirks are real: without them the emulator no longer matches the VM."""
    names = {"resolve-path-40", "old-resolver-localhost", "options", "resolve-regular-file"}
    chosen = [s for s in SCENARIOS if s.name in names]
    report = run_conformance(
        "strict", chosen, lambda fx, scs: run_on_vm(fx, scs, vm=squeak_vm, image=squeak_image)
    )
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
