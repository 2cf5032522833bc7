"""Run conformance scenarios on a real VM: Debian's squeak-vm with the built image, a
user's own Pharo VM and image, or Pharo in the ``sqsocket/pharo`` container.

Each is a :class:`VMCommand`: the dialect's script generator and the command line that
runs a script file. One loop (:func:`run_command`) drives them all: it reads the VM's
standard output, acts as the peer when an ``@@peer`` line asks, and answers the VM on its
standard input.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqsocket.interop import pharocodegen, stcodegen
from sqsocket.interop.conformance import SideResult
from sqsocket.interop.dsl import Path as PathRef
from sqsocket.interop.dsl import Port as PortRef
from sqsocket.interop.dsl import Scenario
from sqsocket.interop.fixtures import Fixture
from sqsocket.squeak import paths
from sqsocket.squeak.runner import HEADLESS_OPTIONS, crash_description

ScriptMaker = Callable[[Sequence[Scenario], Fixture], str]


@dataclass(frozen=True)
class VMCommand:
    """How to run a generated conformance script on one VM.

    ``argv(script, fixture)`` is the command line for the script file (the fixture's
    directory must be reachable from the VM: a container mounts it); ``cleanup`` runs
    after the process is gone (a container's name to remove, say).
    """

    label: str
    script: ScriptMaker
    argv: Callable[[str, Fixture], list[str]]
    cleanup: Callable[[], None] = field(default=lambda: None)
    #: how the script file is written: Squeak 2.2 reads bytes, Pharo's file-in UTF-8
    encoding: str = "latin-1"


class VMUnavailable(RuntimeError):
    """The VM or the image is missing; the message says how to get it."""


def vm_and_image(
    vm: str | Path | None = None, image: str | Path | None = None
) -> tuple[Path, Path]:
    found = paths.find_vm(vm)
    if found is None:
        raise VMUnavailable(f"no squeakvm found: {paths.INSTALL_VM_HINT}")
    img = Path(image) if image else paths.default_image()
    if not img.is_file():
        raise VMUnavailable(f"no headless image at {img}: {paths.BUILD_IMAGE_HINT}")
    return found, img


def squeak_command(vm: str | Path | None = None, image: str | Path | None = None) -> VMCommand:
    """Debian's squeak-vm (or ``vm``) with the built headless image (or ``image``)."""
    vm_path, image_path = vm_and_image(vm, image)
    return VMCommand(
        "squeak-vm",
        stcodegen.conformance_script,
        lambda script, _fx: [str(vm_path), *HEADLESS_OPTIONS, str(image_path), script],
    )


def pharo_command(vm: str | Path, image: str | Path) -> VMCommand:
    """A Pharo VM and image of the user's: ``VM --headless IMAGE st --quit SCRIPT``.

    ``vm`` is the VM executable (pharo-vm's ``pharo``, or zeroconf's ``./pharo`` script);
    the image needs nothing loaded. Not run on sqsocket's machines (no Pharo here).
    """
    vm_path, image_path = Path(vm), Path(image)
    if not vm_path.is_file() or not os.access(vm_path, os.X_OK):
        raise VMUnavailable(f"no executable Pharo VM at {vm_path}")
    if not image_path.is_file():
        raise VMUnavailable(f"no Pharo image at {image_path}")
    return VMCommand(
        "pharo",
        pharocodegen.conformance_script,
        lambda script, _fx: [str(vm_path), "--headless", str(image_path), "st", "--quit", script],
        encoding="utf-8",
    )


def docker_pharo_command(image_tag: str, docker: str = "docker") -> VMCommand:
    """Pharo in the ``sqsocket/pharo`` container, run with the docker command line.

    ``--network host``: the scenarios' TCP peers listen on the host's 127.0.0.1 (only
    loopback and Unix sockets are used); the fixture directory and the script's are
    mounted at their own paths, and the container runs as this process's uid, so
    paths and socket permissions are the host's. ``-i`` keeps its standard input open
    for the peer hand-shake. The name lets a timed-out run be removed.
    """
    name = f"sqconf-{uuid.uuid4().hex[:12]}"

    def argv(script: str, fx: Fixture) -> list[str]:
        script_dir = os.path.dirname(script)
        return [
            docker,
            "run",
            "--rm",
            "-i",
            "--name",
            name,
            "--network",
            "host",
            "--user",
            f"{os.getuid()}:{os.getgid()}",
            "-v",
            f"{fx.root}:{fx.root}",
            "-v",
            f"{script_dir}:{script_dir}:ro",
            image_tag,
            "conformance",
            script,
        ]

    def cleanup() -> None:
        subprocess.run(
            [docker, "rm", "-f", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=False,
        )

    return VMCommand(
        "pharo (docker)", pharocodegen.conformance_script, argv, cleanup, encoding="utf-8"
    )


def run_on_vm(
    fx: Fixture,
    scenarios: Sequence[Scenario],
    vm: str | Path | None = None,
    image: str | Path | None = None,
    timeout: float = 180.0,
) -> SideResult:
    """Run the scenarios on Debian's squeak-vm (see :func:`run_command`)."""
    return run_command(fx, scenarios, squeak_command(vm, image), timeout)


def run_command(
    fx: Fixture, scenarios: Sequence[Scenario], command: VMCommand, timeout: float = 180.0
) -> SideResult:
    """Generate the script, run it, act as the peer when asked, collect the lines."""
    script = command.script(scenarios, fx)
    with tempfile.TemporaryDirectory(prefix="sqconf-", dir="/tmp") as tmp:
        script_path = os.path.join(tmp, "conformance.st")
        with open(script_path, "w", encoding=command.encoding) as f:
            f.write(script)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            command.argv(script_path, fx),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp,
            start_new_session=True,
        )
        lines: dict[str, list[str]] = {}
        broken: dict[str, list[str]] = {}
        session = 0
        error = ""
        stderr_tail = b""
        stdout_tail = b""
        killed_here = False
        buf = b""
        done = False
        sel = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        sel.register(proc.stdout, selectors.EVENT_READ, "out")
        sel.register(proc.stderr, selectors.EVENT_READ, "err")
        open_streams = 2
        try:
            while open_streams:
                remaining = timeout - (time.monotonic() - t0)
                if remaining <= 0:
                    error = f"the VM did not finish within {timeout:.0f} s"
                    break
                for key, _ in sel.select(min(remaining, 1.0)):
                    chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                    if not chunk:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if key.data == "err":
                        stderr_tail = (stderr_tail + chunk)[-4000:]
                        continue
                    stdout_tail = (stdout_tail + chunk)[-4000:]
                    buf += chunk
                    while b"\n" in buf:
                        raw_line, buf = buf.split(b"\n", 1)
                        line = raw_line.decode("latin-1").rstrip("\r")
                        if line.startswith("@@session "):
                            session = int(line.split()[1])
                        elif line.startswith("@@r "):
                            _tag, name, rest = line.split(" ", 2)
                            lines.setdefault(name, []).append(rest)
                        elif line.startswith("@@broken "):
                            _tag, name, rest = [*line.split(" ", 2), ""][:3]
                            broken.setdefault(name, []).append(rest)
                        elif line.startswith("@@peer "):
                            _tag, action, arg = [*line.split(" ", 2), "-"][:3]
                            _peer_action(fx, action, arg)
                            try:
                                proc.stdin.write(b"\n")
                                proc.stdin.flush()
                            except OSError:
                                pass
                        elif line == "@@done":
                            done = True
        finally:
            sel.close()
            if proc.poll() is None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    killed_here = True
                    os.killpg(proc.pid, 9)
                    proc.wait(timeout=5)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                stream.close()
            command.cleanup()
            fx.reset_peers()
        crash = None if killed_here else crash_description(proc.returncode)
        if crash is not None:
            # A crash, even after @@done, fails the run: never a pass or a difference.
            error = _crash_report(crash, stdout_tail, stderr_tail)
        else:
            if not done and not error:
                error = f"the VM stopped early (exit {proc.returncode})"
            if error and stderr_tail:
                error += ": " + stderr_tail.decode("latin-1", "replace").strip()[-1500:]
        return SideResult(command.label, session, lines, time.monotonic() - t0, error, broken)


def _crash_report(crash: str, stdout_tail: bytes, stderr_tail: bytes) -> str:
    """The crash line and the VM's last output on each stream."""
    out = stdout_tail.decode("latin-1", "replace").strip()[-1500:]
    err = stderr_tail.decode("latin-1", "replace").strip()[-1500:]
    return f"{crash}\n--- last stdout ---\n{out}\n--- last stderr ---\n{err}"


def _peer_action(fx: Fixture, action: str, arg: str) -> None:
    """Do what an ``@@peer action arg`` line asks (see stcodegen.peer_argument)."""
    ms = 0
    if arg.startswith("ms:"):
        delay, _, arg = arg[3:].partition(",")
        ms = int(delay)
    if action == "connect":
        kind, _, value = arg.partition(":")
        if kind == "path":
            name = next((k for k, v in fx.paths.items() if v == value), None)
            if name is not None:
                fx.peer("connect", PathRef(name), b"", ms)
        elif kind == "port":
            name = next((k for k, v in fx.ports.items() if str(v) == value), None)
            if name is not None:
                fx.peer("connect", PortRef(name), b"", ms)
    elif action == "send":
        fx.peer("send", None, b"" if arg == "-" else bytes.fromhex(arg), ms)
    elif action in ("close", "drop"):
        fx.peer(action, None, b"", ms)
