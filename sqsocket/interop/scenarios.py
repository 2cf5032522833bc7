"""The conformance scenarios: each written once, as data, run on the emulator and the real VM.

Fixture names (see :mod:`sqsocket.interop.fixtures`): ``echo`` a Unix-domain echo
server, ``closer`` a server that closes every connection at once, ``stale`` a
socket file nobody listens on, ``file`` a regular file, ``dir`` a directory,
``missing`` a path that does not exist, ``new`` a path for a server to create,
``len40``/``len41``/``len64``/``len65`` echo servers at paths of exactly that many
bytes. Ports: ``echo`` TCP echo, ``udp`` UDP echo, ``closed`` a port nobody
listens on, ``listen`` a free port for the image to listen on.
"""

from __future__ import annotations

from sqsocket.interop.dsl import (
    Alloc,
    Bytes,
    Call,
    Path,
    PathAddress,
    Peer,
    Port,
    Scenario,
    Sema,
    Show,
    ShowVar,
    Sleep,
    Step,
    Str,
    Tweak,
    Var,
)

LOCALHOST = Bytes(bytes([127, 0, 0, 1]))
# getAddressInfo arguments
NUMERIC, PASSIVE = 1, 2
LOCAL, INET4, INET6 = 1, 2, 3


def create(bind: str, net_type: int = 1, socket_type: int = 0) -> Call:
    return Call(
        "primitiveSocketCreate3Semaphores",
        (net_type, socket_type, 8000, 8000, Sema(bind + "C"), Sema(bind + "R"), Sema(bind + "W")),
        bind=bind,
        show=Show.OK,
    )


def status(handle: str) -> Call:
    return Call("primitiveSocketConnectionStatus", (Var(handle),))


def error(handle: str) -> Call:
    return Call("primitiveSocketError", (Var(handle),))


def destroy(handle: str, show: Show = Show.NONE) -> Call:
    return Call("primitiveSocketDestroy", (Var(handle),), show=show)


def gai(
    host: str | Path, service: str | Path, flags: int, family: int, type_: int = 0, proto: int = 0
) -> Call:
    h = host if isinstance(host, Path) else Str(host)
    s = service if isinstance(service, Path) else Str(service)
    return Call("primitiveResolverGetAddressInfo", (h, s, flags, family, type_, proto))


def result_into(bind: str) -> tuple[Step, ...]:
    """Size, a zero-filled address of that size, Result: the workspace example's steps."""
    return (
        Call("primitiveResolverGetAddressInfoSize", bind=bind + "Size"),
        Alloc(bind, Var(bind + "Size")),
        Call("primitiveResolverGetAddressInfoResult", (Var(bind),)),
        ShowVar(bind),
    )


def resolve_path(path: str, bind: str = "sa") -> tuple[Step, ...]:
    return (gai("", Path(path), 0, LOCAL, 0, 0), *result_into(bind))


def info() -> tuple[Step, ...]:
    return (
        Call("primitiveResolverGetAddressInfoFamily"),
        Call("primitiveResolverGetAddressInfoType"),
        Call("primitiveResolverGetAddressInfoProtocol"),
    )


def send(handle: str, text: str) -> Call:
    return Call("primitiveSocketSendDataBufCount", (Var(handle), Str(text), 1, len(text)))


def receive(handle: str, size: int = 64, buf: str = "buf") -> tuple[Step, ...]:
    return (
        Alloc(buf, size),
        Call("primitiveSocketReceiveDataBufCount", (Var(handle), Var(buf), 1, size)),
        ShowVar(buf),
    )


