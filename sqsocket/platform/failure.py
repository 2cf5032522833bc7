"""How the platform layer says ``interpreterProxy->success(false)``."""

from __future__ import annotations


class PlatformFailure(Exception):
    """The platform function made the primitive fail; the message says why.

    The plugin layer turns it into :class:`sqsocket.errors.PrimitiveFailed` with the
    primitive's name. Side effects made before the failure stay, as in the C code.
    """
