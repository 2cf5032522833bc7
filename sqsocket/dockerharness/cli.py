"""``sqsocket docker``: make the base image, build the images, run the interop pairs.

    sqsocket docker base  [--rebuild] [--mirror URL]
    sqsocket docker build [--base IMAGE] [--rebuild] [--pharo] [--squeak-image PATH]
    sqsocket docker run   [--base IMAGE] [--pharo] [--timeout S] [--no-make-base] [-v]

Exit status: 0 when everything asked for succeeded, 1 when something failed,
2 when no Docker engine (or SDK) is available.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqsocket import ui
from sqsocket.cliparse import EXIT_ERROR, add_commands, fail
from sqsocket.commands.catalog import add_command
from sqsocket.dockerharness.errors import (
    BuildFailed,
    DockerHarnessError,
    DockerSDKMissing,
    NoEngine,
    first_line,
)

EXAMPLES = """\
examples (in this order on a fresh machine; each reuses what is already there):
  sqsocket docker base
  sqsocket docker build
  sqsocket docker run
"""

#: Exit status when no Docker engine answers, or the Docker SDK is not installed.
EXIT_NO_ENGINE = 2

PHARO_NOTE = (
    "Pharo 13: the image is built with Pharo's zeroconf (curl https://get.pharo.org/64/130+vm), "
    "which needs internet; on sqsocket's machines it cannot be built, and the Pharo path has "
    "only been checked statically (hadolint, Smalltalk syntax check) -- not run."
)


def register(sub: Any) -> None:
    """Add ``docker`` and its sub-commands to the ``sqsocket`` parser."""
    docker = add_command(sub, "docker", epilog=EXAMPLES)
    commands = add_commands(docker, "docker_command")

    base = add_command(commands, "docker base")
    base.add_argument("--rebuild", action="store_true", help="make it even if it exists")
    base.add_argument("--mirror", help="Debian mirror (default: deb.debian.org)")
    base.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")
    base.set_defaults(func=_cmd_base)

    build = add_command(commands, "docker build")
    _add_base_option(build)
    build.add_argument("--rebuild", action="store_true", help="build even if an image matches")
    build.add_argument("--pharo", action="store_true", help="also build the Pharo 13 image")
    build.add_argument("--squeak-image", type=Path, help="headless image to use (default: built)")
    build.add_argument("--timeout", type=float, default=1200.0, help="seconds per build")
    build.add_argument("-v", "--verbose", action="store_true", help="show the build output")
    build.set_defaults(func=_cmd_build)

    run = add_command(commands, "docker run")
    _add_base_option(run)
    run.add_argument("--pharo", action="store_true", help="add the Pharo 13 pairs (see note)")
    run.add_argument("--timeout", type=float, default=120.0, help="seconds per container")
    run.add_argument("--squeak-image", type=Path, help="headless image to use (default: built)")
    run.add_argument(
        "--no-make-base", action="store_true", help="do not debootstrap a missing base image"
    )
    run.add_argument("-v", "--verbose", action="store_true", help="show the full errors")
    run.set_defaults(func=_cmd_run)


def _add_base_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base",
        metavar="IMAGE",
        help="base image for the Dockerfiles (default: sqsocket/base:bookworm if present)",
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _with_engine(
    command: Callable[[argparse.Namespace, Any], int],
) -> Callable[[argparse.Namespace], int]:
    """``command(args, client)`` with a client of an engine that answered, closed when
    it returns; without an engine (or the SDK), exit status 2 saying what is missing."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from sqsocket.dockerharness.engine import connect

        try:
            client = connect()
        except (NoEngine, DockerSDKMissing) as exc:
            return fail("docker", exc, EXIT_NO_ENGINE)
        try:
            return command(args, client)
        finally:
            client.close()

    return run


@_with_engine
def _cmd_base(args: argparse.Namespace, client: Any) -> int:
    from sqsocket.dockerharness.base import ensure_base

    progress = ui.Progress()
    try:
        with progress.step("base image (debootstrap and docker import when missing)"):
            result = ensure_base(
                client,
                rebuild=args.rebuild,
                mirror=args.mirror,
                timeout=args.timeout,
                log=progress.say,
            )
    except DockerHarnessError as exc:
        return fail("docker base", exc)
    how = "made" if result.built else "already present:"
    print(f"{how} {result.image} ({result.seconds:.1f} s)")
    return 0


@_with_engine
def _cmd_build(args: argparse.Namespace, client: Any) -> int:
    from sqsocket.dockerharness.build import build_image
    from sqsocket.dockerharness.contexts import pharo_context, server_context, squeak_context
    from sqsocket.dockerharness.interop import squeak_image_path

    makers: list[tuple[str, Any]] = [
        ("server", server_context),
        ("squeak", lambda: squeak_context(squeak_image_path(args.squeak_image))),
    ]
    if args.pharo:
        print(PHARO_NOTE)
        makers.append(("pharo", pharo_context))
    rows: list[tuple[str, str, str, str]] = []
    failed = False
    progress = ui.Progress()
    for name, make in makers:
        started = time.monotonic()
        try:
            with progress.step(f"image {name}"):
                built = build_image(
                    client,
                    make(),
                    base=args.base,
                    rebuild=args.rebuild,
                    timeout=args.timeout,
                    log=_say if args.verbose else None,
                )
        except DockerHarnessError as exc:
            failed = True
            fail(f"docker build {name}", exc)
            rows.append((name, "FAIL", f"{time.monotonic() - started:.1f}", _first(exc)))
            continue
        how = "built" if built.built else "reused"
        rows.append((name, "ok", f"{built.seconds:.1f}", f"{how} {built.tag}"))
    _table("image", rows)
    return EXIT_ERROR if failed else 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sqsocket.dockerharness.engine import engine_problem
    from sqsocket.dockerharness.interop import run_docker_interop

    problem = engine_problem()
    if problem is not None:
        return fail("docker run", problem, EXIT_NO_ENGINE)
    if args.pharo:
        print(PHARO_NOTE)
    report = run_docker_interop(
        pharo=args.pharo,
        base=args.base,
        timeout=args.timeout,
        make_base=not args.no_make_base,
        squeak_image=args.squeak_image,
        log=ui.Progress().say,
    )
    if report.steps:
        _table(
            "setup step",
            [
                (s.name, "ok" if s.ok else "FAIL", f"{s.seconds:.1f}", s.detail)
                for s in report.steps
            ],
        )
        print()
    _table(
        "pair",
        [(r.pair, "ok" if r.ok else "FAIL", f"{r.seconds:.1f}", r.detail) for r in report.rows],
    )
    passed = sum(row.ok for row in report.rows)
    print(f"{passed} passed, {len(report.rows) - passed} failed")
    if args.verbose and report.errors:
        print("\nerrors:", file=sys.stderr)
        for error in report.errors:
            print(f"- {error}", file=sys.stderr)
    return 0 if report.ok else EXIT_ERROR


def _first(exc: BaseException) -> str:
    return exc.summary if isinstance(exc, BuildFailed) else first_line(exc)


def _table(first: str, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """A result table: ``first`` (what each row is), result, seconds, detail."""
    ui.print_table(
        (
            first,
            ui.Column("result", status=True),
            ui.Column("seconds", ui.Justify.RIGHT),
            "detail",
        ),
        rows,
    )
