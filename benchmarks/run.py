"""``make bench``: the benchmark suite, ``sqsocket bench`` (sqsocket.bench).

A thin wrapper kept so that ``python benchmarks/run.py [ARGS]`` keeps working;
every argument is passed on (``--quick``, ``--long``, ``--json PATH``...; see
``sqsocket bench --help`` and docs/performance.md). Nothing here is a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqsocket.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
