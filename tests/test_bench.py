"""``sqsocket bench`` end to end, in quick mode: every row and column in the JSON, the
real VM's column present when squeak-vm is (missing, with the reason, when not), the
--help examples, usage errors, and ``benchmarks/run.py``. No test asserts a speed."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ci_support import in_ci
from squeak_support import REPO

from sqsocket.bench import capacity, client, growth, memory
from sqsocket.bench.cli import EXAMPLES
from sqsocket.bench.load.cli import EXAMPLES as LOAD_EXAMPLES
from sqsocket.bench.settings import SECTIONS, Mode, Settings
from sqsocket.squeak import paths
from sqsocket.squeak.builder import build_image

QUICK = Settings.for_mode(Mode.QUICK)
RUN_TIMEOUT = 300.0


def bench(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqsocket", "bench", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=env,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def vm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], bool]]:
    """The environment for a bench run, and whether the real VM's column can be measured.

    With squeak-vm and the input image here, the headless image is built for the run
    (SQSOCKET_IMAGE); in CI both must be there.
    """
    env = dict(os.environ)
    vm = paths.find_vm()
    source = paths.locate_source_image_offline()
    if vm is None or source is None:
        if in_ci():
            pytest.fail(f"CI=true and {paths.missing_requirements()}", pytrace=False)
        yield env, False
        return
    image = tmp_path_factory.mktemp("bench-image") / "sqsocket.image"
    build_image(source, image)
    env["SQSOCKET_IMAGE"] = str(image)
    yield env, True


@pytest.fixture(scope="module")
def quick_run(vm_env: tuple[dict[str, str], bool]) -> tuple[dict[str, Any], bool]:
    env, has_vm = vm_env
    done = bench("--quick", "--json", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[" in done.stderr and "done in" in done.stderr  # progress on stderr
    return json.loads(done.stdout), has_vm


def _expected_rows() -> dict[str, tuple[str, ...]]:
    """Section key -> its row keys, from the modules that define them."""
    return {
        "client": tuple(spec.key for spec in client.ROWS),
        "capacity": tuple(f"cap.{n}" for n in QUICK.capacity_clients),
        "memory": ("mem.traced", "mem.rss"),
        "growth": tuple(
            f"grow.{op}.{column}"
            for column, _label in growth.COLUMNS
            for op, _t in growth.OPERATIONS
        ),
    }


def _expected_columns(section: str) -> tuple[str, ...]:
    if section == "client":
        return tuple(column for column, _label in client.COLUMNS)
    if section == "capacity":
        return tuple(column for column, _kind in capacity.COLUMNS)
    if section == "memory":
        return tuple(memory.LABELS)
    return tuple(f"n{n}" for n in QUICK.growth_counts)


def _check_figures(cell: dict[str, Any], reps: int, where: str) -> None:
    assert {"median", "min", "max", "values", "ratio"} <= cell.keys(), where
    assert len(cell["values"]) == reps, where
    assert 0 < cell["min"] <= cell["median"] <= cell["max"], where
    assert cell["ratio"] is not None and cell["ratio"] > 0, where


def test_quick_json_has_every_section_row_and_column(
    quick_run: tuple[dict[str, Any], bool],
) -> None:
    data, _has_vm = quick_run
    assert data["version"] == 1 and data["mode"] == "quick" and data["reps"] == QUICK.reps
    assert [s["key"] for s in data["sections"]] == list(SECTIONS)
    expected = _expected_rows()
    for section in data["sections"]:
        rows = section["rows"]
        assert tuple(r["key"] for r in rows) == expected[section["key"]]
        for row in rows:
            cells = [row["baseline"], *row["cells"]]
            assert tuple(c["column"] for c in cells) == _expected_columns(section["key"])
            assert row["baseline"]["ratio"] == 1.0


def test_every_python_and_native_figure_was_measured(
    quick_run: tuple[dict[str, Any], bool],
) -> None:
    data, _has_vm = quick_run
    native = capacity.native.available("epoll_load") is None
    for section in data["sections"]:
        for row in section["rows"]:
            for cell in [row["baseline"], *row["cells"]]:
                where = f"{row['key']} / {cell['column']}"
                if cell["column"].startswith("vm-") or (cell["column"] == "native" and not native):
                    continue
                assert "missing" not in cell, f"{where}: {cell.get('missing')}"
                _check_figures(cell, QUICK.reps if section["key"] != "memory" else 1, where)


def test_the_vm_column_is_measured_or_says_why_not(quick_run: tuple[dict[str, Any], bool]) -> None:
    data, has_vm = quick_run
    client_rows = data["sections"][0]["rows"]
    for row in client_rows:
        for cell in row["cells"]:
            if not cell["column"].startswith("vm-"):
                continue
            where = f"{row['key']} / {cell['column']}"
            if has_vm:
                assert "missing" not in cell, f"{where}: {cell.get('missing')}"
                _check_figures(cell, QUICK.reps, where)
            else:
                assert "squeak-vm" in cell["missing"] or "image" in cell["missing"], where


def test_without_the_image_the_vm_column_is_missing_with_the_reason(tmp_path: Path) -> None:
    env = dict(os.environ, SQSOCKET_IMAGE=str(tmp_path / "no.image"))
    done = bench("--quick", "--only", "client", "--reps", "1", "--json", "-q", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert [s["key"] for s in data["sections"]] == ["client"]
    for row in data["sections"][0]["rows"]:
        vm_cells = [c for c in row["cells"] if c["column"].startswith("vm-")]
        assert len(vm_cells) == 2
        for cell in vm_cells:
            assert "median" not in cell
            assert cell["missing"].startswith(("headless image not built", "squeak-vm"))


def test_targets_are_reported_never_asserted(quick_run: tuple[dict[str, Any], bool]) -> None:
    data, _has_vm = quick_run
    targets = {
        (row["key"], t["column"], t["text"])
        for section in data["sections"]
        for row in section["rows"]
        for t in row["targets"]
    }
    assert ("rt.uds.16", "image", "≥ 0.6× raw") in targets
    assert ("rt.tcp.16", "image", "≥ 1.0× the real VM's semaphore loop") in targets
    assert ("bulk.uds.1m", "image", "≥ 0.8× raw") in targets
    assert ("connect.uds", "image", "≥ 0.5× raw") in targets
    assert ("cap.1000", "project", "≥ 0.8× the raw selectors server") in targets
    assert ("mem.traced", "primitives", "≤ 2048 B per connected emulated socket") in targets
    assert ("grow.rt.image", "n5000", "within 1.5× of 10 open") in targets
    assert ("grow.create.primitives", "n5000", "within 1.5× of 10 open") in targets


def test_the_pinning_is_said(quick_run: tuple[dict[str, Any], bool]) -> None:
    data, _has_vm = quick_run
    if len(os.sched_getaffinity(0)) <= 4:
        assert data["pinned_cpu"] in os.sched_getaffinity(0)
        assert data["pinning"].startswith(f"pinned to CPU {data['pinned_cpu']}")
    else:
        assert data["pinned_cpu"] is None and "not pinned" in data["pinning"]


def test_the_table_and_a_json_file(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = bench("--quick", "--only", "memory", "--pin", "none", "--json", str(out), "-q")
    assert done.returncode == 0, done.stderr
    assert "not pinned (--pin none)" in done.stdout
    assert "== memory: bytes per connected socket ==" in done.stdout
    assert "(b) emulator socket + 3 semaphores" in done.stdout and "baseline" in done.stdout
    data = json.loads(out.read_text())
    assert data["pinned_cpu"] is None and data["sections"][0]["key"] == "memory"
    assert done.stderr.strip() == f"JSON written to {out}"


def _example_commands(text: str, prefix: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]


def test_the_help_shows_the_examples() -> None:
    for args, text in ((["--help"], EXAMPLES), (["load", "--help"], LOAD_EXAMPLES)):
        done = bench(*args)
        assert done.returncode == 0
        for command in _example_commands(text, "sqsocket bench"):
            assert command in done.stdout


@pytest.mark.parametrize(
    "command",
    # the load example shown in both --help texts runs once
    list(
        dict.fromkeys(
            _example_commands(EXAMPLES, "sqsocket bench")
            + _example_commands(LOAD_EXAMPLES, "sqsocket bench")
        )
    ),
)
def test_every_help_example_runs(command: str, tmp_path: Path) -> None:
    argv = shlex.split(command)
    assert argv[:2] == ["sqsocket", "bench"]
    done = bench(*argv[2:], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    if "--json" in argv:
        path = argv[argv.index("--json") + 1] if argv[-1] != "--json" else None
        text = (tmp_path / path).read_text() if path and not path.startswith("-") else done.stdout
        assert json.loads(text)


@pytest.mark.parametrize(
    "args",
    [
        ["--reps", "0"],
        ["--reps", "many"],
        ["--only", "nope"],
        ["--only", ""],
        ["--pin", "99999"],
        ["--pin", "fast"],
        ["--quick", "--long"],
        ["frobnicate"],
        # refused before any measuring, not after a minute of it
        ["--quick", "--json", "/nonexistent-sqsocket-dir/results.json"],
        ["--quick", "--json", "/tmp"],
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str]) -> None:
    done = bench(*args)
    assert done.returncode == 2
    assert "error:" in done.stderr and "Traceback" not in done.stderr


def test_make_bench_runs_the_package_through_benchmarks_run_py() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--only", "memory", "-q"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sqsocket bench (quick")
    assert (
        "mem.traced" not in done.stdout and "Python allocations per connected socket" in done.stdout
    )
