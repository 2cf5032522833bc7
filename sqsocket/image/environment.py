"""The running image the network classes live in: its VM, its plugin and its class variables.

In Smalltalk, ``Socket newIPC`` needs no arguments because the classes are
globals of one running image, talking to the one VM under it. Here an
:class:`Image` stands for that image: it holds the emulated
:class:`~sqsocket.plugin.SocketPlugin` (and through it the VM's
external-objects table) plus the class variables NetNameResolver keeps
(``ResolverSemaphore``, ``ResolverMutex``, ``HaveNetwork``).

:meth:`Image.default` answers a lazily created image with its own plugin, so
``Socket.new_ipc()`` works as written in the workspace; tests and commands make
their own ``Image(SocketPlugin())`` and pass it as ``image=``.
"""

from __future__ import annotations

import atexit
import queue
import threading
from typing import ClassVar

from sqsocket import tracing
from sqsocket.closing import Closing
from sqsocket.errors import PrimitiveFailed
from sqsocket.image.exceptions import NoNetworkError, SocketPrimitiveFailed
from sqsocket.platform.constants import ResolverStatus
from sqsocket.plugin import SocketPlugin
from sqsocket.vm.machine import VirtualMachine
from sqsocket.vm.semaphores import Semaphore

__all__ = ["Image"]


