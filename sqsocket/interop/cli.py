"""``sqsocket conformance`` and ``sqsocket interop``."""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from sqsocket.cliparse import EXIT_USAGE, fail, usage_error
from sqsocket.commands.catalog import add_command
from sqsocket.platform.profiles import DEFAULT_PROFILE, PROFILES
from sqsocket.ui import Progress

if TYPE_CHECKING:
    from sqsocket.interop.vm_run import VMCommand


CONFORMANCE_EXAMPLES = """\
examples:
  sqsocket conformance
  sqsocket conformance --emulator-only --profile pharo-vm --diff-only
  sqsocket conformance --scenario resolve-path-40 --scenario resolve-path-41 --repeat 3
  sqsocket conformance --trace resolve-path-40
  sqsocket conformance --dialect pharo --vm ~/pharo/pharo-vm/pharo --image ~/pharo/Pharo.image
"""

INTEROP_EXAMPLES = """\
examples:
  sqsocket interop
  sqsocket interop --skip-vm --timeout 20
  sqsocket interop --docker
"""


def register(sub: argparse._SubParsersAction) -> None:
    c = add_command(sub, "conformance", epilog=CONFORMANCE_EXAMPLES)
    c.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        help=f"the emulator profile (default: {DEFAULT_PROFILE.name}; pharo-vm for Pharo)",
    )
    c.add_argument("--emulator-only", action="store_true", help="do not run the real VM")
    c.add_argument("--scenario", action="append", help="run only these scenarios (repeatable)")
    c.add_argument(
        "--vm", help="the VM executable (default: Debian's squeakvm; needed for --dialect pharo)"
    )
    c.add_argument(
        "--image", help="the image (default: the built Squeak one; needed for --dialect pharo)"
    )
    c.add_argument(
        "--dialect",
        choices=("squeak", "pharo"),
        default="squeak",
        help="the script's dialect: squeak (Squeak 2.2 and later) or pharo (Pharo 13's syntax)",
    )
    c.add_argument(
        "--docker", action="store_true", help="run the VM in a container (needs --pharo)"
    )
    c.add_argument(
        "--pharo",
        action="store_true",
        help="with --docker: Pharo in the sqsocket/pharo container (the Pharo dialect)",
    )
    c.add_argument("--base", help="with --docker: the base image to build the Pharo image on")
    c.add_argument("--json", action="store_true", help="print the results as JSON")
    c.add_argument("--diff-only", action="store_true", help="print only the differences")
    c.add_argument(
        "--repeat",
        type=_repeat_count,
        default=1,
        metavar="N",
        help="run each side N times and report scenarios whose output varies (1..100)",
    )
    c.add_argument(
        "--trace",
        metavar="SCENARIO",
        help="run one scenario with the emulator's primitive trace, step by step, beside "
        "what both sides recorded",
    )
    c.set_defaults(func=run_conformance_command, parser_=c)

    i = add_command(sub, "interop", epilog=INTEROP_EXAMPLES)
    i.add_argument("--docker", action="store_true", help="add the Docker rows")
    i.add_argument("--pharo", action="store_true", help="with --docker: the Pharo rows too")
    i.add_argument("--base", help="with --docker: a locally made base image to build on")
    i.add_argument("--skip-vm", action="store_true", help="leave out the squeak-vm rows")
    i.add_argument("--timeout", type=float, default=60.0, help="seconds per row")
    i.set_defaults(func=run_interop_command)


def _repeat_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 1..100, not {value}")
    return value


