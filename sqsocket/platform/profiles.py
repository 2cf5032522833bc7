"""Emulator profiles: which build of the Unix SocketPlugin, on which VM, to reproduce.

The emulator follows sqUnixSocket.c (pharo-vm: SocketPluginImpl.c, the same file
under another name). The file changed over the years, and some of what a VM does
comes from how the C code meets the machine (a 64-bit ``u_long``, a String that is
not NUL-terminated, a stale ``errno``). A profile names a VM and sets exactly the
behaviours that VM shows. Every flag of every profile carries a :class:`Source`:
the repository, commit, file and function its value was read from, and how it is
known (read in the source, measured by ``sqsocket conformance`` on the real VM,
described in a pull-request thread, or inferred). ``docs/quirks.md`` explains the
squeak-4.10 flags; ``docs/primitives.md`` (``sqsocket reference``) shows per
primitive which flags change it.

Only ``squeak-4.10`` runs here (Debian's ``squeak-vm``): its flags are checked by the
conformance scenarios. The other profiles are built from the sources and have never
been run against their VM on this machine (no Pharo or OpenSmalltalk VM can be had
here); ``sqsocket conformance --vm PATH --image IMAGE --dialect pharo`` runs the same
scenarios on a user's own VM.

Where the sources were read (pinned):

- pharo-vm: pharo-project/pharo-vm @ ``ecf29954a`` (branch pharo-10, 2024-10-16;
  pharo-12 has the same SocketPlugin tree), ``extracted/plugins/SocketPlugin/``.
  Later fixes (PR 1015 SendDone, PR 995 accept/close, PR 1092 epoll) are not in it.
- OpenSmalltalk: ``platforms/unix/plugins/SocketPlugin/sqUnixSocket.c`` @ ``144607df3``
  (2022-05-27), read in the fork lupyuen/opensmalltalk-vm-nuttx @ ``fd6781c21``, which
  holds only upstream commits for these files; plus PR 691 (2024-07) and PR 709
  (2025-03), known from their threads only: no copy of their code could be read.
- pharo5-vm: pharo-project/pharo5-vm @ ``14ca2bc90``, its copy of sqUnixSocket.c last
  changed by ``7db951663`` (2017-05-12): OpenSmalltalk of 2016-11-17 (``4bd2f7695``)
  plus TCP keepalive options.
- squeak-4.10: ``Squeak-4.10.2.2614-src.tar.gz`` (the svn revision Debian packaged),
  stored in paroq/pq-squeak-vm @ ``313e00d0d``, checked against the Debian binary.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from sqsocket.vm.machine import EventModel

# -- where a value comes from -------------------------------------------------------------


class Evidence(Enum):
    """How a flag's value is known."""

    MEASURED = "measured on the VM by the conformance scenarios"
    SOURCE = "read in the source"
    PR_THREAD = "described in a pull-request thread; the code itself was not read"
    INFERRED = "inferred from the source, not measured"
    INTENT = "what the code means (strict: no VM behaves exactly so)"


@dataclass(frozen=True)
class Source:
    """One citation: the code a flag's value comes from, and how that is known."""

    repository: str
    commit: str
    file: str
    function: str
    evidence: Evidence = Evidence.SOURCE
    note: str = ""
    #: conformance scenarios (sqsocket/interop/scenarios.py) that show it on the real VM
    scenarios: tuple[str, ...] = ()

    @property
    def short_commit(self) -> str:
        """The commit with its hash cut to 9 digits (what follows the hash is kept)."""
        head, _, tail = self.commit.partition(" ")
        if len(head) == 40 and all(c in "0123456789abcdef" for c in head):
            head = head[:9]
        return f"{head} {tail}" if tail else head

    def cite(self) -> str:
        """``repository @ commit, file: function`` (and the note)."""
        text = f"{self.repository} @ {self.short_commit}, {self.file}: {self.function}"
        return f"{text} ({self.note})" if self.note else text


# -- the enumerated flags --------------------------------------------------------------


class OptionValueRule(Enum):
    """How sqSocketSetOptions... decides that an option value String is a number."""

    # squeak-4.10: only a 1-character value is a number (strtol of it); anything
    # longer is handed to setsockopt verbatim, as bytes.
    SINGLE_CHARACTER = "single-character"
    # 2013 and later (Eliot Miranda's fix): up to sizeof(int) characters that
    # strtol(.., 0) consumes entirely ('017' octal, '0x1f' hex).
    STRTOL_UP_TO_INT = "strtol-up-to-int"


