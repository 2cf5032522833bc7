"""The conformance scenarios on Pharo in the ``sqsocket/pharo`` container.

``sqsocket conformance --docker --pharo``: the image is built (or reused) as for the
interop pairs, then every scenario runs in one container through the docker command line
(:func:`sqsocket.interop.vm_run.docker_pharo_command`), against the same Python peers as
the emulator. The Pharo image needs internet to build (get.pharo.org), so on sqsocket's
machines this stops at the build with the reason: not verified here.
"""

from __future__ import annotations

from sqsocket.dockerharness.build import build_image
from sqsocket.dockerharness.contexts import pharo_context
from sqsocket.dockerharness.engine import connect, has_cli
from sqsocket.dockerharness.errors import DockerHarnessError, first_line
from sqsocket.interop.vm_run import VMCommand, VMUnavailable, docker_pharo_command


def pharo_container_command(base: str | None = None) -> VMCommand:
    """A :class:`VMCommand` for the Pharo container; :class:`VMUnavailable` says why not."""
    if not has_cli():
        raise VMUnavailable("no docker command-line client on PATH (it runs the container)")
    try:
        client = connect()
    except DockerHarnessError as exc:
        raise VMUnavailable(str(exc)) from None
    try:
        built = build_image(client, pharo_context(), base=base)
    except DockerHarnessError as exc:
        raise VMUnavailable(
            f"the Pharo image could not be had ({first_line(exc)}); it needs internet to build "
            "(get.pharo.org)"
        ) from None
    finally:
        client.close()
    return docker_pharo_command(built.tag)