def run_conformance_command(args: argparse.Namespace) -> int:
    from sqsocket.interop.conformance import run_conformance
    from sqsocket.interop.scenarios import BY_NAME, SCENARIOS

    scenarios = list(SCENARIOS)
    if args.trace is not None:
        if args.trace not in BY_NAME:
            usage_error(
                args, f"--trace takes one scenario name, not {args.trace!r} (see --scenario)"
            )
        if args.scenario or args.repeat != 1:
            usage_error(args, "--trace runs one scenario once: no --scenario/--repeat")
        scenarios = [BY_NAME[args.trace]]
    elif args.scenario:
        unknown = [n for n in args.scenario if n not in BY_NAME]
        if unknown:
            print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
        scenarios = [BY_NAME[n] for n in args.scenario]
    usage = _conformance_usage(args)
    if usage:
        return fail("conformance", usage, EXIT_USAGE)
    pharo = args.pharo or args.dialect == "pharo"
    if args.profile is None:
        args.profile = "pharo-vm" if pharo else DEFAULT_PROFILE.name
    vm_run = None
    if not args.emulator_only:
        from sqsocket.interop.vm_run import VMUnavailable, run_command

        try:
            command = _vm_command(args)
        except VMUnavailable as exc:
            return fail("conformance", f"{exc} (or use --emulator-only)", EXIT_USAGE)
        vm_run = partial(run_command, command=command)

    if args.trace is not None:
        return _trace_command(args, scenarios[0], vm_run)

    progress = Progress()
    progress.say(f"{len(scenarios)} scenarios")
    report = run_conformance(args.profile, scenarios, vm_run, args.repeat, progress)
    diffs = report.differences()
    broken = report.broken()
    unstable = report.unstable()
    if args.json:
        print(
            json.dumps(
                {
                    "profile": report.profile,
                    "scenarios": [s.name for s in report.scenarios],
                    "emulator": {
                        s.name: report.normalized(report.emulator, s.name) for s in report.scenarios
                    },
                    "vm": None
                    if report.vm is None
                    else {s.name: report.normalized(report.vm, s.name) for s in report.scenarios},
                    "differences": [d.__dict__ for d in diffs],
                    "broken": broken,
                    "unstable": unstable,
                    "repeat": args.repeat,
                },
                indent=2,
            )
        )
    else:
        if not args.diff_only:
            print(report.table())
        print()
        if report.vm is not None and report.vm.error:
            print(f"VM run: {report.vm.error}")
        print(f"emulator: {report.emulator.seconds:.2f} s", end="")
        if report.vm is not None:
            print(f"; {report.vm.name}: {report.vm.seconds:.2f} s")
            print(
                f"{len(diffs)} difference(s) in {len(report.scenarios)} scenarios "
                f"under profile {report.profile}"
            )
            for d in diffs:
                print(f"  {d.scenario} step {d.step}: emulator {d.emulator} | vm {d.vm}")
        else:
            print(" (emulator only)")
        for name, reasons in broken.items():
            print(f"BROKEN {name}: {'; '.join(reasons)}")
        if args.repeat > 1:
            print(f"{len(unstable)} scenario(s) varied over {args.repeat} runs", end="")
            print(
                ": " + ", ".join(f"{n} ({'/'.join(s)})" for n, s in unstable.items())
                if unstable
                else ""
            )
    return 1 if report.failed() else 0


def _trace_command(args: argparse.Namespace, scenario: Any, vm_run: Any) -> int:
    from sqsocket.interop.tracing import trace_scenario

    traced = trace_scenario(args.profile, scenario, vm_run)
    if args.json:
        print(json.dumps(traced.as_json(), indent=2, ensure_ascii=False))
    else:
        print(traced.render())
    return 1 if traced.failed() else 0


def _conformance_usage(args: argparse.Namespace) -> str:
    """What is wrong with the VM options, in one line ('' when they fit together)."""
    if args.docker and not args.pharo:
        return "--docker runs Pharo only: add --pharo (Debian's squeak-vm runs on the host)"
    if args.pharo and not args.docker:
        return "--pharo is the container's Pharo: add --docker, or use --dialect pharo --vm --image"
    if args.docker and (args.vm or args.image):
        return "--docker --pharo uses the container's VM and image: drop --vm and --image"
    if args.docker and args.dialect == "squeak":
        args.dialect = "pharo"  # the container runs Pharo
    pharo_here = args.dialect == "pharo" and not args.docker and not args.emulator_only
    if pharo_here and not (args.vm and args.image):
        return "--dialect pharo needs --vm PATH (a Pharo VM) and --image PATH (its image)"
    return ""


def _vm_command(args: argparse.Namespace) -> VMCommand:
    """The VM the scenarios run on, or VMUnavailable saying why there is none."""
    from sqsocket.interop.vm_run import VMUnavailable, pharo_command, squeak_command

    if args.docker:
        from sqsocket.dockerharness.conformance import pharo_container_command

        return pharo_container_command(args.base)
    if args.dialect == "pharo":
        return pharo_command(args.vm, args.image)
    if args.image is None:
        from sqsocket.squeak import paths
        from sqsocket.squeak.builder import ensure_image

        missing = paths.missing_requirements(args.vm)
        if missing:
            raise VMUnavailable("; ".join(missing))
        ensure_image()
    return squeak_command(args.vm, args.image)


def run_interop_command(args: argparse.Namespace) -> int:
    from sqsocket.interop.matrix import run_matrix

    return run_matrix(args)