class ResolverChecks(Enum):
    """Where getAddressInfo checks family, type and protocol."""

    # one test before anything else: out of range fails, 0 (unspecified) is fine
    UP_FRONT = "up-front"
    # eb2d9e2d1 moved the checks into the switches that build the request, after the
    # LOCAL shortcut (which then takes any type or protocol); PR 709 let 0 pass again
    IN_SWITCH = "in-switch"
    # eb2d9e2d1 before PR 709: the switches have no case for 0, so type 0 or protocol 0
    # (unspecified) fails the primitive outside the LOCAL shortcut
    IN_SWITCH_UNSPECIFIED_FAILS = "in-switch-unspecified-fails"


class NameLookup(Enum):
    """What ``nameToAddr`` (StartNameLookup, the init-time host lookup) calls."""

    GETHOSTBYNAME = "gethostbyname"  # lastError = h_errno (1..4)
    GETADDRINFO = "getaddrinfo"  # lastError = the EAI code (negative); first AF_INET result


class LocalAddressRule(Enum):
    """How sqResolverLocalAddress picks this host's IPv4 address."""

    HOST_NAME = "host-name"  # nameToAddr(localHostName), which also sets lastError
    # getifaddrs(): the first AF_INET address of an interface named eth0 or wlan0,
    # in getifaddrs order (the 2015 "experimental new code"); none: 0.0.0.0
    ETH0_WLAN0 = "eth0-wlan0"
    # PR 458: the first AF_INET interface that is not loopback and has UP, BROADCAST
    # or RUNNING set (any one of them) and whose getnameinfo succeeds
    INTERFACE_FLAGS = "interface-flags"


class SendDoneRule(Enum):
    """What sqSocketSendDone answers for a Connected socket."""

    # writable now (a zero-timeout select); if not, arm dataHandler for writing
    SELECT_WRITABLE = "select-writable"
    # the sticky "notified of writability" flag (set by dataHandler's write callback,
    # cleared by every send), or writable now by poll(); if not, arm dataHandler
    POLL_OR_NOTIFIED = "poll-or-notified"
    # true, without looking and without arming anything (a send then answers 0
    # while the peer does not read: pharo-vm issue 939)
    CONNECTED = "true-while-connected"


class WouldBlockRule(Enum):
    """What dataHandler does when it was called to read but a peek would block."""

    CLOSE = "close"  # anything but 1 byte counts as closed: OtherEndClosed, READ signal
    IGNORE = "ignore"  # print "would block (why?)", state unchanged, READ signal
    REARM_SILENT = "rearm-silent"  # arm dataHandler for reading again, signal nothing


# -- event models -------------------------------------------------------------------------

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

# Cog/Stack VMs (OpenSmalltalk): StackInterpreter>>checkForEventsMayContextSwitch: polls
# when now >= nextPollUsecs and sets nextPollUsecs := now + 20000; forceInterruptCheck only
# smashes the stack limit (no poll); the heartbeat (sqUnixHeartbeat.c, 2 ms) is a thread and
# sends no signal; aio.c still sets O_ASYNC and installs a SIGIO handler, so SIGIO can
# interrupt the idle select().
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

# pharo5-vm's CMake builds (CMakeVMMaker CogUnixConfig) use sqUnixITimerHeartbeat.c with
# ITIMER_HEARTBEAT: SIGALRM every 2 ms, which interrupts the idle select() (EINTR), as
# 4.10's 20 ms timer does; the interpreter's poll rule is Cog's.
PHARO5_EVENTS = EventModel(
    name="cog-itimer",
    poll_interval=0.020,
    signal_forces_poll=False,
    sigio=True,
    sigio_forces_poll=False,
    interval_timer=0.002,
    source=(
        "pharo5-vm VMMaker.oscog StackInterpreter>>checkForEventsMayContextSwitch: (20 ms); "
        "CMakeVMMaker CogUnixConfig (sqUnixITimerHeartbeat.c, -DITIMER_HEARTBEAT=1: 2 ms SIGALRM)"
    ),
)

# pharo-vm: the same interpreter rule (StackInterpreter.class.st); the heartbeat
# (extracted/vm/src/common/heartbeat.c) is a thread and pauses while aioPoll waits; aio.c is
# epoll-based and every aio_handle_events ends with aio_flush_pipe(), a non-blocking read()
# of the wake-up pipe until EAGAIN: every poll leaves errno 11 before the handlers run.
PHARO_VM_EVENTS = EventModel(
    name="pharo-vm",
    poll_interval=0.020,
    signal_forces_poll=False,
    sigio=True,
    sigio_forces_poll=False,
    interval_timer=None,
    source=(
        "pharo-vm smalltalksrc/VMMaker/StackInterpreter.class.st checkForEventsMayContextSwitch: "
        "(20 ms); extracted/vm/src/common/heartbeat.c (thread); extracted/vm/src/unix/aio.c "
        "aio_handle_events → aio_flush_pipe (EAGAIN)"
    ),
    poll_errno=errno.EAGAIN,
)


