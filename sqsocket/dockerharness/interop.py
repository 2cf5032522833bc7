"""The Docker interop pairs: real Smalltalk VMs in containers against Python peers.

:func:`docker_rows` answers one :class:`DockerRow` per pair, ready for the interop
matrix (``sqsocket interop --docker``); :func:`run_docker_interop` answers the same
rows plus the timed setup steps (base image, image builds) for ``sqsocket docker run``.

Pairs (every container runs with ``--network none``; the socket directory on the
host is bind-mounted at ``/sockets``):

* squeak (docker) -> python echo (host): the workspace example against
  :class:`~sqsocket.servers.echo.UnixEchoServer` on the host.
* python client (host) -> squeak UDS server (docker): ``uds_server.st`` binds a
  path in ``/sockets``; a plain Python client on the host is echoed.
* python client (host) -> python echo (docker): the server image alone; shows the
  container plumbing works whatever the Smalltalk side does.
* squeak (docker) -> python echo (docker): two containers, one socket directory.
* with ``pharo=True``: the same two pairs for Pharo 13 plus its SUnit tests. Its
  image needs internet to build (get.pharo.org); where that fails the rows say so.

Nothing raises out of here for an expected failure (no engine, no image, a build
or container failing or timing out): that pair's row is ``ok=False`` with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqsocket.dockerharness.base import BASE_IMAGE, ensure_base
from sqsocket.dockerharness.build import BuiltImage, build_image
from sqsocket.dockerharness.containers import RUN_TIMEOUT, Container, ContainerResult
from sqsocket.dockerharness.contexts import (
    BuildContext,
    pharo_context,
    server_context,
    squeak_context,
)
from sqsocket.dockerharness.engine import connect, docker_sdk, image_exists
from sqsocket.dockerharness.errors import BuildFailed, DockerHarnessError, NoImage, first_line
from sqsocket.dockerharness.peers import (
    PeerError,
    echo_round_trip,
    host_echo_server,
    wait_for_socket,
)
from sqsocket.dockerharness.sockdir import RunAs, container_path, host_path, run_as_for, socket_dir

GREETING = "Hello, from Smalltalk!"
PYTHON_PAYLOAD = b"Hello, from Python!"
ECHO_SOCKET = "echo.sock"

SQUEAK_TO_HOST = "squeak (docker) -> python echo (host, unix)"
HOST_TO_SQUEAK = "python client (host) -> squeak UDS server (docker)"
HOST_TO_SERVER = "python client (host) -> python echo (docker, unix)"
SQUEAK_TO_SERVER = "squeak (docker) -> python echo (docker, unix)"
PHARO_TO_HOST = "pharo 13 (docker) -> python echo (host, unix)"
HOST_TO_PHARO = "python client (host) -> pharo 13 UDS server (docker)"
PHARO_SUNIT = "pharo 13 SUnit tests (docker) -> python echo (host, unix)"

SQUEAK_PAIRS = (SQUEAK_TO_HOST, HOST_TO_SQUEAK, SQUEAK_TO_SERVER)
PHARO_PAIRS = (PHARO_TO_HOST, HOST_TO_PHARO, PHARO_SUNIT)
PHARO_UNVERIFIED = (
    "needs internet to build (get.pharo.org, Pharo's zeroconf): not verified on sqsocket's machines"
)

Log = Callable[[str], None]


class DockerRow(NamedTuple):
    """One interop pair's outcome, as the interop matrix tabulates it."""

    pair: str
    ok: bool
    seconds: float
    detail: str


