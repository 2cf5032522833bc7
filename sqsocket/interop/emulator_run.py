"""Run conformance scenarios on the emulator, as ``images/squeak/SqConf.st`` runs them on the VM.

The runner is the emulated image: it does what the Smalltalk interpreter of the
scenarios does, in the same order, including what the VM process does besides
the primitives and that the results depend on. Every line SqConf prints goes
through the FilePlugin to a stdout pipe (``Transcript show:``), which leaves
ESPIPE in errno; the VM's stderr is a pipe too (glibc's first ``perror()`` then
leaves EINVAL). So the emulated VM is told so, and the runner makes a console
write wherever SqConf prints a line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqsocket.errors import PrimitiveFailed
from sqsocket.interop import dsl
from sqsocket.interop.fixtures import Fixture
from sqsocket.interop.record import FAIL, OK, raw
from sqsocket.platform.layouts import build_socket_address, sockaddr_un
from sqsocket.platform.profiles import Profile, get_profile
from sqsocket.plugin import SocketPlugin
from sqsocket.vm.cruntime import StderrMode, StdoutKind
from sqsocket.vm.events import Observer
from sqsocket.vm.machine import VirtualMachine
from sqsocket.vm.semaphores import Semaphore

Lines = dict[str, list[str]]
#: Told (scenario name, step number, step) before each step runs.
StepHook = Callable[[str, int, dsl.Step], None]

#: AwaitStatus reads the status, then waits this long on a Delay, until it matches.
STATUS_POLL_SECONDS = 0.005


@dataclass
class Outcome:
    """What one run recorded: the lines per scenario, and why a scenario is broken."""

    lines: Lines = field(default_factory=dict)
    broken: dict[str, list[str]] = field(default_factory=dict)


def expect_holds(op: dsl.Op, bound: bool, value: Any, wanted: int) -> bool:
    """The comparison an :class:`Expect` step makes (the Smalltalk side makes the same)."""
    if op is dsl.Op.BOUND:
        return bound
    if not bound or isinstance(value, bool) or not isinstance(value, int):
        return False
    if op is dsl.Op.EQ:
        return value == wanted
    if op is dsl.Op.NE:
        return value != wanted
    return value > wanted


def _zeroed(size: int | dsl.Var, env: dict[str, Any]) -> bytearray:
    """``ByteArray new: size`` (a variable's size, if it holds one; else empty)."""
    n = env.get(size.name) if isinstance(size, dsl.Var) else size
    return bytearray(n if isinstance(n, int) and n > 0 else 0)


def _local_address(handle: Any, sun_path: bytes, full: bool = True) -> bytearray:
    """The LOCAL address SqConf builds: {session of ``handle``, size}, then sockaddr_un --
    all 110 bytes (118 in all), or with ``full`` False only as far as ``sun_path`` goes."""
    session = int.from_bytes(bytes(handle[:4]), "little", signed=True) if handle else 0
    return bytearray(build_socket_address(session, sockaddr_un(sun_path, full=full)))


class EmulatorRunner:
    """Executes scenarios on one SocketPlugin (one session), as the VM runs one script."""

    def __init__(
        self,
        fixture: Fixture,
        profile: Profile | str,
        *,
        observer: Observer | None = None,
        on_step: StepHook | None = None,
    ) -> None:
        """``observer`` is given every event of the emulated VM from setUp on
        (``vm.observe``); ``on_step`` is called before each step runs."""
        self.fx = fixture
        prof = profile if isinstance(profile, Profile) else get_profile(profile)
        # the VM side runs with stdout and stderr as pipes (sqsocket.interop.vm_run)
        self.vm = VirtualMachine(prof.events, stderr=StderrMode.WRITE_ONLY, stdout=StdoutKind.PIPE)
        if observer is not None:
            self.vm.observe(observer)
        self.on_step = on_step
        self.plugin = SocketPlugin(self.vm, profile=prof)
        self.semas: dict[str, int] = {}
        self._scenario = ""
        self.outcome = Outcome()
        # SqConf>>setUp: initialise the network, learn the session from a socket handle
        _sema, index = self.vm.new_semaphore("resolver")
        self.plugin.primitiveInitializeNetwork(index)
        handle = self.plugin.primitiveSocketCreate3Semaphores(0, 0, 8000, 8000, 0, 0, 0)
        self.plugin.primitiveSocketDestroy(handle)
        self._print()  # '@@session N'

    @property
    def session(self) -> int:
        return self.plugin.session_id

    def close(self) -> None:
        self.plugin.close()
        self.vm.close()

    def _print(self) -> None:
        """SqConf prints a line: ``Transcript show:`` → the FilePlugin's write to a pipe."""
        self.vm.c.console_write()

    def run(self, scenarios: Iterable[dsl.Scenario]) -> Outcome:
        for sc in scenarios:
            self.outcome.lines[sc.name] = self.run_one(sc)
            self.fx.reset_peers()
        self._print()  # '@@done'
        return self.outcome

    def run_one(self, sc: dsl.Scenario) -> list[str]:
        env: dict[str, Any] = {}
        lines: list[str] = []
        self._scenario = sc.name
        self._print()  # '@@begin'

        def record(i: int, text: str) -> None:
            lines.append(f"{i} {text}")
            self._print()

        for i, step in enumerate(sc.steps, 1):
            if self.on_step is not None:
                self.on_step(sc.name, i, step)
            if isinstance(step, dsl.Call):
                args = [self._arg(a, env) for a in step.args]
                try:
                    value = self.plugin.lookup(step.prim)(*args)
                except PrimitiveFailed:
                    value, failed = None, True
                else:
                    failed = False
                if step.bind and not failed:
                    env[step.bind] = value
                if step.show is dsl.Show.VALUE:
                    record(i, FAIL if failed else raw(value))
                elif step.show is dsl.Show.OK:
                    record(i, FAIL if failed else OK)
            elif isinstance(step, dsl.ShowVar):
                record(i, raw(env.get(step.name)))
            elif isinstance(step, dsl.Alloc):
                env[step.bind] = _zeroed(step.size, env)
            elif isinstance(step, dsl.Tweak):
                data = env.get(step.name)
                if isinstance(data, bytearray) and len(data) >= step.index:
                    data[step.index - 1] = (data[step.index - 1] + step.delta) % 256
            elif isinstance(step, dsl.PathAddress):
                path = self.fx.path(step.path).encode()
                env[step.bind] = _local_address(env.get(step.handle), path)
            elif isinstance(step, dsl.AbstractNameAddress):
                # a NUL, then the name: sockaddr_un pads it to all of sun_path, as SqConf does
                name = b"\0" + self.fx.abstract_name(step.name).encode()
                env[step.bind] = _local_address(env.get(step.handle), name, full=not step.tight)
            elif isinstance(step, dsl.AwaitSignal):
                signalled = self._semaphore(step.sema).wait(step.ms / 1000)
                outcome = "signalled" if signalled else "timeout"
                if step.show is not dsl.Show.NONE:
                    record(i, outcome)
                if outcome != step.expect:
                    self._broken(i, f"{step.sema} {outcome}, expected {step.expect}")
            elif isinstance(step, dsl.AwaitStatus):
                status = self._await_status(env.get(step.handle), step.status, step.ms / 1000)
                shown = status if isinstance(status, str) else raw(status)
                if step.show is not dsl.Show.NONE:
                    record(i, shown)
                if not (status == step.status or (step.status == -1 and status == FAIL)):
                    self._broken(i, f"{step.handle} status {shown}, expected {step.status}")
            elif isinstance(step, dsl.AwaitData):
                seen = self._await_data(
                    env.get(step.handle), self._semaphore(step.sema), step.ms / 1000
                )
                if step.show is not dsl.Show.NONE:
                    record(i, seen)
                if seen != step.expect:
                    self._broken(i, f"{step.handle} {seen}, expected {step.expect}")
            elif isinstance(step, dsl.Expect):
                ok = expect_holds(step.op, step.name in env, env.get(step.name), step.value)
                if not ok:
                    self._broken(i, step.reason)
            elif isinstance(step, dsl.Peer):
                self._print()  # '@@peer ...': then the VM blocks reading stdin
                self.fx.peer(step.action, step.target, step.data, step.ms)
        # each scenario has its own semaphores, given back at its end
        for index in self.semas.values():
            sema = self.vm.external_objects.at(index)
            if sema is not None:
                self.vm.external_objects.unregister(sema)
        self.semas = {}
        self._print()  # '@@end'
        return lines

    def _broken(self, step: int, why: str) -> None:
        self.outcome.broken.setdefault(self._scenario, []).append(f"{step} {why}")
        self._print()  # '@@broken ...'

    def _semaphore(self, name: str) -> Semaphore:
        index = self._arg(dsl.Sema(name), {})
        sema = self.vm.external_objects.at(index)
        assert sema is not None
        return sema

    def _await_status(self, handle: Any, status: int, seconds: float) -> Any:
        """Read the status until it is ``status``; between readings a 5 ms Delay."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                current: Any = self.plugin.primitiveSocketConnectionStatus(handle)
            except PrimitiveFailed:
                return FAIL
            if current == status or time.monotonic() >= deadline:
                return current
            self.vm.sleep(STATUS_POLL_SECONDS)

    def _await_data(self, handle: Any, sema: Semaphore, seconds: float) -> str:
        """``waitForDataFor:``: ``data``, ``closed`` or ``timeout`` (SqConf>>awaitData:)."""
        deadline = time.monotonic() + seconds
        p = self.plugin
        while True:
            try:
                if p.primitiveSocketReceiveDataAvailable(handle):
                    return "data"
                if p.primitiveSocketConnectionStatus(handle) != 2:
                    return "closed"
            except PrimitiveFailed:
                return "closed"
            remaining = deadline - time.monotonic()
            if (remaining <= 0 or not sema.wait(remaining)) and time.monotonic() >= deadline:
                return "timeout"

    def _arg(self, arg: dsl.Arg, env: dict[str, Any]) -> Any:
        if isinstance(arg, bool):
            raise TypeError("scenarios use no Booleans as arguments")
        if isinstance(arg, int):
            return arg
        if isinstance(arg, dsl.Var):
            return env.get(arg.name)
        if isinstance(arg, dsl.Path):
            return self.fx.path(arg).encode() + (b"\0" if arg.nul else b"")
        if isinstance(arg, dsl.Port):
            return self.fx.port(arg)
        if isinstance(arg, dsl.Str):
            return arg.text.encode("latin-1")
        if isinstance(arg, dsl.Bytes):
            return bytearray(arg.data)
        if isinstance(arg, dsl.Buf):
            return _zeroed(arg.size, env)
        if isinstance(arg, dsl.Sema):
            if arg.name not in self.semas:
                _s, self.semas[arg.name] = self.vm.new_semaphore(arg.name)
            return self.semas[arg.name]
        raise TypeError(f"unknown argument {arg!r}")