# -- the profile ------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """One VM build: what it is, which VMs and images it stands for, and its flags.

    Every field after ``stands_for`` (and before ``sources``) is a flag; ``sources``
    maps each flag to the :class:`Source` its value comes from. Build profiles with
    :func:`profile`, which takes each flag as ``(value, Source)``.
    """

    name: str
    description: str
    stands_for: str
    # PrimitiveHasSocketAccess etc.: primitives this VM's SocketPlugin does not export:
    # calling one fails, as a named primitive the VM cannot find fails.
    missing_primitives: frozenset[str]
    # MAXHOSTNAMELEN (or FQDN_LEN): the longest host or service name getAddressInfo
    # takes, where StartNameLookup truncates, and (+1) the getnameinfo/gethostname buffers.
    max_name_length: int
    # getAddressInfo family LOCAL: the shortcut answers a path only if stat() finds it
    # (False: any path of 1..107 bytes, existing or not, since PR 691).
    local_lookup_stat: bool
    # ``stat(servName) && (st_mode & S_IFSOCK)`` is a bit test, not a type test: S_IFSOCK
    # (0140000) shares bits with S_IFREG (0100000) and S_IFDIR (0040000).
    local_lookup_mode_bit_test: bool
    # ... and that stat() is given the image's String, which is not NUL-terminated:
    # when the path fills its last object word exactly (length a multiple of the image's
    # word size), stat() reads the next object's header as more path and fails.
    # None: the path is used as given.
    unterminated_path_word: int | None
    resolver_checks: ResolverChecks
    # addrToName passes sizeof(u_long) as the address length to gethostbyaddr: 8 on a
    # 64-bit VM, which glibc refuses for AF_INET (every address lookup fails).
    address_lookup_length: int
    # sqNetworkInit looks the host name up (nameToAddr), which sets lastError.
    lookup_host_at_init: bool
    name_lookup: NameLookup
    # primitiveResolverNameLookupResult fails while lastError is not 0.
    name_lookup_result_fails_on_error: bool
    local_address_rule: LocalAddressRule
    option_value_rule: OptionValueRule
    # socketOptions[]: TCP_CORK (2012) and TCP_KEEPIDLE/INTVL/CNT (pharo5-vm's 2017 patch).
    tcp_cork_option: bool
    tcp_keepalive_options: bool
    # findOption copies the name into a 32-byte buffer (names of 32 bytes or more never
    # match; a NUL ends the name); False: strncmp over the whole name (no match then).
    option_name_buffer: bool
    send_done_rule: SendDoneRule
    data_handler_would_block: WouldBlockRule
    # closeHandler (a deferred close finished) also signals the read semaphore.
    close_handler_notifies_read: bool
    # After read() == 0 (and a 0-byte send or datagram) the socket error is errno, which
    # holds whatever the last failing call left; False: 0 (err is only read when n < 0).
    eof_error_from_errno: bool
    # The plugin reports errors with perror() and fprintf(stderr, ...): a failed connect
    # calls perror() before it reads errno, and glibc's perror can change errno (quirk
    # 18). False: a logger that prints nothing at its default level (pharo-vm).
    stderr_messages: bool
    # When the VM polls for I/O and what its idle sleep leaves in errno.
    events: EventModel
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False, repr=False)

    def flags(self) -> dict[str, object]:
        """Every flag and its value, in declaration order."""
        return {name: getattr(self, name) for name in flag_names()}

    def source(self, flag: str) -> Source:
        """Where this profile's value of ``flag`` comes from."""
        return self.sources[flag]


_NOT_FLAGS = frozenset({"name", "description", "stands_for", "sources"})


def flag_names() -> tuple[str, ...]:
    """The flag fields of :class:`Profile`, in declaration order."""
    return tuple(f.name for f in fields(Profile) if f.name not in _NOT_FLAGS)


def profile(name: str, description: str, stands_for: str, **flags: tuple[Any, Source]) -> Profile:
    """A :class:`Profile` from ``flag=(value, Source)`` pairs: no flag without its source."""
    unknown = set(flags) - set(flag_names())
    missing = set(flag_names()) - set(flags)
    if unknown or missing:
        raise TypeError(
            f"profile {name}: unknown flags {sorted(unknown)}, missing {sorted(missing)}"
        )
    values = {key: value for key, (value, _source) in flags.items()}
    sources = {key: source for key, (_value, source) in flags.items()}
    return Profile(
        name=name, description=description, stands_for=stands_for, sources=sources, **values
    )


# -- citations, per code base ---------------------------------------------------------------