class Image(Closing):
    """One image: a plugin to call primitives on and the network classes' shared state.

    ``owns_plugin`` (default: true when the image made the plugin itself) decides
    whether :meth:`close` shuts the plugin down, as quitting the VM would.
    """

    _default: ClassVar[Image | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, plugin: SocketPlugin | None = None, *, owns_plugin: bool | None = None):
        # a plugin made here is traced while a trace is active (sqsocket.tracing.tracing)
        self._plugin = plugin if plugin is not None else SocketPlugin(trace=tracing.ambient())
        # The image's methods call the plugin's primitives directly (typed, no lookup by
        # name); a failure is the image's SocketPrimitiveFailed, still a PrimitiveFailed.
        self._plugin.failure = SocketPrimitiveFailed
        self.owns_plugin = plugin is None if owns_plugin is None else owns_plugin
        # NetNameResolver's class variables.
        self.resolver_semaphore: Semaphore | None = None
        self.have_network = False
        # ResolverMutex / SocketAddressInformation's PrimitiveAccessProtect: the
        # plugin keeps resolver results between primitive calls, so a sequence of
        # calls (lookup, Size, Result) must not interleave with another process's.
        self.resolver_mutex = threading.RLock()
        self.closed = False
        # Socket>>finalize work the garbage collector queued (sqsocket.image.socket):
        # a handle to destroy and the semaphores to unregister. A SimpleQueue because
        # its put() is safe inside a collector callback, whatever lock this thread holds.
        self._finalization: queue.SimpleQueue[tuple[bytearray, tuple[Semaphore | None, ...]]]
        self._finalization = queue.SimpleQueue()

    # -- Smalltalk ----------------------------------------------------------------

    @property
    def plugin(self) -> SocketPlugin:
        """The SocketPlugin this image calls; every primitive call goes through here.

        The image's finalization point: Socket>>finalize work the collector queued
        runs before the primitive the caller is about to make (one ``empty()`` test
        when nothing is queued).
        """
        if not self._finalization.empty():
            self.finalize_pending()
        return self._plugin

    @property
    def vm(self) -> VirtualMachine:
        return self._plugin.vm

    def register_external_object(self, sema: Semaphore) -> int:
        """``Smalltalk registerExternalObject:``: the index the plugin signals."""
        return self.vm.external_objects.register(sema)

    def unregister_external_object(self, sema: Semaphore | None) -> None:
        """``Smalltalk unregisterExternalObject:`` (nil is ignored, as in the image)."""
        if sema is not None:
            self.vm.external_objects.unregister(sema)

    def new_semaphore(self, name: str = "") -> tuple[Semaphore, int]:
        """``Semaphore new`` registered as an external object: the semaphore and its index."""
        sema = Semaphore(name)
        return sema, self.register_external_object(sema)

    # -- the network ------------------------------------------------------------------

    def initialize_network(self) -> Image:
        """``NetNameResolver initializeNetwork``: register the resolver semaphore, start up.

        Does nothing when the resolver is already initialized (its status is not
        0). Answers the image. Here, not on NetNameResolver, because Socket and
        SocketAddress need it too and the state it keeps (``ResolverSemaphore``,
        ``HaveNetwork``) is this image's.
        """
        with self.resolver_mutex:
            if self.plugin.primitiveResolverStatus() != ResolverStatus.UNINITIALISED:
                self.have_network = True
                return self
            self.have_network = False
            # a semaphore left from an earlier session is of no use any more
            self.unregister_external_object(self.resolver_semaphore)
            sema, index = self.new_semaphore("ResolverSemaphore")
            self.resolver_semaphore = sema
            try:
                self.plugin.primitiveInitializeNetwork(index)
            except SocketPrimitiveFailed as exc:
                raise NoNetworkError(f"failed network initialization: {exc.reason}") from exc
            self.have_network = True
        return self

    # -- finalization -----------------------------------------------------------------

    def queue_finalization(
        self, handle: bytearray, semaphores: tuple[Semaphore | None, ...]
    ) -> None:
        """A Socket was collected undestroyed: destroy its handle at the next safe point.

        Called by the collector (a ``weakref.finalize`` callback), so it only queues:
        the collector may run inside a primitive, or while a lock is held.
        """
        self._finalization.put((handle, semaphores))

    def finalize_pending(self) -> int:
        """The finalization process: ``primSocketDestroyGently:`` each collected Socket's
        handle and unregister its semaphores. Answers how many were finalized.

        Runs at every primitive call from this image; call it to finalize at once.
        """
        done = 0
        while True:
            try:
                handle, semaphores = self._finalization.get_nowait()
            except queue.Empty:
                return done
            try:
                self._plugin.primitiveSocketDestroy(handle)
            except PrimitiveFailed:
                pass  # "gently": a handle the plugin no longer knows (its session ended)
            for sema in semaphores:
                self.unregister_external_object(sema)
            done += 1

    @property
    def session_id(self) -> int:
        """The plugin's network session (0 before ``initializeNetwork``); for traces only.

        The image never asks the plugin for it: it reads the session from the
        first four bytes of a socket handle or an address the plugin answered.
        """
        return self._plugin.session_id

    def has_socket_access(self) -> bool:
        """``primitiveHasSocketAccess`` (false if the primitive fails)."""
        try:
            return bool(self._plugin.primitiveHasSocketAccess())
        except PrimitiveFailed:
            return False

    # -- life cycle ----------------------------------------------------------------

    def close(self) -> None:
        """Quit: shut the plugin down if this image made it (every socket closes)."""
        if self.closed:
            return
        self.closed = True
        self.unregister_external_object(self.resolver_semaphore)
        self.resolver_semaphore = None
        self.have_network = False
        if self.owns_plugin:
            self._plugin.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"session {self._plugin.session_id}"
        return f"<Image {state}>"

    # -- the default image --------------------------------------------------------------

    @classmethod
    def default(cls) -> Image:
        """The image the classes use when no ``image=`` is given (made on first use)."""
        with cls._default_lock:
            if cls._default is None or cls._default.closed:
                cls._default = cls()
                # quitting the process quits the image: its sockets close
                atexit.register(cls._default.close)
            return cls._default

    @classmethod
    def set_default(cls, image: Image | None) -> Image | None:
        """Make ``image`` the default (None: make a fresh one next time); answer the old one."""
        with cls._default_lock:
            old, cls._default = cls._default, image
            return old

    @classmethod
    def resolve(cls, image: Image | None) -> Image:
        """``image`` itself, or the default image when it is None."""
        return image if image is not None else cls.default()