@dataclass(frozen=True)
class Step:
    """A timed setup step: making the base image or building one image."""

    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class DockerReport:
    """Rows, setup steps, and the full text of each error (rows carry one line)."""

    rows: list[DockerRow] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every row passed."""
        return all(row.ok for row in self.rows)


def docker_rows(
    *,
    pharo: bool = False,
    base: str | None = None,
    timeout: float = RUN_TIMEOUT,
    log: Log | None = None,
) -> list[DockerRow]:
    """The Docker interop rows ``(pair, ok, seconds, detail)`` for the interop matrix."""
    return run_docker_interop(pharo=pharo, base=base, timeout=timeout, log=log).rows


def run_docker_interop(
    *,
    pharo: bool = False,
    base: str | None = None,
    timeout: float = RUN_TIMEOUT,
    make_base: bool = True,
    squeak_image: Path | None = None,
    log: Log | None = None,
) -> DockerReport:
    """Build what is missing, run every pair, and answer the report.

    ``base``: the image the Dockerfiles build on; by default the local debootstrap
    base (made first when ``make_base`` and it is missing). ``squeak_image``: the
    headless image to put in the Squeak container; by default the project's
    builder (``sqsocket.squeak.builder.ensure_image``) makes or reuses it.
    """
    report = DockerReport()
    pairs = SQUEAK_PAIRS + (HOST_TO_SERVER,) + (PHARO_PAIRS if pharo else ())
    try:
        client = connect()
    except DockerHarnessError as exc:
        return _all_failed(report, pairs, exc)
    try:
        runner = PairRunner(client, report, timeout, log)
        base_image = runner.base(base, make_base)
        server = runner.build("sqsocket/server", server_context, base_image)
        squeak = runner.build(
            "sqsocket/squeak", lambda: squeak_context(squeak_image_path(squeak_image)), base_image
        )
        runner.squeak_to_host(squeak)
        runner.host_to_squeak(squeak)
        runner.host_to_server(server)
        runner.squeak_to_server(squeak, server)
        if pharo:
            pharo_image = runner.build("sqsocket/pharo", pharo_context, base_image)
            runner.pharo_pairs(pharo_image)
    finally:
        client.close()
    order = {pair: index for index, pair in enumerate(pairs)}
    report.rows.sort(key=lambda row: order.get(row.pair, len(order)))
    return report


def squeak_image_path(explicit: Path | None) -> Path:
    """The headless Squeak image for the container: ``explicit``, else the project's build.

    Raises :class:`NoImage` with the reason when there is none to be had.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise NoImage(str(explicit), "no such file")
        return explicit
    try:
        from sqsocket.squeak.builder import ensure_image
    except ImportError as exc:
        raise NoImage(
            "squeak headless image", f"the image builder is not available ({exc})"
        ) from None
    try:
        return ensure_image()
    except Exception as exc:  # the builder's own errors carry the reason
        raise NoImage("squeak headless image", f"the builder failed: {exc}") from None


def _all_failed(report: DockerReport, pairs: tuple[str, ...], exc: Exception) -> DockerReport:
    report.errors.append(str(exc))
    for pair in pairs:
        report.rows.append(DockerRow(pair, False, 0.0, _one_line(exc)))
    return report