SQ410_REPO = "Squeak-4.10.2.2614-src.tar.gz in paroq/pq-squeak-vm"
SQ410_COMMIT = "313e00d0d159cab70c6e5731937828fcf1622172"
SQ410_SOCKET = "unix/plugins/SocketPlugin/sqUnixSocket.c"

PHARO_VM_REPO = "pharo-project/pharo-vm"
PHARO_VM_PIN = "ecf29954a6814e6b5012db219d1f9910bd59f80a"
PHARO_VM_SOCKET = "extracted/plugins/SocketPlugin/src/common/SocketPluginImpl.c"

OSVM_REPO = "OpenSmalltalk/opensmalltalk-vm"
OSVM_PIN = "144607df34b6653436907470ae313155e942f883"
OSVM_SOCKET = "platforms/unix/plugins/SocketPlugin/sqUnixSocket.c"

PHARO5_REPO = "pharo-project/pharo5-vm"
PHARO5_PIN = "14ca2bc90dd8b87e58dcbc788dc8ace26436c5d9"
PHARO5_SOCKET = "opensmalltalk-vm/platforms/unix/plugins/SocketPlugin/sqUnixSocket.c"

SQ410_EXPORTS_TEST = "tests/test_plugin_exports.py reads the exports out of the squeakvm binary"


def _sq(function: str, *scenarios: str, file: str = SQ410_SOCKET, note: str = "") -> Source:
    """squeak-4.10: read in the 4.10 sources; measured when scenarios show it."""
    evidence = Evidence.MEASURED if scenarios else Evidence.SOURCE
    return Source(SQ410_REPO, SQ410_COMMIT, file, function, evidence, note, scenarios)


@dataclass(frozen=True)
class _Tree:
    """A source tree profiles cite: ``tree(function, ...)`` is one :class:`Source` in it.

    The commit and file default to the tree's pin and its sqUnixSocket.c.
    """

    repository: str
    pin: str
    file: str

    def __call__(
        self,
        function: str,
        commit: str | None = None,
        file: str | None = None,
        note: str = "",
        evidence: Evidence = Evidence.SOURCE,
    ) -> Source:
        return Source(
            self.repository, commit or self.pin, file or self.file, function, evidence, note
        )


_pvm = _Tree(PHARO_VM_REPO, PHARO_VM_PIN, PHARO_VM_SOCKET)
_os = _Tree(OSVM_REPO, OSVM_PIN, OSVM_SOCKET)
_p5 = _Tree(PHARO5_REPO, PHARO5_PIN, PHARO5_SOCKET)


def _intent(function: str, note: str) -> Source:
    """strict: the OpenSmalltalk code whose accident the value fixes."""
    return Source(OSVM_REPO, OSVM_PIN, OSVM_SOCKET, function, Evidence.INTENT, note)


PR_691 = "144607df3 + PR 691 (merged 2024-07)"
PR_709 = "eb2d9e2d1e2ef377857ca1b60c5d228b1f60b30a + PR 709 (merged 2025-03)"
GAI = "sqResolverGetAddressInfoHostSizeServiceSizeFlagsFamilyTypeProtocol"
OSVM_EXPORTS = _os(
    "SocketPlugin_exports[] (62 primitives)",
    commit="5a9222cd164d368885105edb95c7a29eab08081c",
    file="src/plugins/SocketPlugin/SocketPlugin.c",
    note="VMMaker.oscog-eem.3275",
)

# -- the profiles ---------------------------------------------------------------------------

