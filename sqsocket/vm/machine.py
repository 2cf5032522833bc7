"""The emulated VM: one interpreter thread's model of when I/O is seen.

The real VM is one thread. The plugin's aio handlers run only where the
interpreter polls for I/O:

- the **periodic event check**: ``checkForInterrupts`` calls ``ioProcessEvents``
  (→ ``aioPoll(0)``) once the VM's poll interval has passed since the last call.
  Here that check runs at every primitive entry (:meth:`VirtualMachine.check_for_interrupts`).
- the **idle process**: when no Smalltalk process can run (every one waits on a
  Semaphore or a Delay), the idle process calls
  ``relinquishProcessorForMicroseconds:``, which sleeps in ``aioPoll(timeout)``
  until I/O is ready. Here a semaphore wait that is not yet signalled does that
  (:meth:`VirtualMachine.wait`), and so does :meth:`VirtualMachine.sleep` (a Delay).

So two primitive calls with no poll between them see the same state, as on the
VM. :class:`EventModel` says, per VM build, what the interval is and whether a
periodic timer signal interrupts the idle sleep (leaving EINTR in errno).

Several Python threads may use one VM (an image-side server with a worker per
client): primitives and handlers then take turns under :attr:`VirtualMachine.lock`,
and one waiting thread at a time polls on behalf of all of them. That is the only
concession to threads; nothing runs in the background.
"""

from __future__ import annotations

import errno as errnos
import math
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from sqsocket.vm.aio import Aio
from sqsocket.vm.cruntime import CRuntime, CStderr, StderrMode, StdoutKind
from sqsocket.vm.events import Observer, Polled, SemaphoreSignalled, VMEvent
from sqsocket.vm.semaphores import ExternalObjectsTable, Semaphore


@dataclass(frozen=True, kw_only=True)
class EventModel:
    """When a VM build polls for I/O, and what its signals do to that and to errno.

    - ``poll_interval``: seconds between two ``ioProcessEvents`` calls made by the
      periodic check (None: the check never polls by itself).
    - ``signal_forces_poll``: ``signalSemaphoreWithIndex`` calls ``forceInterruptCheck``,
      which also resets the poll timer, so the next check polls at once.
    - ``sigio``: ``aioEnable`` sets O_ASYNC on the descriptors it enables and the VM
      handles SIGIO; the signal interrupts an idle ``select()`` that was not waiting
      for that descriptor (EINTR).
    - ``sigio_forces_poll``: the SIGIO handler is ``forceInterruptCheck`` and that resets
      the poll timer (so I/O on any enabled descriptor makes the next check poll).
    - ``interval_timer``: period of an interval-timer signal (SIGALRM) that interrupts
      the idle sleep with EINTR (None: the heartbeat is a thread and sends no signal).
    - ``source``: the code each value comes from.
    - ``poll_errno``: the errno every ``aioPoll`` leaves behind, whatever it waited for
      (None: only a signal that interrupted the wait changes errno). pharo-vm's aio.c
      ends every poll by draining its wake-up pipe with a non-blocking ``read()`` until
      it fails with EAGAIN, before the ready handlers run.
    """

    name: str
    poll_interval: float | None
    source: str
    # a VM that sends itself no signals: what the profiles state explicitly
    signal_forces_poll: bool = False
    sigio: bool = False
    sigio_forces_poll: bool = False
    interval_timer: float | None = None
    poll_errno: int | None = None


#: A model for a VM nobody names: a 20 ms event check, no signals.
GENERIC_EVENT_MODEL = EventModel(name="generic", poll_interval=0.02, source="no particular VM")


