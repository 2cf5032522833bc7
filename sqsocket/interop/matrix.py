"""The interop matrix: Smalltalk clients against the Python servers, and the reverse.

Clients {emulator, squeak-vm} x servers {Unix-domain echo, TCP echo, netstring},
then Python clients against a Smalltalk Unix-domain server running on the real VM
and on the emulator; ``--docker`` adds the container rows. Every row is
independent (its own server on its own temporary path or port), timed, and
bounded by a timeout; a failing row says why in one line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqsocket import ui

HELLO = b"Hello, from Smalltalk!"


@dataclass(frozen=True)
class Row:
    pair: str
    ok: bool
    seconds: float
    detail: str


def _tmpdir() -> tempfile.TemporaryDirectory[str]:
    # /tmp/sqm-XXXXXXXX: short and of fixed length, so the socket names below give
    # paths the squeak-4.10 resolver can find (no multiple of 4: docs/quirks.md, 1)
    return tempfile.TemporaryDirectory(prefix="sqm-", dir="/tmp", ignore_cleanup_errors=True)


def _timed(pair: str, fn: Callable[[], str]) -> Row:
    t0 = time.monotonic()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # a row reports its failure; the matrix goes on
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        ok = False
    return Row(pair, ok, time.monotonic() - t0, detail)


def _expect(got: bytes | str, want: bytes | str) -> str:
    got_b = got.encode() if isinstance(got, str) else got
    want_b = want.encode() if isinstance(want, str) else want
    if got_b.strip() != want_b:
        raise AssertionError(f"expected {want_b!r}, got {got_b!r}")
    return f"echo {got_b.strip().decode(errors='replace')!r}"


# -- emulator clients -------------------------------------------------------------------


def emulator_uds_echo(timeout: float) -> str:
    from sqsocket.image.environment import Image
    from sqsocket.image.workspace import run_workspace_example
    from sqsocket.servers.echo import UnixEchoServer

    with _tmpdir() as d, Image() as img:
        path = os.path.join(d, "echo.sock")
        with UnixEchoServer(path):
            return _expect(run_workspace_example(path, None, image=img, timeout=timeout), HELLO)


def emulator_tcp_echo(timeout: float) -> str:
    from sqsocket.image.environment import Image
    from sqsocket.image.workspace import run_tcp_example
    from sqsocket.servers.echo import TCPEchoServer

    with Image() as img, TCPEchoServer(port=0) as srv:
        return _expect(
            run_tcp_example("127.0.0.1", int(srv.port or 0), None, image=img, timeout=timeout),
            HELLO,
        )


def emulator_netstring(timeout: float) -> str:
    from sqsocket.image.environment import Image
    from sqsocket.image.workspace import run_netstring_example
    from sqsocket.servers.netstring import NetstringServer

    with _tmpdir() as d, Image() as img:
        path = os.path.join(d, "ns.sock")
        with NetstringServer(path):
            got = run_netstring_example(path, None, image=img, message=b"taco cat", timeout=timeout)
            return _expect(got, b"tac ocat")


def python_to_emulator_server(timeout: float) -> str:
    from sqsocket.image.environment import Image
    from sqsocket.image.server import UnixServer

    with _tmpdir() as d, Image() as img:
        path = os.path.join(d, "st.sock")
        with UnixServer(path, 4, image=img):
            return _python_clients(path, 3, timeout)


def _python_clients(path: str, count: int, timeout: float) -> str:
    # the plain socket client the Docker pairs use (a pure-socket module: no Docker needed)
    from sqsocket.dockerharness.peers import echo_round_trip

    for i in range(count):
        msg = f"client {i} says hello".encode()
        got = echo_round_trip(Path(path), msg, timeout)
        if got != msg:
            raise AssertionError(f"client {i}: sent {msg!r}, got {got!r}")
    return f"{count} Python clients echoed"


# -- squeak-vm clients ------------------------------------------------------------------


def _script(name: str) -> Path:
    from sqsocket.squeak import paths

    return paths.smalltalk_dir() / name


def _vm_run(name: str, args: list[str], timeout: float) -> str:
    from sqsocket.squeak.runner import run_script

    result = run_script(_script(name), args, timeout=timeout)
    if not result.ok:
        raise RuntimeError(result.describe())
    return result.stdout


def squeak_uds_echo(timeout: float) -> str:
    from sqsocket.servers.echo import UnixEchoServer

    with _tmpdir() as d:
        path = os.path.join(d, "echo.sock")
        with UnixEchoServer(path):
            return _expect(_vm_run("workspace.st", [path], timeout), HELLO)


def squeak_tcp_echo(timeout: float) -> str:
    from sqsocket.servers.echo import TCPEchoServer

    with TCPEchoServer(port=0) as srv:
        return _expect(_vm_run("tcp_client.st", [str(srv.port)], timeout), HELLO)


def squeak_netstring(timeout: float) -> str:
    from sqsocket.servers.netstring import NetstringServer

    with _tmpdir() as d:
        path = os.path.join(d, "ns.sock")
        with NetstringServer(path):
            return _expect(_vm_run("netstring_client.st", [path], timeout), b"tac ocat")


def python_to_squeak_server(timeout: float) -> str:
    from sqsocket.squeak.runner import start_script

    with _tmpdir() as d:
        path = os.path.join(d, "st.sock")
        count = 3
        proc = start_script(_script("uds_server.st"), [path, str(count), str(int(timeout * 1000))])
        with proc:
            proc.wait_for_line("READY", timeout)
            detail = _python_clients(path, count, timeout)
            result = proc.finish(timeout)
            if not result.ok:
                raise RuntimeError(result.describe())
        if os.path.exists(path):
            raise AssertionError("the Smalltalk server left its socket file behind")
        return detail


EMULATOR_ROWS: tuple[tuple[str, Callable[[float], str]], ...] = (
    ("emulator -> python UDS echo", emulator_uds_echo),
    ("emulator -> python TCP echo", emulator_tcp_echo),
    ("emulator -> python netstring (UDS)", emulator_netstring),
    ("python client -> emulator UDS server", python_to_emulator_server),
)
VM_ROWS: tuple[tuple[str, Callable[[float], str]], ...] = (
    ("squeak-vm -> python UDS echo", squeak_uds_echo),
    ("squeak-vm -> python TCP echo", squeak_tcp_echo),
    ("squeak-vm -> python netstring (UDS)", squeak_netstring),
    ("python client -> squeak-vm UDS server", python_to_squeak_server),
)


def rows(
    include_vm: bool = True, timeout: float = 60.0, progress: ui.Progress | None = None
) -> list[Row]:
    """Run the matrix's rows in order; ``progress`` shows each as it starts."""
    selected = list(EMULATOR_ROWS) + (list(VM_ROWS) if include_vm else [])
    steps = progress if progress is not None else ui.Progress(enabled=False)
    out = []
    for pair, fn in selected:
        with steps.step(pair):
            out.append(_timed(pair, partial(fn, timeout)))
    return out