SQUEAK_4_10 = profile(
    "squeak-4.10",
    "Debian's squeak-vm 1:4.10.2.2614+20120917 (SocketPlugin 30 July 2012), the classic "
    "Interpreter VM, 64-bit, running a 32-bit image",
    "Debian's and Ubuntu's squeak-vm package, with 32-bit (V3) images such as Squeak 2.x-4.x; "
    "the VM sqsocket conformance runs here (0 differences)",
    missing_primitives=(
        frozenset({"primitiveSocketCreateRAW"}),
        _sq("SocketPlugin exports", "create-raw", note=SQ410_EXPORTS_TEST),
    ),
    max_name_length=(
        64,
        _sq(GAI, "resolve-path-64", "resolve-path-65", note="glibc MAXHOSTNAMELEN"),
    ),
    local_lookup_stat=(True, _sq(GAI, "resolve-missing-path", "resolve-socket-path")),
    local_lookup_mode_bit_test=(
        True,
        _sq(GAI, "resolve-regular-file", "resolve-directory", "connect-regular-file"),
    ),
    unterminated_path_word=(
        4,
        _sq(
            GAI, "resolve-path-40", "resolve-path-41", "resolve-path-with-nul", note="32-bit image"
        ),
    ),
    resolver_checks=(ResolverChecks.UP_FRONT, _sq(GAI, "resolve-bad-arguments")),
    address_lookup_length=(8, _sq("addrToName", "old-resolver-localhost", note="u_long nAddr")),
    lookup_host_at_init=(True, _sq("sqNetworkInit")),
    name_lookup=(NameLookup.GETHOSTBYNAME, _sq("nameToAddr", "old-resolver-unknown-name")),
    name_lookup_result_fails_on_error=(
        False,
        _sq("sqResolverNameLookupResult", "old-resolver-unknown-name"),
    ),
    local_address_rule=(
        LocalAddressRule.HOST_NAME,
        _sq("sqResolverLocalAddress", "old-resolver-local-address"),
    ),
    option_value_rule=(
        OptionValueRule.SINGLE_CHARACTER,
        _sq("sqSocketSetOptions...returnedValue", "options"),
    ),
    tcp_cork_option=(False, _sq("socketOptions[]", "options")),
    tcp_keepalive_options=(False, _sq("socketOptions[]")),
    option_name_buffer=(True, _sq("findOption", note="char buf[32]")),
    send_done_rule=(
        SendDoneRule.SELECT_WRITABLE,
        _sq("sqSocketSendDone / socketWritable", "connect-full-backlog"),
    ),
    data_handler_would_block=(WouldBlockRule.CLOSE, _sq("dataHandler", "peer-close-aio")),
    close_handler_notifies_read=(False, _sq("closeHandler", note="close() never defers on Linux")),
    eof_error_from_errno=(
        True,
        _sq(
            "sqSocketReceiveDataBufCount / sqSocketSendDataBufCount",
            "peer-close-read",
            "peer-close-after-idle",
            "send-zero-bytes",
        ),
    ),
    stderr_messages=(
        True,
        _sq("sqSocketConnectToAddressSize (perror)", "connect-refused-first-perror"),
    ),
    events=(
        SQUEAK_4_10_EVENTS,
        _sq(
            "checkForInterrupts / forceInterruptCheck; aioInit; initTimers",
            "listen-status-after-peer-connect",
            "listen-two-queued-then-accept",
            "peer-close-after-idle",
            file="unix/src/vm/interp.c, unix/vm/aio.c, unix/vm/sqUnixMain.c",
        ),
    ),
)

PHARO5_VM = profile(
    "pharo5-vm",
    "pharo-project/pharo5-vm's OpenSmalltalk (sqUnixSocket.c of 2016-11-17 plus the 2017 "
    "TCP keepalive patch), Cog/Spur with the interval-timer heartbeat; a 64-bit image",
    "the Cog VMs Pharo 5 to 8 images ran on (2016-2020): pharo5-vm's own builds, and "
    "OpenSmalltalk builds of Nov 2016 to Sep 2019, whose sqUnixSocket.c differs only by "
    "lacking the keepalive options (no other change of behaviour between 4bd2f7695 and "
    "3023fbc21); Pharo 9's VM already came from pharo-vm (v9.0.0, 2021-07). Built from "
    "the sources, not run here",
    missing_primitives=(
        frozenset(),
        _p5(
            "SocketPlugin_exports[] (62 primitives)",
            file="opensmalltalk-vm/src/plugins/SocketPlugin/SocketPlugin.c",
            note="VMMaker.oscog-eem.2293",
        ),
    ),
    max_name_length=(64, _p5(GAI, note="MAXHOSTNAMELEN from <sys/param.h>: 64 on glibc")),
    local_lookup_stat=(True, _p5(GAI)),
    local_lookup_mode_bit_test=(True, _p5(GAI, note="st_mode & S_IFSOCK")),
    unterminated_path_word=(
        8,
        _p5(
            GAI,
            note="stat(servName): 8-byte slots of a 64-bit Spur image; a 32-bit Spur image differs",
            evidence=Evidence.INFERRED,
        ),
    ),
    resolver_checks=(ResolverChecks.UP_FRONT, _p5(GAI)),
    address_lookup_length=(8, _p5("addrToName", note="u_long nAddr")),
    lookup_host_at_init=(True, _p5("sqNetworkInit")),
    name_lookup=(NameLookup.GETHOSTBYNAME, _p5("nameToAddr")),
    name_lookup_result_fails_on_error=(False, _p5("sqResolverNameLookupResult")),
    local_address_rule=(
        LocalAddressRule.ETH0_WLAN0,
        _p5("sqResolverLocalAddress", commit="3ff4dbbf7b33a7cbed75467808b3bd58aa599ad3"),
    ),
    option_value_rule=(
        OptionValueRule.STRTOL_UP_TO_INT,
        _p5("sqSocketSetOptions...", commit="d094446fedc892cca6a39b626c46742b758af4a6"),
    ),
    tcp_cork_option=(True, _p5("socketOptions[]", note="#ifdef TCP_CORK")),
    tcp_keepalive_options=(
        True,
        _p5("socketOptions[]", commit="7db9516636a48724a6e411b1360cdd846b7e00b6"),
    ),
    option_name_buffer=(True, _p5("findOption", note="char buf[32]")),
    send_done_rule=(SendDoneRule.SELECT_WRITABLE, _p5("sqSocketSendDone / socketWritable")),
    data_handler_would_block=(WouldBlockRule.CLOSE, _p5("dataHandler", note="n != 1")),
    close_handler_notifies_read=(False, _p5("closeHandler")),
    eof_error_from_errno=(
        True,
        _p5(
            "sqSocketReceiveDataBufCount",
            note="SOCKETERROR(s)= errno after read() <= 0; likely EINTR from the 2 ms SIGALRM",
        ),
    ),
    stderr_messages=(True, _p5("sqSocketConnectToAddressSize (perror)")),
    events=(
        PHARO5_EVENTS,
        _p5(
            "CogUnixConfig>>compilerFlags / defaultInternalPlugins",
            file="mc/CMakeVMMaker.package/CogUnixConfig.class",
            note="sqUnixITimerHeartbeat.c; StackInterpreter>>checkForEventsMayContextSwitch:",
            evidence=Evidence.INFERRED,
        ),
    ),
)

