"""The clients of a load run: what each kind does and how many there are of each.

* **good** -- well-behaved churn: connect, echo 1 to 4 messages of random size
  (log-uniform from 1 byte to ``max_size``, 1 MiB by default) reading while it
  writes, check every byte, close, connect again. A good client that does not
  get its exact echo -- wrong bytes, an early close or reset, no progress for
  :data:`STALL_TIMEOUT` seconds, a failed connect -- is a **failure**.
* **abort** -- starts a large message and, at a random point, closes the
  connection mid-transfer: with an RST (SO_LINGER 0) or a plain close with
  unread echo waiting.
* **never-read** -- sends and sends and never reads, for one to five seconds,
  so that the server has to queue (and stop reading) for it; then closes.
* **victim** -- good and abort clients in processes that the runner SIGKILLs
  at random moments (and replaces), so that connections die mid-transfer
  without any close from the client's side.

Only good clients can fail; what happens to the others is counted, not judged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["STALL_TIMEOUT", "ClientKind", "Mix"]

#: Seconds a good client waits for any progress of its exchange before it fails.
STALL_TIMEOUT = 30.0


class ClientKind(enum.Enum):
    """What a client in a worker process does (see the module docstring); the value is
    its key in a worker's share of the mix."""

    GOOD = "good"
    ABORT = "abort"
    NEVER_READ = "never-read"


@dataclass(frozen=True)
class Mix:
    """How many clients of each kind one server gets (victims live in their own processes)."""

    good: int
    abort: int
    never_read: int
    victims: int

    @classmethod
    def for_clients(cls, clients: int) -> Mix:
        """70 % good, 10 % each of abort, never-read and victims (at least one good)."""
        abort = clients // 10
        never_read = clients // 10
        victims = clients // 10
        return cls(
            good=max(1, clients - abort - never_read - victims),
            abort=abort,
            never_read=never_read,
            victims=victims,
        )

    @property
    def total(self) -> int:
        return self.good + self.abort + self.never_read + self.victims

    def split(self, workers: int) -> list[dict[str, int]]:
        """The non-victim clients dealt out over ``workers`` processes, as evenly as can be."""
        shares: list[dict[str, int]] = [{} for _ in range(workers)]
        for kind, count in (
            (ClientKind.GOOD, self.good),
            (ClientKind.ABORT, self.abort),
            (ClientKind.NEVER_READ, self.never_read),
        ):
            for index in range(workers):
                shares[index][kind.value] = count // workers + (index < count % workers)
        return [share for share in shares if any(share.values())]
