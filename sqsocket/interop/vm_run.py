"""Run conformance scenarios on the real VM (Debian's squeak-vm with the built image)."""

from __future__ import annotations

import os
import selectors
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqsocket.interop.conformance import SideResult
from sqsocket.interop.dsl import Path as PathRef
from sqsocket.interop.dsl import Port as PortRef
from sqsocket.interop.dsl import Scenario
from sqsocket.interop.fixtures import Fixture
from sqsocket.interop.stcodegen import conformance_script
from sqsocket.squeak import paths
from sqsocket.squeak.runner import crash_description


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


def run_on_vm(
    fx: Fixture,
    scenarios: Sequence[Scenario],
    vm: str | Path | None = None,
    image: str | Path | None = None,
    timeout: float = 180.0,
) -> SideResult:
    """Generate the script, run it, act as the peer when asked, collect the lines."""
    vm_path, image_path = vm_and_image(vm, image)
    script = conformance_script(scenarios, fx)
    with tempfile.TemporaryDirectory(prefix="sqconf-", dir="/tmp") as tmp:
        script_path = os.path.join(tmp, "conformance.st")
        with open(script_path, "w", encoding="latin-1") as f:
            f.write(script)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [str(vm_path), "-vm-display-null", "-vm-sound-null", str(image_path), script_path],
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
        return SideResult("squeak-vm", session, lines, time.monotonic() - t0, error, broken)


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
