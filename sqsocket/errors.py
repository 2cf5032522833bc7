"""The exceptions that come out of the emulator: a primitive failure, or an emulator bug."""

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


class EmulatorError(Exception):
    """The emulator itself went wrong: a bug, never something the VM would do.

    Only argument and platform failures become :class:`PrimitiveFailed`; any other
    exception inside a primitive, or any exception inside an aio handler, is raised
    as this, so that a test or a conformance run fails instead of matching a real
    primitive failure by accident. The original exception is its ``__cause__``.
    """
