"""The Docker harness's own logic, without a Docker engine: contexts, socket
directories, errors, peers, the no-engine paths of the interop rows and the CLI."""

from __future__ import annotations

import io
import os
import socket
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sqsocket.cli import main
from sqsocket.dockerharness import base, contexts, engine, interop, peers, sockdir
from sqsocket.dockerharness.containers import Container
from sqsocket.dockerharness.errors import (
    ENGINE_HINT,
    BuildFailed,
    ContainerTimeout,
    DockerHarnessError,
    DockerSDKMissing,
    NoEngine,
)

NO_ENGINE = "unix:///nonexistent/sqsocket-test-docker.sock"


# -- contexts -------------------------------------------------------------------------


def _context() -> contexts.BuildContext:
    context = contexts.BuildContext("test")
    context.add_bytes("Dockerfile", b"FROM scratch\n")
    context.add_bytes("bin/run.sh", b"#!/bin/sh\n", mode=0o755)
    return context


def test_context_digest_is_stable_and_sensitive() -> None:
    first = _context().digest()
    assert first == _context().digest()
    changed = _context()
    changed.add_bytes("bin/run.sh", b"#!/bin/sh\nexit 1\n", mode=0o755)
    assert changed.digest() != first
    chmodded = _context()
    chmodded.add_bytes("bin/run.sh", b"#!/bin/sh\n", mode=0o644)
    assert chmodded.digest() != first
    assert _context().digest({"BASE": "a"}) != _context().digest({"BASE": "b"})


def test_context_tarball_is_reproducible() -> None:
    data = _context().tarball().getvalue()
    assert data == _context().tarball().getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"Dockerfile", "bin/run.sh"}
    assert members["bin/run.sh"].mode == 0o755
    assert members["Dockerfile"].mtime == 0


def test_squeak_context_takes_companions_but_not_other_files(tmp_path: Path) -> None:
    image = tmp_path / "x.image"
    image.write_bytes(b"img")
    (tmp_path / "x.changes").write_bytes(b"chg")
    (tmp_path / "x.image.inputs").write_text("{}")
    context = contexts.squeak_context(image)
    assert "image/x.image" in context.files and "image/x.changes" in context.files
    assert not any(path.endswith(".inputs") for path in context.files)
    assert context.files["docker/squeak-entrypoint.sh"][1] == 0o755


# -- socket directory -----------------------------------------------------------------


class FakeImages:
    def __init__(self, user: str | None) -> None:
        self.user = user

    def get(self, name: str) -> Any:
        return type("Image", (), {"attrs": {"Config": {"User": self.user}}})()


class FakeClient:
    def __init__(self, user: str | None = "10001:10001") -> None:
        self.images = FakeImages(user)


@pytest.mark.parametrize(
    "user, expected", [("10001:10001", (10001, 10001)), ("42", (42, 42)), (None, (0, 0))]
)
def test_image_user_is_numeric(user: str | None, expected: tuple[int, int]) -> None:
    run_as = sockdir.image_user(FakeClient(user), "img")
    assert (run_as.uid, run_as.gid) == expected


def test_image_user_refuses_names() -> None:
    with pytest.raises(ValueError, match="non-numeric USER"):
        sockdir.image_user(FakeClient("squeak"), "img")


def test_run_as_is_the_image_user_for_root_else_ourselves() -> None:
    run_as = sockdir.run_as_for(FakeClient("10001:10001"), "img")
    if os.geteuid() == 0:
        assert run_as.user == "10001:10001"
    else:
        assert run_as.user == f"{os.getuid()}:{os.getgid()}"


def test_socket_dir_owner_mode_and_cleanup() -> None:
    owner = (
        sockdir.RunAs(10001, 10001)
        if os.geteuid() == 0
        else sockdir.RunAs(os.getuid(), os.getgid())
    )
    with sockdir.socket_dir(owner) as path:
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == 0o700
        assert (info.st_uid, info.st_gid) == (owner.uid, owner.gid)
        # a socket file left behind (they outlive containers) goes with the directory
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(path / "left.sock"))
        listener.close()
    assert not path.exists()


def test_host_path_refuses_paths_too_long_for_sun_path(tmp_path: Path) -> None:
    assert sockdir.host_path(tmp_path, "a.sock") == tmp_path / "a.sock"
    with pytest.raises(ValueError, match="too long"):
        sockdir.host_path(tmp_path, "x" * 120)
    assert sockdir.container_path("a.sock") == "/sockets/a.sock"


