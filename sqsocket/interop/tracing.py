"""``sqsocket conformance --trace SCENARIO``: the emulator's primitive trace, step by step,
beside what each side recorded.

The real VM cannot be traced from outside: SqConf prints only the steps a scenario
shows. So the scenario runs once on each side against one fixture, as
``sqsocket conformance`` runs it, and the emulator's run is traced
(:class:`~sqsocket.tracing.Tracer` on the runner's VM). The report is the
emulator's trace cut at the step boundaries, each step followed by the value both
sides recorded for it (normalized, as the conformance table shows them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqsocket.interop.conformance import Report, VMRun, run_emulator
from sqsocket.interop.dsl import Buf, Bytes, Call, Path, Port, Scenario, Sema, Step, Str, Var
from sqsocket.interop.fixtures import Fixture
from sqsocket.platform.profiles import Profile, get_profile
from sqsocket.tracing import PollFilter, TextFormatter, TraceEntry, Tracer


@dataclass
class StepTrace:
    """One step: what it is, the emulator's entries while it ran, and the recorded values."""

    number: int
    what: str
    entries: list[TraceEntry] = field(default_factory=list)
    emulator: str = "-"
    vm: str | None = None  # None: the VM did not run

    @property
    def differs(self) -> bool:
        return self.vm is not None and self.emulator != self.vm


@dataclass
class ScenarioTrace:
    scenario: Scenario
    profile: str
    setup: list[TraceEntry]
    steps: list[StepTrace]
    teardown: list[TraceEntry]
    vm_name: str | None  # the VM side's label (squeak-vm, pharo ...); None: it did not run
    vm_error: str = ""
    broken: list[str] = field(default_factory=list)

    def failed(self) -> bool:
        return bool(self.broken or self.vm_error or any(s.differs for s in self.steps))

    def render(self) -> str:
        """The readable report: setup, then each step's trace and both sides' values."""
        sc = self.scenario
        vm = self.vm_name if self.vm_name is not None else "(the VM did not run)"
        out = [
            f"trace of {sc.name} under profile {self.profile}: {sc.about}",
            f"each step: the emulator's primitive trace, then = emulator | {vm}",
            "",
            "setup (SqConf setUp: initialize the network, learn the session)",
        ]
        out += _indent(TextFormatter().format_all(self.setup))
        for step in self.steps:
            out.append(f"step {step.number}: {step.what}")
            out += _indent(TextFormatter().format_all(step.entries))
            if step.emulator == "-" and step.vm in (None, "-"):
                out.append("  (the step records nothing)")
            elif step.vm is None:
                out.append(f"  = {_clip(step.emulator)}")
            elif step.differs:
                out.append(f"  ≠ {step.emulator} | {step.vm}")  # in full: the bytes matter
            else:
                out.append(f"  = {_clip(step.emulator)} | {_clip(step.vm)}")
        if self.teardown:
            out.append("teardown (the VM quits: sockets still open are closed)")
            out += _indent(TextFormatter().format_all(self.teardown))
        out.append("")
        for reason in self.broken:
            out.append(f"BROKEN {reason}")
        if self.vm_error:
            out.append(f"VM run: {self.vm_error}")
        if self.vm_name is not None:
            n = sum(s.differs for s in self.steps)
            out.append(f"{n} difference(s) in {len(self.steps)} steps")
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "profile": self.profile,
            "setup": [e.as_json() for e in self.setup],
            "steps": [
                {
                    "step": s.number,
                    "what": s.what,
                    "emulator": s.emulator,
                    "vm": s.vm,
                    "trace": [e.as_json() for e in s.entries],
                }
                for s in self.steps
            ],
            "teardown": [e.as_json() for e in self.teardown],
            "broken": self.broken,
            "vm_error": self.vm_error,
        }


#: A recorded value both sides agree on is cut to this many characters.
VALUE_WIDTH = 72


def _clip(text: str) -> str:
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def _indent(lines: Any) -> list[str]:
    return ["  " + line for line in lines]


def describe_step(step: Step) -> str:
    """A step in one line: ``primitiveSocketConnectTo(s, sa)``, ``AwaitStatus handle=s …``."""
    if isinstance(step, Call):
        args = ", ".join(_describe_arg(a) for a in step.args)
        bind = f" → {step.bind}" if step.bind else ""
        return f"{step.prim}({args}){bind}"
    parts = []
    for f in dataclasses.fields(step):
        value = getattr(step, f.name)
        if isinstance(value, Enum):
            value = value.value
        parts.append(f"{f.name}={_describe_arg(value)}")
    return f"{type(step).__name__} {' '.join(parts)}"


def _describe_arg(arg: object) -> str:
    if isinstance(arg, Var):
        return arg.name
    if isinstance(arg, Path):
        return f"path:{arg.name}" + ("+NUL" if arg.nul else "")
    if isinstance(arg, Port):
        return f"port:{arg.name}"
    if isinstance(arg, Str):
        return repr(arg.text)
    if isinstance(arg, Bytes):
        return "x:" + arg.data.hex()
    if isinstance(arg, Buf):
        return f"buf[{_describe_arg(arg.size)}]"
    if isinstance(arg, Sema):
        return f"sema:{arg.name}"
    if isinstance(arg, bytes):
        return "x:" + arg.hex() if arg else "''"
    return str(arg)


def trace_scenario(
    profile: Profile | str,
    scenario: Scenario,
    vm_run: VMRun | None = None,
    polls: PollFilter | str = PollFilter.ALL,
) -> ScenarioTrace:
    """Run ``scenario`` traced on the emulator and, with ``vm_run``, on the real VM."""
    prof = get_profile(profile) if isinstance(profile, str) else profile
    setup: list[TraceEntry] = []
    steps: list[StepTrace] = []
    teardown: list[TraceEntry] = []
    sink: list[TraceEntry] = setup
    tracer = Tracer(lambda entry: sink.append(entry), polls=polls)

    def on_step(_name: str, number: int, step: Step) -> None:
        nonlocal sink
        tracer.flush()
        steps.append(StepTrace(number, describe_step(step)))
        sink = steps[-1].entries

    def on_teardown() -> None:
        nonlocal sink
        tracer.flush()
        sink = teardown

    with Fixture() as fx:
        try:
            emulator = run_emulator(
                fx,
                prof,
                [scenario],
                observer=tracer.record,
                on_step=on_step,
                before_close=on_teardown,
            )
        finally:
            tracer.close()
        fx.reset_paths()
        vm = vm_run(fx, [scenario]) if vm_run is not None else None
        report = Report(prof.name, [scenario], emulator, vm, dict(fx.ports))
    em_values = report.values(emulator, scenario.name)
    vm_values = report.values(vm, scenario.name)
    for step in steps:
        step.emulator = em_values.get(str(step.number), "-")
        if vm is not None:
            step.vm = vm_values.get(str(step.number), "-")
    return ScenarioTrace(
        scenario,
        prof.name,
        setup,
        steps,
        teardown,
        vm_name=vm.name if vm is not None else None,
        vm_error=vm.error if vm is not None else "",
        broken=report.broken().get(scenario.name, []),
    )
