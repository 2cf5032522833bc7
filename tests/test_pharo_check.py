"""The Pharo sources pass Pharo's grammar, and the check catches real mistakes.

No Pharo runs on sqsocket's machines; ``sqsocket.pharo`` (the ``pharo-tree-sitter``
grammar, a chunk reader after Pharo 13's, and a small name check) is what a broken
``images/pharo/*.st`` meets before a Docker build nobody here can run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from docker_support import PHARO_DIR, PHARO_LOAD_ORDER, PHARO_SCRIPTS, REPO
from process_support import run_ok

from sqsocket.pharo import chunks, grammar
from sqsocket.pharo.check import Checker, check_pharo_files, check_pharo_source, main

PREAMBLE = (
    "Object subclass: #Foo\n\tinstanceVariableNames: 'a'\n"
    "\tclassVariableNames: ''\n\tpackage: 'X'!\n\n"
)
ALL_SOURCES = sorted(PHARO_DIR.glob("*.st"))


def check(snippet: str) -> list[tuple[int, str]]:
    """(line, message) of each problem of ``snippet``, with class Foo (ivar a) defined."""
    checker = Checker()
    assert checker.check(PREAMBLE, "preamble.st") == []
    return [(p.line, p.message) for p in checker.check(snippet, "snippet.st")]


def method(body: str, pattern: str = "bar", cls: str = "Foo") -> str:
    """A method chunk on line 2 (pattern) with its body from line 3."""
    return f"!{cls} methodsFor: 'testing'!\n{pattern}\n{body}\n! !\n"


# -- the sources ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_SOURCES, ids=lambda p: p.name)
def test_every_pharo_source_parses_with_the_grammar(path: Path) -> None:
    declarations, errors = chunks.read_declarations(path.read_text())
    assert errors == []
    assert declarations, "nothing was parsed"
    for declaration in declarations:
        form = grammar.Form.DOIT if isinstance(declaration, chunks.DoIt) else grammar.Form.METHOD
        parsed = grammar.parse(declaration.chunk.text, form)
        assert not parsed.root.has_error, declaration.chunk.text
        assert parsed.method() is not None
        assert grammar.syntax_errors(parsed) == []


def test_pharo_sources_pass_the_whole_check() -> None:
    assert {p.name for p in ALL_SOURCES} == {*PHARO_LOAD_ORDER, *PHARO_SCRIPTS}
    problems = check_pharo_files([PHARO_DIR / name for name in (*PHARO_LOAD_ORDER, *PHARO_SCRIPTS)])
    assert not problems, "\n".join(map(str, problems))


def _defined(names: tuple[str, ...] = PHARO_LOAD_ORDER) -> Checker:
    checker = Checker()
    for name in names:
        assert checker.check((PHARO_DIR / name).read_text(), name) == []
    return checker


def test_pharo_sources_define_what_the_issue_asks_for() -> None:
    checker = _defined()
    defined = {f"{c}{' class' if meta else ''}>>{s}" for c, meta, s in checker.methods}
    assert {
        "Socket class>>newIPC",
        "Socket>>initialize:withDomain:",
        "NetNameResolver class>>addressForSocketPath:",
        "NetNameResolver class>>socketAddressForUnixPath:",
        "SQUnixServer>>listen",
        "SQUnixServer>>accept:",
    } <= defined
    tests = {s for c, _, s in checker.methods if c == "SQUnixSocketTest" and s.startswith("test")}
    assert len(tests) >= 6
    assert {"SQSocketPharo", "SQUnixServer", "SQUnixSocketTest"} <= set(checker.classes)
    assert checker.classes["SQUnixServer"].instance_variables == ("path", "socket")


def test_no_method_of_pharo_13s_socket_is_redefined() -> None:
    # Selectors Pharo 13's Network-Kernel defines (src/Network-Kernel/Socket.class.st,
    # SocketAddressInformation.class.st on the Pharo13 branch): extend, never replace.
    pharo13 = {
        ("Socket", False, "connectTo:"),
        ("Socket", False, "connectNonBlockingTo:"),
        ("Socket", False, "connectTo:waitForConnectionFor:"),
        ("Socket", False, "bindTo:"),
        ("Socket", False, "listenWithBacklog:"),
        ("Socket", False, "initialize:family:"),
        ("Socket", True, "newTCP:"),
        ("Socket", True, "newUDP:"),
        ("Socket", True, "new"),
        ("SocketAddressInformation", False, "connect"),
    }
    methods = set(_defined().methods)
    assert not methods & pharo13
    socket_methods = {(c, meta, s) for c, meta, s in methods if c.startswith("Socket")}
    assert socket_methods == {
        ("Socket", True, "newIPC"),
        ("Socket", False, "initialize:withDomain:"),
    }


def test_new_ipc_is_pharo_13s_new_tcp_with_the_local_family() -> None:
    text = (PHARO_DIR / "SQSocket-Pharo.st").read_text()
    assert "^ self newTCP: SocketAddressInformation addressFamilyLocal" in text
    assert "^ self initialize: socketType family: socketDomain" in text
    # the old header's claim, false for Pharo 13, is gone
    assert "always creates with netType 0" not in text
    assert "bindToSocketAddress:" not in text


def test_every_method_says_which_pharo_it_is_for() -> None:
    declarations, _ = chunks.read_declarations((PHARO_DIR / "SQSocket-Pharo.st").read_text())
    methods = [d for d in declarations if isinstance(d, chunks.MethodSource)]
    assert len(methods) >= 15
    for declaration in methods:
        comment = re.search(r'"([^"]*)"', declaration.chunk.text)
        assert comment is not None, declaration.chunk.text
        assert "Pharo 13" in comment[1] or "No version-specific API" in comment[1], comment[1]


def test_load_script_loads_every_source_file() -> None:
    text = (PHARO_DIR / "load.st").read_text()
    assert re.findall(r"'(SQSocket-[\w-]+\.st)'", text) == list(PHARO_LOAD_ORDER)


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


# -- the check catches mistakes --------------------------------------------------------------


def test_a_good_snippet_passes() -> None:
    snippet = (
        method(
            "\t\"a comment with !! and 'quotes'\"\n"
            "\t| t |\n"
            "\t<pragma: #foo>\n"
            "\tt := a + -3 negated.\n"
            "\tt := #(1 $a #sym key: 'str' #(nested) #[1 2] true) , #[0 16rFF 255].\n"
            "\tt := { t. 16r1F. 1.5e3. 2s2. #+. #at:put: }.\n"
            "\tself foo; bar: 1; + 2.\n"
            "\t^ [:x :y | | r | r := x max: y. r] value: t size value: (a ifNil: [0]); yourself"
        )
        + method("\t^ i -> v", pattern="at: i put: v")
        + method("\t^ self == other", pattern="= other")
        + "| local |\nlocal := Foo new.\nTranscript show: local printString; cr!\n"
        + "----SNAPSHOT---- not Smalltalk!\n"
        + "Object subclass: #Bare!\n"
    )
    assert check(snippet) == []


BROKEN = {
    # unbalanced brackets
    "unclosed paren": (method("\t^ (1 + 2"), 3, "missing ')'"),
    "extra paren": (method("\t^ (1 + 2))"), 3, "unmatched ')'"),
    "unclosed block": (method("\t^ [:x | x + 1"), 3, "missing ']'"),
    "unclosed brace": (method("\t^ { 1. 2"), 3, "missing '}'"),
    "unclosed literal array": (method("\t^ #(1 2"), 3, "missing ')'"),
    "unclosed pragma": (method("\t<primitive: 'x' module: 'y'\n\t^ 1"), 3, "missing '>'"),
    # bad keyword messages and patterns
    "keyword without argument": (method("\t^ a at: 1 put:"), 3, "incomplete keyword message"),
    "keyword without colon": (method("\t^ a at 1 put: 2"), 3, "unexpected '1'"),
    "doubled colon": (method("\t^ a at:: 1"), 3, "unexpected ':'"),
    "pattern without argument": (method("\t^ 1", pattern="at:"), 2, "an argument name expected"),
    "binary pattern without argument": (method("\t^ 1", pattern="+"), 2, "argument name"),
    "two binary operators": (method("\t^ 1 + + 2"), 3, "unexpected '+'"),
    "cascade without message": (method("\t^ 3 ; yourself"), 3, "Message expected"),
    "cascade on parentheses": (method("\t^ (a foo) ; yourself"), 3, "Message expected"),
    "store into self": (method("\tself := 1"), 3, "unexpected 'self :='"),
    # bad literals
    "unterminated string": (method("\t^ 'abc"), 3, "string not terminated"),
    "unterminated comment": (method('\t"abc\n\t^ 1'), 3, "comment not terminated"),
    "byte out of range": (method("\t^ #[1 256]"), 3, "0..255, not 256"),
    "negative byte": (method("\t^ #[1 -1]"), 3, "0..255, not -1"),
    "name in a byte array": (method("\t^ #[1 a]"), 3, "unexpected 'a'"),
    "bad radix digits": (method("\t^ 16rZZ"), 3, "unexpected '16'"),
    "bare hash": (method("\t^ #"), 3, "incomplete symbol"),
    # bad chunk structure
    "two methods, one preamble": (
        "!Foo methodsFor: 'x'!\nbar\n\t^ 1\n!\nbaz\n\t^ 2\n! !\n",
        5,
        "one method per methodsFor: preamble",
    ),
    "single bang in code": (method("\t^ 'a' , 'b' ! 'c'"), 3, "one method per methodsFor:"),
    "preamble without colon": ("!Foo methodsFor 'x'!\nbar\n\t^ 1\n! !\n", 1, "a '!' chunk must"),
    "preamble without protocol": ("!Foo methodsFor: x!\nbar\n\t^ 1\n! !\n", 1, "must read"),
    "unterminated chunk": ("Transcript show: 'x'", 1, "not terminated by '!'"),
    "unterminated method": ("!Foo methodsFor: 'x'!\nbar\n\t^ 1\n", 2, "method not terminated"),
    "method without trailer": (
        "!Foo methodsFor: 'x'!\nbar ^ 1!\n",
        2,
        "followed by an empty chunk",
    ),
    "empty method": ("!Foo methodsFor: 'x'! !\n", 1, "empty method chunk"),
    "stray bang": ("1 + 1! !\n", 1, "stray '!'"),
    "bang before a do-it": ("1 + 1!\n!\n2 + 2!\n", 3, "a '!' chunk must"),
    "lang tag": ("1 + 1!\n]lang[ x!\n", 2, "]lang[ tag"),
    # names and definitions
    "undeclared variable": (method("\t^ qux + 1"), 3, "undeclared variable qux"),
    "undeclared in a do-it": ("| t |\nt := 3.\nu printString!\n", 3, "undeclared variable u"),
    "temporary of another block": (
        method("\t[ | t | t ] value.\n\t^ t"),
        4,
        "undeclared variable t",
    ),
    "store into argument": (method("\tz := 1", pattern="bar: z"), 3, "store into argument z"),
    "store into block argument": (method("\t^ [:z | z := 1]"), 3, "store into argument z"),
    "unknown class": (method("\t^ 1", cls="Fooo"), 2, "class neither defined"),
    "duplicate method": (method("\t^ 1") + method("\t^ 2"), 6, "Foo>>bar is defined twice"),
    "lower-case class name": (
        "Object subclass: #foo instanceVariableNames: '' classVariableNames: '' package: 'X'!\n",
        1,
        "class name foo must be capitalised",
    ),
    "bad instance variable": (
        "Object subclass: #Bar instanceVariableNames: 'a 1b' "
        "classVariableNames: '' package: 'X'!\n",
        1,
        "'1b' is not a variable name",
    ),
    "class definition form": (
        "Object subclass: #Bar instanceVariableNames: 'a' package: 'X'!\n",
        1,
        "not a form Pharo 13's importer reads",
    ),
    "class definition with an expression": (
        "Object subclass: #Bar instanceVariableNames: 'a' , 'b' "
        "classVariableNames: '' package: 'X'!\n",
        1,
        "instanceVariableNames: needs a string literal",
    ),
}


@pytest.mark.parametrize("snippet, line, expected", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_snippet_is_caught(snippet: str, line: int, expected: str) -> None:
    problems = check(snippet)
    assert problems, "the mistake went unnoticed"
    assert any(expected in message and at == line for at, message in problems), problems


def test_instance_variables_come_from_definitions_and_known_classes() -> None:
    snippet = (
        "Foo subclass: #Baz instanceVariableNames: 'b' classVariableNames: '' package: 'X'!\n"
        + method("\t^ a + b", cls="Baz")  # a inherited from Foo, b its own
        + method("\t^ socketHandle", pattern="handle", cls="Socket")
        + method("\t^ socketHandel", pattern="typo", cls="Socket")
        + method("\t^ a", pattern="classSide", cls="Baz class")
    )
    problems = check(snippet)
    assert [message for _, message in problems] == [
        "undeclared variable socketHandel",
        "undeclared variable a",  # class-side methods do not see instance variables
    ]


def test_a_broken_pharo_file_is_caught_in_its_method(tmp_path: Path) -> None:
    source = (PHARO_DIR / "SQSocket-Pharo.st").read_text()
    # a typical slip: drop the closing bracket of addressForSocketPath:'s protected block
    closer = "protocol: SocketAddressInformation protocolUnspecified ]"
    assert source.count(closer) == 1
    broken = source.replace(closer, closer.removesuffix(" ]"))
    path = tmp_path / "SQSocket-Pharo.st"
    path.write_text(broken)
    problems = check_pharo_files([path])
    assert [p.message for p in problems] == ["syntax error: missing ']'"]
    lines = broken.splitlines()
    first = lines.index("addressForSocketPath: aPathString") + 1
    last = first + lines[first:].index("! !")
    assert first < problems[0].line <= last, problems  # inside the method, not elsewhere
    assert problems[0].path == str(path)
    assert problems[0].text == lines[problems[0].line - 1].strip()


def test_positions_count_escaped_bangs_and_wide_characters() -> None:
    # "!!" is one character of the chunk but two of the file; "é" is two bytes in UTF-8
    text = "Transcript show: 'é!!é'; show: qux!\n"
    problems = check_pharo_source(text, "x.st")
    assert [(p.line, p.column, p.message) for p in problems] == [
        (1, text.index("qux") + 1, "undeclared variable qux")
    ]
    assert (
        str(problems[0])
        == f"x.st:1:{text.index('qux') + 1}: undeclared variable qux: {text.strip()}"
    )


def test_chunks_follow_pharos_reader() -> None:
    declarations, errors = chunks.read_declarations(
        "1 + 1!\n!Foo class methodsFor: 'it''s'!\nbar\n\t^ '!!'\n! !\n"
        "!Foo commentStamp: 'x' prior: 0!\nA comment, not code!\n"
    )
    assert errors == []
    doit, method_source = declarations
    assert isinstance(doit, chunks.DoIt) and doit.chunk.text == "1 + 1"
    assert isinstance(method_source, chunks.MethodSource)
    assert (method_source.class_name, method_source.meta, method_source.protocol) == (
        "Foo",
        True,
        "it's",
    )
    assert method_source.chunk.text == "bar\n\t^ '!'\n"


def test_tonel_files_are_parsed_whole() -> None:
    good = (
        '"A class"\nClass {\n\t#name : #Foo,\n\t#superclass : #Object,\n'
        "\t#instVars : [ 'a' ],\n\t#package : 'X'\n}\n\n"
        "{ #category : 'accessing' }\nFoo >> a [\n\t^ a\n]\n\n"
        "{ #category : 'accessing' }\nFoo class >> new [\n\t^ super new initialize\n]\n"
    )
    assert check_pharo_source(good, "Foo.class.st") == []
    broken = good.replace("^ a\n", "^ (a\n")
    problems = check_pharo_source(broken, "Foo.class.st")
    assert problems and problems[0].line in (11, 12), problems


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.st"
    good.write_text("Transcript show: 'hi'; cr!\n")
    bad = tmp_path / "bad.st"
    bad.write_text("Transcript show: 'hi'; cr\n")
    assert main([str(good)]) == 0
    assert main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:1:1: chunk not terminated by '!'" in out
    assert "2 file(s), 1 problem(s)" in out
    assert main([str(tmp_path / "missing.st")]) == 2
    assert "not a file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_the_readme_command_runs_clean() -> None:
    # images/pharo/README.md: python -m sqsocket.pharo images/pharo/*.st
    files = [str(path.relative_to(REPO)) for path in ALL_SOURCES]
    proc = run_ok([sys.executable, "-m", "sqsocket.pharo", *files], cwd=REPO)
    assert proc.stdout.strip() == f"{len(files)} file(s), 0 problem(s)"