OPENSMALLTALK_2022 = profile(
    "opensmalltalk-2022",
    "OpenSmalltalk's sqUnixSocket.c @ 144607df3 (2022-05-27) as it is, before PR 691 and "
    "PR 709; Cog/Spur, threaded heartbeat, a 64-bit image",
    "OpenSmalltalk VMs built from October 2020 to March 2025 (Squeak 6.0-era builds): "
    "type 0 or protocol 0 makes getAddressInfo fail; built from the sources, not run here",
    missing_primitives=(frozenset(), OSVM_EXPORTS),
    max_name_length=(
        253,
        _os(GAI, commit="ebc591451379bd007c2d7eca89d747fc024b76d0", note="FQDN_LEN"),
    ),
    local_lookup_stat=(True, _os(GAI)),
    local_lookup_mode_bit_test=(True, _os(GAI, note="st_mode & S_IFSOCK")),
    unterminated_path_word=(
        8,
        _os(GAI, note="stat(servName) in a 64-bit image", evidence=Evidence.INFERRED),
    ),
    resolver_checks=(
        ResolverChecks.IN_SWITCH_UNSPECIFIED_FAILS,
        _os(GAI, commit="eb2d9e2d1e2ef377857ca1b60c5d228b1f60b30a", note="default: goto fail"),
    ),
    address_lookup_length=(
        4,
        _os("addrToName", commit="3023fbc2159243caf351b3aa9f02434c37fbaea5", note="uint32_t"),
    ),
    lookup_host_at_init=(True, _os("sqNetworkInit")),
    name_lookup=(NameLookup.GETHOSTBYNAME, _os("nameToAddr")),
    name_lookup_result_fails_on_error=(False, _os("sqResolverNameLookupResult")),
    local_address_rule=(
        LocalAddressRule.INTERFACE_FLAGS,
        _os(
            "sqResolverLocalAddress",
            commit="0a17d73640e258b8d12aae078c90aec459f69c17",
            note="PR 458",
        ),
    ),
    option_value_rule=(
        OptionValueRule.STRTOL_UP_TO_INT,
        _os("sqSocketSetOptions...", commit="d094446fedc892cca6a39b626c46742b758af4a6"),
    ),
    tcp_cork_option=(
        True,
        _os("socketOptions[]", commit="f46d6a38aad4f8030cf6cf17e45584faebd221b5"),
    ),
    tcp_keepalive_options=(False, _os("socketOptions[]")),
    option_name_buffer=(
        False,
        _os("findOption", commit="3f129f28147b828a83ca03ac32b384ce4d0acd1e", note="strncmp"),
    ),
    send_done_rule=(
        SendDoneRule.POLL_OR_NOTIFIED,
        _os(
            "sqSocketSendDone / socketWritable / dataHandler",
            commit="0523bff5d630ab6d221700a44a4fffee6bb6405b",
            note="notifiedOfWritability from 7deac028a; poll() since 0523bff5d",
        ),
    ),
    data_handler_would_block=(
        WouldBlockRule.IGNORE,
        _os(
            "dataHandler",
            commit="3f129f28147b828a83ca03ac32b384ce4d0acd1e",
            note="only n < 0 closes",
        ),
    ),
    close_handler_notifies_read=(False, _os("closeHandler")),
    eof_error_from_errno=(
        False,
        _os("sqSocketReceiveDataBufCount", commit="3f34f58f00bb492aa0064c32b1b5b3d78fa753e9"),
    ),
    stderr_messages=(True, _os("sqSocketConnectToAddressSize (perror)")),
    events=(
        COG_EVENTS,
        _os(
            "heartbeat thread; checkForEventsMayContextSwitch:",
            file="platforms/unix/vm/sqUnixHeartbeat.c, src/spur64.cog/cointerp.c",
        ),
    ),
)

