"""Run every scenario on the emulator and on the real VM; compare line by line.

Both runs share one :class:`~sqsocket.interop.fixtures.Fixture`, so paths and
ports are equal; :func:`~sqsocket.interop.record.normalize` hides the session id.
A scenario conforms when its normalized lines are identical on both sides.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqsocket.interop.dsl import Scenario
from sqsocket.interop.emulator_run import EmulatorRunner, Lines
from sqsocket.interop.fixtures import Fixture
from sqsocket.interop.record import normalize
from sqsocket.interop.scenarios import SCENARIOS
from sqsocket.platform.profiles import DEFAULT_PROFILE, Profile, get_profile


@dataclass
class SideResult:
    name: str
    session: int
    lines: Lines
    seconds: float
    error: str = ""


@dataclass
class Difference:
    scenario: str
    step: str
    emulator: str
    vm: str


@dataclass
class Report:
    profile: str
    scenarios: list[Scenario]
    emulator: SideResult
    vm: SideResult | None
    ports: dict[str, int] = field(default_factory=dict)

    def normalized(self, side: SideResult, scenario: str) -> list[str]:
        return [normalize(line, side.session, self.ports) for line in side.lines.get(scenario, [])]

    def differences(self) -> list[Difference]:
        if self.vm is None:
            return []
        diffs: list[Difference] = []
        for sc in self.scenarios:
            em = _by_step(self.normalized(self.emulator, sc.name))
            vm = _by_step(self.normalized(self.vm, sc.name))
            for step in sorted(set(em) | set(vm), key=_step_key):
                if em.get(step) != vm.get(step):
                    diffs.append(Difference(sc.name, step, em.get(step, "-"), vm.get(step, "-")))
        return diffs

    def table(self, width: int = 48) -> str:
        """Side-by-side: each scenario's recorded steps, emulator | vm, differences marked."""
        out = [f"profile {self.profile}: {len(self.scenarios)} scenarios"]
        for sc in self.scenarios:
            em = _by_step(self.normalized(self.emulator, sc.name))
            vm = _by_step(self.normalized(self.vm, sc.name)) if self.vm else {}
            same = self.vm is not None and em == vm
            mark = "same" if same else ("DIFF" if self.vm else "emulator only")
            out.append(f"\n[{mark}] {sc.name}: {sc.about}")
            for step in sorted(set(em) | set(vm), key=_step_key):
                a, b = em.get(step, "-"), vm.get(step, "-")
                flag = "  " if a == b or self.vm is None else "≠ "
                out.append(f"  {flag}{step:>3}  {_clip(a, width):<{width}}  {_clip(b, width)}")
        return "\n".join(out)


def _by_step(lines: Sequence[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for line in lines:
        step, _, value = line.partition(" ")
        result[step] = value
    return result


def _step_key(step: str) -> tuple[int, str]:
    return (int(step), "") if step.isdigit() else (10**9, step)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


VMRun = Callable[[Fixture, Sequence[Scenario]], SideResult]


def run_conformance(
    profile: Profile | str = DEFAULT_PROFILE,
    scenarios: Sequence[Scenario] = SCENARIOS,
    vm_run: VMRun | None = None,
) -> Report:
    """Run the scenarios on the emulator and, when ``vm_run`` is given, on the real VM."""
    prof = get_profile(profile) if isinstance(profile, str) else profile
    with Fixture() as fx:
        t0 = time.monotonic()
        runner = EmulatorRunner(fx, prof)
        try:
            lines = runner.run(scenarios)
            session = runner.session
        finally:
            runner.close()
        fx.reset_paths()
        emu = SideResult("emulator", session, lines, time.monotonic() - t0)
        vm = vm_run(fx, scenarios) if vm_run is not None else None
        return Report(prof.name, list(scenarios), emu, vm, dict(fx.ports))
