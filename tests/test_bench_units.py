"""The bench's pure parts: statistics, results and targets, the report, pinning, the mix.

Nothing here measures anything: fake runs with known durations stand in for the
workloads, so every figure is known in advance.
"""

from __future__ import annotations

import json

import pytest

from sqsocket.bench import pinning, stats
from sqsocket.bench.load.mix import ClientKind, Mix
from sqsocket.bench.peers import unix_path
from sqsocket.bench.report import Report, format_figure, render_table, to_json
from sqsocket.bench.results import Cell, Row, Section, Target, Unit
from sqsocket.bench.settings import SECTIONS, Mode, Settings
from sqsocket.bench.squeakvm import VMRunFailed, parse_output
from sqsocket.bench.workloads import Endpoint, payload

# -- statistics ---------------------------------------------------------------------------


def test_sample_summarises_its_values() -> None:
    sample = stats.Sample.of([3, 1, 2, 10, 4])
    assert (sample.median, sample.low, sample.high, sample.reps) == (3.0, 1.0, 10.0, 5)
    with pytest.raises(ValueError):
        stats.Sample.of([])


def test_repeat_warms_up_then_measures_reps_times() -> None:
    calls: list[int] = []

    def measure() -> float:
        calls.append(1)
        return float(len(calls))

    sample = stats.repeat(measure, reps=5, warmup=2)
    assert len(calls) == 7
    assert sample.values == (3.0, 4.0, 5.0, 6.0, 7.0)  # the warm-up runs are not in it
    with pytest.raises(ValueError):
        stats.repeat(measure, reps=0)


def test_rate_sample_turns_elapsed_time_into_a_rate() -> None:
    # 100 operations in 0.5 s: 200 op/s; with per=1024, 204800 B/s
    sample = stats.rate_sample(lambda count: count * 0.005, 100, 3, per=1024)
    assert sample.values == pytest.approx((204800.0,) * 3)


def test_calibrate_aims_at_the_target_duration() -> None:
    # 1 ms per operation: 50 ms needs 50 operations
    assert stats.calibrate(lambda count: count * 0.001, 0.05) == 50
    # an operation that takes no time is capped, not infinite
    assert stats.calibrate(lambda count: 0.0, 0.05) <= stats.MAX_COUNT


# -- results, targets and the report --------------------------------------------------------


def _row() -> Row:
    row = Row(
        key="rt",
        title="round trip",
        unit=Unit.OPS,
        baseline=Cell("raw", "(a) raw", sample=stats.Sample.of([100, 90, 110])),
        cells=[
            Cell("image", "(c) image", sample=stats.Sample.of([50, 40, 60])),
            Cell("vm", "(d) vm", sample=stats.Sample.of([80])),
            Cell("gone", "(e) gone", missing="not installed"),
        ],
        targets=[
            Target("image", "≥ 0.6× raw", at_least=0.6),
            Target("image", "≥ 0.5× vm", at_least=0.5, against="vm"),
            Target("gone", "≥ 1× raw", at_least=1.0),
        ],
        detail="5 repetitions",
    )
    row.compute_ratios()
    return row


def test_ratios_are_medians_over_the_baseline_median() -> None:
    row = _row()
    assert row.baseline.ratio == 1.0
    assert row.cells[0].ratio == pytest.approx(0.5)
    assert row.cells[1].ratio == pytest.approx(0.8)
    assert row.cells[2].ratio is None


def test_targets_compare_with_the_baseline_or_another_column() -> None:
    row = _row()
    below_raw, above_half_vm, missing = row.targets
    assert below_raw.evaluate(row) is False  # 0.5 < 0.6
    assert above_half_vm.evaluate(row) is True  # 50 / 80 = 0.625
    assert missing.evaluate(row) is None
    size_row = Row("m", "memory", Unit.BYTES, Cell("raw", "raw", stats.Sample.of([100])))
    size_row.cells = [Cell("emu", "emu", stats.Sample.of([3000]))]
    assert Target("emu", "≤ 2048 B", at_most=2048).evaluate(size_row) is False
    size_row.cells = [Cell("emu", "emu", stats.Sample.of([2000]))]
    assert Target("emu", "≤ 2048 B", at_most=2048).evaluate(size_row) is True


def test_figures_are_formatted_for_their_unit() -> None:
    assert format_figure(89_812, Unit.OPS) == "89.8k"
    assert format_figure(1_500_000, Unit.OPS) == "1.5M"
    assert format_figure(12.5, Unit.OPS) == "12.5"
    assert format_figure(3 * (1 << 20), Unit.BYTES_PER_SECOND) == "3.0"
    assert format_figure(4638.9, Unit.BYTES) == "4,639"


