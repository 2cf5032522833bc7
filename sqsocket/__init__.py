"""sqsocket: an executable reference of the Squeak/Pharo VM SocketPlugin.

Layers, from the bottom up (the same split as the VM):

* :mod:`sqsocket.vm` -- the VM the plugin runs in: its event loop (where it polls
  for I/O: the periodic check and the idle process), the aio layer, errno and
  stderr of the VM process, the external-objects table of semaphores.
* :mod:`sqsocket.platform` -- the platform layer (``sqUnixSocket.c``): real
  sockets, the resolver, the connection-status state table.
* :mod:`sqsocket.plugin` -- the primitive entry points (``SocketPlugin.c``):
  argument checks, failure, one method per exported primitive.
* :mod:`sqsocket.image` -- an image-side layer (Socket, NetNameResolver,
  SocketAddress) written only on those primitives.
* :mod:`sqsocket.servers` -- Python peers: echo servers and friends.
* :mod:`sqsocket.squeak` / :mod:`sqsocket.interop` -- the real Squeak VM: image
  builder, runner, interop matrix and conformance diff.
"""

__version__ = "0.1.0"
