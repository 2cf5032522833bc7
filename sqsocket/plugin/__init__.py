"""The primitive entry points: what SocketPlugin.c does over sqUnixSocket.c.

:class:`SocketPlugin` has one method per exported primitive, named exactly as
the VM names it; :data:`PRIMITIVES` describes each (selector, argument kinds).
"""

from sqsocket.plugin.exports import EXPORTED_PRIMITIVES
from sqsocket.plugin.primitives import PRIMITIVES, PrimitiveSpec, SocketPlugin

__all__ = ["EXPORTED_PRIMITIVES", "PRIMITIVES", "PrimitiveSpec", "SocketPlugin"]
