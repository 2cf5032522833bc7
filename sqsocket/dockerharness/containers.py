"""Run one container against the socket directory, with a time limit.

Every container the harness starts:

* has ``network_mode`` ``none`` (Unix sockets only, through the bind mount) or
  ``host`` (TCP on 127.0.0.1); a bridge network is refused: the engine is started
  with ``--bridge=none`` and test traffic must stay on this machine;
* runs with ``init=True``: a real PID 1 reaps and forwards signals; the Squeak
  scripts end a failed run by SIGTERM to the VM itself, which PID 1 would ignore;
* has a read-only root, a private ``/tmp``, no capabilities, no new privileges;
* is labelled :data:`HARNESS_LABEL`, killed when it outlives its time limit, and
  removed afterwards (its output is read first and kept in the result or error).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from sqsocket.dockerharness.errors import ContainerFailed, ContainerTimeout, DockerHarnessError
from sqsocket.dockerharness.sockdir import CONTAINER_DIR, RunAs

HARNESS_LABEL = "org.sqsocket.harness"
ALLOWED_NETWORKS = frozenset({"none", "host"})
RUN_TIMEOUT = 120.0
POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class ContainerResult:
    """How a container ended: exit status, all its output, seconds from start to exit."""

    image: str
    status: int
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        """Exit status 0."""
        return self.status == 0


class Container:
    """One container, started on ``__enter__`` (or :meth:`start`), removed on exit."""

    def __init__(
        self,
        client: Any,
        image: str,
        command: Sequence[str],
        *,
        socket_dir: Path | None,
        run_as: RunAs,
        network: str = "none",
        environment: Mapping[str, str] | None = None,
        tmp_size: str = "256m",
        name: str | None = None,
    ) -> None:
        if network not in ALLOWED_NETWORKS:
            raise DockerHarnessError(
                f"network {network!r} refused: only 'none' or 'host' (never a bridge)"
            )
        self.client = client
        self.image = image
        self.command = list(command)
        self.socket_dir = socket_dir
        self.run_as = run_as
        self.network = network
        self.environment = dict(environment or {})
        self.tmp_size = tmp_size
        self.name = name or f"sqsocket-{uuid.uuid4().hex[:10]}"
        self.container: Any = None
        self.started = 0.0

    def start(self) -> Self:
        """Create and start the container (detached)."""
        volumes = {}
        if self.socket_dir is not None:
            volumes[str(self.socket_dir)] = {"bind": CONTAINER_DIR, "mode": "rw"}
        self.started = time.monotonic()
        self.container = self.client.containers.run(
            self.image,
            self.command,
            detach=True,
            name=self.name,
            network_mode=self.network,
            user=self.run_as.user,
            volumes=volumes,
            environment=self.environment,
            init=True,
            read_only=True,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.tmp_size}"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=256,
            mem_limit="1g",
            labels={HARNESS_LABEL: "1"},
        )
        return self

    def output(self) -> str:
        """Everything the container wrote so far, stdout and stderr interleaved."""
        if self.container is None:
            return ""
        try:
            data = self.container.logs(stdout=True, stderr=True)
        except Exception:  # the container may be gone already
            return ""
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)

    def running(self) -> bool:
        """Whether the container is still running."""
        self.container.reload()
        return bool(self.container.status in {"created", "running"})

    def wait_for_output(self, pattern: str, timeout: float) -> str:
        """Wait until the output matches ``pattern`` (a regex); answer the matching line.

        Raises :class:`ContainerFailed` when the container exits first and
        :class:`ContainerTimeout` (after killing it) when ``timeout`` passes.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.output()
            for line in text.splitlines():
                if regex.search(line):
                    return line
            if not self.running():
                result = self._result(self._status())
                raise ContainerFailed(self.image, result.status, result.output)
            if time.monotonic() > deadline:
                self.kill()
                raise ContainerTimeout(self.image, timeout, self.output())
            time.sleep(POLL_INTERVAL)

    def wait(self, timeout: float = RUN_TIMEOUT) -> ContainerResult:
        """Wait for the container to exit; kill it and raise ContainerTimeout after ``timeout``."""
        remaining = max(1.0, timeout - (time.monotonic() - self.started))
        try:
            status = self.container.wait(timeout=remaining)
        except OSError:  # requests' ReadTimeout and ConnectionError are OSErrors
            self.kill()
            raise ContainerTimeout(self.image, timeout, self.output()) from None
        return self._result(int(status.get("StatusCode", -1)))

    def kill(self) -> None:
        """Kill the container if it still runs (errors ignored: it may have just ended)."""
        try:
            self.container.kill()
        except Exception:
            pass

    def close(self) -> None:
        """Remove the container, killing it first if need be."""
        if self.container is None:
            return
        try:
            self.container.remove(force=True)
        except Exception:
            pass
        self.container = None

    def _status(self) -> int:
        self.container.reload()
        state = self.container.attrs.get("State") or {}
        return int(state.get("ExitCode", -1))

    def _result(self, status: int) -> ContainerResult:
        return ContainerResult(self.image, status, self.output(), time.monotonic() - self.started)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def remove_leftovers(client: Any) -> int:
    """Remove containers the harness started and lost (a crash, ^C); answer how many."""
    count = 0
    for container in client.containers.list(all=True, filters={"label": HARNESS_LABEL}):
        try:
            container.remove(force=True)
            count += 1
        except Exception:
            pass
    return count
