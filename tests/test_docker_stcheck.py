"""The Pharo sources pass the static Smalltalk check, and the check catches real mistakes.

No Pharo runs on sqsocket's machines; this check (``sqsocket.dockerharness.stcheck``)
is what a broken ``images/pharo/*.st`` meets before a Docker build nobody here can run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docker_support import PHARO_DIR, PHARO_LOAD_ORDER, PHARO_SCRIPTS

from sqsocket.dockerharness.stcheck import SourceChecker, check_files, main, read_chunks

PREAMBLE = (
    "Object subclass: #Foo\n\tinstanceVariableNames: 'a'\n"
    "\tclassVariableNames: ''\n\tpackage: 'X'!\n\n"
)


def check(snippet: str) -> list[str]:
    checker = SourceChecker()
    checker.check_text(PREAMBLE, "preamble.st")
    return [problem.message for problem in checker.check_text(snippet, "snippet.st")]


def method(body: str, pattern: str = "bar", cls: str = "Foo") -> str:
    return f"!{cls} methodsFor: 'testing'!\n{pattern}\n{body}\n! !\n"


def test_pharo_sources_pass_the_check() -> None:
    paths = [PHARO_DIR / name for name in (*PHARO_LOAD_ORDER, *PHARO_SCRIPTS)]
    problems = check_files(paths)
    assert not problems, "\n".join(map(str, problems))


def test_pharo_sources_define_what_the_issue_asks_for() -> None:
    checker = SourceChecker()
    for name in PHARO_LOAD_ORDER:
        checker.check_file(PHARO_DIR / name)
    defined = {f"{c}{' class' if meta else ''}>>{s}" for c, meta, s in checker.methods}
    assert {
        "Socket class>>newIPC",
        "Socket>>initialize:",
        "Socket>>initialize:withDomain:",
        "Socket>>connectTo:",
        "Socket>>bindToSocketAddress:",
        "Socket>>listenWithBacklog:",
        "NetNameResolver class>>addressForSocketPath:",
        "NetNameResolver class>>socketAddressForUnixPath:",
        "SQUnixServer>>listen",
        "SQUnixServer>>accept:",
    } <= defined
    tests = {s for c, _, s in checker.methods if c == "SQUnixSocketTest" and s.startswith("test")}
    assert len(tests) >= 5
    assert "SQUnixSocketTest" in checker.classes


def test_load_script_loads_every_source_file() -> None:
    text = (PHARO_DIR / "load.st").read_text()
    assert re.findall(r"'(SQSocket-[\w-]+\.st)'", text) == list(PHARO_LOAD_ORDER)


def test_new_ipc_keeps_the_seed_text() -> None:
    text = (PHARO_DIR / "SQSocket-Pharo.st").read_text()
    assert "super new initialize: TCPSocketType withDomain: 1" in text
    assert "repeatWithGCIf: [ :socket | socket isValid not ]" in text
    assert "primSocketCreateNetwork: socketDomain" in text


def test_workspace_script_is_the_seed_example() -> None:
    text = (PHARO_DIR / "workspace.st").read_text()
    for line in (
        "primGetAddressInfoHost: ''",
        "family: 1",
        "s := NetNameResolver primGetAddressInfoSize.",
        "sa := SocketAddress new: s withAll: 0.",
        "NetNameResolver primGetAddressInfoResult: sa.",
        "sock := Socket newIPC.",
        "sock connectTo: sa.",
        "sock sendData: 'Hello, from Smalltalk!!'.",  # chunk format: !! is one !
        "'SQSOCKET_PATH'",
    ):
        assert line in text, line


def test_a_good_snippet_passes() -> None:
    snippet = (
        method(
            "\t\"a comment with !! and 'quotes'\"\n"
            "\t| t |\n"
            "\t<pragma: #foo>\n"
            "\tt := a + -3 negated.\n"
            "\tt := #(1 $a #sym key: 'str' #(nested) #[1 2] true) , #[0 255].\n"
            "\tt := { t. 16r1F. 1.5e3. 2s2. #+. #at:put: }.\n"
            "\t^ [:x :y | | r | r := x max: y. r] value: t size value: (a ifNil: [0]); yourself"
        )
        + "| local |\nlocal := Foo new.\nTranscript show: local printString; cr!\n"
    )
    assert check(snippet) == []


BROKEN = {
    "unclosed paren": (method("\t^ (1 + 2"), "'(' is never closed"),
    "extra paren": (method("\t^ (1 + 2))"), "unmatched ')'"),
    "unclosed block": (method("\t^ [:x | x + 1"), "'[' is never closed"),
    "unclosed brace": (method("\t^ { 1. 2"), "'{' is never closed"),
    "unterminated string": (method("\t^ 'abc"), "string not terminated"),
    "unterminated comment": (method('\t"abc\n\t^ 1'), "comment not terminated"),
    "missing period": (method("\t| t |\n\tt := 3\n\tt printString"), "missing '.'"),
    "bad pattern": (method("\t^ 1", pattern="+"), "argument name after the binary selector"),
    "keyword without argument": (method("\t^ 1", pattern="at:"), "argument name after at:"),
    "two methods, one preamble": (
        "!Foo methodsFor: 'x'!\nbar\n\t^ 1\n!\nbaz\n\t^ 2\n! !\n",
        "one method per methodsFor: preamble",
    ),
    "bad preamble": ("!Foo methodsFor 'x'!\nbar\n\t^ 1\n! !\n", "preamble must read"),
    "empty protocol": ("!Foo methodsFor: ''!\nbar\n\t^ 1\n! !\n", "empty method protocol"),
    "undeclared variable": (method("\t^ qux + 1"), "undeclared variable qux"),
    "assignment to argument": (method("\tz := 1", pattern="bar: z"), "argument z"),
    "assignment to self": (method("\tself := 1"), "pseudo-variable self"),
    "unknown class": (method("\t^ 1", cls="Fooo"), "class Fooo is neither"),
    "lower-case class name": (
        "Object subclass: #foo instanceVariableNames: '' classVariableNames: '' package: 'X'!\n",
        "capitalised symbol",
    ),
    "bad instance variable": (
        "Object subclass: #Bar instanceVariableNames: 'a 1b' "
        "classVariableNames: '' package: 'X'!\n",
        "not a variable name",
    ),
    "duplicate method": (method("\t^ 1") + method("\t^ 2"), "defined twice"),
    "cascade without message": (method("\t^ 3 ; yourself"), "cascade"),
    "unterminated chunk": ("Transcript show: 'x'", "not terminated by '!'"),
    "single bang in code": (method("\t^ 'a' , 'b' ! 'c'"), "empty chunk"),
    "unclosed pragma": (method("\t<primitive: 'x' module: 'y'\n\t^ 1"), "pragma not closed"),
    "dead code after return": (method("\t^ 1.\n\t2"), "cannot be reached"),
    "byte out of range": (method("\t^ #[1 256]"), "0..255"),
    "global assignment in do-it": ("Foo := 3!\n", "assignment to the global Foo"),
}


@pytest.mark.parametrize("snippet, expected", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_snippet_is_caught(snippet: str, expected: str) -> None:
    messages = check(snippet)
    assert messages, "the mistake went unnoticed"
    assert any(expected in message for message in messages), messages


def test_broken_pharo_file_is_caught_with_its_line(tmp_path: Path) -> None:
    source = (PHARO_DIR / "SQSocket-Pharo.st").read_text()
    # a typical slip: drop the closing bracket of newIPC's block
    broken = source.replace("withDomain: 1 ]", "withDomain: 1", 1)
    assert broken != source
    path = tmp_path / "SQSocket-Pharo.st"
    path.write_text(broken)
    problems = check_files([path])
    assert problems
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "repeatWithGCIf" in text)
    assert abs(problems[0].line - line) <= 2, problems


def test_chunks_follow_pharos_reader() -> None:
    chunks = list(read_chunks("1 + 1!\n!Foo methodsFor: 'x'!\nbar\n\t^ '!!'\n! !\n"))
    assert [c.text.strip() for c in chunks] == ["1 + 1", "Foo methodsFor: 'x'", "bar\n\t^ '!'", ""]
    assert [c.preamble for c in chunks] == [False, True, False, False]


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.st"
    good.write_text("Transcript show: 'hi'; cr!\n")
    bad = tmp_path / "bad.st"
    bad.write_text("Transcript show: 'hi'; cr\n")
    assert main([str(good)]) == 0
    assert main([str(bad)]) == 1
    assert "not terminated" in capsys.readouterr().out