_OSVM_CURRENT = dict(OPENSMALLTALK_2022.sources)
OPENSMALLTALK = profile(
    "opensmalltalk",
    "current OpenSmalltalk: sqUnixSocket.c @ 144607df3 plus PR 691 (no stat of a LOCAL path) "
    "and PR 709 (type and protocol 0 work again), the two PRs as their threads describe "
    "them; Cog/Spur, threaded heartbeat, a 64-bit image",
    "OpenSmalltalk VMs built since March 2025 (Squeak 6.x, Cuis); built from the sources and "
    "the PR threads, not run here",
    **{
        name: (getattr(OPENSMALLTALK_2022, name), _OSVM_CURRENT[name])
        for name in flag_names()
        if name
        not in {
            "local_lookup_stat",
            "local_lookup_mode_bit_test",
            "unterminated_path_word",
            "resolver_checks",
        }
    },
    local_lookup_stat=(
        False,
        _os(GAI, commit=PR_691, note="any path of 1..107 bytes", evidence=Evidence.PR_THREAD),
    ),
    local_lookup_mode_bit_test=(
        False,
        _os(GAI, commit=PR_691, note="no stat() at all: moot", evidence=Evidence.PR_THREAD),
    ),
    unterminated_path_word=(
        None,
        _os(GAI, commit=PR_691, note="no stat() at all", evidence=Evidence.PR_THREAD),
    ),
    resolver_checks=(
        ResolverChecks.IN_SWITCH,
        _os(
            GAI,
            commit=PR_709,
            note="unspecified type/protocol no longer fail; the checks stay in the switches",
            evidence=Evidence.PR_THREAD,
        ),
    ),
)

PHARO_VM = profile(
    "pharo-vm",
    "pharo-project/pharo-vm @ ecf29954a (2024-10-16): SocketPluginImpl.c, epoll aio, "
    "threaded heartbeat; a 64-bit image",
    "the pharo-vm VMs of Pharo 10-13 images as of late 2024 (earlier pharo-vm builds, "
    "Pharo 9's included, lack some of the cited commits), before the 2025 fixes (PR 1015 "
    "SendDone, PR 995, PR 1092); built from the sources, not run here (no Pharo here)",
    missing_primitives=(
        frozenset({"primitiveHasSocketAccess", "primitiveDisableSocketAccess"}),
        _pvm(
            "SocketPlugin_exports[] (60 primitives)",
            commit="1b6f5601cbc50bb1d5e84c71d9a1ec614bc907f0",
            file="extracted/plugins/SocketPlugin/src/common/SocketPlugin.c",
            note="the security plugin's dummies removed",
        ),
    ),
    max_name_length=(
        256,
        _pvm(GAI, commit="090b3c37305659558523bded2776fd08036f0967", note="MAXHOSTNAMELEN >= 256"),
    ),
    local_lookup_stat=(True, _pvm(GAI)),
    local_lookup_mode_bit_test=(True, _pvm(GAI, note="st_mode & S_IFSOCK")),
    unterminated_path_word=(
        8,
        _pvm(GAI, note="stat(servName) in a 64-bit Spur image", evidence=Evidence.INFERRED),
    ),
    resolver_checks=(ResolverChecks.UP_FRONT, _pvm(GAI)),
    address_lookup_length=(8, _pvm("addrToName", note="u_long nAddr")),
    lookup_host_at_init=(
        False,
        _pvm("sqNetworkInit", commit="d46d3678abd542dfdd51b9649d79d048b6e24c2a"),
    ),
    name_lookup=(
        NameLookup.GETADDRINFO,
        _pvm("nameToAddr", commit="bff77946691617acce104d8f38d60242fa1cc2bb"),
    ),
    name_lookup_result_fails_on_error=(
        True,
        _pvm("sqResolverNameLookupResult", commit="bff77946691617acce104d8f38d60242fa1cc2bb"),
    ),
    local_address_rule=(
        LocalAddressRule.ETH0_WLAN0,
        _pvm("sqResolverLocalAddress", note="#ifndef _WIN32: getifaddrs, eth0 or wlan0"),
    ),
    option_value_rule=(OptionValueRule.STRTOL_UP_TO_INT, _pvm("sqSocketSetOptions...")),
    tcp_cork_option=(True, _pvm("socketOptions[]", note="#ifdef TCP_CORK")),
    tcp_keepalive_options=(False, _pvm("socketOptions[]")),
    option_name_buffer=(True, _pvm("findOption", note="char buf[32]")),
    send_done_rule=(
        SendDoneRule.CONNECTED,
        _pvm(
            "sqSocketSendDone", commit="34319c6f041f80914cac5dd2ba0c9725964b9234", note="issue 939"
        ),
    ),
    data_handler_would_block=(
        WouldBlockRule.REARM_SILENT,
        _pvm("dataHandler", commit="826736844cbc4f9b09cc205db23c53a1adef41ee"),
    ),
    close_handler_notifies_read=(
        True,
        _pvm("closeHandler", commit="f69a694e2607ff65df59503b0dc216f2d66ebae9"),
    ),
    eof_error_from_errno=(
        True,
        _pvm("sqSocketReceiveDataBufCount", note="SOCKETERROR(s) = lastError = errno after recv()"),
    ),
    stderr_messages=(
        False,
        _pvm(
            "sqSocketConnectToAddressSize (logWarnFromErrno); logTrace elsewhere",
            note="no perror or fprintf in the file; the logger is off at level 1 (src/debug.c)",
        ),
    ),
    events=(
        PHARO_VM_EVENTS,
        _pvm(
            "aio_handle_events / aio_flush_pipe; heartbeat thread",
            file="extracted/vm/src/unix/aio.c, extracted/vm/src/common/heartbeat.c",
        ),
    ),
)

