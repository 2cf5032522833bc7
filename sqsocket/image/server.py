"""A Unix-domain server written on the image side: it listens on a path and echoes.

This is the other half of the workspace example: Smalltalk as the *server*.
The resolver answers no address for a path with no socket behind it, so the
server builds the address itself (:meth:`SocketAddress.for_socket_path`),
binds (which creates the socket file) and listens -- all through the plugin.

* ``backlog > 1``: the listener stays; each connection is taken with the accept
  primitive (``primitiveSocketAccept3Semaphores``) and served by its own
  process (here: thread), so clients are served concurrently.
* ``backlog == 1``: the traditional Squeak listen: the first connection replaces
  the listener in place. The server serves it, then removes the socket file and
  listens again on a fresh socket, so clients are served one after another (a
  client arriving in between is refused).

Each process polls with a short timeout so :meth:`UnixServer.stop` is prompt.
The path follows the Python servers' rules (:mod:`sqsocket.servers.paths`): a
path someone listens on is refused -- found by a plain connect to it, not
through the image's resolver, which on squeak-4.10 cannot see a socket whose
path is 4n bytes long -- and a stale socket file is replaced; on stop the server
destroys its sockets and removes the socket file it made, and only that one (by
its inode), never a file someone else has put at the path since. The sockets
themselves are the plugin's: a real VM could be handed the same address bytes.
"""

from __future__ import annotations

import functools
import os
import stat
import threading
import time
from collections.abc import Callable

from sqsocket.image.environment import Image
from sqsocket.image.exceptions import InvalidSocketStatus, NetworkError
from sqsocket.image.socket import Socket
from sqsocket.servers.paths import (
    BoundPath,
    SocketPathError,
    probe_listener,
    unlink_examined_socket,
)

__all__ = ["UnixServer", "echo"]

Handler = Callable[[bytes], bytes]


def echo(data: bytes) -> bytes:
    """The default handler: answer what came."""
    return data


class UnixServer:
    """Serve ``path`` from the image: accept clients and answer each chunk with ``handler(chunk)``.

    ``poll`` is how often (seconds) blocked processes look at the stop flag;
    ``client_timeout`` drops a client silent for that long (None: never).
    """

    def __init__(
        self,
        path: str,
        backlog: int = 8,
        *,
        image: Image | None = None,
        handler: Handler = echo,
        poll: float = 0.05,
        client_timeout: float | None = 30.0,
        replace_stale: bool = True,
    ) -> None:
        if backlog < 1:
            raise ValueError(f"backlog must be at least 1, not {backlog}")
        self.path = path
        self.backlog = backlog
        self.image = Image.resolve(image)
        self.handler = handler
        self.poll = poll
        self.client_timeout = client_timeout
        self.replace_stale = replace_stale
        self.listener: Socket | None = None
        self.clients_served = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._bound: BoundPath | None = None  # the socket file this server created

    # -- set-up ----------------------------------------------------------------------

    def _prepare_path(self) -> None:
        """Refuse a path in use; remove a stale socket file (one nobody listens on)."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise NetworkError(f"{self.path} exists and is not a socket; not touching it")
        # A plain connect, not the image's resolver: squeak-4.10's cannot see a socket
        # at a 4n-byte path (quirk 1), and a live peer's file would be unlinked.
        try:
            if probe_listener(self.path):
                raise NetworkError(f"{self.path} is in use: a server answers there")
            if not self.replace_stale:
                raise NetworkError(f"{self.path} is a stale socket file (replace_stale is off)")
            unlink_examined_socket(self.path, st)
        except SocketPathError as exc:
            raise NetworkError(str(exc)) from exc

    def _listen(self) -> Socket:
        sock = Socket.listen_on_path(self.path, self.backlog, image=self.image)
        try:
            self._bound = BoundPath.of(self.path)  # bind created it: remember its inode
        except OSError:
            self._bound = None  # already gone: nothing of ours to remove later
        return sock

    def bind(self) -> UnixServer:
        """Create the socket file and listen (errors surface here, in the caller)."""
        if self.listener is None:
            self._prepare_path()
            self.listener = self._listen()
        return self

    def start(self) -> UnixServer:
        """Bind, then accept in a background process; answers once listening."""
        self.bind()
        if self._thread is None:
            target = self._serve_multi if self.backlog > 1 else self._serve_in_place
            self._thread = threading.Thread(
                target=self._guard(target), name=f"UnixServer({self.path})", daemon=True
            )
            self._thread.start()
        return self

    def _guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # kept for the owner: a thread cannot raise to it
                if not self._stop.is_set():
                    self.errors.append(exc)

        return run

    # -- serving ---------------------------------------------------------------------

    def _serve_multi(self) -> None:
        """backlog > 1: accept with the primitive; one process per client."""
        while not self._stop.is_set():
            listener = self.listener
            if listener is None:
                return
            client = listener.wait_for_accept_for(self.poll)
            if client is None:
                if not listener.is_valid:
                    raise InvalidSocketStatus("the listening socket became invalid")
                continue
            worker = threading.Thread(
                target=self._guard(functools.partial(self._serve_client, client)),
                name=f"UnixServer client {self.clients_served + 1}",
                daemon=True,
            )
            with self._lock:
                self.clients_served += 1
                self._workers = [w for w in self._workers if w.is_alive()]
                self._workers.append(worker)
            worker.start()

    def _serve_in_place(self) -> None:
        """backlog 1: the listener becomes the connection; serve it, then listen afresh."""
        while not self._stop.is_set():
            listener = self.listener
            if listener is None:
                return
            if not listener.wait_for_connection_for(self.poll, signal=False):
                if not listener.is_waiting_for_connection:
                    raise InvalidSocketStatus(f"the listener is {listener.status_string}")
                continue
            with self._lock:
                self.clients_served += 1
                self.listener = None
            # the connection closes the listening descriptor, but the file stays:
            # remove it so the next listener can bind the same path
            self._remove_file()
            try:
                self.listener = self._listen()
            finally:
                self._serve_client(listener)

    def _serve_client(self, client: Socket) -> None:
        try:
            while not self._stop.is_set():
                data = self._receive(client)
                if data is None:
                    break
                if data:
                    client.send_data(self.handler(data), timeout=self.client_timeout)
        finally:
            client.close_and_destroy(1.0)

    def _receive(self, client: Socket) -> bytes | None:
        """Data, ``b""`` while nothing came (keep polling), None when the client is gone."""
        silent_until = (
            None if self.client_timeout is None else time.monotonic() + self.client_timeout
        )
        while not self._stop.is_set():
            if client.data_available:
                return client.receive_some_data(size=65536)
            if not client.is_connected:
                return None
            if silent_until is not None and time.monotonic() >= silent_until:
                return None
            if client.read_semaphore is not None:
                client.read_semaphore.wait(self.poll)
        return None

    # -- stopping --------------------------------------------------------------------------

    def _remove_file(self) -> None:
        """Unlink the socket file this server created, if it is still that very file."""
        bound, self._bound = self._bound, None
        if bound is not None:
            bound.remove()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end every client process, destroy the sockets, remove the file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.destroy()
        self._remove_file()

    def __enter__(self) -> UnixServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<UnixServer {self.path} backlog {self.backlog}>"
