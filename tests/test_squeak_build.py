"""``sqsocket image build``: what it changes in the image, determinism, staleness, errors."""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
from pathlib import Path

import pytest
import squeak_support

from sqsocket.cli import main
from sqsocket.squeak import builder, paths
from sqsocket.squeak.disasm import describe_method
from sqsocket.squeak.heap import Heap
from sqsocket.squeak.imagefile import SqueakImage
from sqsocket.squeak.methods import (
    NUMBERED_TO_NAMED,
    PRIMITIVE_EXTERNAL_CALL,
    bytecode_end,
    iter_bytecodes,
    literal_index,
    read_method,
)


@pytest.fixture(scope="module")
def heaps(squeak_source_image: Path, squeak_image: Path) -> tuple[Heap, Heap]:
    """(input, built) as parsed images."""
    return (Heap(SqueakImage.read(squeak_source_image)), Heap(SqueakImage.read(squeak_image)))


def test_deterministic(squeak_source_image: Path, tmp_path: Path) -> None:
    first = builder.build_image(squeak_source_image, tmp_path / "a.image")
    second = builder.build_image(squeak_source_image, tmp_path / "b.image")
    assert first.sha256 == second.sha256
    assert (tmp_path / "a.image").read_bytes() == (tmp_path / "b.image").read_bytes()
    assert first.sha256 == hashlib.sha256((tmp_path / "a.image").read_bytes()).hexdigest()
    assert first.size == (tmp_path / "a.image").stat().st_size


def test_no_numbered_file_or_bitblt_primitive_left(heaps: tuple[Heap, Heap]) -> None:
    source, built = heaps
    before = {
        f"{source.class_name(e.behavior)}>>{e.selector}"
        for e in source.all_methods()
        if read_method(source.image, e.method).header.primitive in NUMBERED_TO_NAMED
    }
    assert "FileDirectory class>>primPathNameDelimiter" in before
    assert "BitBlt>>copyBits" in before
    left = [
        e.selector
        for e in built.all_methods()
        if read_method(built.image, e.method).header.primitive in NUMBERED_TO_NAMED
    ]
    assert left == []


def test_rewritten_methods_keep_their_meaning(heaps: tuple[Heap, Heap]) -> None:
    """Same header except primitive and literal count; literal 0 names the plugin
    function; every instruction refers to the same literal object as before."""
    source, built = heaps
    for entry in source.all_methods():
        old = read_method(source.image, entry.method)
        if old.header.primitive not in NUMBERED_TO_NAMED:
            continue
        new_entry = built.method(source.class_name(entry.behavior), entry.selector)
        new = read_method(built.image, new_entry.method)
        assert new.header.primitive == PRIMITIVE_EXTERNAL_CALL
        assert new.header.num_literals == old.header.num_literals + 1
        assert (new.header.num_args, new.header.num_temps, new.header.large_frame) == (
            old.header.num_args,
            old.header.num_temps,
            old.header.large_frame,
        )
        spec = built.image.fields(new.literals[0])
        module, function = NUMBERED_TO_NAMED[old.header.primitive]
        assert [built.image.bytes_of(spec[0]), built.image.bytes_of(spec[1])] == [
            module.encode(),
            function.encode(),
        ]
        assert new.literals[1:] == old.literals
        old_refs = [literal_index(i) for _, i in iter_bytecodes(old.code, bytecode_end(old.code))]
        new_refs = [literal_index(i) for _, i in iter_bytecodes(new.code, bytecode_end(new.code))]
        assert new_refs == [None if r is None else r + 1 for r in old_refs]
        assert new.code[bytecode_end(new.code) :] == old.code[bytecode_end(old.code) :]


def test_startup_calls_the_bootstrap(heaps: tuple[Heap, Heap]) -> None:
    _, built = heaps
    text = describe_method(built, "SystemDictionary", "startUp")
    assert "push var {#Compiler}" in text
    assert "send #evaluate: (1 args)" in text
    assert "send #value:" in text
    assert "send #quitPrimitive (0 args)" in text
    bootstrap = (paths.smalltalk_dir() / builder.BOOTSTRAP_FILE).read_text(encoding="latin-1")
    literals = read_method(built.image, built.method("SystemDictionary", "startUp").method).literals
    assert built.image.bytes_of(literals[1]).decode("latin-1") == bootstrap
    library = built.image.fields(literals[3])
    names = [built.image.bytes_of(oop).decode() for oop in library[0::2]]
    assert names == list(builder.LIBRARY_FILES)


