"""How a benchmark peer process (rawserver, imageserver) starts: one argument, more descriptors.

The peers serve a thousand clients and more, so each raises its soft RLIMIT_NOFILE
to the hard limit before it listens.
"""

from __future__ import annotations

import sys

from sqsocket.bench.limits import raise_nofile_limit

__all__ = ["peer_argument"]


def peer_argument(argv: list[str] | None, usage: str) -> str | None:
    """The one command-line argument (``argv``, default ``sys.argv[1:]``), once the
    descriptor limit is raised; None, with ``usage: <usage>`` on stderr, for any
    other number of arguments (the caller then exits 2)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: {usage}", file=sys.stderr)
        return None
    raise_nofile_limit()
    return args[0]