def _report() -> Report:
    section = Section("client", "client: one connection", "what it is", rows=[_row()])
    section.notes.append("a note")
    return Report("quick", 3, "pinned to CPU 1: ...", 1, {"python": "3"}, [section], 1.5)


def test_the_table_shows_every_cell_ratio_target_and_missing_reason() -> None:
    text = render_table(_report())
    assert "pinned to CPU 1" in text
    assert "== client: one connection ==" in text and "note: a note" in text
    assert "(a) raw" in text and "baseline" in text
    assert "0.50×" in text and "0.80×" in text
    assert "target ≥ 0.6× raw: NOT met (0.50×)" in text
    assert "target ≥ 0.5× vm: met (0.62×)" in text
    assert "missing: not installed" in text


def test_the_json_has_every_cell_with_figures_or_a_reason() -> None:
    data = json.loads(to_json(_report()))
    assert data["version"] == 1 and data["pinned_cpu"] == 1
    row = data["sections"][0]["rows"][0]
    assert row["baseline"]["median"] == 100.0 and row["baseline"]["values"] == [100, 90, 110]
    image, vm, gone = row["cells"]
    assert (image["ratio"], image["min"], image["max"]) == (0.5, 40.0, 60.0)
    assert vm["median"] == 80.0
    assert gone == {"column": "gone", "label": "(e) gone", "missing": "not installed"}
    assert [t["met"] for t in row["targets"]] == [False, True, None]


# -- settings, pinning, small helpers ---------------------------------------------------------


def test_every_mode_names_every_section_and_the_issue_counts() -> None:
    for mode in Mode:
        settings = Settings.for_mode(mode)
        assert settings.sections == SECTIONS
        assert settings.capacity_clients == (1, 100, 1000)
        assert settings.growth_counts == (10, 100, 1000, 5000)
    assert Settings.for_mode(Mode.DEFAULT).reps >= 5
    assert Settings.for_mode(Mode.LONG).reps > Settings.for_mode(Mode.DEFAULT).reps
    assert Settings.for_mode(Mode.QUICK).with_reps(7).reps == 7


def test_pin_values_are_parsed_and_checked() -> None:
    assert pinning.parse_pin("auto") == "auto"
    assert pinning.parse_pin(" None ") == "none"
    cpu = min(pinning.allowed_cpus())
    assert pinning.parse_pin(str(cpu)) == cpu
    for bad in ("x", "-1", "99999", ""):
        with pytest.raises(ValueError):
            pinning.parse_pin(bad)


def test_auto_pins_only_where_there_are_few_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pinning, "allowed_cpus", lambda: {0, 1})
    chosen = pinning.choose("auto")
    assert chosen.cpu == 1 and "CPU 1" in chosen.describe()
    monkeypatch.setattr(pinning, "allowed_cpus", lambda: set(range(16)))
    assert pinning.choose("auto").cpu is None
    assert pinning.choose(3).cpu == 3
    none = pinning.choose("none")
    assert none.cpu is None and "not pinned" in none.describe()


def test_vm_output_is_parsed_or_refused() -> None:
    assert parse_output("COUNT 40\nREP 81\nREP 79\nDONE\n") == (40, [81, 79])
    with pytest.raises(VMRunFailed):
        parse_output("Error: something\n")


def test_endpoints_and_payloads() -> None:
    assert Endpoint(path="/tmp/x").spec == "unix:/tmp/x"
    assert Endpoint(port=5).spec == "tcp:127.0.0.1:5" and Endpoint(port=5).transport == "TCP"
    for bad in ({}, {"path": "/x", "port": 1}):
        with pytest.raises(ValueError):
            Endpoint(**bad)  # type: ignore[arg-type]
    assert payload(30) == b"abcdefghijklmnopqrstuvwxyzabcd"


def test_bench_socket_paths_avoid_the_resolver_quirk() -> None:
    # the squeak-4.10 resolver cannot find a path whose length is a multiple of 4
    for stem in ("a", "ab", "abc", "abcd", "peer-native"):
        path = unix_path("/tmp/sqbench-12345678", stem)
        assert len(path) % 4 != 0 and path.endswith(".sock")


def test_the_load_mix_deals_out_every_client() -> None:
    mix = Mix.for_clients(1000)
    assert (mix.good, mix.abort, mix.never_read, mix.victims) == (700, 100, 100, 100)
    shares = mix.split(4)
    assert len(shares) == 4
    for kind, total in (
        (ClientKind.GOOD, 700),
        (ClientKind.ABORT, 100),
        (ClientKind.NEVER_READ, 100),
    ):
        assert sum(share[kind.value] for share in shares) == total
    assert Mix.for_clients(10).good >= 1
    assert all(any(share.values()) for share in Mix.for_clients(10).split(8))
