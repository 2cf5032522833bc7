"""One ``sqsocket bench`` run: pin, start the echo peers, run the sections, report.

The echo peers of the client, memory and growth sections (one on a Unix path,
one on a TCP port) are the native epoll server when it can be compiled, else
the raw selectors server; the capacity section starts its own servers. All of
them are child processes, pinned with the measuring process when pinning is on.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path

from sqsocket.bench import capacity, client, growth, memory
from sqsocket.bench.limits import raise_nofile_limit
from sqsocket.bench.peers import PeerKind, PeerUnavailable, ServerProcess, socket_dir, unix_path
from sqsocket.bench.pinning import Pinning
from sqsocket.bench.report import Report
from sqsocket.bench.settings import Settings
from sqsocket.bench.workloads import Endpoint
from sqsocket.servers.address import InetAddress
from sqsocket.ui import Progress

__all__ = ["echo_peers", "run"]


@contextlib.contextmanager
def echo_peers(directory: str) -> Iterator[tuple[dict[str, Endpoint], str]]:
    """A UDS and a TCP echo peer in child processes: their endpoints and what they are."""
    kinds = (PeerKind.NATIVE, PeerKind.RAW)
    with contextlib.ExitStack() as stack:
        last_error: Exception | None = None
        for kind in kinds:
            try:
                path = unix_path(directory, f"peer-{kind.value}")
                stack.enter_context(ServerProcess.start(kind, f"unix:{path}"))
                tcp = stack.enter_context(ServerProcess.start(kind, "tcp:127.0.0.1:0"))
            except PeerUnavailable as exc:
                last_error = exc
                continue
            assert isinstance(tcp.address, InetAddress)
            endpoints = {"uds": Endpoint(path=path), "tcp": Endpoint(port=tcp.address.port)}
            described = kind.label
            if kind is not PeerKind.NATIVE and last_error is not None:
                described += f" (native unavailable: {last_error})"
            yield endpoints, described
            return
        raise PeerUnavailable(f"no echo peer could start: {last_error}")


def _machine() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "cpus": str(os.cpu_count()),
        "system": f"{platform.system()} {platform.release()}",
    }


def run(settings: Settings, pinning: Pinning, progress: Progress) -> Report:
    """Run every section ``settings`` names; answer the report."""
    started = time.monotonic()
    raise_nofile_limit()
    pinning.apply()
    report = Report(
        mode=settings.mode.value,
        reps=settings.reps,
        pinning=pinning.describe(),
        pinned_cpu=pinning.cpu,
        machine=_machine(),
    )
    try:
        with socket_dir() as directory, echo_peers(directory) as (endpoints, peer):
            progress.say(f"echo peers: {peer}; {pinning.describe()}")
            for name in settings.sections:
                if name == "client":
                    report.sections.append(client.run_section(endpoints, peer, settings, progress))
                elif name == "capacity":
                    report.sections.append(
                        capacity.run_section(Path(directory), settings, progress)
                    )
                elif name == "memory":
                    path = endpoints["uds"].path
                    assert path is not None
                    report.sections.append(memory.run_section(path, settings, progress))
                elif name == "growth":
                    report.sections.append(growth.run_section(endpoints["uds"], settings, progress))
    finally:
        pinning.undo()
    report.elapsed = time.monotonic() - started
    progress.say(f"done in {report.elapsed:.1f} s")
    return report
