"""Descriptor limits: thousands of open sockets need more than the usual 1024."""

from __future__ import annotations

import resource

__all__ = ["nofile_limit", "raise_nofile_limit"]


def nofile_limit() -> tuple[int, int]:
    """The (soft, hard) RLIMIT_NOFILE of this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return int(soft), int(hard)


def raise_nofile_limit(wanted: int | None = None) -> int:
    """Raise the soft RLIMIT_NOFILE to ``wanted`` (default: the hard limit); answer it.

    Never above the hard limit (raising that needs privileges). Children started
    afterwards inherit the raised limit.
    """
    soft, hard = nofile_limit()
    ceiling = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    target = ceiling if wanted is None else min(max(wanted, soft), ceiling)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft
