"""Every socket can be closed: close, abort and destroy always give its descriptor back.

netType is passed to socket() unchanged when it is none of 0..3 (sqUnixSocket.c's
switch has no default), so an image can make sockets of any family the kernel has.
netType 40 is AF_VSOCK: Python's socket object takes only integer option values for
that family, so the plugin's SO_LINGER (a struct) used to raise inside the emulator
and leave the descriptor open. The C code passes bytes to setsockopt whatever the
family; so does the emulator now, and a failure inside abort still closes.
"""

from __future__ import annotations

import socket

import pytest
from plugin_support import Harness, open_fds

from sqsocket.errors import EmulatorError, PrimitiveFailed
from sqsocket.platform.constants import NetDomain, SocketType
from sqsocket.platform.sockets import Sockets

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_leaked_fds")]

AF_VSOCK = 40


def vsock_stream_available() -> bool:
    try:
        socket.socket(AF_VSOCK, socket.SOCK_STREAM).close()
    except OSError:
        return False
    return True


needs_vsock = pytest.mark.skipif(
    not vsock_stream_available(),
    reason="this kernel makes no AF_VSOCK stream sockets (the vsock module is not loaded)",
)

ENDINGS = [
    "primitiveSocketCloseConnection",
    "primitiveSocketAbortConnection",
    "primitiveSocketDestroy",
]


@needs_vsock
@pytest.mark.parametrize("ending", ENDINGS)
def test_a_vsock_socket_is_closed_by_each_ending(harness: Harness, ending: str) -> None:
    before = len(open_fds())
    s = harness.create(AF_VSOCK, SocketType.TCP)
    assert len(open_fds()) == before + 1
    getattr(harness.p, ending)(s.handle)  # no EmulatorError: it is closed
    assert len(open_fds()) == before, f"{ending} left the AF_VSOCK descriptor open"
    if ending != "primitiveSocketDestroy":
        assert harness.status(s) == 0
        harness.p.primitiveSocketDestroy(s.handle)
    with pytest.raises(PrimitiveFailed):
        harness.p.primitiveSocketConnectionStatus(s.handle)


@needs_vsock
def test_options_on_a_vsock_socket_succeed_or_fail_but_never_break(harness: Harness) -> None:
    s = harness.create(AF_VSOCK, SocketType.TCP)
    for name, value in (("SO_KEEPALIVE", "1"), ("SO_LINGER", "1"), ("TCP_NODELAY", "1")):
        try:
            harness.p.primitiveSocketSetOptions(s.handle, name, value)
        except PrimitiveFailed:
            pass  # ENOPROTOOPT and friends: a platform failure
        try:
            answer = harness.p.primitiveSocketGetOptions(s.handle, name)
        except PrimitiveFailed:
            continue
        assert answer[0] == 0 and isinstance(answer[1], int)
    assert harness.p.primitiveSocketGetOptions(s.handle, "SO_KEEPALIVE") == [0, 1]
    harness.p.primitiveSocketDestroy(s.handle)


@pytest.mark.parametrize("ending", ["primitiveSocketAbortConnection", "primitiveSocketDestroy"])
def test_an_emulator_error_inside_abort_still_closes_the_descriptor(
    harness: Harness, ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong in the linger call, the descriptor does not outlive abort."""

    def broken(self: Sockets, sock: object, on: bool) -> None:
        raise RuntimeError("a bug in setLinger")

    before = len(open_fds())
    s = harness.create(NetDomain.INET4, SocketType.TCP)
    monkeypatch.setattr(Sockets, "_set_linger", broken)
    with pytest.raises(EmulatorError, match="a bug in setLinger"):
        getattr(harness.p, ending)(s.handle)
    assert len(open_fds()) == before, f"{ending} kept the descriptor after the error"
    monkeypatch.undo()
    if ending != "primitiveSocketDestroy":
        harness.p.primitiveSocketDestroy(s.handle)
