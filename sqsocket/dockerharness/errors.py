"""Errors the Docker harness raises, each with a message that says what to do next."""

from __future__ import annotations

ENGINE_HINT = "no Docker engine: install docker.io and start dockerd --bridge=none --iptables=false"


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
        if log_tail:
            text += "\n--- last lines of the build log ---\n" + log_tail
        super().__init__(text)
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


class ContainerTimeout(DockerHarnessError):
    """A container ran past its time limit; it was killed and removed, its output is kept."""

    def __init__(self, image: str, seconds: float, output: str) -> None:
        text = f"container of {image} still running after {seconds:.0f} s: killed"
        if output:
            text += "\n--- its output ---\n" + output
        super().__init__(text)
        self.image = image
        self.seconds = seconds
        self.output = output


class ContainerFailed(DockerHarnessError):
    """A container exited with a non-zero status."""

    def __init__(self, image: str, status: int, output: str) -> None:
        text = f"container of {image} exited with status {status}"
        if output:
            text += "\n--- its output ---\n" + output
        super().__init__(text)
        self.image = image
        self.status = status
        self.output = output
