"""Every ``sqsocket`` command's name, one-line help and description, in one table.

``sqsocket --help`` is the list of everything; its texts are declared in one
table, the way the primitive table (:data:`sqsocket.plugin.PRIMITIVES`) and the
state table (:data:`sqsocket.platform.statetable.TABLE`) are. Each row of
:data:`COMMANDS` is one command, keyed by its full path (``"trace"``, ``"serve
echo"``, ``"bench load"``), in the order ``sqsocket --help`` lists them, each
group's sub-commands after it. So the whole command surface reads in one place,
and a command's line in its group's list and the top of its own ``--help`` are
written once.

What stays with a feature's ``cli`` module is what belongs to its running: its
options, its examples (the epilog) and its run function. It makes its parser
with :func:`add_command`, ``add_command(sub, "trace", epilog=EXAMPLES)``, and adds
its options to that.

This module imports no feature module (the feature modules import it), so it
can never be part of an import cycle.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BY_PATH", "COMMANDS", "Command", "add_command"]


@dataclass(frozen=True)
class Command:
    """One command: what its group's list and its own ``--help`` say about it."""

    #: The words after ``sqsocket``: ``"serve echo"``.
    path: str
    #: Its line in its group's list of commands (``sqsocket --help``, ``sqsocket serve --help``).
    help: str
    #: The paragraph under its own usage line (None: the usage is enough).
    description: str | None = None
    #: Placeholders (``{name}``) in the description that the command's module fills
    #: from a table it owns (``serve netstring``: the framings' one-line summaries).
    fills: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The word that runs it in its group: ``echo`` for ``serve echo``."""
        return self.path.rsplit(" ", 1)[-1]


COMMANDS: tuple[Command, ...] = (
    Command(
        "demo",
        "run the workspace example and a Smalltalk-side server, end to end",
        "Start a Python Unix-domain echo server on a temporary path, run the Pharo workspace "
        "example against it through the emulated SocketPlugin, then serve Python clients from "
        "a Smalltalk-side Unix-domain server; print a transcript.",
    ),
    Command(
        "primitives",
        "list the SocketPlugin primitives the emulator implements",
        "List every primitive SocketPlugin.c exports, with its Smalltalk selector, argument "
        "kinds and what it does; mark any the emulator lacks. With --profile, only those that "
        "VM's plugin exports (pharo-vm: 60).",
    ),
    Command(
        "reference",
        "the primitive reference: one entry, the index, or regenerate docs/primitives.md",
        "Print the reference entry of one primitive (its Squeak and Pharo callers, arguments, "
        "answer, failures, state changes and signals, what differs per VM), or the index; "
        "--write regenerates docs/primitives.md and docs/statemachine.svg from the emulator's "
        "tables, --check tells whether they are current.",
    ),
    Command(
        "example",
        "run the Pharo workspace example (and friends) through the image layer",
        "Run the seed's Pharo workspace example -- getAddressInfo on a socket path, Socket "
        "newIPC, connectTo:, sendData:, receiveData, closeAndDestroy -- through the image-side "
        "Socket classes on the emulated SocketPlugin, printing each step.",
    ),
    Command(
        "example workspace",
        "the workspace example against a Unix-domain echo server",
        "Connect to the Unix-domain socket at PATH as the Pharo workspace example does, send "
        "the message and print the echo. Start a server first (see the examples).",
    ),
    Command("example tcp", "the same walk over TCP (Socket newTCP)"),
    Command(
        "example netstring",
        "send one length-prefixed frame to a netstring server",
        "Send one u32-framed message to the netstring server at PATH and print the frame it "
        "answers (the payload reversed).",
    ),
    Command(
        "example serve",
        "a Smalltalk-side Unix-domain echo server",
        "Listen on PATH from the image side (bind + listenWithBacklog with an address the "
        "image builds) and echo every client, until Ctrl-C or --seconds.",
    ),
    Command(
        "trace",
        "run 'example ...' or 'demo' with a trace of every primitive call",
        "Run an image-layer command (sqsocket example ..., sqsocket demo) in this process with "
        "a primitive trace: every call with its arguments and its answer or failure, the "
        "socket state transitions, semaphore signals and polls, timestamped on the VM clock. "
        "With --json and no --output, stdout carries only the JSON lines: the command's own "
        "output goes to stderr.",
    ),
    Command(
        "serve",
        "run a Python peer: echo, dgram, netstring, pair, intro",
        "Run one of the Python peers. Each prints 'listening on <address>' once bound, serves "
        "until Ctrl-C or SIGTERM, then removes the socket file it created.",
    ),
    Command("serve echo", "stream echo server (Unix path, abstract name, TCP)"),
    Command("serve dgram", "datagram echo server (UDP, Unix datagram)"),
    Command(
        "serve netstring",
        "answers each frame with the payload reversed (--framing u32|netstring|line)",
        "Answer every frame with the payload's bytes reversed ('taco cat' -> 'tac ocat'). "
        "Framings: {framings}. A bad frame is logged and its connection closed.",
        fills=("framings",),
    ),
    Command(
        "serve pair",
        "socketpair + fork: ping/pong and a netstring round trip, printed",
        "A socketpair, then fork: the parent and its child exchange ping/pong and one u32 "
        "frame. Python to Python only: the SocketPlugin has no socketpair primitive, so no "
        "Smalltalk peer can take part.",
    ),
    Command(
        "serve intro",
        "fd-passing introduction server (SCM_RIGHTS; Python to Python only)",
        "The introduction server: peers hand each other socketpair ends over SCM_RIGHTS. "
        "Python to Python only: the VM's SocketPlugin has no SCM_RIGHTS, so a Smalltalk "
        "client can REGISTER (OK) but its INTRODUCE is answered 'ERR INTRODUCE needs one "
        "descriptor', and an introduction to it arrives as the INTRO frame without the "
        "descriptor (the kernel drops it), so the introducer sees end of stream.",
    ),
    Command(
        "proxy",
        "a fault-injecting proxy (UDS/TCP either side): latency, slicer, stall, reset, ...",
        "Relay every connection made to LISTEN to UPSTREAM, injecting the faults given with "
        "--fault. Prints 'listening on <address>' once bound; Ctrl-C or SIGTERM stops it and "
        "removes the socket file it made. Directions: up = client -> upstream, down = "
        "upstream -> client, both (the default) = each of them.",
    ),
    Command(
        "image",
        "build the headless Squeak image the real VM runs",
        "Build the headless image from the Mini Squeak 2.2 image.",
    ),
    Command(
        "image build",
        "build var/squeak/sqsocket.image",
        "Rewrite the input image's file and BitBlt primitives to the named ones squeak-vm "
        "4.10 has and install the headless start-up (bootstrap.st, prelude.st, "
        "SocketPrims.st, Sockets.st from images/squeak/).",
    ),
    Command(
        "vm",
        "run Smalltalk scripts in Debian's squeak-vm",
        "Run Smalltalk scripts in the real Squeak VM, headless.",
    ),
    Command(
        "vm run",
        "file in a chunk-format script and exit",
        "Run SCRIPT (chunk format, Squeak 2.2 dialect) in squeak-vm. Its output goes to "
        "stdout (Transcript is stdout); ARGS are Smalltalk getSystemAttribute: 3, 4, ... "
        "Exit status: the script's (0), 143 for a Smalltalk error, 124 on timeout, 128+N "
        "when the VM crashed with signal N (134: SIGABRT, which the VM also ends a SIGSEGV "
        "with); a crash is reported on stderr with the signal, after the VM's last output.",
    ),
    Command(
        "conformance",
        "run the conformance scenarios on the emulator and the real VM, side by side",
        "Run every conformance scenario (written once, as data) on the emulator and on a real "
        "VM against the same Python peers; print the side-by-side table and the differences. "
        "Exit 1 if any scenario differs. The VM is Debian's squeak-vm with the built image by "
        "default; --dialect pharo runs the scenarios in Pharo's dialect on your own Pharo VM "
        "and image (--vm, --image), --docker --pharo in the sqsocket/pharo container.",
    ),
    Command(
        "interop",
        "the interop matrix: {emulator, squeak-vm} x Python servers, and the reverse",
        "Run Smalltalk clients (the emulator, Debian's squeak-vm) against the Python servers "
        "and Python clients against Smalltalk servers; print a table (pair, result, time). "
        "Exit 1 on any failure.",
    ),
    Command(
        "docker",
        "Smalltalk VMs in Docker containers against the Python peers",
        "Make the Debian base image (debootstrap: no registry needed), build the server and "
        "Smalltalk images, run the interop pairs in containers. Exit status 0 when everything "
        "asked for succeeded, 1 when something failed, 2 when no Docker engine (or SDK) is "
        "available.",
    ),
    Command("docker base", "make the Debian base image sqsocket/base:bookworm with debootstrap"),
    Command("docker build", "build (or reuse) the server and Smalltalk images"),
    Command("docker run", "run the Docker interop pairs and print a table"),
    Command(
        "bench",
        "measure the emulator against raw sockets and the real VM; load the servers",
        "Measure the emulator: every figure is a median of repetitions with its min-max, and "
        "a ratio to a baseline measured in the same run. Servers run in their own processes. "
        "Targets are printed next to the figures they concern. Without options the whole "
        "suite runs in under a minute; --long takes minutes. docs/performance.md says what "
        "each row means.",
    ),
    Command(
        "bench load",
        "a thousand good and abusive clients on the project's echo servers",
        "Run sqsocket serve echo on a Unix path and on TCP (each in its own process) and load "
        "each with concurrent clients in separate processes: well-behaved churn with random "
        "sizes up to --max-size, aborts mid-transfer, clients that never read, and client "
        "processes SIGKILLed mid-transfer. Prints clients, exchanges, bytes, failures (a "
        "well-behaved client that did not get its exact echo), the servers' descriptors "
        "before and after, and their peak memory against the bound their --max-buffer sets. "
        "Exit status 0 when there were no failures, no descriptor growth and the memory "
        "stayed within the bound; 1 otherwise.",
    ),
)

#: The rows by path.
BY_PATH: Mapping[str, Command] = {command.path: command for command in COMMANDS}


def add_command(
    sub: argparse._SubParsersAction[Any],
    path: str,
    *,
    fill: Mapping[str, str] | None = None,
    **extra: Any,
) -> argparse.ArgumentParser:
    """The parser of the command at ``path``, added to its group's ``sub``: its name,
    help and description from :data:`COMMANDS`; ``extra`` goes to the parser as it is
    (``epilog``, ``formatter_class``, ...); ``fill`` gives the description's
    placeholders, exactly those its row names."""
    command = BY_PATH.get(path)
    if command is None:
        raise KeyError(f"no command {path!r} in sqsocket.commands.catalog.COMMANDS")
    given = dict(fill or {})
    if set(given) != set(command.fills):
        raise TypeError(f"{path!r} fills {sorted(command.fills)}, not {sorted(given)}")
    description = command.description
    if description is not None and command.fills:
        description = description.format_map(given)
    parser: argparse.ArgumentParser = sub.add_parser(
        command.name, help=command.help, description=description, **extra
    )
    return parser
