"""Errors the Docker harness raises, each with a message that says what to do next."""

from __future__ import annotations

ENGINE_HINT = "no Docker engine: install docker.io and start dockerd --bridge=none --iptables=false"


def _with_tail(text: str, heading: str, tail: str) -> str:
    """``text``, then (when there is any) ``tail`` under a ``--- heading ---`` line."""
    return f"{text}\n--- {heading} ---\n{tail}" if tail else text


def first_line(exc: BaseException | str) -> str:
    """The first line of a message, for a table cell (the class name when it is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class DockerHarnessError(Exception):
    """Base class: anything that stops a Docker interop run."""


class DockerSDKMissing(DockerHarnessError):
    """The ``docker`` Python package (the ``sqsocket[docker]`` extra) is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "the Docker SDK for Python is not installed: pip install 'sqsocket[docker]'"
        )


class NoEngine(DockerHarnessError):
    """No Docker engine answered on the configured socket."""

    def __init__(self, cause: str = "") -> None:
        message = ENGINE_HINT if not cause else f"{ENGINE_HINT} ({cause})"
        super().__init__(message)
        self.cause = cause


class NoImage(DockerHarnessError):
    """An image the run needs is neither present nor buildable with what was given."""

    def __init__(self, image: str, hint: str) -> None:
        super().__init__(f"no image {image}: {hint}")
        self.image = image
        self.hint = hint


class BuildFailed(DockerHarnessError):
    """``docker build`` (or the debootstrap base build) failed; carries the log tail."""

    def __init__(self, what: str, reason: str, log_tail: str) -> None:
        text = f"build of {what} failed: {reason}"
        super().__init__(_with_tail(text, "last lines of the build log", log_tail))
        self.what = what
        self.reason = reason
        self.log_tail = log_tail

    @property
    def summary(self) -> str:
        """One line for a table: the log's last error-looking line, else the reason."""
        lines = [line.strip() for line in self.log_tail.splitlines() if line.strip()]
        errors = [line for line in lines if _looks_like_an_error(line)]
        best = errors[-1] if errors else self.reason
        return f"build of {self.what} failed: {best}"


def _looks_like_an_error(line: str) -> bool:
    # "Step 11/20 : RUN curl --show-error ..." echoes the command, not its outcome
    if line.startswith(("Step ", "--->")) or "see above" in line.lower():
        return False
    lowered = line.lower()
    markers = ("error", "fatal", "could not", "not found", "failed", "curl: (")
    # apt prints "E: ..." for its errors
    return line.startswith("E:") or any(marker in lowered for marker in markers)


class ContainerError(DockerHarnessError):
    """A container of ``image`` ended badly; ``output`` is all it wrote (kept in the message)."""

    def __init__(self, image: str, what_happened: str, output: str) -> None:
        super().__init__(_with_tail(f"container of {image} {what_happened}", "its output", output))
        self.image = image
        self.output = output


class ContainerTimeout(ContainerError):
    """A container ran past its time limit; it was killed and removed, its output is kept."""

    def __init__(self, image: str, seconds: float, output: str) -> None:
        super().__init__(image, f"still running after {seconds:.0f} s: killed", output)
        self.seconds = seconds


class ContainerFailed(ContainerError):
    """A container exited with a non-zero status."""

    def __init__(self, image: str, status: int, output: str) -> None:
        super().__init__(image, f"exited with status {status}", output)
        self.status = status
