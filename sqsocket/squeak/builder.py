"""Build the headless image: ``squeakjs.image`` in, ``sqsocket.image`` out.

Three edits make the Mini Squeak 2.2 image run under Debian's squeak-vm 4.10:

1. Every method on a numbered primitive that VM no longer has (File 150-163, 169;
   BitBlt 96) is re-made as a named primitive (117) with the same bytecodes (see
   :mod:`sqsocket.squeak.methods`). Without this, ``FileDirectory startUp`` fails,
   opens a Debugger, and under the null display the VM spins forever.
2. ``SystemDictionary>>startUp``, the last step of resuming a snapshot (after
   FileDirectory, Delay, InputSensor... start up), is replaced by
   ``(Compiler evaluate: <bootstrap.st>) value: <library>. self quitPrimitive``.
   The library is the text of ``prelude.st``, ``SocketPrims.st`` and ``Sockets.st``:
   the bootstrap compiles the prelude, whose ``SqBoot runWithLibrary:`` compiles the
   rest and then files in the script named on the command line. Sources are compiled
   at every start (about 0.1 s): the image keeps no compiled copy, so the image
   depends only on these texts.
3. The new objects (methods, strings, arrays) are appended after the last object; the
   image header's data size and hash seed follow.

The result depends only on the input bytes and the Smalltalk sources, so two builds
give the same sha256. The output keeps the input's byte order (the VM swaps on load).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sqsocket.squeak import paths
from sqsocket.squeak.heap import Heap
from sqsocket.squeak.imagefile import SPECIAL_CLASS_COMPILED_METHOD, SqueakImage
from sqsocket.squeak.methods import (
    NUMBERED_TO_NAMED,
    MethodHeader,
    MethodParts,
    append_method,
    read_method,
    rewrite_to_named_primitive,
)

# Bump when the builder's output changes for the same inputs (invalidates stamps).
BUILDER_VERSION = 1

BOOTSTRAP_FILE = "bootstrap.st"
# Compiled at every start, in this order, before the script; later files may use
# earlier ones.
LIBRARY_FILES: tuple[str, ...] = ("prelude.st", "SocketPrims.st", "Sockets.st")


class ImageBuildError(RuntimeError):
    """The input image is missing, corrupt, or not the one this builder understands."""


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build_image` wrote."""

    path: Path
    sha256: str
    size: int
    seconds: float
    rewritten: tuple[str, ...] = field(default=())  # "Class>>selector" of each rewrite


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_sources(source_dir: Path | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The bootstrap doIt and the (name, source) library files, as Latin-1 text."""
    folder = source_dir or paths.smalltalk_dir()

    def text(name: str) -> str:
        path = folder / name
        try:
            return path.read_text(encoding="latin-1")
        except FileNotFoundError:
            raise ImageBuildError(f"Smalltalk source missing: {path}") from None

    return text(BOOTSTRAP_FILE), [(name, text(name)) for name in LIBRARY_FILES]


def rewrite_numbered_primitives(image: SqueakImage, heap: Heap) -> list[str]:
    """Point every method dictionary slot holding a numbered File/BitBlt primitive at a
    named-primitive copy of that method; answer the ``Class>>selector`` names."""
    method_class = image.special(SPECIAL_CLASS_COMPILED_METHOD)
    done: list[str] = []
    for entry in list(heap.all_methods()):
        primitive = read_method(image, entry.method).header.primitive
        if primitive not in NUMBERED_TO_NAMED:
            continue
        module, function = NUMBERED_TO_NAMED[primitive]
        # One spec array per method: the VM caches its lookup in the array's last slots.
        spec = heap.new_named_primitive_spec(module, function)
        parts = rewrite_to_named_primitive(image, entry.method, spec)
        image.store(entry.array, entry.index, append_method(image, parts, method_class))
        done.append(f"{heap.class_name(entry.behavior)}>>{entry.selector}")
    return done


def install_startup(
    image: SqueakImage, heap: Heap, bootstrap: str, library: list[tuple[str, str]]
) -> None:
    """Replace ``SystemDictionary>>startUp`` with the bootstrap call.

    The new method is, in Smalltalk::

        startUp
            (Compiler evaluate: '<bootstrap.st>') value: #('prelude.st' '<source>' ...).
            self quitPrimitive

    ``Compiler evaluate:`` compiles without logging to a changes file (there is none);
    the bootstrap answers a one-argument block so the library sources reach it as
    objects rather than quoted inside its own source. ``quitPrimitive`` exits 0 should
    the bootstrap ever return.
    """
    entry = heap.method("SystemDictionary", "startUp")
    library_oops: list[int] = []
    for name, source in library:
        library_oops += [heap.new_string(name), heap.new_string(source)]
    literals = (
        heap.global_association("Compiler"),  # 0
        heap.new_string(bootstrap),  # 1
        heap.symbol("evaluate:"),  # 2
        heap.new_array(library_oops),  # 3
        heap.symbol("quitPrimitive"),  # 4
    )
    code = bytes(
        [
            0x40,  # push Compiler (literal variable 0)
            0x21,  # push the bootstrap source (literal 1)
            0xE2,  # send #evaluate: (literal 2, one argument)
            0x23,  # push the library array (literal 3)
            0xCA,  # send special selector #value:
            0x87,  # pop
            0x70,  # push self
            0xD4,  # send #quitPrimitive (literal 4, no arguments)
            0x87,  # pop
            0x78,  # return self
            0x00,  # trailer: no source pointer, no temp names
        ]
    )
    header = MethodHeader(
        primitive=0, num_literals=len(literals), large_frame=False, num_temps=0, num_args=0
    )
    method = append_method(
        image,
        MethodParts(header, literals, code),
        image.special(SPECIAL_CLASS_COMPILED_METHOD),
    )
    image.store(entry.array, entry.index, method)


def build_bytes(source_bytes: bytes, source_dir: Path | None = None) -> tuple[bytes, list[str]]:
    """The built image file for the given input image bytes (pure: no file access
    except reading the Smalltalk sources)."""
    try:
        image = SqueakImage.from_bytes(source_bytes)
    except ValueError as exc:
        raise ImageBuildError(f"cannot read the input image: {exc}") from exc
    heap = Heap(image)
    try:
        rewritten = rewrite_numbered_primitives(image, heap)
        bootstrap, library = read_sources(source_dir)
        install_startup(image, heap, bootstrap, library)
    except KeyError as exc:
        raise ImageBuildError(f"input image lacks something the builder needs: {exc}") from exc
    return image.to_bytes(), rewritten


def build_image(source: Path, dest: Path, source_dir: Path | None = None) -> BuildResult:
    """Read ``source``, write the headless image to ``dest`` (atomically) plus a stamp
    file ``dest.inputs`` that :func:`ensure_image` uses to notice stale builds."""
    started = time.perf_counter()
    try:
        source_bytes = source.read_bytes()
    except FileNotFoundError:
        raise ImageBuildError(f"input image not found: {source}") from None
    data, rewritten = build_bytes(source_bytes, source_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(dest, data)
    _atomic_write(
        stamp_path(dest),
        json.dumps(inputs_fingerprint(source_bytes, source_dir), sort_keys=True).encode(),
    )
    return BuildResult(
        path=dest,
        sha256=_sha256(data),
        size=len(data),
        seconds=time.perf_counter() - started,
        rewritten=tuple(rewritten),
    )


def _atomic_write(path: Path, data: bytes) -> None:
    # Readers (parallel test workers, a running VM) never see a half-written image.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stamp_path(image: Path) -> Path:
    return image.with_name(image.name + ".inputs")


def inputs_fingerprint(source_bytes: bytes, source_dir: Path | None = None) -> dict[str, str]:
    """Hashes of everything the build reads; equal fingerprints mean equal images."""
    folder = source_dir or paths.smalltalk_dir()
    result = {"builder": str(BUILDER_VERSION), "source_image": _sha256(source_bytes)}
    for name in (BOOTSTRAP_FILE, *LIBRARY_FILES):
        path = folder / name
        result[name] = _sha256(path.read_bytes()) if path.is_file() else "missing"
    return result


# ------------------------------------------------------------------ input image
def fetch_source_image(dest: Path | None = None, url: str = paths.SOURCE_IMAGE_URL) -> Path:
    """Download the pinned input image and check its sha256; answer its path."""
    target = dest or paths.download_cache_path()
    if target.is_file() and _sha256(target.read_bytes()) == paths.SOURCE_IMAGE_SHA256:
        return target
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise ImageBuildError(
            f"input image not found locally ({paths.default_source_image()}) and download "
            f"of {url} failed: {exc}. Copy squeakjs.image there, set SQSOCKET_SHARED, "
            "or pass --source."
        ) from exc
    digest = _sha256(data)
    if digest != paths.SOURCE_IMAGE_SHA256:
        raise ImageBuildError(
            f"downloaded {url} has sha256 {digest}, expected {paths.SOURCE_IMAGE_SHA256}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, data)
    return target


def locate_source_image(explicit: Path | None = None) -> Path:
    """``explicit``, else the shared copy, else a verified download."""
    if explicit is not None:
        if not explicit.is_file():
            raise ImageBuildError(f"input image not found: {explicit}")
        return explicit
    shared = paths.default_source_image()
    if shared.is_file():
        return shared
    return fetch_source_image()


def is_stale(image: Path, source: Path, source_dir: Path | None = None) -> bool:
    """True when ``image`` is missing or was built from other inputs."""
    stamp = stamp_path(image)
    if not image.is_file() or not stamp.is_file():
        return True
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return True
    return bool(recorded != inputs_fingerprint(source.read_bytes(), source_dir))


def ensure_image(
    dest: Path | None = None, source: Path | None = None, source_dir: Path | None = None
) -> Path:
    """The built image, (re)building it first when it is missing or stale."""
    target = dest or paths.default_image()
    input_image = locate_source_image(source)
    if is_stale(target, input_image, source_dir):
        build_image(input_image, target, source_dir)
    return target