def render(table: list[Row]) -> str:
    """The matrix as a table (pair, result, seconds, detail) and a count line."""
    text = ui.render_table(
        (
            "pair",
            ui.Column("result", status=True),
            ui.Column("seconds", ui.Justify.RIGHT),
            "detail",
        ),
        [(r.pair, "ok" if r.ok else "FAIL", f"{r.seconds:.2f}", r.detail) for r in table],
    )
    failed = sum(not r.ok for r in table)
    return f"{text}\n\n{len(table) - failed} ok, {failed} failed"


def run_matrix(args: argparse.Namespace) -> int:
    """``sqsocket interop``."""
    include_vm = not args.skip_vm
    if include_vm:
        from sqsocket.squeak import paths

        missing = paths.missing_requirements()
        if missing:
            print(
                "sqsocket interop: the squeak-vm rows need: "
                + "; ".join(missing)
                + " (or use --skip-vm)",
                file=sys.stderr,
            )
            return 2
        from sqsocket.squeak.builder import ensure_image

        ensure_image()  # builds the headless image if it is missing or stale
    progress = ui.Progress()
    table = rows(include_vm, args.timeout, progress)
    if args.docker:
        from sqsocket.dockerharness.interop import docker_rows

        table += [
            Row(r.pair, r.ok, r.seconds, r.detail)
            for r in docker_rows(
                pharo=args.pharo, base=args.base, timeout=args.timeout, log=progress.say
            )
        ]
    print(render(table))
    return 0 if all(r.ok for r in table) else 1
