"""What a client column does, and where it does it.

Every client column (raw sockets, the emulator's primitives, the image layer,
the real VM) runs the same three workloads against an echo peer in another
process:

* **round trip** -- send ``size`` bytes, read until all ``size`` came back;
* **bulk** -- the same with 64 KiB or 1 MiB: all is sent before the echo is
  read, which the peers' per-connection queues (16 MiB) absorb;
* **connect + close** -- open a Unix-domain connection to the peer, close it.

An :class:`Endpoint` names the peer (a Unix path or a loopback TCP port); a
:class:`Client` runs ``count`` operations of a workload and answers the
elapsed seconds, so :mod:`sqsocket.bench.stats` can calibrate and repeat it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Client", "Endpoint", "Workload", "payload"]


class Workload(enum.Enum):
    """One of the three workloads every client column runs; the value names it in the
    progress line."""

    ROUND_TRIP = "round trip"
    BULK = "bulk"
    CONNECT = "connect + close"


@dataclass(frozen=True)
class Endpoint:
    """An echo peer: ``path`` for a Unix-domain socket, else ``port`` on 127.0.0.1."""

    path: str | None = None
    port: int | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.port is None):
            raise ValueError("an endpoint is a Unix path or a TCP port, not both or neither")

    @property
    def is_unix(self) -> bool:
        return self.path is not None

    @property
    def transport(self) -> str:
        return "UDS" if self.is_unix else "TCP"

    @property
    def spec(self) -> str:
        """``unix:PATH`` or ``tcp:127.0.0.1:PORT`` (what the VM scripts and C tools take)."""
        return f"unix:{self.path}" if self.path is not None else f"tcp:127.0.0.1:{self.port}"

    @classmethod
    def parse(cls, spec: str) -> Endpoint:
        """The endpoint a :attr:`spec` names (how the client processes get theirs);
        ValueError for anything else (only loopback TCP)."""
        if spec.startswith("unix:"):
            return cls(path=spec[5:])
        if spec.startswith("tcp:127.0.0.1:"):
            return cls(port=int(spec.rpartition(":")[2]))
        raise ValueError("ADDRESS is unix:PATH or tcp:127.0.0.1:PORT")


def payload(size: int) -> bytes:
    """``size`` bytes of lower-case letters: what every column sends (the VM's too)."""
    alphabet = bytes(range(ord("a"), ord("z") + 1))
    return (alphabet * (size // 26 + 1))[:size]


class Client(Protocol):
    """One column's client, connected to one endpoint (connect + close uses its own)."""

    def round_trips(self, count: int) -> float:
        """``count`` echo round trips of the connection's size; elapsed seconds."""
        ...

    def connects(self, count: int) -> float:
        """``count`` connect + close cycles to the endpoint; elapsed seconds."""
        ...

    def close(self) -> None: ...