def _one_line(exc: BaseException | str, limit: int = 160) -> str:
    text = first_line(exc.summary if isinstance(exc, BuildFailed) else exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PairRunner:
    """Runs the setup steps and the pairs into one report.

    Each pair method appends exactly one row to ``report.rows`` and answers it; a
    pair whose image could not be had (``None``) fails without running. A failed
    image therefore fails only the pairs that need it.
    """

    def __init__(self, client: Any, report: DockerReport, timeout: float, log: Log | None):
        self.client = client
        self.report = report
        self.timeout = timeout
        self.log = log
        self.failures: dict[str, str] = {}  # repository -> why it has no image

    def say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    # -- setup steps ---------------------------------------------------------------

    def base(self, base: str | None, make_base: bool) -> str | None:
        if base is not None or not make_base:
            return base
        if image_exists(self.client, BASE_IMAGE):
            return BASE_IMAGE
        started = time.monotonic()
        try:
            result = ensure_base(self.client, log=self.say)
        except DockerHarnessError as exc:
            self.report.errors.append(str(exc))
            self.report.steps.append(
                Step(f"base image {BASE_IMAGE}", False, time.monotonic() - started, _one_line(exc))
            )
            return None  # builds fall back to debian:bookworm-slim and say why they fail
        self.report.steps.append(
            Step(f"base image {BASE_IMAGE}", True, result.seconds, "debootstrap + docker import")
        )
        return result.image

    def build(
        self, repository: str, make_context: Callable[[], BuildContext], base: str | None
    ) -> str | None:
        started = time.monotonic()
        self.say(f"image {repository}: building, or reusing one of the same context")
        try:
            built: BuiltImage = build_image(self.client, make_context(), base=base, log=None)
        except DockerHarnessError as exc:
            self.failures[repository] = _one_line(exc)
            self.report.errors.append(str(exc))
            self.report.steps.append(
                Step(f"image {repository}", False, time.monotonic() - started, _one_line(exc))
            )
            return None
        how = "built" if built.built else "reused (same context hash)"
        self.report.steps.append(
            Step(f"image {repository}", True, built.seconds, f"{how} {built.tag}")
        )
        self.say(f"{how} {built.tag} in {built.seconds:.1f} s")
        return built.tag

    # -- pairs -----------------------------------------------------------------------

    def record(self, pair: str, started: float, ok: bool, detail: str) -> None:
        self.report.rows.append(DockerRow(pair, ok, time.monotonic() - started, detail))
        self.say(f"{'ok  ' if ok else 'FAIL'} {pair}: {detail}")

    def missing(self, pair: str, *repositories: str) -> DockerRow:
        """Record (and answer) the failed row of a pair an image is missing for."""
        details = []
        for repository in repositories:
            if repository == "sqsocket/pharo":
                details.append(f"{PHARO_UNVERIFIED}; {self.failures.get(repository, 'no image')}")
            else:
                details.append(f"no image {repository}: {self.failures.get(repository, '?')}")
        row = DockerRow(pair, False, 0.0, "; ".join(details) or "no image")
        self.report.rows.append(row)
        return row

    @contextmanager
    def guarded(self, pair: str) -> Iterator[float]:
        """Time a pair; turn an expected failure into its failed row."""
        started = time.monotonic()
        try:
            yield started
        except Exception as exc:
            if not _expected(exc):
                raise  # a bug here, not a failed pair
            self.report.errors.append(f"{pair}: {exc}")
            self.record(pair, started, False, _one_line(exc))

    @contextmanager
    def shared_dir(self, image: str) -> Iterator[tuple[Path, RunAs]]:
        """A new socket directory for a pair, and the user ``image`` runs as (who may use it)."""
        run_as = run_as_for(self.client, image)
        with socket_dir(run_as) as directory:
            yield directory, run_as

    def container(
        self, image: str, command: list[str], directory: Path, run_as: RunAs, **kw: Any
    ) -> Container:
        return Container(
            self.client, image, command, socket_dir=directory, run_as=run_as, network="none", **kw
        )

    def client_pair(
        self, pair: str, image: str | None, repository: str, command: list[str], **kw: Any
    ) -> DockerRow:
        """A Smalltalk client in a container against the Python echo server on the host."""
        if image is None:
            return self.missing(pair, repository)
        with self.guarded(pair) as started:
            with self.shared_dir(image) as (directory, run_as):
                path = host_path(directory, ECHO_SOCKET)
                with (
                    host_echo_server(path),
                    self.container(image, command, directory, run_as, **kw) as container,
                ):
                    result = container.wait(self.timeout)
            self.record(pair, started, *_greeting_verdict(result))
        return self.report.rows[-1]

    def server_pair(
        self,
        pair: str,
        image: str | None,
        repository: str,
        command: list[str],
        name: str,
        **kw: Any,
    ) -> DockerRow:
        """A server in a container; the Python client on the host must be echoed."""
        if image is None:
            return self.missing(pair, repository)
        with self.guarded(pair) as started:
            with self.shared_dir(image) as (directory, run_as):
                path = host_path(directory, name)
                with self.container(image, command, directory, run_as, **kw) as container:
                    try:
                        wait_for_socket(path, self.timeout, still_starting=container.running)
                        echoed = echo_round_trip(path, PYTHON_PAYLOAD, self.timeout)
                    except PeerError as exc:
                        raise PeerError(
                            f"{exc}; container output: {_tail(container.output())}"
                        ) from None
                    if command[:1] == ["serve"]:
                        container.kill()  # the Python server serves until stopped
                        result = None
                    else:
                        result = container.wait(self.timeout)
            ok = echoed == PYTHON_PAYLOAD and (result is None or result.ok)
            if echoed != PYTHON_PAYLOAD:
                detail = f"sent {PYTHON_PAYLOAD!r}, got {echoed!r}"
            elif result is not None and not result.ok:
                detail = f"echoed, but the container exited {result.status}: {_tail(result.output)}"
            else:
                detail = f"echoed {len(echoed)} bytes"
                if result is not None:
                    detail += f"; container ran {result.seconds:.1f} s"
            self.record(pair, started, ok, detail)
        return self.report.rows[-1]

    def squeak_to_host(self, squeak: str | None) -> DockerRow:
        """The workspace example in the Squeak container against the host's echo server."""
        return self.client_pair(
            SQUEAK_TO_HOST, squeak, "sqsocket/squeak", ["workspace.st", container_path(ECHO_SOCKET)]
        )

    def host_to_squeak(self, squeak: str | None) -> DockerRow:
        """``uds_server.st`` in the Squeak container; the host's Python client is echoed."""
        return self.server_pair(
            HOST_TO_SQUEAK,
            squeak,
            "sqsocket/squeak",
            ["uds_server.st", container_path("squeak.sock"), "1"],
            "squeak.sock",
        )

    def host_to_server(self, server: str | None) -> DockerRow:
        """The Python echo server in its container; the host's Python client is echoed."""
        return self.server_pair(
            HOST_TO_SERVER,
            server,
            "sqsocket/server",
            ["serve", "echo", "--unix", container_path(ECHO_SOCKET), "--mode", "666"],
            ECHO_SOCKET,
        )

    def squeak_to_server(self, squeak: str | None, server: str | None) -> DockerRow:
        """The workspace example in the Squeak container against the server container."""
        pair = SQUEAK_TO_SERVER
        if squeak is None or server is None:
            needed = [
                r
                for r, t in (("sqsocket/squeak", squeak), ("sqsocket/server", server))
                if t is None
            ]
            return self.missing(pair, *needed)
        with self.guarded(pair) as started:
            with self.shared_dir(squeak) as (directory, run_as):
                path = host_path(directory, ECHO_SOCKET)
                serve = ["serve", "echo", "--unix", container_path(ECHO_SOCKET), "--mode", "666"]
                with self.container(server, serve, directory, run_as) as echo_server:
                    wait_for_socket(path, self.timeout, still_starting=echo_server.running)
                    command = ["workspace.st", container_path(ECHO_SOCKET)]
                    with self.container(squeak, command, directory, run_as) as client:
                        result = client.wait(self.timeout)
            self.record(pair, started, *_greeting_verdict(result))
        return self.report.rows[-1]

    def pharo_pairs(self, pharo: str | None) -> list[DockerRow]:
        """Pharo's workspace example, its UDS server, and its SUnit tests (three rows)."""
        big_tmp = {"tmp_size": "1g"}  # the Pharo image is copied into /tmp
        rows = [
            self.client_pair(
                PHARO_TO_HOST,
                pharo,
                "sqsocket/pharo",
                ["workspace", container_path(ECHO_SOCKET)],
                **big_tmp,
            ),
            self.server_pair(
                HOST_TO_PHARO,
                pharo,
                "sqsocket/pharo",
                ["server", container_path("pharo.sock"), "1"],
                "pharo.sock",
                **big_tmp,
            ),
        ]
        if pharo is None:
            return [*rows, self.missing(PHARO_SUNIT, "sqsocket/pharo")]
        with self.guarded(PHARO_SUNIT) as started:
            environment = {
                "SQSOCKET_PATH": container_path(ECHO_SOCKET),
                "SQSOCKET_DIR": "/sockets",
            }
            with (
                self.shared_dir(pharo) as (directory, run_as),
                host_echo_server(host_path(directory, ECHO_SOCKET)),
                self.container(
                    pharo, ["test"], directory, run_as, environment=environment, **big_tmp
                ) as container,
            ):
                result = container.wait(self.timeout)
            detail = _tail(result.output) if not result.ok else "all SUnit tests passed"
            self.record(PHARO_SUNIT, started, result.ok, detail)
        return [*rows, self.report.rows[-1]]


def _expected(exc: Exception) -> bool:
    """Failures a pair's row reports: the harness's, the peer's, the engine's, the OS's."""
    if isinstance(exc, DockerHarnessError | PeerError | OSError | ValueError):
        return True
    errors = getattr(docker_sdk(), "errors", None)
    return errors is not None and isinstance(exc, errors.DockerException)


def _greeting_verdict(result: ContainerResult) -> tuple[bool, str]:
    """Did the client container print the echoed greeting and exit 0?"""
    printed = GREETING in result.output
    if printed and result.ok:
        return True, f"printed {GREETING!r}; container ran {result.seconds:.1f} s"
    if not printed:
        return (
            False,
            f"no {GREETING!r} in the output (exit {result.status}): {_tail(result.output)}",
        )
    return False, f"printed the greeting but exited {result.status}: {_tail(result.output)}"


def _tail(output: str, lines: int = 3) -> str:
    text = " | ".join(line.strip() for line in output.strip().splitlines()[-lines:])
    return text or "(no output)"
