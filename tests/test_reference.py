"""The generated reference: current, complete, and derived from the emulator's tables."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sqsocket.cli import main
from sqsocket.interop.scenarios import BY_NAME
from sqsocket.platform.profiles import PROFILES, flag_names
from sqsocket.platform.statetable import TABLE
from sqsocket.plugin import EXPORTED_PRIMITIVES, PRIMITIVES
from sqsocket.reference.cli import docs_dir, documents, stale
from sqsocket.reference.facts import FACTS, FLAG_EFFECTS, HANDLERS
from sqsocket.reference.markdown import render_document
from sqsocket.reference.model import entries, entry, squeak_selectors
from sqsocket.reference.svg import STATE_LABEL, render_svg
from sqsocket.squeak import paths

README = paths.repo_root() / "README.md"


def test_the_documents_are_current() -> None:
    old = stale(docs_dir())
    assert not old, f"stale: {[str(p) for p in old]}; run: sqsocket reference --write"


def test_a_changed_document_is_stale(tmp_path: Path) -> None:
    for path, text in documents(tmp_path).items():
        path.write_text(text, encoding="utf-8")
    assert stale(tmp_path) == []
    md = tmp_path / "primitives.md"
    md.write_text(md.read_text(encoding="utf-8").replace("SendDone", "SendDon", 1), "utf-8")
    (tmp_path / "statemachine.svg").unlink()
    assert set(stale(tmp_path)) == {md, tmp_path / "statemachine.svg"}


def test_the_readme_and_the_reference_show_the_picture() -> None:
    assert "![the state machine](statemachine.svg)" in render_document()
    assert "docs/statemachine.svg" in README.read_text(encoding="utf-8")


# -- the data is complete ---------------------------------------------------------------------


def test_every_exported_primitive_has_its_facts() -> None:
    assert set(FACTS) == set(EXPORTED_PRIMITIVES) == set(PRIMITIVES)
    for name, facts in FACTS.items():
        assert facts.c and facts.answers, name
        assert set(facts.arms) <= set(HANDLERS), name
        unknown = set(facts.ranges) - {a.name for a in entry(name).arguments}
        assert not unknown, f"{name}: ranges for no argument {unknown}"


def test_every_flag_says_which_primitives_it_changes() -> None:
    assert set(FLAG_EFFECTS) == set(flag_names())
    for flag, effect in FLAG_EFFECTS.items():
        assert effect.primitives and set(effect.primitives) <= set(EXPORTED_PRIMITIVES), flag


def test_every_state_table_row_belongs_to_some_primitive() -> None:
    reached = set()
    for e in entries():
        reached |= {row.event for row in e.rows}
        for _handler, rows in e.armed:
            reached |= {row.event for row in rows}
    assert reached == {row.event for row in TABLE}


def test_selectors_take_the_primitives_arguments() -> None:
    """A selector's keyword count is the primitive's argument count (receiver aside)."""
    selectors = squeak_selectors()
    for e in entries():
        spec = PRIMITIVES[e.name]
        args = [a for a in spec.arguments if a != "receiver"]
        least = len([a for a in args if not a.startswith("[")])
        assert e.squeak, f"{e.name}: no Squeak method in SocketPrims.st"
        assert e.squeak == selectors[e.name]
        for selector in (*e.squeak, *e.pharo):
            colons = selector.split(">>", 1)[1].count(":")
            assert least <= colons <= len(args), f"{e.name}: {selector}"


def test_pharo_13_lacks_exactly_the_primitives_it_does_not_call() -> None:
    """Read in Pharo 13's Network-Kernel: no listenOn: primitives, no getNameInfo request,
    no SocketAddress port primitives, no raw sockets, no security primitives."""
    without = {e.name for e in entries() if not e.pharo}
    assert without == {
        "primitiveHasSocketAccess",
        "primitiveDisableSocketAccess",
        "primitiveResolverGetNameInfo",
        "primitiveSocketAddressGetPort",
        "primitiveSocketAddressSetPort",
        "primitiveSocketCreateRAW",
        "primitiveSocketListenOnPort",
        "primitiveSocketListenOnPortBacklog",
        "primitiveSocketListenOnPortBacklogInterface",
    }


def test_each_difference_lists_every_profile_and_cites_it() -> None:
    for e in entries():
        for diff in e.differences:
            assert [v.profile for v in diff.values] == list(PROFILES)
            for value in diff.values:
                assert value.citation
                assert all(s in BY_NAME for s in value.scenarios)


def test_pharo_vm_differences_show_in_the_entries() -> None:
    send_done = entry("primitiveSocketSendDone")
    (rule,) = [d for d in send_done.differences if d.flag == "send_done_rule"]
    values = {v.profile: v.value for v in rule.values}
    assert values["pharo-vm"] == "true-while-connected"
    assert values["squeak-4.10"] == "select-writable"
    assert "pharo-vm" not in entry("primitiveHasSocketAccess").exported_by
    assert "squeak-4.10" not in entry("primitiveSocketCreateRAW").exported_by


# -- the picture ------------------------------------------------------------------------------


def test_the_svg_is_xml_with_every_state_and_event() -> None:
    svg = render_svg()
    assert svg == render_svg(), "the same table draws the same bytes"
    root = ET.fromstring(svg.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(t for t in root.itertext())
    for label in STATE_LABEL.values():
        assert label in text
    for row in TABLE:
        assert row.event.name in text, row.event.name


# -- the command -----------------------------------------------------------------------------------


def test_reference_one_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "primitiveSocketSendDone"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### primitiveSocketSendDone")
    assert "Socket>>primSocketSendDone:" in out and "true-while-connected" in out


def test_reference_index_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference"]) == 0
    assert capsys.readouterr().out.count("\n") >= len(EXPORTED_PRIMITIVES)
    assert main(["reference", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == list(EXPORTED_PRIMITIVES)
    assert main(["reference", "--json", "primitiveSocketConnectTo"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["rows"][0]["event"] == "CONNECT_SYNC"


def test_reference_check_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "--check"]) == 0
    assert capsys.readouterr().out == ""


def test_reference_bad_input_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reference", "primitiveNoSuchThing"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown primitive" in err
    assert main(["reference", "--write", "primitiveSocketSendDone"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["reference", "--write", "--check"])
    assert exc.value.code == 2


def test_primitives_per_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["primitives", "--profile", "pharo-vm"]) == 0
    out = capsys.readouterr().out
    assert "60 of 60 primitives exported by the pharo-vm SocketPlugin" in out
    assert "primitiveHasSocketAccess" not in out
    assert main(["primitives", "--profiles"]) == 0
    out = capsys.readouterr().out
    for prof in PROFILES.values():
        assert f"{prof.name}: {prof.description}" in out
        assert prof.stands_for in out
    assert main(["primitives", "--profiles", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {p["name"] for p in data} == set(PROFILES)
    assert all(set(p["flags"]) == set(flag_names()) for p in data)


def test_primitives_states_is_the_state_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The terminal view of the state table: the common table, one line per row."""
    assert main(["primitives", "--states"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["event", "from", "to", "signals"]
    assert set(lines[1]) == {"-", " "}
    assert [line.split()[0] for line in lines[2:]] == [row.event.name for row in TABLE]
    assert main(["primitives", "--states", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["event"] for row in data] == [row.event.name for row in TABLE]
    assert data[0]["to"] == f"{TABLE[0].target.name} ({int(TABLE[0].target)})"