SCENARIOS: tuple[Scenario, ...] = (
    # ---- the new resolver on Unix-domain paths ------------------------------------
    Scenario(
        "resolve-socket-path",
        "getAddressInfo family LOCAL on a listening socket's path (the workspace example)",
        (
            *resolve_path("echo"),
            *info(),
            Call("primitiveResolverGetAddressInfoNext"),
            Call("primitiveResolverGetAddressInfoSize"),
        ),
    ),
    Scenario(
        "resolve-missing-path",
        "getAddressInfo family LOCAL on a path that does not exist",
        (
            gai("", Path("missing"), 0, LOCAL),
            Call("primitiveResolverGetAddressInfoSize"),
            Call("primitiveResolverGetAddressInfoFamily"),
        ),
    ),
    Scenario(
        "resolve-regular-file",
        "getAddressInfo family LOCAL on a regular file (st_mode & S_IFSOCK is a bit test)",
        (gai("", Path("file"), 0, LOCAL), Call("primitiveResolverGetAddressInfoSize"), *info()),
    ),
    Scenario(
        "resolve-directory",
        "getAddressInfo family LOCAL on a directory",
        (gai("", Path("dir"), 0, LOCAL), Call("primitiveResolverGetAddressInfoSize")),
    ),
    Scenario(
        "resolve-stale-socket",
        "getAddressInfo family LOCAL on a socket file nobody listens on",
        (gai("", Path("stale"), 0, LOCAL), Call("primitiveResolverGetAddressInfoSize")),
    ),
    Scenario(
        "resolve-path-40",
        "a 40-byte socket path (a multiple of the image's 4-byte word)",
        (gai("", Path("len40"), 0, LOCAL), Call("primitiveResolverGetAddressInfoSize")),
    ),
    Scenario(
        "resolve-path-41",
        "a 41-byte socket path",
        (gai("", Path("len41"), 0, LOCAL), Call("primitiveResolverGetAddressInfoSize")),
    ),
    Scenario(
        "resolve-path-63",
        "a 63-byte socket path",
        (gai("", Path("len63"), 0, LOCAL), Call("primitiveResolverGetAddressInfoSize")),
    ),
    Scenario(
        "resolve-path-64",
        "a 64-byte socket path: the longest service name the resolver takes (MAXHOSTNAMELEN)",
        (gai("", Path("len64"), 0, LOCAL), Call("primitiveResolverGetAddressInfoSize")),
    ),
    Scenario(
        "resolve-path-65",
        "a 65-byte socket path: longer than MAXHOSTNAMELEN, the primitive fails",
        (gai("", Path("len65"), 0, LOCAL), Call("primitiveResolverGetAddressInfoSize")),
    ),
    Scenario(
        "resolve-local-numeric",
        "family LOCAL with the NUMERIC flag skips the path check",
        (gai("", Path("echo"), NUMERIC, LOCAL), Call("primitiveResolverGetAddressInfoSize")),
    ),
    Scenario(
        "getnameinfo-local",
        "getNameInfo on a Unix-domain address answers the path as the service",
        (
            *resolve_path("echo"),
            Call("primitiveResolverGetNameInfo", (Var("sa"), NUMERIC)),
            Call("primitiveResolverGetNameInfoServiceSize", bind="servSize"),
            Alloc("serv", Var("servSize")),
            Call("primitiveResolverGetNameInfoServiceResult", (Var("serv"),)),
            ShowVar("serv"),
            Call("primitiveResolverGetNameInfoHostSize"),
        ),
    ),
    Scenario(
        "address-port-local",
        "AddressGetPort on a Unix-domain address fails: only INET addresses have ports",
        (*resolve_path("echo"), Call("primitiveSocketAddressGetPort", (Var("sa"),))),
    ),
    # ---- the new resolver on numeric hosts -------------------------------------------
    Scenario(
        "resolve-inet4-numeric",
        "numeric 127.0.0.1 service 80, family INET4, stream, TCP; ports get and set",
        (
            gai("127.0.0.1", "80", NUMERIC, INET4, 1, 1),
            *result_into("sa"),
            *info(),
            Call("primitiveSocketAddressGetPort", (Var("sa"),)),
            Call("primitiveSocketAddressSetPort", (Var("sa"), 8080), show=Show.OK),
            Call("primitiveSocketAddressGetPort", (Var("sa"),)),
            ShowVar("sa"),
            Call("primitiveResolverGetNameInfo", (Var("sa"), NUMERIC)),
            Call("primitiveResolverGetNameInfoHostSize", bind="hostSize"),
            Alloc("host", Var("hostSize")),
            Call("primitiveResolverGetNameInfoHostResult", (Var("host"),)),
            ShowVar("host"),
            Call("primitiveResolverGetNameInfoServiceSize"),
        ),
    ),
    Scenario(
        "resolve-inet6-numeric",
        "numeric ::1 service 80, family INET6",
        (
            gai("::1", "80", NUMERIC, INET6, 1, 1),
            *result_into("sa"),
            *info(),
            Call("primitiveSocketAddressGetPort", (Var("sa"),)),
        ),
    ),
    Scenario(
        "resolve-passive",
        "PASSIVE with no host: the wildcard address",
        (gai("", "8080", PASSIVE | NUMERIC, INET4, 1, 1), *result_into("sa")),
    ),
    Scenario(
        "resolve-bad-arguments",
        "family 4 and type 3 are out of range: the primitive fails",
        (
            gai("", "80", 0, 4),
            gai("", "80", 0, INET4, 3),
            Call("primitiveResolverGetAddressInfoSize"),
        ),
    ),
    Scenario(
        "resolve-numeric-name",
        "NUMERIC with a host name: no result (Size -1), the primitive still succeeds",
        (gai("localhost", "80", NUMERIC, INET4, 1, 1), Call("primitiveResolverGetAddressInfoSize")),
    ),
    # ---- the old resolver -------------------------------------------------------------
    Scenario(
        "old-resolver-localhost",
        "the old IPv4 resolver on 'localhost' and 127.0.0.1",
        (
            Call("primitiveResolverStartNameLookup", (Str("localhost"),), show=Show.OK),
            Call("primitiveResolverStatus"),
            Call("primitiveResolverNameLookupResult"),
            Call("primitiveResolverError"),
            Call("primitiveResolverStartAddressLookup", (LOCALHOST,), show=Show.OK),
            Call("primitiveResolverAddressLookupResult"),
            Call("primitiveResolverStatus"),
            Call("primitiveResolverError"),
        ),
    ),
    Scenario(
        "old-resolver-unknown-name",
        "the old resolver on a name that is not in /etc/hosts and not numeric",
        (
            Call("primitiveResolverStartNameLookup", (Str("no-such-host.invalid"),), show=Show.OK),
            Call("primitiveResolverStatus"),
            Call("primitiveResolverNameLookupResult"),
            Call("primitiveResolverError"),
        ),
        tags=("host-specific",),
    ),
    Scenario(
        "old-resolver-local-address",
        "primitiveResolverLocalAddress: this host's IPv4 address",
        (Call("primitiveResolverLocalAddress"),),
        tags=("host-specific",),
    ),
    Scenario(
        "old-resolver-bad-address",
        "an address that is not 4 bytes makes the lookup fail",
        (Call("primitiveResolverStartAddressLookup", (Bytes(b"\x7f\x00\x01"),)),),
    ),
    Scenario(
        "host-name",
        "HostNameSize and HostNameResult agree with gethostname()",
        (
            Call("primitiveResolverHostNameSize", bind="hn", show=Show.OK),
            Alloc("name", Var("hn")),
            Call("primitiveResolverHostNameResult", (Var("name"),)),
            Alloc("tiny", 0),
            Call("primitiveResolverHostNameResult", (Var("tiny"),)),
        ),
        tags=("host-specific",),
    ),
    # ---- socket creation --------------------------------------------------------------
    Scenario(
        "create-each-nettype",
        "create with netType 0/1/2/3: status and the unbound local address size",
        tuple(
            step
            for n in (0, 1, 2, 3)
            for step in (
                create(f"s{n}", n),
                status(f"s{n}"),
                Call("primitiveSocketLocalAddressSize", (Var(f"s{n}"),)),
                Call("primitiveSocketLocalPort", (Var(f"s{n}"),)),
                destroy(f"s{n}"),
            )
        ),
    ),
    Scenario(
        "create-udp",
        "a UDP socket is born Connected",
        (
            create("u", 2, 1),
            status("u"),
            Call("primitiveSocketSendDone", (Var("u"),)),
            destroy("u"),
        ),
    ),
    Scenario(
        "create-bad-type",
        "socketType 2 (RAW) and 7 are refused by create; the 1-semaphore form works",
        (
            create("x", 2, 2),
            create("y", 2, 7),
            Call("primitiveSocketCreate", (2, 0, 8000, 8000, Sema("one")), bind="z", show=Show.OK),
            status("z"),
            destroy("z"),
        ),
    ),
    # ---- connect ---------------------------------------------------------------------------
    Scenario(
        "connect-uds-echo",
        "the workspace example: connect to a path, send, receive the echo, close, destroy",
        (
            *resolve_path("echo"),
            create("s"),
            status("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            status("s"),
            send("s", "Hello, from Smalltalk!"),
            Sleep(300),
            Call("primitiveSocketReceiveDataAvailable", (Var("s"),)),
            *receive("s"),
            Call("primitiveSocketCloseConnection", (Var("s"),), show=Show.OK),
            status("s"),
            destroy("s", Show.OK),
        ),
    ),
    Scenario(
        "connect-stale-socket",
        "connect to a socket file nobody listens on: Unconnected, error ECONNREFUSED",
        (
            gai("", Path("stale"), 0, LOCAL),
            *result_into("sa"),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            status("s"),
            error("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "connect-regular-file",
        "connect to the address the resolver answered for a regular file",
        (
            gai("", Path("file"), 0, LOCAL),
            *result_into("sa"),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            status("s"),
            error("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "connect-tcp-old-api",
        "connectTo:port: 127.0.0.1 on the TCP echo server; status once the connect is done",
        (
            create("t", 2),
            Call("primitiveSocketConnectToPort", (Var("t"), LOCALHOST, Port("echo")), show=Show.OK),
            Sleep(300),
            status("t"),
            Call("primitiveSocketRemotePort", (Var("t"),)),
            Call("primitiveSocketRemoteAddress", (Var("t"),)),
            send("t", "tcp"),
            Sleep(300),
            *receive("t"),
            Call("primitiveSocketRemoteAddressSize", (Var("t"),)),
            destroy("t"),
        ),
    ),
    Scenario(
        "connect-tcp-refused",
        "connect to a closed TCP port: WaitingForConnection, then Unconnected with ECONNREFUSED",
        (
            create("t", 2),
            Call(
                "primitiveSocketConnectToPort", (Var("t"), LOCALHOST, Port("closed")), show=Show.OK
            ),
            Sleep(400),
            status("t"),
            error("t"),
            destroy("t"),
        ),
    ),
    Scenario(
        "peer-close-peek",
        "the peer closes: receiveDataAvailable sees EOF and the status becomes OtherEndClosed",
        (
            *resolve_path("closer"),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            status("s"),
            Sleep(400),
            Call("primitiveSocketReceiveDataAvailable", (Var("s"),)),
            status("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "peer-close-read",
        "the peer closes: a read answers 0 and the status becomes OtherEndClosed",
        (
            *resolve_path("closer"),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            Sleep(400),
            *receive("s", 8),
            status("s"),
            error("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "closed-socket-ops",
        "after close: status 0, a send answers 0 and marks the socket OtherEndClosed (EBADF)",
        (
            *resolve_path("echo"),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            Call("primitiveSocketCloseConnection", (Var("s"),), show=Show.OK),
            status("s"),
            send("s", "late"),
            status("s"),
            error("s"),
            Call("primitiveSocketReceiveDataAvailable", (Var("s"),)),
            Call("primitiveSocketLocalAddressSize", (Var("s"),)),
            destroy("s"),
        ),
    ),
    Scenario(
        "abort",
        "abort a connected socket: status 0",
        (
            *resolve_path("echo"),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            Call("primitiveSocketAbortConnection", (Var("s"),), show=Show.OK),
            status("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "destroyed-handle",
        "every primitive on a destroyed handle fails",
        (
            create("s"),
            destroy("s", Show.OK),
            status("s"),
            error("s"),
            send("s", "x"),
            Call("primitiveSocketReceiveDataAvailable", (Var("s"),)),
            Call("primitiveSocketCloseConnection", (Var("s"),), show=Show.OK),
            Call("primitiveSocketLocalAddressSize", (Var("s"),)),
            destroy("s", Show.OK),
        ),
    ),
    Scenario(
        "foreign-session-address",
        "an address whose session id is not this session's is refused",
        (
            *resolve_path("echo"),
            Tweak("sa", 1, 1),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            Call("primitiveResolverGetNameInfo", (Var("sa"), 0), show=Show.OK),
            status("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "foreign-session-handle",
        "a handle whose session id is not this session's is refused",
        (create("s"), Tweak("s", 1, 1), status("s"), Tweak("s", 1, 255), status("s"), destroy("s")),
    ),
    Scenario(
        "address-size-mismatch",
        "an address whose header size does not match its length is refused",
        (
            *resolve_path("echo"),
            Tweak("sa", 5, 1),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            destroy("s"),
        ),
    ),
    # ---- options ---------------------------------------------------------------------------
    Scenario(
        "options",
        "get/set options by name: TCP_NODELAY, SO_KEEPALIVE, the strtol rule, unknown names",
        (
            create("t", 2),
            Call("primitiveSocketGetOptions", (Var("t"), Str("TCP_NODELAY"))),
            Call("primitiveSocketSetOptions", (Var("t"), Str("TCP_NODELAY"), Str("1"))),
            Call("primitiveSocketGetOptions", (Var("t"), Str("TCP_NODELAY"))),
            Call("primitiveSocketSetOptions", (Var("t"), Str("SO_KEEPALIVE"), Str("0x1"))),
            Call("primitiveSocketGetOptions", (Var("t"), Str("SO_KEEPALIVE"))),
            Call("primitiveSocketGetOptions", (Var("t"), Str("SO_LINGER"))),
            Call("primitiveSocketGetOptions", (Var("t"), Str("SO_NOSUCH"))),
            Call("primitiveSocketSetOptions", (Var("t"), Str("IP_TTL"), Str("017"))),
            Call("primitiveSocketGetOptions", (Var("t"), Str("IP_TTL"))),
            Call("primitiveSocketSetOptions", (Var("t"), Str("IP_TTL"), Str("7"))),
            Call("primitiveSocketGetOptions", (Var("t"), Str("IP_TTL"))),
            Call("primitiveSocketGetOptions", (Var("t"), Str("TCP_CORK"))),
            destroy("t"),
        ),
    ),
    # ---- listen and accept -------------------------------------------------------------------
    Scenario(
        "uds-listen-backlog-1",
        "bind a new path, listen with backlog 1: the client replaces the listener in place",
        (
            create("srv"),
            PathAddress("la", Path("new"), "srv"),
            Call("primitiveSocketBindTo", (Var("srv"), Var("la")), show=Show.OK),
            Call("primitiveSocketListenWithBacklog", (Var("srv"), 1), show=Show.OK),
            status("srv"),
            Peer("connect", Path("new")),
            Sleep(400),
            status("srv"),
            Peer("send", data=b"ping"),
            Sleep(300),
            *receive("srv"),
            send("srv", "pong"),
            Call("primitiveSocketRemoteAddressSize", (Var("srv"),)),
            Peer("close"),
            destroy("srv"),
        ),
    ),
    Scenario(
        "uds-listen-backlog-5",
        "listen with backlog 5: the listener shows Connected, accept takes the connection",
        (
            create("srv"),
            PathAddress("la", Path("new2"), "srv"),
            Call("primitiveSocketBindTo", (Var("srv"), Var("la")), show=Show.OK),
            Call("primitiveSocketListenWithBacklog", (Var("srv"), 5), show=Show.OK),
            status("srv"),
            Peer("connect", Path("new2")),
            Sleep(400),
            status("srv"),
            Call(
                "primitiveSocketAccept3Semaphores",
                (Var("srv"), 8000, 8000, Sema("aC"), Sema("aR"), Sema("aW")),
                bind="c",
                show=Show.OK,
            ),
            status("c"),
            status("srv"),
            Call(
                "primitiveSocketAccept3Semaphores",
                (Var("srv"), 8000, 8000, Sema("bC"), Sema("bR"), Sema("bW")),
                show=Show.OK,
            ),
            Peer("send", data=b"hi"),
            Sleep(300),
            *receive("c"),
            Peer("close"),
            destroy("c"),
            destroy("srv"),
        ),
    ),
    Scenario(
        "bind-existing-path",
        "binding to a path that exists fails with EADDRINUSE in the socket error",
        (
            create("srv"),
            PathAddress("la", Path("echo"), "srv"),
            Call("primitiveSocketBindTo", (Var("srv"), Var("la")), show=Show.OK),
            error("srv"),
            destroy("srv"),
        ),
    ),
    Scenario(
        "listen-backlog-udp",
        "a backlog > 1 is only for TCP: listenWithBacklog 5 on UDP fails",
        (
            create("u", 2, 1),
            Call("primitiveSocketListenWithBacklog", (Var("u"), 5), show=Show.OK),
            destroy("u"),
        ),
    ),
    Scenario(
        "accept-not-listening",
        "accept from a socket that is not a backlog > 1 listener fails",
        (
            create("s", 2),
            Call("primitiveSocketAccept", (Var("s"), 8000, 8000, Sema("x")), show=Show.OK),
            destroy("s"),
        ),
    ),
    Scenario(
        "tcp-listen-old-api",
        "listenOn:backlogSize: a TCP port, a Python client connects, accept",
        (
            create("srv", 2),
            Call(
                "primitiveSocketListenOnPortBacklog", (Var("srv"), Port("listen"), 4), show=Show.OK
            ),
            status("srv"),
            Call("primitiveSocketLocalPort", (Var("srv"),)),
            Peer("connect", Port("listen")),
            Sleep(400),
            status("srv"),
            Call(
                "primitiveSocketAccept", (Var("srv"), 8000, 8000, Sema("k")), bind="c", show=Show.OK
            ),
            status("c"),
            Call("primitiveSocketRemoteAddress", (Var("c"),)),
            Peer("close"),
            Sleep(300),
            Call("primitiveSocketReceiveDataAvailable", (Var("c"),)),
            status("c"),
            destroy("c"),
            destroy("srv"),
        ),
    ),
    # ---- UDP ---------------------------------------------------------------------------------
    Scenario(
        "udp-old-api",
        "sendUDPData:toHost:port: to the UDP echo server, receiveUDPData answers the sender",
        (
            create("u", 2, 1),
            Call(
                "primitiveSocketSendUDPDataBufCount",
                (Var("u"), Str("datagram"), LOCALHOST, Port("udp"), 1, 8),
            ),
            Sleep(300),
            Alloc("buf", 16),
            Call("primitiveSocketReceiveUDPDataBufCount", (Var("u"), Var("buf"), 1, 16)),
            ShowVar("buf"),
            Call("primitiveSocketReceiveUDPDataBufCount", (Var("u"), Var("buf"), 1, 16)),
            destroy("u"),
        ),
    ),
    Scenario(
        "udp-connected",
        "connectTo:port: on UDP sets the default peer: plain send and receive",
        (
            create("u", 2, 1),
            Call("primitiveSocketConnectToPort", (Var("u"), LOCALHOST, Port("udp")), show=Show.OK),
            status("u"),
            send("u", "dgram"),
            Sleep(300),
            *receive("u", 16),
            Call("primitiveSocketRemoteAddressSize", (Var("u"),)),
            destroy("u"),
        ),
    ),
    # ---- buffers ---------------------------------------------------------------------------------
    Scenario(
        "buffer-bounds",
        "start/count outside the buffer make send and receive fail",
        (
            *resolve_path("echo"),
            create("s"),
            Call("primitiveSocketConnectTo", (Var("s"), Var("sa")), show=Show.OK),
            Call("primitiveSocketSendDataBufCount", (Var("s"), Str("abc"), 0, 1)),
            Call("primitiveSocketSendDataBufCount", (Var("s"), Str("abc"), 2, 3)),
            Call("primitiveSocketSendDataBufCount", (Var("s"), Str("abc"), 4, 0)),
            destroy("s"),
        ),
    ),
    Scenario(
        "socket-access",
        "hasSocketAccess answers true",
        (Call("primitiveHasSocketAccess"),),
    ),
    Scenario(
        "create-raw",
        "primitiveSocketCreateRAW (ICMP): the 2012 plugin does not export it",
        (
            Call(
                "primitiveSocketCreateRAW",
                (0, 1, 8000, 8000, Sema("rC"), Sema("rR"), Sema("rW")),
                bind="r",
                show=Show.OK,
            ),
            destroy("r"),
        ),
    ),
    # last: it cannot be undone in the session
    Scenario(
        "socket-access-disabled",
        "disableSocketAccess: then hasSocketAccess, and creating a socket",
        (
            Call("primitiveDisableSocketAccess", show=Show.OK),
            Call("primitiveHasSocketAccess"),
            create("s", 2),
            Call("primitiveSocketConnectToPort", (Var("s"), LOCALHOST, Port("echo")), show=Show.OK),
            destroy("s"),
        ),
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}
assert len(BY_NAME) == len(SCENARIOS), "scenario names are unique"
