"""What is dropped without being closed is still given back.

- A :class:`~sqsocket.plugin.SocketPlugin` nobody closes releases its sockets and its
  VM's descriptors when it is collected, as the VM releases everything when it quits.
- An image :class:`~sqsocket.image.socket.Socket` nobody destroys is finalized as the
  image finalizes one (``Socket>>finalize``: destroy the handle gently, unregister the
  three semaphores). As in Squeak, where the finalization process runs after the
  garbage collector has signalled it, the work happens at the image's next safe point
  -- its next primitive call, or :meth:`Image.finalize_pending` -- never inside the
  collector, which may run while this thread holds the VM's or the table's lock.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from plugin_support import LOOPBACK, open_fds

from sqsocket.image import Image, NetNameResolver, Socket
from sqsocket.plugin import SocketPlugin

pytestmark = pytest.mark.timeout(60)

DROPPED = 300


def _fd_count() -> int:
    gc.collect()
    return len(open_fds())


def _make_and_drop_a_plugin() -> weakref.ref[SocketPlugin]:
    plugin = SocketPlugin()
    _resolver, index = plugin.vm.new_semaphore("resolver")
    plugin.primitiveInitializeNetwork(index)
    listener = plugin.primitiveSocketCreate3Semaphores(2, 0, 0, 0, 0, 0, 0)
    plugin.primitiveSocketListenOnPortBacklogInterface(listener, 0, 5, LOOPBACK)
    port = plugin.primitiveSocketLocalPort(listener)
    client = plugin.primitiveSocketCreate3Semaphores(2, 0, 0, 0, 0, 0, 0)
    plugin.primitiveSocketConnectToPort(client, LOOPBACK, port)
    plugin.primitiveSocketCreate3Semaphores(2, 1, 0, 0, 0, 0, 0)  # UDP: aio-enabled
    plugin.primitiveSocketCreate3Semaphores(1, 0, 0, 0, 0, 0, 0)  # a Unix socket, never used
    plugin.vm.relinquish(0.05)  # the accept handler parks the connection (one more fd)
    return weakref.ref(plugin)


def test_a_dropped_plugin_gives_every_descriptor_back() -> None:
    before = _fd_count()
    ref = _make_and_drop_a_plugin()
    gc.collect()
    assert ref() is None, "nothing keeps a dropped plugin alive"
    assert _fd_count() == before, "the plugin's sockets, epoll and wake-up pipe were released"


def _drop_sockets(image: Image) -> list[weakref.ref[Socket]]:
    made = []
    for i in range(DROPPED):
        kind = i % 3
        if kind == 0:
            s = Socket.new_tcp(image=image)
        elif kind == 1:
            s = Socket.new_udp(image=image)
        else:
            s = Socket.new_ipc(image=image)
        made.append(weakref.ref(s))
    return made


def test_dropped_image_sockets_are_finalized() -> None:
    with Image() as image:
        NetNameResolver.initialize_network(image=image)
        table = image.vm.external_objects
        fds, slots = _fd_count(), len(table)
        refs = _drop_sockets(image)
        gc.collect()
        assert all(r() is None for r in refs), "the finalizer keeps no Socket alive"
        # the image's next primitive is its finalization point
        assert NetNameResolver.resolver_status(image=image) == 1
        assert _fd_count() == fds, f"{DROPPED} dropped sockets kept their descriptors"
        assert len(table) == slots, f"{DROPPED} dropped sockets kept their 3 semaphore slots"


def test_finalization_waits_for_the_images_safe_point() -> None:
    """Collected while nothing runs: the work is queued, done by finalize_pending()."""
    with Image() as image:
        NetNameResolver.initialize_network(image=image)
        fds, slots = _fd_count(), len(image.vm.external_objects)
        Socket.new_tcp(image=image)  # dropped at once
        gc.collect()
        assert len(image.vm.external_objects) == slots + 3, "nothing ran inside the collector"
        assert image.finalize_pending() == 1
        assert (_fd_count(), len(image.vm.external_objects)) == (fds, slots)
        assert image.finalize_pending() == 0


def test_a_destroyed_socket_is_not_finalized_again() -> None:
    with Image() as image:
        s = Socket.new_tcp(image=image)
        s.destroy()
        del s
        gc.collect()
        assert image.finalize_pending() == 0


def test_sockets_dropped_after_their_image_closed_are_harmless() -> None:
    image = Image()
    s = Socket.new_tcp(image=image)
    image.close()  # every socket closes with the plugin
    del s
    gc.collect()
    assert image.finalize_pending() == 1  # the stale handle fails quietly
