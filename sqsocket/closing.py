"""A base for what is used in a ``with`` statement and closed on the way out."""

from __future__ import annotations

from typing import Self

__all__ = ["Closing"]


class Closing:
    """``with thing: ...`` answers the thing and calls its ``close()`` however the block ends.

    Subclasses define ``close()``; it must be safe to call twice.
    """

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
