"""``python -m sqsocket.servers echo --unix PATH``: the ``serve`` commands on their own.

Same as ``sqsocket serve ...``, without importing the rest of the command
surface -- handy in a slim container that only needs a peer.
"""

from __future__ import annotations

import argparse
import sys

from sqsocket.servers.cli import register


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` as ``sqsocket serve``'s arguments and run the chosen server."""
    parser = argparse.ArgumentParser(prog="python -m sqsocket.servers")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
