"""A fault-injecting stream proxy for testing socket code against peers that misbehave.

``sqsocket proxy LISTEN UPSTREAM --fault ...`` on the command line; from Python::

    from sqsocket.proxy import Proxy, Slicer, Stall

    with Proxy("/tmp/echo.sock", faults=[Slicer(7, ms=5)]) as p:
        ...                       # connect to p.address instead of the server
        p.set_faults([Stall(direction="up")])   # any thread, while it runs

Unix-domain (paths, abstract names) and loopback TCP on either side, in any
combination. Modules, one job each: :mod:`~.faults` (the faults, as
dataclasses), :mod:`~.spec` (their ``--fault`` text), :mod:`~.timers`,
:mod:`~.link` (one proxied connection), :mod:`~.relay` (the :class:`Proxy`:
listener, loop, lifecycle), :mod:`~.dump` (the traffic dump), :mod:`~.cli`
(``sqsocket proxy``). What each fault does exactly: ``docs/proxy.md``.
"""

from sqsocket.proxy import faults

# Every public name of the faults module is the package's too: faults.__all__ is the
# one list of them.
from sqsocket.proxy.faults import *  # noqa: F403
from sqsocket.proxy.link import LinkInfo, LinkState, PipeInfo
from sqsocket.proxy.relay import DumpError, Proxy, ProxyStats, stream_address
from sqsocket.proxy.spec import parse_fault

__all__ = [
    "DumpError",
    "LinkInfo",
    "LinkState",
    "PipeInfo",
    "Proxy",
    "ProxyStats",
    "parse_fault",
    "stream_address",
]
__all__ += faults.__all__
