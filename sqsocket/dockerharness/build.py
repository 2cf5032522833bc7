"""Build an image from a :class:`~.contexts.BuildContext`, or reuse the one already built.

Images are tagged ``<repository>:ctx-<12 hex>``, a hash of the context's files, its
build arguments and the base image's id, so an unchanged context is never rebuilt
and a changed one never reuses a stale image. The newest build is also tagged
``<repository>:latest`` for ``compose.yaml``.

Builds run with ``network_mode="host"``: ``apt-get`` inside must reach Debian's
mirror and the engine here has no bridge network (``dockerd --bridge=none``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqsocket.dockerharness.base import BASE_IMAGE
from sqsocket.dockerharness.contexts import BuildContext
from sqsocket.dockerharness.engine import docker_sdk, image_exists
from sqsocket.dockerharness.errors import BuildFailed, NoImage

DEFAULT_BASE = "debian:bookworm-slim"
BUILD_TIMEOUT = 1200.0
LOG_TAIL_LINES = 40
CONTEXT_LABEL = "org.sqsocket.context"

REPOSITORIES = {
    "squeak": "sqsocket/squeak",
    "server": "sqsocket/server",
    "pharo": "sqsocket/pharo",
}

Log = Callable[[str], None]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class BuiltImage:
    """An image ready to run: its tag, whether it was built now, and how long that took."""

    tag: str
    built: bool
    seconds: float


def resolve_base(client: Any, base: str | None) -> str:
    """The base image to build on: ``base`` if given, else the local debootstrap base
    when the engine has it, else Debian's official image (which needs a registry)."""
    if base:
        if not image_exists(client, base):
            raise NoImage(
                base,
                "not in the engine; make it with `sqsocket docker base`"
                if base == BASE_IMAGE
                else "not in the engine and no registry to pull it from",
            )
        return base
    if image_exists(client, BASE_IMAGE):
        return BASE_IMAGE
    return DEFAULT_BASE


def build_image(
    client: Any,
    context: BuildContext,
    *,
    base: str | None = None,
    rebuild: bool = False,
    timeout: float = BUILD_TIMEOUT,
    log: Log | None = None,
) -> BuiltImage:
    """Answer an image for ``context``, building it only when no image has its hash."""
    started = time.monotonic()
    repository = REPOSITORIES.get(context.name, f"sqsocket/{context.name}")
    base_image = resolve_base(client, base)
    base_id = client.images.get(base_image).id if image_exists(client, base_image) else ""
    buildargs = {**context.buildargs, "BASE": base_image}
    digest = context.digest({"BASE": base_image, "BASE_ID": base_id})
    tag = f"{repository}:ctx-{digest[:12]}"
    if not rebuild and image_exists(client, tag):
        client.images.get(tag).tag(repository, "latest")
        return BuiltImage(tag, False, time.monotonic() - started)
    if log:
        log(f"building {tag} on {base_image}")
    lines = _run_build(client, context, tag, buildargs, digest, timeout, log)
    if not image_exists(client, tag):
        raise BuildFailed(tag, "the engine reported no error but made no image", _tail(lines))
    client.images.get(tag).tag(repository, "latest")
    prune_older(client, repository, keep=tag)
    return BuiltImage(tag, True, time.monotonic() - started)


def prune_older(client: Any, repository: str, keep: str) -> list[str]:
    """Untag (and so free) this repository's other ``ctx-*`` images; answer their tags.

    Every change to a context makes a new image; without this each edit of the
    sources would leave one more behind. An image still used by a container stays.
    """
    docker = docker_sdk()
    removed = []
    for image in client.images.list(name=repository):
        for tag in image.tags:
            if tag.startswith(f"{repository}:ctx-") and tag != keep:
                try:
                    client.images.remove(tag)
                except docker.errors.APIError:
                    continue  # in use, or already gone
                removed.append(tag)
    return removed


def _run_build(
    client: Any,
    context: BuildContext,
    tag: str,
    buildargs: dict[str, str],
    digest: str,
    timeout: float,
    log: Log | None,
) -> list[str]:
    docker = docker_sdk()
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    try:
        stream = client.api.build(
            fileobj=context.tarball(),
            custom_context=True,
            tag=tag,
            buildargs=buildargs,
            labels={CONTEXT_LABEL: digest},
            network_mode="host",
            pull=False,
            rm=True,
            forcerm=True,
            decode=True,
            # the longest silence allowed between two lines of build output
            timeout=int(max(60.0, min(timeout, 600.0))),
        )
        pending = ""
        for chunk in stream:
            # Output arrives in fragments (stderr even a character at a time, in colour):
            # join them, drop the colour codes, and cut at newlines.
            pending += _ANSI.sub("", str(chunk.get("stream") or chunk.get("status") or ""))
            *complete, pending = pending.split("\n")
            for line in complete:
                if line.strip():
                    lines.append(line.rstrip())
                    if log:
                        log(line.rstrip())
            if "error" in chunk or "errorDetail" in chunk:
                if pending.strip():
                    lines.append(pending.rstrip())
                detail = chunk.get("error") or chunk.get("errorDetail", {}).get("message", "")
                raise BuildFailed(tag, _explain(str(detail)), _tail(lines))
            if time.monotonic() > deadline:
                # Closing the stream makes the engine cancel the build.
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
                raise BuildFailed(tag, f"ran past {timeout:.0f} s", _tail(lines))
    except docker.errors.APIError as exc:
        raise BuildFailed(tag, _explain(str(exc)), _tail(lines)) from None
    except OSError as exc:  # requests' timeouts and connection errors are OSErrors
        raise BuildFailed(tag, f"lost the engine during the build: {exc}", _tail(lines)) from None
    if pending.strip():
        lines.append(pending.rstrip())
    return lines


def _explain(detail: str) -> str:
    lowered = detail.lower()
    if any(word in lowered for word in ("pull access", "dial tcp", "registry", "manifest")):
        return (
            f"{detail.strip()} -- no registry is reachable: make a local base with "
            "`sqsocket docker base` and build with --base sqsocket/base:bookworm"
        )
    return detail.strip()


def _tail(lines: list[str], count: int = LOG_TAIL_LINES) -> str:
    return "\n".join(lines[-count:])