class VirtualMachine:
    """The interpreter proxy, reduced to what the SocketPlugin uses, plus its event loop."""

    def __init__(
        self,
        events: EventModel = GENERIC_EVENT_MODEL,
        *,
        clock: Callable[[], float] = time.monotonic,
        stderr: StderrMode | None = None,
        stdout: StdoutKind | None = None,
    ) -> None:
        self.events = events
        self.clock = clock
        #: Primitives and aio handlers run holding this, as they run on one thread in the VM.
        self.lock = threading.RLock()
        self.external_objects = ExternalObjectsTable(self)
        self.aio = Aio(sigio=events.sigio)
        self.aio.lock = self.lock
        #: errno, stderr and stdout of the VM process (sqsocket.vm.cruntime).
        self.c = CRuntime(
            stderr=CStderr(mode=stderr or StderrMode.of_descriptor(2)),
            stdout=stdout or StdoutKind.of_descriptor(1),
        )
        self.started = clock()
        interval = events.poll_interval
        self._interval = math.inf if interval is None else interval
        self._next_poll = self.started + self._interval
        self._force_poll = False  # forceInterruptCheck() reset the poll timer
        self._signal_forces = events.signal_forces_poll
        self._sigio_forces = events.sigio_forces_poll
        self._observers: list[Observer] = []
        # one poller at a time; the others wait on their semaphore for a hand-off
        self._poll_mutex = threading.Lock()
        self._poller: int | None = None
        self._waiting: set[Semaphore] = set()
        self._waiting_lock = threading.Lock()
        self._handoffs = 0
        # Until a second thread waits, the hand-off bookkeeping is skipped (see wait()).
        self._waiter_thread: int | None = None
        self._shared = False
        self.polls = 0  # aioPoll calls (periodic and idle), for tests and benchmarks
        # a VM dropped without close() still gives its descriptors back
        self._finalizer = weakref.finalize(self, self.aio.close)

    # -- the interpreter proxy --------------------------------------------------------------

    def signal_semaphore_with_index(self, index: int) -> None:
        """``signalSemaphoreWithIndex(i)``: 0 and unknown indices are ignored."""
        if index <= 0:
            return
        sema = self.external_objects.at(index)
        if sema is None:
            return
        if self._signal_forces:
            self._force_poll = True
        if self._observers:
            self.emit(SemaphoreSignalled(self.now(), index, sema.name))
        sema.signal()

    def new_semaphore(self, name: str = "") -> tuple[Semaphore, int]:
        """``Semaphore new`` plus ``registerExternalObject:``: answer it and its index."""
        sema = Semaphore(name)
        return sema, self.external_objects.register(sema)

    # -- observers ------------------------------------------------------------------------------

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` with every :class:`~sqsocket.vm.events.VMEvent`; answer an undo."""
        self._observers.append(observer)

        def stop() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return stop

    @property
    def observed(self) -> bool:
        return bool(self._observers)

    def emit(self, event: VMEvent) -> None:
        for observer in tuple(self._observers):
            observer(event)

    def now(self) -> float:
        """Seconds since this VM started, on its clock."""
        return self.clock() - self.started

    # -- where the VM polls -----------------------------------------------------------------------

    def check_for_interrupts(self) -> None:
        """The periodic check: ``ioProcessEvents`` → ``aioPoll(0)`` when it is due.

        It is due once the poll interval has passed, or at once when the VM's
        ``forceInterruptCheck`` reset the timer (a semaphore signal, a SIGIO) on
        VMs whose model says so. Runs at every primitive entry, with the lock held.
        A SIGIO can matter only while a read or write interest is armed (otherwise
        the poll it forces runs no handler), so only then is the watch asked.
        """
        aio = self.aio
        aio.epoch += 1  # a poll waiting on another thread must look again
        if (
            self._force_poll
            or (self._sigio_forces and aio.armed_rw and aio.sigio_pending())
            or self.clock() >= self._next_poll
        ):
            self.poll_now()

    def poll_now(self) -> None:
        """``ioProcessEvents`` → ``aioPoll(0)``, and the poll timer set again."""
        self.polls += 1
        events = self.events
        if events.poll_errno is not None:
            # set before the handlers run, as the C code's drain of the pipe comes first
            self.c.errno = events.poll_errno
        ran = self.aio.poll(0)
        # after ioProcessEvents, checkForInterrupts sets nextPollTick := now + interval:
        # a semaphore signalled by a handler inside this very poll forces nothing more
        self._force_poll = False
        self._next_poll = self.clock() + self._interval
        if self._observers:
            self.emit(Polled(self.now(), False, 0.0, ran))

    def relinquish(self, timeout: float | None) -> int:
        """The idle process once: ``relinquishProcessorForMicroseconds:`` → ``aioPoll(timeout)``.

        Sleeps until an armed descriptor is ready, a semaphore is signalled from
        another thread, or ``timeout`` seconds (None: no limit) pass; runs the
        ready handlers; answers how many ran. A signal that interrupted the sleep
        -- the VM's interval timer, or SIGIO from a descriptor the sleep was not
        waiting for -- leaves EINTR in errno, as ``select()`` leaves it.
        """
        events = self.events
        start = self.clock()
        self.polls += 1
        drained = events.poll_errno
        if drained is not None:
            # the wait's own EINTR is overwritten by the drain that follows it, and the
            # handlers run after that: setting errno before the wait is the same here
            self.c.errno = drained
        ran = self.aio.poll(timeout)
        interrupted = False
        beat = None if drained is not None else events.interval_timer
        if beat:
            end = self.clock()
            interrupted = (end - self.started) // beat > (start - self.started) // beat
        if events.sigio:
            raised = self.aio.sigio_pending()
            if raised:
                # the handler ran (forceInterruptCheck): the next check polls again
                if self._sigio_forces:
                    self._force_poll = True
                if raised - self.aio.dispatched and drained is None:
                    interrupted = True
        if interrupted:
            self.c.errno = errnos.EINTR
        if self._observers:
            self.emit(Polled(self.now(), True, timeout, ran))
        return ran

    def sleep(self, seconds: float) -> None:
        """``(Delay forSeconds: seconds) wait``: the idle process runs until the time is up."""
        deadline = self.clock() + seconds
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return
            self._idle_for(None, remaining)

    def wait(self, sema: Semaphore, timeout: float | None) -> bool:
        """``sema wait`` (with a time-out): answer True once signalled, False on time-out.

        While the semaphore has no signal the idle process runs; with several
        threads, one of them polls and the others wait for its hand-off.
        """
        if sema.try_acquire():
            return True
        me = threading.get_ident()
        if not self._shared and self._waiter_thread != me:
            if self._waiter_thread is None:
                self._waiter_thread = me
            else:
                self._shared = True  # a second thread waits: hand-offs from now on
        clock = self.clock
        deadline = None if timeout is None else clock() + max(timeout, 0.0)
        while True:
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0:
                return sema.try_acquire()
            # one thread, as in the VM: it is the idle process
            if not self._shared and self._poll_mutex.acquire(blocking=False):
                try:
                    self._poller = me
                    self.relinquish(remaining)
                finally:
                    self._poller = None
                    self._poll_mutex.release()
                if self._shared:
                    self._hand_off()
                if sema.try_acquire():
                    return True
                continue
            if self._idle_for(sema, remaining):
                return True

    def _idle_for(self, sema: Semaphore | None, remaining: float | None) -> bool:
        """Poll once (or wait for the poller's hand-off); True if ``sema`` was taken."""
        with self._waiting_lock:
            if sema is not None:
                self._waiting.add(sema)
            handoffs = self._handoffs
        try:
            if self._poll_mutex.acquire(blocking=False):
                try:
                    self._poller = threading.get_ident()
                    if sema is not None and sema.try_acquire():
                        return True
                    self.relinquish(remaining)
                finally:
                    self._poller = None
                    self._poll_mutex.release()
                    self._hand_off()
                return sema is not None and sema.try_acquire()
            if sema is None:
                # a Delay on a second thread: sleep; the poller runs the handlers
                time.sleep(min(remaining or 0.01, 0.01))
                return False
            return sema.wait_plain(remaining, until=lambda: self._handoffs != handoffs)
        finally:
            if sema is not None:
                with self._waiting_lock:
                    self._waiting.discard(sema)

    def _hand_off(self) -> None:
        """The poller stopped polling: wake the other waiters so one of them takes over."""
        with self._waiting_lock:
            self._handoffs += 1
            waiting = tuple(self._waiting)
        for other in waiting:
            other.wake_waiter()

    # -- life cycle -----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """The VM quits: its aio layer's own descriptors are released."""
        self._finalizer()
