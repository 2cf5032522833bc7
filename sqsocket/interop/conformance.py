"""Run every scenario on the emulator and on the real VM; compare line by line.

Both runs share one :class:`~sqsocket.interop.fixtures.Fixture`, so paths and
ports are equal; :func:`~sqsocket.interop.record.normalize` hides the session id.
A scenario counts only if it reached what its name says on both sides (no
``Expect``/``Await`` step failed: otherwise it is *broken*, which is neither a
pass nor a difference); it conforms when its normalized lines are identical on
both sides. With ``repeat`` > 1 each side runs that many times and a scenario
whose lines vary between runs on either side is reported as *unstable*.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqsocket import ui
from sqsocket.interop.dsl import Scenario
from sqsocket.interop.emulator_run import EmulatorRunner, Lines, StepHook
from sqsocket.interop.fixtures import Fixture
from sqsocket.interop.record import normalize
from sqsocket.interop.scenarios import SCENARIOS
from sqsocket.platform.profiles import DEFAULT_PROFILE, Profile, get_profile
from sqsocket.vm.events import Observer


@dataclass
class SideResult:
    name: str
    session: int
    lines: Lines
    seconds: float
    error: str = ""
    #: scenario -> why it did not reach what its name says (an Expect or Await failed)
    broken: dict[str, list[str]] = field(default_factory=dict)


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
    #: with repeat > 1: every run of each side, the first being ``emulator`` / ``vm``
    emulator_runs: list[SideResult] = field(default_factory=list)
    vm_runs: list[SideResult] = field(default_factory=list)

    def normalized(self, side: SideResult, scenario: str) -> list[str]:
        return [normalize(line, side.session, self.ports) for line in side.lines.get(scenario, [])]

    def values(self, side: SideResult | None, scenario: str) -> dict[str, str]:
        """One side's normalized values of a scenario by step number (none: no side)."""
        result: dict[str, str] = {}
        for line in self.normalized(side, scenario) if side is not None else []:
            step, _, value = line.partition(" ")
            result[step] = value
        return result

    def broken(self) -> dict[str, list[str]]:
        """Scenario -> reasons, from either side and every run."""
        out: dict[str, list[str]] = {}
        sides = [*self.emulator_runs, *self.vm_runs]
        if not sides:
            sides = [self.emulator] if self.vm is None else [self.emulator, self.vm]
        for side in sides:
            for name, reasons in side.broken.items():
                out.setdefault(name, []).extend(f"{side.name}: {r}" for r in reasons)
        return out

    def unstable(self) -> dict[str, list[str]]:
        """Scenario -> the sides whose output varied between runs."""
        out: dict[str, list[str]] = {}
        for label, runs in (("emulator", self.emulator_runs), ("vm", self.vm_runs)):
            if len(runs) < 2:
                continue
            for sc in self.scenarios:
                seen = {tuple(self.normalized(run, sc.name)) for run in runs}
                if len(seen) > 1:
                    out.setdefault(sc.name, []).append(label)
        return out

    def differences(self) -> list[Difference]:
        if self.vm is None:
            return []
        broken = self.broken()
        diffs: list[Difference] = []
        for sc in self.scenarios:
            if sc.name in broken:
                continue
            em = self.values(self.emulator, sc.name)
            vm = self.values(self.vm, sc.name)
            for step in sorted(set(em) | set(vm), key=_step_key):
                if em.get(step) != vm.get(step):
                    diffs.append(Difference(sc.name, step, em.get(step, "-"), vm.get(step, "-")))
        return diffs

    def failed(self) -> bool:
        """Anything that makes the run not a pass: a difference, a broken or unstable
        scenario, or a VM run that did not finish."""
        vm_error = self.vm is not None and bool(self.vm.error)
        return bool(self.differences() or self.broken() or self.unstable() or vm_error)

    def table(self, width: int = 48) -> str:
        """Side-by-side: each scenario's recorded steps, emulator | vm, differences marked
        (``≠``); a cell is cut at ``width`` characters."""
        broken = self.broken()
        unstable = self.unstable()
        columns = (
            ui.Column(""),
            ui.Column("step", ui.Justify.RIGHT, width=4),
            ui.Column("emulator", width=width),
            ui.Column("vm" if self.vm is None else self.vm.name, max_width=width),
        )
        out = [f"profile {self.profile}: {len(self.scenarios)} scenarios"]
        for sc in self.scenarios:
            em = self.values(self.emulator, sc.name)
            vm = self.values(self.vm, sc.name)
            if sc.name in broken:
                mark = "BROKEN"
            elif sc.name in unstable:
                mark = "UNSTABLE"
            elif self.vm is None:
                mark = "emulator only"
            else:
                mark = "same" if em == vm else "DIFF"
            out.append(f"\n[{mark}] {sc.name}: {sc.about}")
            for reason in broken.get(sc.name, []):
                out.append(f"  !! {reason}")
            if sc.name in unstable:
                out.append(f"  !! output varied between runs on: {', '.join(unstable[sc.name])}")
            steps = sorted(set(em) | set(vm), key=_step_key)
            cells = [(em.get(step, "-"), vm.get(step, "-")) for step in steps]
            out.append(
                ui.render_table(
                    columns,
                    [
                        ("" if a == b or self.vm is None else "≠", step, a, b)
                        for step, (a, b) in zip(steps, cells, strict=True)
                    ],
                    show_header=False,
                )
            )
        return "\n".join(out)