# -- containers, errors -----------------------------------------------------------------


@pytest.mark.parametrize("network", ["bridge", "default", "my-net"])
def test_container_refuses_any_network_but_none_and_host(network: str) -> None:
    with pytest.raises(DockerHarnessError, match="never a bridge"):
        Container(None, "img", [], socket_dir=None, run_as=sockdir.RunAs(1, 1), network=network)


def test_errors_say_what_to_do() -> None:
    assert str(NoEngine()) == ENGINE_HINT
    assert "dockerd --bridge=none --iptables=false" in str(NoEngine("refused"))
    assert "sqsocket[docker]" in str(DockerSDKMissing())
    failed = BuildFailed("img", "exit 1", "step 1\nE: Unable to locate package foo\nSee above")
    assert "Unable to locate package foo" in failed.summary
    assert "last lines of the build log" in str(failed)
    timeout = ContainerTimeout("img", 5, "half a line")
    assert "killed" in str(timeout) and "half a line" in str(timeout)


# -- engine -----------------------------------------------------------------------------


def test_missing_sdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "docker", None)
    with pytest.raises(DockerSDKMissing):
        engine.docker_sdk()


def test_no_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("docker")
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    with pytest.raises(NoEngine, match=r"install docker\.io and start dockerd"):
        engine.connect(timeout=5)
    assert engine.engine_problem() is not None


def test_rows_without_an_engine_fail_with_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("docker")
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    rows = interop.docker_rows(pharo=True)
    assert [row.pair for row in rows] == [
        *interop.SQUEAK_PAIRS,
        interop.HOST_TO_SERVER,
        *interop.PHARO_PAIRS,
    ]
    for row in rows:
        assert row.ok is False
        assert "no Docker engine" in row.detail
        assert isinstance(row.seconds, float)


def test_cli_without_an_engine_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    pytest.importorskip("docker")
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    assert main(["docker", "run"]) == 2
    assert "no Docker engine" in capsys.readouterr().err
    assert main(["docker", "build"]) == 2
    assert main(["docker", "base"]) == 2


def test_cli_help_lists_the_subcommands(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["docker", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ("base", "build", "run"):
        assert name in out


# -- base -------------------------------------------------------------------------------


def test_base_needs_debootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base.shutil, "which", lambda name: None)
    with pytest.raises(BuildFailed, match=r"apt-get install -y debootstrap"):
        base._check_can_debootstrap()


def test_tidy_rootfs(tmp_path: Path) -> None:
    (tmp_path / "etc/apt").mkdir(parents=True)
    (tmp_path / "var/cache/apt/archives").mkdir(parents=True)
    (tmp_path / "var/lib/apt/lists").mkdir(parents=True)
    (tmp_path / "var/cache/apt/archives/x.deb").write_bytes(b"deb")
    (tmp_path / "var/lib/apt/lists/deb.debian.org_Packages").write_text("...")
    (tmp_path / "etc/resolv.conf").write_text("nameserver 10.0.0.1\n")
    (tmp_path / "debootstrap").mkdir()
    base._tidy_rootfs(tmp_path)
    sources = (tmp_path / "etc/apt/sources.list").read_text()
    assert "bookworm main" in sources and "bookworm-security" in sources
    assert not list((tmp_path / "var/cache/apt/archives").glob("*.deb"))
    assert not list((tmp_path / "var/lib/apt/lists").iterdir())
    assert (tmp_path / "etc/resolv.conf").read_text() == ""
    assert not (tmp_path / "debootstrap").exists()


# -- peers ------------------------------------------------------------------------------


def test_host_echo_server_and_client(tmp_path: Path) -> None:
    path = tmp_path / "echo.sock"
    with peers.host_echo_server(path):
        assert stat.S_IMODE(path.stat().st_mode) == peers.SERVER_SOCKET_MODE
        peers.wait_for_socket(path, 5)
        assert peers.echo_round_trip(path, b"Hello, from Python!", 5) == b"Hello, from Python!"
    assert not path.exists()


def test_client_gives_up_at_its_deadline(tmp_path: Path) -> None:
    with pytest.raises(peers.PeerError, match="cannot connect"):
        peers.connect_unix(tmp_path / "nobody.sock", 0.3)
    with pytest.raises(peers.PeerError, match="exited before"):
        peers.wait_for_socket(tmp_path / "nobody.sock", 5, still_starting=lambda: False)
    with pytest.raises(peers.PeerError, match="no socket"):
        peers.wait_for_socket(tmp_path / "nobody.sock", 0.2)
