"""Run real Smalltalk VMs in Docker containers against sqsocket's Python peers.

Modules, each small:

* :mod:`.engine` -- the Docker SDK (an optional extra), imported lazily; the engine check.
* :mod:`.base` -- a debootstrap-made Debian base image for engines that cannot pull.
* :mod:`.contexts` -- build contexts (Dockerfile + files), hashed so images are reused.
* :mod:`.build` -- build an image from a context, or reuse the one already tagged.
* :mod:`.sockdir` -- the host directory bind-mounted at ``/sockets``: owner and mode.
* :mod:`.containers` -- run one container with a time limit; output kept on failure.
* :mod:`.peers` -- the Python side on the host: the echo server process, a UDS client.
* :mod:`.interop` -- the interop pairs, answered as rows for the interop matrix.
* :mod:`.cli` -- ``sqsocket docker base|build|run``.

Nothing here imports the Docker SDK at import time.
"""

from __future__ import annotations