def _step_key(step: str) -> tuple[int, str]:
    return (int(step), "") if step.isdigit() else (10**9, step)


VMRun = Callable[[Fixture, Sequence[Scenario]], SideResult]


def run_emulator(
    fx: Fixture,
    profile: Profile,
    scenarios: Sequence[Scenario],
    *,
    observer: Observer | None = None,
    on_step: StepHook | None = None,
    before_close: Callable[[], None] | None = None,
) -> SideResult:
    """One emulator run: one emulated VM, every scenario in order.

    ``observer`` and ``on_step`` go to the :class:`EmulatorRunner`; ``before_close`` is
    called when the scenarios are over (or failed), just before the VM is closed.
    """
    t0 = time.monotonic()
    runner = EmulatorRunner(fx, profile, observer=observer, on_step=on_step)
    try:
        outcome = runner.run(scenarios)
        session = runner.session
    finally:
        if before_close is not None:
            before_close()
        runner.close()
    return SideResult(
        "emulator", session, outcome.lines, time.monotonic() - t0, broken=outcome.broken
    )


def run_conformance(
    profile: Profile | str = DEFAULT_PROFILE,
    scenarios: Sequence[Scenario] = SCENARIOS,
    vm_run: VMRun | None = None,
    repeat: int = 1,
    progress: ui.Progress | None = None,
) -> Report:
    """Run the scenarios on the emulator and, when ``vm_run`` is given, on the real VM;
    ``progress`` shows each run of each side as it starts."""
    prof = get_profile(profile) if isinstance(profile, str) else profile
    steps = progress if progress is not None else ui.Progress(enabled=False)
    emulator_runs: list[SideResult] = []
    vm_runs: list[SideResult] = []
    with Fixture() as fx:
        for n in range(max(1, repeat)):
            with steps.step(f"run {n + 1}/{repeat}: the emulator, profile {prof.name}"):
                emulator_runs.append(run_emulator(fx, prof, scenarios))
            fx.reset_paths()
            if vm_run is not None:
                with steps.step(f"run {n + 1}/{repeat}: the VM"):
                    vm_runs.append(vm_run(fx, scenarios))
                fx.reset_paths()
        return Report(
            prof.name,
            list(scenarios),
            emulator_runs[0],
            vm_runs[0] if vm_runs else None,
            dict(fx.ports),
            emulator_runs,
            vm_runs,
        )
