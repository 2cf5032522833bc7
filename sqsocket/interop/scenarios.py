"""The conformance scenarios: each written once, as data, run on the emulator and the real VM.

Fixture names (see :mod:`sqsocket.interop.fixtures`): ``echo`` a Unix-domain echo
server, ``closer`` a listener the harness owns (a ``drop`` peer step accepts one
connection and closes it), ``full`` a listener with backlog 0 that never accepts,
``stale`` a socket file nobody listens on, ``file`` a regular file, ``dir`` a
directory, ``missing`` a path that does not exist, ``new``/``new2``/``new3`` paths for
a server to create, ``nul`` an echo server at a 28-byte path (a multiple of 4),
``len40``..``len65`` echo servers at paths of exactly that many bytes. Ports:
``echo`` TCP echo, ``udp`` UDP echo, ``closed`` a port nobody listens on, ``listen``
a free port for the image to listen on.

No step sleeps: a scenario waits only for a condition (a semaphore, a status, data),
the same way on both sides, and says with ``Expect``/``Await`` what it must have
reached; a scenario that did not reach it is reported broken, not compared.

Order matters where the VM process's history does: ``connect-refused-first-perror``
must come first, before anything is printed on stderr (docs/quirks.md).
"""

from __future__ import annotations

from sqsocket.interop.dsl import (
    AbstractNameAddress,
    Alloc,
    AwaitData,
    AwaitSignal,
    AwaitStatus,
    Bytes,
    Call,
    Expect,
    Op,
    Path,
    PathAddress,
    Peer,
    Port,
    Scenario,
    Sema,
    Show,
    ShowVar,
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


def destroy_each(*handles: str) -> tuple[Step, ...]:
    return tuple(destroy(handle) for handle in handles)


def gai(
    host: str | Path, service: str | Path, flags: int, family: int, type_: int = 0, proto: int = 0
) -> Call:
    h = host if isinstance(host, Path) else Str(host)
    s = service if isinstance(service, Path) else Str(service)
    return Call("primitiveResolverGetAddressInfo", (h, s, flags, family, type_, proto))


def result_size() -> Call:
    """GetAddressInfoSize: the current result's size (-1: there is none)."""
    return Call("primitiveResolverGetAddressInfoSize")


def get_port(address: str) -> Call:
    return Call("primitiveSocketAddressGetPort", (Var(address),))


def available(handle: str, show: Show = Show.VALUE) -> Call:
    """ReceiveDataAvailable (which arms the data handler when it answers false)."""
    return Call("primitiveSocketReceiveDataAvailable", (Var(handle),), show=show)


def send_done(handle: str) -> Call:
    return Call("primitiveSocketSendDone", (Var(handle),))


def close(handle: str) -> Call:
    return Call("primitiveSocketCloseConnection", (Var(handle),), show=Show.OK)


def local_address_size(handle: str) -> Call:
    return Call("primitiveSocketLocalAddressSize", (Var(handle),))


def remote_address_size(handle: str) -> Call:
    return Call("primitiveSocketRemoteAddressSize", (Var(handle),))


def get_option(handle: str, name: str, show: Show = Show.VALUE) -> Call:
    return Call("primitiveSocketGetOptions", (Var(handle), Str(name)), show=show)


def set_option(handle: str, name: str, value: str) -> Call:
    return Call("primitiveSocketSetOptions", (Var(handle), Str(name), Str(value)))


def set_and_get(handle: str, name: str, value: str) -> tuple[Step, ...]:
    """Set an option, then read it back."""
    return (set_option(handle, name, value), get_option(handle, name))


def listen_with_backlog(handle: str, backlog: int) -> Call:
    return Call("primitiveSocketListenWithBacklog", (Var(handle), backlog), show=Show.OK)


def connect_to_port(handle: str, port: str) -> Call:
    """The old API's connectTo:port: 127.0.0.1 and a fixture port."""
    return Call("primitiveSocketConnectToPort", (Var(handle), LOCALHOST, Port(port)), show=Show.OK)


def status_error(handle: str) -> tuple[Step, ...]:
    """What became of a socket: its status, then its error."""
    return (status(handle), error(handle))


def sized_result(size: str, result: str, bind: str) -> tuple[Step, ...]:
    """The resolver's two-step answer: ``size`` says how many bytes, ``result`` fills a
    zero-filled buffer of that many, bound to ``bind`` and shown."""
    return (
        Call(size, bind=bind + "Size"),
        Alloc(bind, Var(bind + "Size")),
        Call(result, (Var(bind),)),
        ShowVar(bind),
    )


def result_into(bind: str) -> tuple[Step, ...]:
    """Size, a zero-filled address of that size, Result: the workspace example's steps."""
    return sized_result(
        "primitiveResolverGetAddressInfoSize", "primitiveResolverGetAddressInfoResult", bind
    )


def resolve_path(path: str, bind: str = "sa", nul: bool = False) -> tuple[Step, ...]:
    return (gai("", Path(path, nul), 0, LOCAL, 0, 0), *result_into(bind))


def resolved(bind: str = "sa") -> Expect:
    return Expect(bind + "Size", Op.GT, 0, "the path resolved")


def resolved_path(path: str, nul: bool = False) -> tuple[Step, ...]:
    """Resolve a fixture path into ``sa``; the scenario is broken unless it resolved."""
    return (*resolve_path(path, nul=nul), resolved())


def connect_path(path: str, handle: str = "s", nul: bool = False) -> tuple[Step, ...]:
    """Resolve a fixture path, create a LOCAL stream socket, connect: it must be Connected."""
    return (*resolved_path(path, nul=nul), create(handle), connect(handle), AwaitStatus(handle, 2))


def connect(handle: str, address: str = "sa") -> Call:
    return Call("primitiveSocketConnectTo", (Var(handle), Var(address)), show=Show.OK)


def connect_and_report(handle: str) -> tuple[Step, ...]:
    """Create a LOCAL stream socket, connect it to ``sa``, record its status and error."""
    return (create(handle), connect(handle), *status_error(handle))


def listen_on_path(handle: str, path: str, backlog: int) -> tuple[Step, ...]:
    """A Smalltalk-side server: bind a new path (an address the image builds), listen."""
    return (
        create(handle),
        PathAddress("la", Path(path), handle),
        Call("primitiveSocketBindTo", (Var(handle), Var("la")), show=Show.OK),
        listen_with_backlog(handle, backlog),
        AwaitStatus(handle, 1),
    )


def accept(listener: str, bind: str) -> Call:
    return Call(
        "primitiveSocketAccept3Semaphores",
        (Var(listener), 8000, 8000, Sema(bind + "C"), Sema(bind + "R"), Sema(bind + "W")),
        bind=bind,
        show=Show.OK,
    )


def echo(handle: str, text: str) -> tuple[Step, ...]:
    """Send, wait for data as the image does, read the answer."""
    return (send(handle, text), AwaitData(handle, handle + "R"), *receive(handle))


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


def name_lookup(name: str) -> tuple[Step, ...]:
    """The old resolver: look ``name`` up, then its status, result and error."""
    return (
        Call("primitiveResolverStartNameLookup", (Str(name),), show=Show.OK),
        Call("primitiveResolverStatus"),
        Call("primitiveResolverNameLookupResult"),
        Call("primitiveResolverError"),
    )


def _resolve_length(length: int) -> Scenario:
    about = {
        40: "a 40-byte socket path (a multiple of the image's 4-byte word)",
        41: "a 41-byte socket path",
        63: "a 63-byte socket path",
        64: "a 64-byte socket path: the longest service name the resolver takes (MAXHOSTNAMELEN)",
        65: "a 65-byte socket path: longer than MAXHOSTNAMELEN, the primitive fails",
    }[length]
    return Scenario(
        f"resolve-path-{length}",
        about,
        (gai("", Path(f"len{length}"), 0, LOCAL), result_size()),
    )


SCENARIOS: tuple[Scenario, ...] = (
    # ---- first: the VM process has printed nothing on stderr yet ---------------------
    Scenario(
        "connect-refused-first-perror",
        "the first failed connect of the process keeps EINVAL: perror() on a fresh "
        "write-only stderr (a pipe) changes errno before the plugin reads it; later: ECONNREFUSED",
        (
            *resolved_path("stale"),
            *connect_and_report("s"),
            *connect_and_report("t"),
            *destroy_each("s", "t"),
        ),
    ),
    # ---- the new resolver on Unix-domain paths ------------------------------------
    Scenario(
        "resolve-socket-path",
        "getAddressInfo family LOCAL on a listening socket's path (the workspace example)",
        (
            *resolve_path("echo"),
            *info(),
            Call("primitiveResolverGetAddressInfoNext"),
            result_size(),
        ),
    ),
    Scenario(
        "resolve-missing-path",
        "getAddressInfo family LOCAL on a path that does not exist",
        (
            gai("", Path("missing"), 0, LOCAL),
            result_size(),
            Call("primitiveResolverGetAddressInfoFamily"),
        ),
    ),
    Scenario(
        "resolve-regular-file",
        "getAddressInfo family LOCAL on a regular file (st_mode & S_IFSOCK is a bit test)",
        (gai("", Path("file"), 0, LOCAL), result_size(), *info()),
    ),
    Scenario(
        "resolve-directory",
        "getAddressInfo family LOCAL on a directory",
        (gai("", Path("dir"), 0, LOCAL), result_size()),
    ),
    Scenario(
        "resolve-stale-socket",
        "getAddressInfo family LOCAL on a socket file nobody listens on",
        (gai("", Path("stale"), 0, LOCAL), result_size()),
    ),
    *(_resolve_length(n) for n in (40, 41, 63, 64, 65)),
    Scenario(
        "resolve-path-with-nul",
        "a 28-byte path (a multiple of 4) is not found; the same String ending in its own NUL "
        "is: stat() reads the image's bytes up to a NUL",
        (
            gai("", Path("nul"), 0, LOCAL),
            result_size(),
            *connect_path("nul", nul=True),
            *echo("s", "terminated"),
            destroy("s"),
        ),
    ),
    Scenario(
        "resolve-local-numeric",
        "family LOCAL with the NUMERIC flag skips the path check",
        (gai("", Path("echo"), NUMERIC, LOCAL), result_size()),
    ),
    Scenario(
        "getnameinfo-local",
        "getNameInfo on a Unix-domain address answers the path as the service",
        (
            *resolved_path("echo"),
            Call("primitiveResolverGetNameInfo", (Var("sa"), NUMERIC)),
            *sized_result(
                "primitiveResolverGetNameInfoServiceSize",
                "primitiveResolverGetNameInfoServiceResult",
                "serv",
            ),
            Call("primitiveResolverGetNameInfoHostSize"),
        ),
    ),
    Scenario(
        "address-port-local",
        "AddressGetPort on a Unix-domain address fails: only INET addresses have ports",
        (
            *resolved_path("echo"),
            get_port("sa"),
        ),
    ),
    # ---- the new resolver on numeric hosts -------------------------------------------
    Scenario(
        "resolve-inet4-numeric",
        "numeric 127.0.0.1 service 80, family INET4, stream, TCP; ports get and set",
        (
            gai("127.0.0.1", "80", NUMERIC, INET4, 1, 1),
            *result_into("sa"),
            resolved(),
            *info(),
            get_port("sa"),
            Call("primitiveSocketAddressSetPort", (Var("sa"), 8080), show=Show.OK),
            get_port("sa"),
            ShowVar("sa"),
            Call("primitiveResolverGetNameInfo", (Var("sa"), NUMERIC)),
            *sized_result(
                "primitiveResolverGetNameInfoHostSize",
                "primitiveResolverGetNameInfoHostResult",
                "host",
            ),
            Call("primitiveResolverGetNameInfoServiceSize"),
        ),
    ),
    Scenario(
        "resolve-inet6-numeric",
        "numeric ::1 service 80, family INET6",
        (
            gai("::1", "80", NUMERIC, INET6, 1, 1),
            *result_into("sa"),
            resolved(),
            *info(),
            get_port("sa"),
        ),
    ),
    Scenario(
        "resolve-passive",
        "PASSIVE with no host: the wildcard address",
        (gai("", "8080", PASSIVE | NUMERIC, INET4, 1, 1), *result_into("sa"), resolved()),
    ),
    Scenario(
        "resolve-bad-arguments",
        "family 4 and type 3 are out of range: the primitive fails",
        (
            gai("", "80", 0, 4),
            gai("", "80", 0, INET4, 3),
            result_size(),
        ),
    ),
    Scenario(
        "resolve-numeric-name",
        "NUMERIC with a host name: no result (Size -1), the primitive still succeeds",
        (gai("localhost", "80", NUMERIC, INET4, 1, 1), result_size()),
    ),
    # ---- the old resolver -------------------------------------------------------------
    Scenario(
        "old-resolver-localhost",
        "the old IPv4 resolver on 'localhost' and 127.0.0.1",
        (
            *name_lookup("localhost"),
            Call("primitiveResolverStartAddressLookup", (LOCALHOST,), show=Show.OK),
            Call("primitiveResolverAddressLookupResult"),
            Call("primitiveResolverStatus"),
            Call("primitiveResolverError"),
        ),
    ),
    Scenario(
        "old-resolver-unknown-name",
        "the old resolver on a name that is not in /etc/hosts and not numeric",
        (*name_lookup("no-such-host.invalid"),),
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
                local_address_size(f"s{n}"),
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
            send_done("u"),
            destroy("u"),
        ),
    ),
    Scenario(
        "create-uds-datagram",
        "netType 1, type UDP: an AF_UNIX datagram socket, born Connected",
        (
            create("u", LOCAL, 1),
            status("u"),
            local_address_size("u"),
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
            *resolved_path("echo"),
            create("s"),
            status("s"),
            connect("s"),
            status("s"),
            *echo("s", "Hello, from Smalltalk!"),
            close("s"),
            status("s"),
            destroy("s", Show.OK),
        ),
    ),
    Scenario(
        "connect-stale-socket",
        "connect to a socket file nobody listens on: Unconnected, error ECONNREFUSED",
        (
            *resolved_path("stale"),
            *connect_and_report("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "connect-regular-file",
        "connect to the address the resolver answered for a regular file: ECONNREFUSED",
        (
            *resolved_path("file"),
            *connect_and_report("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "connect-abstract-full-sockaddr",
        "a Linux abstract name in a LOCAL address laid out as the resolver's (110-byte "
        "sockaddr_un) is NUL-padded to sun_path's end: a server bound to the tight name "
        "refuses, one bound to the padded name answers; a short address reaches the tight one "
        "(quirk 22)",
        (
            create("s"),
            AbstractNameAddress("ta", "tight", "s"),
            ShowVar("ta"),
            connect("s", "ta"),
            *status_error("s"),
            create("t"),
            AbstractNameAddress("pa", "padded", "t"),
            connect("t", "pa"),
            AwaitStatus("t", 2),
            *echo("t", "abstract"),
            create("u"),
            AbstractNameAddress("ua", "tight", "u", tight=True),
            ShowVar("ua"),
            connect("u", "ua"),
            AwaitStatus("u", 2),
            *echo("u", "tight"),
            *destroy_each("s", "t", "u"),
        ),
    ),
    Scenario(
        "connect-again-eisconn",
        "connect a connected socket again: EISCONN, the socket is marked Unconnected",
        (
            *connect_path("echo"),
            connect("s"),
            *status_error("s"),
            send_done("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "connect-tcp-old-api",
        "connectTo:port: 127.0.0.1 on the TCP echo server; status once the connect is done",
        (
            create("t", 2),
            connect_to_port("t", "echo"),
            AwaitStatus("t", 2),
            Call("primitiveSocketRemotePort", (Var("t"),)),
            Call("primitiveSocketRemoteAddress", (Var("t"),)),
            *echo("t", "tcp"),
            remote_address_size("t"),
            destroy("t"),
        ),
    ),
    Scenario(
        "connect-tcp-refused",
        "connect to a closed TCP port: WaitingForConnection, then Unconnected with ECONNREFUSED",
        (
            create("t", 2),
            connect_to_port("t", "closed"),
            AwaitSignal("tC"),
            *status_error("t"),
            destroy("t"),
        ),
    ),
    Scenario(
        "connect-full-backlog",
        "a Unix-domain connect on a full backlog answers EAGAIN, taken for 'in progress'; the "
        "unconnected socket polls writable, so it turns Connected, and a send then fails",
        (
            *resolved_path("full"),
            create("q"),
            connect("q"),
            AwaitStatus("q", 2),
            *connect_and_report("s"),
            AwaitStatus("s", 2),
            error("s"),
            send_done("s"),
            send("s", "lost"),
            *status_error("s"),
            *destroy_each("s", "q"),
        ),
    ),
    # ---- the peer goes away ------------------------------------------------------------------
    Scenario(
        "peer-close-peek",
        "the peer closes: receiveDataAvailable sees EOF and the status becomes OtherEndClosed",
        (
            *connect_path("closer"),
            Peer("drop"),
            available("s"),
            *status_error("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "peer-close-read",
        "the peer closes: a read answers 0 and the status becomes OtherEndClosed; the socket "
        "error is the errno the VM's last console write left (ESPIPE: stdout is a pipe)",
        (
            *connect_path("closer"),
            Peer("drop"),
            *receive("s", 8),
            *status_error("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "peer-close-after-idle",
        "the peer closes while the image waits: the idle process's select() was interrupted "
        "by the 20 ms interval timer, so the read's socket error is EINTR",
        (
            *listen_on_path("srv", "new-idle", 1),
            Peer("connect", Path("new-idle")),
            AwaitStatus("srv", 2),
            available("srv", Show.NONE),
            Peer("close", ms=100),
            AwaitSignal("srvR", show=Show.NONE),
            *receive("srv", 8),
            *status_error("srv"),
            destroy("srv"),
        ),
    ),
    Scenario(
        "peer-close-aio",
        "the peer closes while the read handler is armed: the data handler marks "
        "OtherEndClosed (socket error from SO_ERROR) and signals the read semaphore",
        (
            *listen_on_path("srv", "new-aio", 1),
            Peer("connect", Path("new-aio")),
            AwaitStatus("srv", 2),
            available("srv"),
            Peer("close"),
            AwaitSignal("srvR"),
            *status_error("srv"),
            destroy("srv"),
        ),
    ),
    Scenario(
        "send-after-peer-close",
        "a send after the peer closed: EPIPE, OtherEndClosed",
        (
            *listen_on_path("srv", "new-epipe", 1),
            Peer("connect", Path("new-epipe")),
            AwaitStatus("srv", 2),
            Peer("close"),
            send("srv", "late"),
            *status_error("srv"),
            destroy("srv"),
        ),
    ),
    Scenario(
        "tcp-peer-close",
        "a TCP connection the peer closes: waitForData ends 'closed', OtherEndClosed",
        (
            create("srv", 2),
            Call(
                "primitiveSocketListenOnPortBacklog", (Var("srv"), Port("listen"), 1), show=Show.OK
            ),
            Peer("connect", Port("listen")),
            AwaitStatus("srv", 2),
            Peer("send", data=b"bye"),
            AwaitData("srv", "srvR"),
            *receive("srv", 8),
            Peer("close"),
            AwaitData("srv", "srvR", expect="closed"),
            status("srv"),
            destroy("srv"),
        ),
    ),
    # ---- zero-length transfers ------------------------------------------------------------------
    Scenario(
        "send-zero-bytes",
        "a send of 0 bytes: write() answers 0, which the plugin takes for a closed peer",
        (
            *connect_path("echo"),
            Call("primitiveSocketSendDataBufCount", (Var("s"), Str("x"), 1, 0)),
            *status_error("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "receive-zero-bytes",
        "a receive of 0 bytes: read() answers 0, which the plugin takes for end-of-file",
        (
            *connect_path("echo"),
            Alloc("buf", 4),
            Call("primitiveSocketReceiveDataBufCount", (Var("s"), Var("buf"), 1, 0)),
            status("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "receive-would-block",
        "a receive with nothing to read answers 0 and leaves the socket Connected",
        (
            *connect_path("echo"),
            *receive("s", 8),
            *status_error("s"),
            send_done("s"),
            destroy("s"),
        ),
    ),
    # ---- close, abort, destroy -------------------------------------------------------------------
    Scenario(
        "closed-socket-ops",
        "after close: status 0, a send answers 0 and marks the socket OtherEndClosed (EBADF)",
        (
            *connect_path("echo"),
            close("s"),
            status("s"),
            send("s", "late"),
            *status_error("s"),
            available("s"),
            local_address_size("s"),
            destroy("s"),
        ),
    ),
    Scenario(
        "close-twice",
        "a second close finds nothing to close: status stays Unconnected",
        (
            *connect_path("echo"),
            close("s"),
            close("s"),
            *status_error("s"),
            destroy("s", Show.OK),
        ),
    ),
    Scenario(
        "abort",
        "abort a connected socket: status 0",
        (
            *connect_path("echo"),
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
            *status_error("s"),
            send("s", "x"),
            available("s"),
            close("s"),
            local_address_size("s"),
            destroy("s", Show.OK),
        ),
    ),
    Scenario(
        "foreign-session-address",
        "an address whose session id is not this session's is refused",
        (
            *resolved_path("echo"),
            Tweak("sa", 1, 1),
            create("s"),
            connect("s"),
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
            *resolved_path("echo"),
            Tweak("sa", 5, 1),
            create("s"),
            connect("s"),
            destroy("s"),
        ),
    ),
    # ---- addresses of connected sockets --------------------------------------------------------
    Scenario(
        "uds-addresses",
        "local and remote address of a connected Unix-domain socket (the remote one is the path)",
        (
            *connect_path("echo"),
            local_address_size("s"),
            Call("primitiveSocketRemoteAddressSize", (Var("s"),), bind="rs"),
            Alloc("ra", Var("rs")),
            Call("primitiveSocketRemoteAddressResult", (Var("s"), Var("ra"))),
            ShowVar("ra"),
            Call("primitiveSocketRemoteAddressResult", (Var("s"), Var("ra"))),
            Call("primitiveSocketLocalPort", (Var("s"),)),
            destroy("s"),
        ),
    ),
    # ---- options ---------------------------------------------------------------------------
    Scenario(
        "options",
        "get/set options by name: TCP_NODELAY, SO_KEEPALIVE, the strtol rule, unknown names",
        (
            create("t", 2),
            get_option("t", "TCP_NODELAY"),
            *set_and_get("t", "TCP_NODELAY", "1"),
            *set_and_get("t", "SO_KEEPALIVE", "0x1"),
            get_option("t", "SO_LINGER"),
            get_option("t", "SO_NOSUCH"),
            *set_and_get("t", "IP_TTL", "017"),
            *set_and_get("t", "IP_TTL", "7"),
            get_option("t", "TCP_CORK"),
            destroy("t"),
        ),
    ),
    Scenario(
        "options-on-uds",
        "TCP options on a Unix-domain stream socket fail; SO_ options work",
        (
            *connect_path("echo"),
            get_option("s", "TCP_NODELAY"),
            get_option("s", "SO_KEEPALIVE"),
            *set_and_get("s", "SO_KEEPALIVE", "1"),
            get_option("s", "SO_SNDBUF", Show.OK),
            destroy("s"),
        ),
    ),
    # ---- listen and accept -------------------------------------------------------------------
    Scenario(
        "uds-listen-backlog-1",
        "bind a new path, listen with backlog 1: the client replaces the listener in place",
        (
            *listen_on_path("srv", "new", 1),
            status("srv"),
            Peer("connect", Path("new")),
            AwaitSignal("srvC"),
            status("srv"),
            Peer("send", data=b"ping"),
            AwaitData("srv", "srvR"),
            *receive("srv"),
            send("srv", "pong"),
            remote_address_size("srv"),
            Peer("close"),
            destroy("srv"),
        ),
    ),
    Scenario(
        "uds-listen-backlog-5",
        "listen with backlog 5: the listener shows Connected, accept takes the connection",
        (
            *listen_on_path("srv", "new2", 5),
            status("srv"),
            Peer("connect", Path("new2")),
            AwaitSignal("srvC"),
            status("srv"),
            accept("srv", "c"),
            status("c"),
            status("srv"),
            accept("srv", "d"),
            Peer("send", data=b"hi"),
            AwaitData("c", "cR"),
            *receive("c"),
            Peer("close"),
            *destroy_each("c", "srv"),
        ),
    ),
    Scenario(
        "listen-status-after-peer-connect",
        "status readings around a connection: the listener changes only in a poll; SIGIO "
        "from the new connection makes the VM's next check poll (4.10)",
        (
            *listen_on_path("srv", "new-lsp", 5),
            Peer("connect", Path("new-lsp")),
            status("srv"),
            status("srv"),
            accept("srv", "c"),
            status("srv"),
            Peer("connect", Path("new-lsp")),
            status("srv"),
            accept("srv", "d"),
            status("srv"),
            *destroy_each("c", "d", "srv"),
        ),
    ),
    Scenario(
        "listen-two-queued-then-accept",
        "two connections queued before a poll: the first is accepted by the handler; after "
        "primitiveSocketAccept the handler is armed again and a later poll takes the second",
        (
            *listen_on_path("srv", "new-two", 5),
            Peer("connect", Path("new-two")),
            Peer("connect", Path("new-two")),
            status("srv"),
            accept("srv", "c"),
            AwaitStatus("srv", 2),
            accept("srv", "d"),
            status("srv"),
            *destroy_each("c", "d", "srv"),
        ),
    ),
    Scenario(
        "listen-read-then-connect",
        "a read on a listening socket fails (ENOTCONN: OtherEndClosed); a client then connects "
        "and the accept handler, which looks at no state, makes it Connected",
        (
            *listen_on_path("srv", "new-read", 1),
            *receive("srv", 8),
            *status_error("srv"),
            Peer("connect", Path("new-read")),
            AwaitStatus("srv", 2),
            Peer("send", data=b"after"),
            AwaitData("srv", "srvR"),
            *receive("srv"),
            destroy("srv"),
        ),
    ),
    Scenario(
        "listen-on-connected-socket",
        "listen on a connected socket (listen() fails, ignored), connect again (EISCONN), "
        "then data arrives: the accept handler's accept() fails and the socket is Invalid",
        (
            *connect_path("echo"),
            listen_with_backlog("s", 1),
            status("s"),
            connect("s"),
            *status_error("s"),
            send("s", "wake"),
            AwaitStatus("s", -1),
            status("s"),
            destroy("s", Show.OK),
        ),
    ),
    Scenario(
        "listen-unbound-uds",
        "listen on an unbound Unix-domain socket: listen() fails, the accept handler's "
        "accept() fails at the next poll and the socket becomes Invalid",
        (
            create("srv"),
            listen_with_backlog("srv", 1),
            AwaitSignal("srvC"),
            status("srv"),
            status("srv"),
            destroy("srv", Show.OK),
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
            listen_with_backlog("u", 5),
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
            AwaitSignal("srvC"),
            status("srv"),
            Call(
                "primitiveSocketAccept", (Var("srv"), 8000, 8000, Sema("k")), bind="c", show=Show.OK
            ),
            status("c"),
            Call("primitiveSocketRemoteAddress", (Var("c"),)),
            Peer("close"),
            AwaitData("c", "k", expect="closed"),
            available("c"),
            status("c"),
            *destroy_each("c", "srv"),
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
            AwaitData("u", "uR"),
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
            connect_to_port("u", "udp"),
            status("u"),
            send("u", "dgram"),
            AwaitData("u", "uR"),
            *receive("u", 16),
            remote_address_size("u"),
            destroy("u"),
        ),
    ),
    Scenario(
        "udp-receive-nothing",
        "a UDP receive with nothing queued answers 0",
        (
            create("u", 2, 1),
            *receive("u", 16),
            remote_address_size("u"),
            error("u"),
            destroy("u"),
        ),
    ),
    # ---- buffers ---------------------------------------------------------------------------------
    Scenario(
        "buffer-bounds",
        "start/count outside the buffer make send and receive fail",
        (
            *connect_path("echo"),
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
            connect_to_port("s", "echo"),
            destroy("s"),
        ),
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}
assert len(BY_NAME) == len(SCENARIOS), "scenario names are unique"
