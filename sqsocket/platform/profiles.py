"""Emulator profiles: which build of sqUnixSocket.c, on which VM, to reproduce.

The emulator follows sqUnixSocket.c. The file changed over the years, and some of
what a VM does comes from how the C code meets the machine (a 64-bit ``u_long``, a
String that is not NUL-terminated, a stale ``errno``). A profile names a VM and
turns on exactly the behaviours that VM shows, so that under the profile the
conformance table against that VM has no differences (``sqsocket conformance``).
``docs/quirks.md`` explains each flag: what the VM does, why, in which C function.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

from sqsocket.vm.machine import EventModel


class OptionValueRule(Enum):
    """How sqSocketSetOptions... decides that an option value String is a number."""

    # squeak-4.10: only a 1-character value is a number (strtol of it); anything
    # longer is handed to setsockopt verbatim, as bytes.
    SINGLE_CHARACTER = "single-character"
    # 2013 and later (Eliot Miranda's fix): up to sizeof(int) characters that
    # strtol(.., 0) consumes entirely ('017' octal, '0x1f' hex).
    STRTOL_UP_TO_INT = "strtol-up-to-int"


# The 4.10 Unix VM is the classic Interpreter (source: Squeak-4.10.2.2614-src.tar.gz, the
# archive of the svn revision Debian packaged, checked against the Debian binary):
# - interp.c checkForInterrupts: `now >= nextPollTick` → ioProcessEvents, nextPollTick = now + 200;
#   forceInterruptCheck sets nextPollTick = 0, and signalSemaphoreWithIndex and the SIGIO
#   handler call it, so a signal or any I/O on an enabled descriptor makes the next check poll;
# - vm-display-null: ioProcessEvents = aioPoll(0); ioRelinquishProcessorForMicroseconds =
#   aioSleep(us), which in this build is aioPoll(us): select() for the idle process's 1 ms;
# - aio.c aioInit: signal(SIGIO, forceInterruptCheck); aioEnable sets O_ASYNC | F_SETOWN;
# - sqUnixMain.c initTimers: setitimer(ITIMER_REAL, 20 ms), SIGALRM with SA_RESTART, which
#   does not restart select(): the idle select() returns EINTR every 20 ms.
SQUEAK_4_10_EVENTS = EventModel(
    name="squeak-4.10",
    poll_interval=0.200,
    signal_forces_poll=True,
    sigio=True,
    sigio_forces_poll=True,
    interval_timer=0.020,
    source=(
        "4.10.2.2614 interp.c checkForInterrupts/forceInterruptCheck (nextPollTick + 200), "
        "aio.c aioInit/aioEnable (SIGIO, O_ASYNC), sqUnixMain.c initTimers (20 ms ITIMER_REAL)"
    ),
)

# Cog/Stack VMs (OpenSmalltalk; pharo-vm's StackInterpreter is the same here):
# StackInterpreter>>checkForEventsMayContextSwitch: polls when now >= nextPollUsecs and sets
# nextPollUsecs := now + 20000; forceInterruptCheck only smashes the stack limit (no poll);
# the heartbeat (sqUnixHeartbeat.c, 2 ms) is a thread and sends no signal; aio.c still sets
# O_ASYNC and installs a SIGIO handler, so SIGIO can interrupt the idle select().
COG_EVENTS = EventModel(
    name="cog",
    poll_interval=0.020,
    signal_forces_poll=False,
    sigio=True,
    sigio_forces_poll=False,
    interval_timer=None,
    source=(
        "VMMaker.oscog StackInterpreter>>checkForEventsMayContextSwitch: (nextPollUsecs + 20000); "
        "platforms/unix/vm/sqUnixHeartbeat.c (threaded 2 ms heartbeat); aio.c aioEnable (O_ASYNC)"
    ),
)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    # sqResolverGetAddressInfo...: ``stat(servName) && (st_mode & S_IFSOCK)`` is a
    # bit test, not a type test: S_IFSOCK (0140000) shares bits with S_IFREG
    # (0100000) and S_IFDIR (0040000), so regular files and directories pass too.
    local_lookup_mode_bit_test: bool = True
    # ... and that stat() is given the image's String, which is not NUL-terminated:
    # when the path fills its last object word exactly (length a multiple of the
    # image's word size), stat() reads the next object's header as more path and
    # fails, so the lookup finds nothing. None: the path is used as given.
    unterminated_path_word: int | None = 4
    # sqResolverLocalAddress: True = getifaddrs() and the first INET address of
    # eth0/wlan0 (the 2016 "experimental new code"); False = gethostbyname of the
    # host name (the older code).
    local_address_from_interfaces: bool = False
    # addrToName passes sizeof(u_long) as the address length to gethostbyaddr; on
    # a 64-bit VM that is 8, which glibc refuses for AF_INET: every address lookup fails.
    address_lookup_length: int = 8
    option_value_rule: OptionValueRule = OptionValueRule.SINGLE_CHARACTER
    # TCP_CORK, TCP_KEEPIDLE/INTVL/CNT joined socketOptions[] after 2012.
    extended_tcp_options: bool = False
    # Primitives this VM's SocketPlugin does not export: calling one fails, as a named
    # primitive the VM cannot find fails. The 2012 plugin has no raw sockets.
    missing_primitives: frozenset[str] = frozenset({"primitiveSocketCreateRAW"})
    # When the VM polls for I/O and what its idle sleep leaves in errno (the socket
    # error after end-of-file is whatever errno holds: sqsocket.vm.cruntime).
    events: EventModel = SQUEAK_4_10_EVENTS

    def flags(self) -> dict[str, object]:
        skip = {"name", "description"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


SQUEAK_4_10 = Profile(
    name="squeak-4.10",
    description=(
        "Debian's squeak-vm 1:4.10.2.2614+20120917 (SocketPlugin 30 July 2012), 64-bit, "
        "running a 32-bit image"
    ),
)

OPENSMALLTALK = Profile(
    name="opensmalltalk",
    description=(
        "the later sqUnixSocket.c (OpenSmalltalk, as in pharo5-vm): the 2013 option parsing, "
        "more TCP options, getifaddrs() for the local address"
    ),
    local_address_from_interfaces=True,
    option_value_rule=OptionValueRule.STRTOL_UP_TO_INT,
    extended_tcp_options=True,
    missing_primitives=frozenset(),
    events=COG_EVENTS,
)

# What sqUnixSocket.c means rather than what it does. No VM behaves so.
STRICT = Profile(
    name="strict",
    description="sqUnixSocket.c with its accidents fixed (no VM behaves exactly so)",
    local_lookup_mode_bit_test=False,
    unterminated_path_word=None,
    address_lookup_length=4,
    option_value_rule=OptionValueRule.STRTOL_UP_TO_INT,
    extended_tcp_options=True,
    missing_primitives=frozenset(),
    events=COG_EVENTS,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SQUEAK_4_10, OPENSMALLTALK, STRICT)}
DEFAULT_PROFILE = SQUEAK_4_10


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
