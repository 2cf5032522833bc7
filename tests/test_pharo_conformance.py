"""The conformance scenarios in Pharo's dialect: generated, parsed with Pharo's grammar, run.

No Pharo runs on sqsocket's machines, so the generated scripts are checked with
``sqsocket.pharo`` (Pharo's grammar, the chunk reader, the name check), the command
line and the driving loop are checked with a stand-in VM, and a real Pharo run is left
to the user (README: "Conformance on your own VM").
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqsocket.cli import main
from sqsocket.interop import pharocodegen, stcodegen
from sqsocket.interop.dsl import Call, Peer, Scenario, Str
from sqsocket.interop.fixtures import Fixture
from sqsocket.interop.scenarios import SCENARIOS
from sqsocket.interop.vm_run import (
    VMUnavailable,
    docker_pharo_command,
    pharo_command,
    run_command,
)
from sqsocket.pharo import chunks
from sqsocket.pharo.check import Checker, check_pharo_source
from sqsocket.plugin import PRIMITIVES
from sqsocket.squeak import paths

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def fixture() -> Iterator[Fixture]:
    with Fixture() as fx:
        yield fx


@pytest.fixture(scope="module")
def script(fixture: Fixture) -> str:
    return pharocodegen.conformance_script(SCENARIOS, fixture)


def test_the_whole_generated_script_passes_the_check(script: str) -> None:
    problems = check_pharo_source(script, "conformance.st")
    assert not problems, "\n".join(map(str, problems))
    declarations, errors = chunks.read_declarations(script)
    assert errors == []
    doits = [d for d in declarations if isinstance(d, chunks.DoIt)]
    runs = [d for d in doits if "run: '" in d.chunk.text]
    assert len(runs) == len(SCENARIOS)


@pytest.fixture(scope="module")
def primed() -> Checker:
    """A checker that has read the interpreter and the primitive methods."""
    checker = Checker()
    head = pharocodegen.interpreter_source() + "\n" + pharocodegen.primitive_methods()
    assert checker.check(head, "SqConf+primitives.st") == []
    return checker


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda sc: sc.name)
def test_every_scenario_parses(scenario: Scenario, fixture: Fixture, primed: Checker) -> None:
    steps = stcodegen.scenario_array(scenario, fixture)
    doit = f"(Smalltalk at: #SqConfRun) run: {stcodegen.st_string(scenario.name)} steps: {steps}!\n"
    assert primed.check(doit, f"{scenario.name}.st") == []


def test_a_broken_script_fails_the_check(script: str) -> None:
    unbalanced = script.replace("steps: #(", "steps: #((", 1)
    assert check_pharo_source(unbalanced, "broken.st")
    bad_method = script.replace("^ #sqFailed", "^ #sqFailed)", 1)
    problems = check_pharo_source(bad_method, "broken.st")
    assert any("unmatched ')'" in p.message for p in problems)
    undeclared = script.replace("kind := a at: 1.", "kind := b at: 1.", 1)
    assert any("undeclared variable b" in p.message for p in check_pharo_source(undeclared))
    two_methods = "\n".join(
        [
            "Object subclass: #Foo instanceVariableNames: '' classVariableNames: '' package: 'X'!",
            "!Foo methodsFor: 'x'!\none\n\t^ 1\n!\ntwo\n\t^ 2\n! !",
        ]
    )
    assert check_pharo_source(two_methods, "two.st"), "one method per preamble"


def test_one_named_primitive_method_per_primitive() -> None:
    text = pharocodegen.primitive_methods()
    named = re.findall(r"<primitive: '(\w+)' module: 'SocketPlugin'>", text)
    expected = set(PRIMITIVES) - stcodegen.SKIPPED_PRIMS
    assert sorted(named) == sorted(expected)
    assert "!ByteArray methodsFor: '*SqSocket-Conformance'!" in text


def test_both_dialects_carry_the_same_steps(fixture: Fixture) -> None:
    squeak = stcodegen.conformance_script(SCENARIOS, fixture)
    pharo = pharocodegen.conformance_script(SCENARIOS, fixture)
    arrays = [stcodegen.scenario_array(sc, fixture) for sc in SCENARIOS]
    assert all(a in squeak and a in pharo for a in arrays)


def _selectors(text: str) -> set[str]:
    """The selectors a chunk-format file defines: each method's first line, from every
    preamble to its closing ``! !`` (Squeak's file has several methods per preamble)."""
    found = set()
    for match in re.finditer(r"methodsFor: '[^']*'!\s*\n(.*?)\n! !", text, re.DOTALL):
        for method in re.split(r"\n!\n", match.group(1)):
            first = method.strip().splitlines()[0]
            keywords = re.findall(r"(\w+:)\s+\w+", first)
            found.add("".join(keywords) if keywords else first.strip())
    return found


def test_the_pharo_interpreter_has_every_squeak_method() -> None:
    squeak = _selectors((paths.smalltalk_dir() / "SqConf.st").read_text(encoding="latin-1"))
    pharo = _selectors(pharocodegen.interpreter_source())
    # Squeak 2.2 reads stdin through FilePlugin primitives; Pharo through Stdio
    assert squeak - {"primStdioHandles", "primRead:into:startingAt:count:"} == pharo


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--dialect", "pharo"], "--dialect pharo needs --vm"),
        (["--dialect", "pharo", "--vm", "/bin/true"], "--dialect pharo needs --vm"),
        (["--docker"], "add --pharo"),
        (["--pharo"], "add --docker"),
        (["--docker", "--pharo", "--vm", "/bin/true"], "drop --vm and --image"),
    ],
)
def test_conformance_usage_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["conformance", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


def test_a_missing_pharo_vm_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "Pharo.image"
    image.write_bytes(b"")
    assert (
        main(
            [
                "conformance",
                "--dialect",
                "pharo",
                "--vm",
                str(tmp_path / "pharo"),
                "--image",
                str(image),
            ]
        )
        == 2
    )
    assert "no executable Pharo VM" in capsys.readouterr().err
    with pytest.raises(VMUnavailable, match="no Pharo image"):
        pharo_command("/bin/true", tmp_path / "none.image")


def test_the_docker_command_line(fixture: Fixture) -> None:
    command = docker_pharo_command("sqsocket/pharo:ctx-0123456789ab")
    argv = command.argv("/tmp/sqconf-x/conformance.st", fixture)
    assert argv[:4] == ["docker", "run", "--rm", "-i"]
    assert argv[argv.index("--network") : argv.index("--network") + 2] == ["--network", "host"]
    assert f"{fixture.root}:{fixture.root}" in argv
    assert "/tmp/sqconf-x:/tmp/sqconf-x:ro" in argv
    assert argv[-3:] == [
        "sqsocket/pharo:ctx-0123456789ab",
        "conformance",
        "/tmp/sqconf-x/conformance.st",
    ]
    assert command.encoding == "utf-8" and command.label == "pharo (docker)"


FAKE_PHARO = '''#!{python}
"""A stand-in for a Pharo VM: checks its command line and the script, plays one scenario."""
import sys
vm, headless, image, st, quit_, script = sys.argv
assert (headless, st, quit_) == ("--headless", "st", "--quit"), sys.argv
text = open(script, encoding="utf-8").read()
assert "<primitive: 'primitiveSocketSendDone' module: 'SocketPlugin'>" in text
assert "run: 'fake-scenario' steps: #(" in text
print("@@session 42", flush=True)
print("@@peer send 7069", flush=True)
assert sys.stdin.read(1) == "\\n"
print("@@r fake-scenario 1 ok", flush=True)
print("@@r fake-scenario 2 x:" + "{marker}", flush=True)
print("@@done", flush=True)
'''


def test_run_command_drives_a_pharo_vm(tmp_path: Path, fixture: Fixture) -> None:
    vm = tmp_path / "pharo"
    vm.write_text(FAKE_PHARO.format(python=sys.executable, marker="00ff"), encoding="utf-8")
    vm.chmod(vm.stat().st_mode | stat.S_IXUSR)
    image = tmp_path / "Pharo.image"
    image.write_bytes(b"image")
    scenario = Scenario(
        "fake-scenario",
        "the stand-in's one scenario",
        (Call("primitiveSocketSendDone", (Str("x"),)), Peer("send", data=b"pi")),
    )
    side = run_command(fixture, [scenario], pharo_command(vm, image), timeout=30)
    assert side.error == "", side.error
    assert side.name == "pharo" and side.session == 42
    assert side.lines == {"fake-scenario": ["1 ok", "2 x:00ff"]}
    assert os.path.exists(fixture.root)
