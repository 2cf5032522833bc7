"""The one exception a primitive may raise."""

from __future__ import annotations


class PrimitiveFailed(Exception):
    """A primitive failed, as ``interpreterProxy->primitiveFail()`` makes it fail in the VM.

    In the image a failed primitive runs the method's fallback code (usually
    ``self primitiveFailed``); here the caller gets this exception, naming the
    primitive and the reason the plugin gave up.
    """

    def __init__(self, primitive: str, reason: str) -> None:
        super().__init__(f"{primitive} failed: {reason}")
        self.primitive = primitive
        self.reason = reason
