"""Two emulated VMs in one process, each resolving with the old resolver on its own thread.

gethostbyname and gethostbyaddr answer a pointer into one static buffer of the
process: two plugins looking names up at once would read each other's answers, or
memory the other call freed (a crash). sqsocket/platform/libc.py makes every such
call and the copy of its answer under one process-wide lock. The lookups run in a
child process, so that a SIGSEGV fails this test instead of killing pytest.

Only /etc/hosts is asked: 'localhost', and 127.0.0.1 with the strict profile's
4-byte address length (squeak-4.10's 8 bytes always go to DNS: docs/quirks.md, 23);
and numeric names, one per thread, which glibc answers into the same static buffer
without asking anyone -- so that the two threads' answers differ.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(120)

LOOKUPS = 4000  # per thread, alternating names and addresses

CHILD = textwrap.dedent(
    """
    import sys, threading
    from sqsocket.plugin import SocketPlugin

    LOOKUPS = int(sys.argv[1])
    LOOPBACK = bytes([127, 0, 0, 1])
    # each thread its own numeric name too: the static answer differs between them
    NAMES = {"a": ("localhost", "127.0.0.10"), "b": ("127.0.0.200", "localhost")}
    failures = []
    start = threading.Barrier(2)

    def resolve(tag):
        with SocketPlugin(profile="strict") as plugin:
            plugin.primitiveInitializeNetwork(0)
            start.wait()
            for i in range(LOOKUPS):
                if i % 3:
                    name = NAMES[tag][i % 3 - 1]
                    plugin.primitiveResolverStartNameLookup(name)
                    got = (plugin.primitiveResolverNameLookupResult(),
                           plugin.primitiveResolverError())
                    dotted = "127.0.0.1" if name == "localhost" else name
                    want = (bytes(int(b) for b in dotted.split(".")), 0)
                else:
                    plugin.primitiveResolverStartAddressLookup(LOOPBACK)
                    got = (plugin.primitiveResolverAddressLookupResult(),
                           plugin.primitiveResolverError())
                    want = (b"localhost", 0)
                if got != want:
                    failures.append((tag, i, got))

    threads = [threading.Thread(target=resolve, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    print(f"lookups {2 * LOOKUPS} failures {len(failures)} {failures[:5]}")
    sys.exit(1 if failures or any(t.is_alive() for t in threads) else 0)
    """
)


def test_two_plugins_resolving_on_two_threads_always_answer_right() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(LOOKUPS)],
        capture_output=True,
        text=True,
        timeout=100,
    )
    if proc.returncode < 0:
        pytest.fail(f"the child died of {signal.Signals(-proc.returncode).name}: {proc.stderr}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"lookups {2 * LOOKUPS} failures 0" in proc.stdout
