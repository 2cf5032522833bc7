"""Run conformance scenarios on the emulator."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqsocket.errors import PrimitiveFailed
from sqsocket.interop.dsl import (
    Alloc,
    Arg,
    Buf,
    Bytes,
    Call,
    Path,
    PathAddress,
    Peer,
    Port,
    Scenario,
    Sema,
    Show,
    ShowVar,
    Sleep,
    Str,
    Tweak,
    Var,
)
from sqsocket.interop.fixtures import Fixture
from sqsocket.interop.record import FAIL, OK, raw
from sqsocket.platform.layouts import build_socket_address, sockaddr_un
from sqsocket.platform.profiles import Profile
from sqsocket.plugin import SocketPlugin

Lines = dict[str, list[str]]


class EmulatorRunner:
    """Executes scenarios on one SocketPlugin (one session), as the VM runs one script."""

    def __init__(self, fixture: Fixture, profile: Profile | str) -> None:
        self.fx = fixture
        self.plugin = SocketPlugin(profile=profile)
        self.semas: dict[str, int] = {}
        _sema, index = self.plugin.vm.new_semaphore("resolver")
        self.plugin.primitiveInitializeNetwork(index)

    @property
    def session(self) -> int:
        return self.plugin.session_id

    def close(self) -> None:
        self.plugin.close()

    def run(self, scenarios: Iterable[Scenario]) -> Lines:
        out: Lines = {}
        for sc in scenarios:
            out[sc.name] = self.run_one(sc)
            self.fx.reset_peers()
        return out

    def run_one(self, sc: Scenario) -> list[str]:
        env: dict[str, Any] = {}
        lines: list[str] = []
        for i, step in enumerate(sc.steps, 1):
            if isinstance(step, Call):
                args = [self._arg(a, env) for a in step.args]
                try:
                    value = self.plugin.lookup(step.prim)(*args)
                except PrimitiveFailed:
                    value, failed = None, True
                else:
                    failed = False
                if step.bind and not failed:
                    env[step.bind] = value
                if step.show is Show.VALUE:
                    lines.append(f"{i} {FAIL if failed else raw(value)}")
                elif step.show is Show.OK:
                    lines.append(f"{i} {FAIL if failed else OK}")
            elif isinstance(step, ShowVar):
                lines.append(f"{i} {raw(env.get(step.name))}")
            elif isinstance(step, Alloc):
                size = env.get(step.size.name) if isinstance(step.size, Var) else step.size
                env[step.bind] = bytearray(size if isinstance(size, int) and size > 0 else 0)
            elif isinstance(step, Tweak):
                data = env.get(step.name)
                if isinstance(data, bytearray) and len(data) >= step.index:
                    data[step.index - 1] = (data[step.index - 1] + step.delta) % 256
            elif isinstance(step, PathAddress):
                handle = env.get(step.handle)
                session = int.from_bytes(bytes(handle[:4]), "little", signed=True) if handle else 0
                path = self.fx.path(step.path).encode()
                env[step.bind] = bytearray(build_socket_address(session, sockaddr_un(path)))
            elif isinstance(step, Sleep):
                time.sleep(step.ms / 1000)
            elif isinstance(step, Peer):
                self.fx.peer(step.action, step.target, step.data)
        return lines

    def _arg(self, arg: Arg, env: dict[str, Any]) -> Any:
        if isinstance(arg, bool):
            raise TypeError("scenarios use no Booleans as arguments")
        if isinstance(arg, int):
            return arg
        if isinstance(arg, Var):
            return env.get(arg.name)
        if isinstance(arg, Path):
            return self.fx.path(arg).encode()
        if isinstance(arg, Port):
            return self.fx.port(arg)
        if isinstance(arg, Str):
            return arg.text.encode("latin-1")
        if isinstance(arg, Bytes):
            return bytearray(arg.data)
        if isinstance(arg, Buf):
            size = env.get(arg.size.name) if isinstance(arg.size, Var) else arg.size
            return bytearray(size if isinstance(size, int) and size > 0 else 0)
        if isinstance(arg, Sema):
            if arg.name not in self.semas:
                _s, self.semas[arg.name] = self.plugin.vm.new_semaphore(arg.name)
            return self.semas[arg.name]
        raise TypeError(f"unknown argument {arg!r}")