# What sqUnixSocket.c means rather than what it does. No VM behaves so.
STRICT = profile(
    "strict",
    "sqUnixSocket.c with its accidents fixed (no VM behaves exactly so)",
    "no VM: the code's intent, for writing portable Smalltalk code",
    missing_primitives=(frozenset(), OSVM_EXPORTS),
    max_name_length=(253, _intent(GAI, "FQDN_LEN: the longest DNS name")),
    local_lookup_stat=(True, _intent(GAI, "the shortcut is for existing sockets")),
    local_lookup_mode_bit_test=(False, _intent(GAI, "S_ISSOCK, the test the bit test means")),
    unterminated_path_word=(None, _intent(GAI, "stat() of the NUL-terminated copy")),
    resolver_checks=(ResolverChecks.UP_FRONT, _intent(GAI, "range checks first, 0 allowed")),
    address_lookup_length=(4, _intent("addrToName", "sizeof(struct in_addr)")),
    lookup_host_at_init=(True, _intent("sqNetworkInit", "as the code does")),
    name_lookup=(NameLookup.GETHOSTBYNAME, _intent("nameToAddr", "as the code does")),
    name_lookup_result_fails_on_error=(
        False,
        _intent("sqResolverNameLookupResult", "0.0.0.0 and the error in ResolverError"),
    ),
    local_address_rule=(
        LocalAddressRule.HOST_NAME,
        _intent("sqResolverLocalAddress", "the host name's address"),
    ),
    option_value_rule=(
        OptionValueRule.STRTOL_UP_TO_INT,
        _intent("sqSocketSetOptions...", "strtol"),
    ),
    tcp_cork_option=(True, _intent("socketOptions[]", "every option Linux has")),
    tcp_keepalive_options=(True, _intent("socketOptions[]", "every option Linux has")),
    option_name_buffer=(False, _intent("findOption", "the whole name must match")),
    send_done_rule=(
        SendDoneRule.SELECT_WRITABLE,
        _intent("sqSocketSendDone", "writable now, else arm the write handler"),
    ),
    data_handler_would_block=(
        WouldBlockRule.IGNORE,
        _intent("dataHandler", "a spurious wake-up is not a close"),
    ),
    close_handler_notifies_read=(False, _intent("closeHandler", "as the code does")),
    eof_error_from_errno=(False, _intent("sqSocketReceiveDataBufCount", "no error at EOF")),
    stderr_messages=(
        False,
        _intent("sqSocketConnectToAddressSize", "errno read before any message"),
    ),
    events=(COG_EVENTS, _intent("checkForEventsMayContextSwitch:", "a Cog VM's event check")),
)

PROFILES: dict[str, Profile] = {
    p.name: p for p in (SQUEAK_4_10, PHARO5_VM, OPENSMALLTALK_2022, OPENSMALLTALK, PHARO_VM, STRICT)
}
DEFAULT_PROFILE = SQUEAK_4_10


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
