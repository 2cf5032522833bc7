"""``sqsocket image build`` and ``sqsocket vm run``: the real Squeak VM from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from sqsocket.cliparse import add_commands, fail
from sqsocket.commands.catalog import add_command
from sqsocket.squeak import builder, paths, runner

IMAGE_BUILD_EXAMPLES = """\
examples:
  sqsocket image build
  sqsocket image build --output /tmp/sqsocket.image
"""

VM_RUN_EXAMPLES = """\
examples (the scripts are in images/squeak/):
  sqsocket serve echo --unix /tmp/sp &
  sqsocket serve netstring --unix /tmp/nstr.sock &
  sqsocket vm run images/squeak/workspace.st /tmp/sp
  sqsocket vm run --timeout 10 images/squeak/netstring_client.st /tmp/nstr.sock
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``image`` and ``vm`` command groups."""
    image = add_command(sub, "image")
    image_sub = add_commands(image, "image_command")
    build = add_command(image_sub, "image build", epilog=IMAGE_BUILD_EXAMPLES)
    build.add_argument(
        "--source",
        type=Path,
        help=(
            "input image (default: $SQSOCKET_SHARED/images/squeakjs.image, else a "
            "verified download of the pinned URL)"
        ),
    )
    build.add_argument(
        "--output",
        type=Path,
        help="where to write the image (default: $SQSOCKET_IMAGE or var/squeak/sqsocket.image)",
    )
    build.set_defaults(func=_cmd_image_build)

    vm = add_command(sub, "vm")
    vm_sub = add_commands(vm, "vm_command")
    run = add_command(vm_sub, "vm run", epilog=VM_RUN_EXAMPLES)
    run.add_argument("--vm", help="squeakvm binary (default: Debian's, then PATH)")
    run.add_argument("--image", type=Path, help="headless image (default: as image build)")
    run.add_argument(
        "--timeout", type=float, default=30.0, help="seconds before the VM is killed (30)"
    )
    run.add_argument("script", type=Path, metavar="SCRIPT")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    run.set_defaults(func=_cmd_vm_run)


def _cmd_image_build(args: argparse.Namespace) -> int:
    try:
        source = builder.locate_source_image(args.source)
        result = builder.build_image(source, args.output or paths.default_image())
    except builder.ImageBuildError as exc:
        return fail("image build", exc)
    print(f"built   {result.path}")
    print(f"from    {source}")
    print(f"sha256  {result.sha256}")
    print(f"size    {result.size} bytes")
    print(f"time    {result.seconds:.3f} s")
    print(f"rewrote {len(result.rewritten)} methods to named primitives")
    return 0


def _write_bytes(stream: TextIO, data: bytes) -> None:
    """Write ``data`` to ``stream``'s byte layer unchanged (after what its text layer
    holds); a stream with no byte layer gets the bytes as UTF-8 text."""
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode("utf-8", "replace"))
    else:
        buffer.write(data)
        buffer.flush()


def _cmd_vm_run(args: argparse.Namespace) -> int:
    try:
        result = runner.run_script(
            args.script, args.args, timeout=args.timeout, vm=args.vm, image=args.image
        )
    except runner.SqueakVMError as exc:
        return fail("vm run", exc)
    # the VM's bytes as it wrote them: its strings need not be UTF-8
    _write_bytes(sys.stdout, result.stdout_bytes)
    _write_bytes(sys.stderr, result.stderr_bytes)
    if result.timed_out:
        return fail(
            "vm run",
            f"killed after {args.timeout:g} s (output so far above)",
            runner.TIMEOUT_STATUS,
        )
    if result.crash_description is not None:
        return fail(
            "vm run",
            f"{result.crash_description} after {result.elapsed:.2f} s (its last output above)",
            result.exit_status,
        )
    return result.exit_status