def test_little_endian_input_builds(squeak_source_image: Path) -> None:
    """The builder writes the input's byte order; a swapped input gives the swapped output."""
    big_input = squeak_source_image.read_bytes()
    little_input = SqueakImage.from_bytes(big_input).to_bytes("little")
    big_built, _ = builder.build_bytes(big_input)
    little_built, _ = builder.build_bytes(little_input)
    assert SqueakImage.from_bytes(little_built).byteorder == "little"
    assert SqueakImage.from_bytes(little_built).to_bytes("big") == big_built


def test_ensure_image_rebuilds_only_when_stale(squeak_source_image: Path, tmp_path: Path) -> None:
    sources = tmp_path / "st"
    shutil.copytree(paths.smalltalk_dir(), sources)
    dest = tmp_path / "out" / "sqsocket.image"
    assert builder.is_stale(dest, squeak_source_image, sources)
    builder.ensure_image(dest, squeak_source_image, sources)
    assert dest.is_file()
    assert not builder.is_stale(dest, squeak_source_image, sources)
    stamp = dest.stat().st_mtime_ns
    builder.ensure_image(dest, squeak_source_image, sources)
    assert dest.stat().st_mtime_ns == stamp
    with (sources / "Sockets.st").open("a", encoding="latin-1") as extra:
        extra.write("\n")
    assert builder.is_stale(dest, squeak_source_image, sources)
    before = dest.read_bytes()
    builder.ensure_image(dest, squeak_source_image, sources)
    assert dest.read_bytes() != before


def test_missing_input_image_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(builder.ImageBuildError, match="input image not found"):
        builder.build_image(tmp_path / "nope.image", tmp_path / "out.image")
    with pytest.raises(builder.ImageBuildError, match="cannot read the input image"):
        builder.build_bytes(b"not an image at all")


def test_offline_download_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(builder.urllib.request, "urlopen", offline)
    with pytest.raises(builder.ImageBuildError, match="download of https://") as info:
        builder.fetch_source_image(tmp_path / "dl.image")
    assert "SQSOCKET_SHARED" in str(info.value)


def test_download_checks_the_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b"tampered"

    monkeypatch.setattr(builder.urllib.request, "urlopen", lambda *a, **k: Response())
    with pytest.raises(builder.ImageBuildError, match="sha256"):
        builder.fetch_source_image(tmp_path / "dl.image")
    assert not (tmp_path / "dl.image").exists()


def test_shared_copy_is_preferred(
    squeak_source_image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    (shared / "images").mkdir(parents=True)
    shutil.copy(squeak_source_image, shared / "images" / paths.SOURCE_IMAGE_NAME)
    monkeypatch.setenv("SQSOCKET_SHARED", str(shared))
    assert builder.locate_source_image() == shared / "images" / paths.SOURCE_IMAGE_NAME


def test_cli_build(
    squeak_source_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.image"
    assert main(["image", "build", "--source", str(squeak_source_image), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"sha256  {digest}" in printed
    assert f"size    {out.stat().st_size} bytes" in printed
    assert main(["image", "build", "--source", str(tmp_path / "missing.image")]) == 1
    assert "input image not found" in capsys.readouterr().err


def test_default_output_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SQSOCKET_IMAGE", str(tmp_path / "x.image"))
    assert paths.default_image() == tmp_path / "x.image"
    monkeypatch.delenv("SQSOCKET_IMAGE")
    assert paths.default_image() == paths.repo_root() / "var" / "squeak" / "sqsocket.image"


def test_missing_prerequisites_skip_locally_and_fail_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "find_vm", lambda explicit=None: None)
    monkeypatch.setattr(paths, "download_cache_path", lambda: tmp_path / "none.image")
    monkeypatch.setenv("SQSOCKET_SHARED", str(tmp_path))
    missing = paths.missing_requirements()
    assert missing[0] == "squeak-vm not installed: apt-get install squeak-vm"
    assert str(tmp_path / "images" / paths.SOURCE_IMAGE_NAME) in missing[1]
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and squeak-vm not installed"):
        squeak_support.require_vm()
    with pytest.raises(pytest.fail.Exception, match="input image"):
        squeak_support.require_source_image()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="apt-get install squeak-vm"):
        squeak_support.require_vm()
