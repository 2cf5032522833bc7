"""The facts about each primitive that no table in the emulator holds, written once.

Everything else in the reference is derived: names, argument kinds and the Squeak
selector from :data:`sqsocket.plugin.PRIMITIVES`, state changes and signals from
:data:`sqsocket.platform.statetable.TABLE`, the per-VM differences from the profiles'
flags and sources, the option names from the option table, the scenarios from
:data:`sqsocket.interop.scenarios.SCENARIOS`. What is written here, per primitive:

- ``c``: the platform function (sqUnixSocket.c, pharo-vm's SocketPluginImpl.c) it calls;
- ``answers``: what it answers when it succeeds;
- ``fails``: every failure condition beyond the common ones (a wrong argument count or
  kind, for a socket argument: not a handle of this session's live socket);
- ``ranges``: what each argument may be, where the kind alone does not say;
- ``events`` / ``arms``: the state-table rows it applies itself, and the aio handlers it
  arms (whose rows then run in a later poll);
- ``pharo``: the Pharo 13 methods whose ``<primitive: ... module: 'SocketPlugin'>`` names
  it, read in pharo-project/pharo @ :data:`PHARO13_COMMIT` (``src/Network-Kernel``).

And, per profile flag, the primitives whose behaviour it changes (:data:`FLAG_EFFECTS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqsocket.platform.statetable import Event

PHARO13_REPO = "pharo-project/pharo"
PHARO13_COMMIT = "9b55ea408a6ac583655e07c12d63f26dd64c6f87"  # branch Pharo13, 2024-10-22
PHARO13_FILES = (
    "src/Network-Kernel/Socket.class.st",
    "src/Network-Kernel/NetNameResolver.class.st",
)
SQUEAK_SELECTORS_FILE = "images/squeak/SocketPrims.st"

# The handlers a primitive can arm (aio.c aioHandle), by their C names; their rows are the
# state-table rows whose ``where`` starts with the name.
HANDLERS = ("acceptHandler", "connectHandler", "dataHandler", "closeHandler")

HANDLE = "a socket handle: the 16-byte ByteArray a create or accept answered, this session's"
SEMA = "an external-object index (0: none); signalled by index"
BUFFER = "a String, ByteArray or word array; start is 1-based, count in elements"
NO_SOCKET_ACCESS = "socket access was disabled (primitiveDisableSocketAccess)"


@dataclass(frozen=True)
class Facts:
    c: str
    answers: str
    fails: tuple[str, ...] = ()
    ranges: dict[str, str] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    arms: tuple[str, ...] = ()
    pharo: tuple[str, ...] = ()


E = Event
NET = "NetNameResolver class>>"
SOCK = "Socket>>"
NO_RESULT = "there is no current getAddressInfo result (none asked, or Next passed the last)"
NO_NAME_INFO = "there is no getNameInfo result"
SHORT = "the String is shorter than the answer"

FACTS: dict[str, Facts] = {
    # -- security ------------------------------------------------------------------------------
    "primitiveHasSocketAccess": Facts(
        "secHasSocketAccess (SecurityPlugin)",
        "true unless socket access was disabled in this VM session",
    ),
    "primitiveDisableSocketAccess": Facts(
        "secDisableSocketAccess (SecurityPlugin)",
        "the receiver; creating, connecting (old API) and listening fail from now on",
    ),
    # -- network -------------------------------------------------------------------------------
    "primitiveInitializeNetwork": Facts(
        "sqNetworkInit",
        "the receiver; a session already running is kept (its resolver semaphore too)",
        ranges={"resolverSemaIndex": SEMA},
        pharo=(NET + "primInitializeNetwork:",),
    ),
    # -- old resolver --------------------------------------------------------------------------
    "primitiveResolverStartNameLookup": Facts(
        "sqResolverStartNameLookup (nameToAddr)",
        "the receiver; the lookup is done before it answers, and the resolver semaphore "
        "is signalled",
        ranges={"name": "a String; cut at MAXHOSTNAMELEN and at its first NUL"},
        pharo=(NET + "primStartLookupOfName:",),
    ),
    "primitiveResolverStartAddressLookup": Facts(
        "sqResolverStartAddrLookup (addrToName)",
        "the receiver; done before it answers; the resolver semaphore is NOT signalled",
        fails=("the address is not a 4-byte byte object",),
        ranges={"address": "a 4-byte ByteArray, most significant byte first"},
        pharo=(NET + "primStartLookupOfAddress:",),
    ),
    "primitiveResolverNameLookupResult": Facts(
        "sqResolverNameLookupResult",
        "the last name lookup's IPv4 address as a 4-byte ByteArray (0.0.0.0 if it failed)",
        fails=("(pharo-vm) the last resolver call failed: lastError is not 0",),
        pharo=(NET + "primNameLookupResult",),
    ),
    "primitiveResolverAddressLookupResult": Facts(
        "sqResolverAddrLookupResultSize / sqResolverAddrLookupResult",
        "the last address lookup's host name, a String ('' if it failed)",
        pharo=(NET + "primAddressLookupResult",),
    ),
    "primitiveResolverStatus": Facts(
        "sqResolverStatus",
        "0 uninitialised (no session), 1 ready, 2 busy (never on Unix), 3 error "
        "(lastError is not 0)",
        pharo=(NET + "primNameResolverStatus",),
    ),
    "primitiveResolverError": Facts(
        "sqResolverError",
        "lastError: h_errno after gethostbyname/gethostbyaddr (pharo-vm's getaddrinfo: "
        "the EAI code, negative), a getnameinfo error code, or 0",
        pharo=(NET + "primNameResolverError",),
    ),
    "primitiveResolverAbortLookup": Facts(
        "sqResolverAbort",
        "the receiver: every lookup is synchronous, there is nothing to abort",
        pharo=(NET + "primAbortLookup",),
    ),
    "primitiveResolverLocalAddress": Facts(
        "sqResolverLocalAddress",
        "this host's IPv4 address as a 4-byte ByteArray, by the profile's rule (0.0.0.0 if none)",
        fails=("getifaddrs() failed (the interface rules)",),
        pharo=(NET + "primLocalAddress",),
    ),
    # -- new resolver --------------------------------------------------------------------------
    "primitiveResolverGetAddressInfo": Facts(
        "sqResolverGetAddressInfoHostSizeServiceSizeFlagsFamilyTypeProtocol",
        "the receiver, with a current result (or none: a lookup error is zero results); "
        "the resolver semaphore is signalled",
        fails=(
            "the network is not initialized",
            "the host or the service is longer than MAXHOSTNAMELEN (the profile's max_name_length)",
            "family is not 0..3, type not 0..2, protocol not 0..2 (before the LOCAL "
            "shortcut, or after it since eb2d9e2d1)",
            "(opensmalltalk-2022) type 0 or protocol 0 once the LOCAL shortcut is not taken",
        ),
        ranges={
            "hostName": "a String ('' for none)",
            "servName": "a String: a port or service name; with family 1 a socket path",
            "flags": "1 NUMERIC (AI_NUMERICHOST), 2 PASSIVE (AI_PASSIVE)",
            "family": "0 unspecified, 1 local, 2 inet4, 3 inet6",
            "type": "0 unspecified, 1 stream, 2 datagram",
            "protocol": "0 unspecified, 1 TCP, 2 UDP",
        },
        pharo=(NET + "primGetAddressInfoHost:service:flags:family:type:protocol:",),
    ),
    "primitiveResolverGetAddressInfoSize": Facts(
        "sqResolverGetAddressInfoSize",
        "the size of the current result as a socket address (8-byte header + sockaddr; "
        "118 for a Unix path), -1 if there is none",
        pharo=(NET + "primGetAddressInfoSize",),
    ),
    "primitiveResolverGetAddressInfoResult": Facts(
        "sqResolverGetAddressInfoResultSize",
        "the receiver; the address is written into the argument",
        fails=(NO_RESULT, "the address object is smaller than GetAddressInfoSize"),
        ranges={"socketAddress": "a ByteArray of at least GetAddressInfoSize bytes"},
        pharo=(NET + "primGetAddressInfoResult:",),
    ),
    "primitiveResolverGetAddressInfoFamily": Facts(
        "sqResolverGetAddressInfoFamily",
        "the current result's family: 1 local, 2 inet4, 3 inet6, 0 other",
        fails=(NO_RESULT,),
        pharo=(NET + "primGetAddressInfoFamily",),
    ),
    "primitiveResolverGetAddressInfoType": Facts(
        "sqResolverGetAddressInfoType",
        "the current result's type: 1 stream, 2 datagram, 0 other",
        fails=(NO_RESULT,),
        pharo=(NET + "primGetAddressInfoType",),
    ),
    "primitiveResolverGetAddressInfoProtocol": Facts(
        "sqResolverGetAddressInfoProtocol",
        "the current result's protocol: 1 TCP, 2 UDP, 0 other (the LOCAL shortcut's: 0)",
        fails=(NO_RESULT,),
        pharo=(NET + "primGetAddressInfoProtocol",),
    ),
    "primitiveResolverGetAddressInfoNext": Facts(
        "sqResolverGetAddressInfoNext",
        "true if it moved to another result; false at the end (then there is no current one)",
        pharo=(NET + "primGetAddressInfoNext",),
    ),
    "primitiveResolverGetNameInfo": Facts(
        "sqResolverGetNameInfoSizeFlags",
        "the receiver, with a host and a service name; the resolver semaphore is signalled",
        fails=(
            "the address is not a valid socket address of this session",
            "getnameinfo failed, e.g. a name longer than MAXHOSTNAMELEN (EAI_OVERFLOW): "
            "lastError is set",
        ),
        ranges={
            "socketAddress": "a socket address (8-byte header + sockaddr) of this session",
            "flags": "1 NUMERIC (NI_NUMERICHOST | NI_NUMERICSERV); NI_NOFQDN always",
        },
    ),
    "primitiveResolverGetNameInfoHostSize": Facts(
        "sqResolverGetNameInfoHostSize",
        "the length of the host name getNameInfo found",
        fails=(NO_NAME_INFO,),
        pharo=(NET + "primGetNameInfoHostSize",),
    ),
    "primitiveResolverGetNameInfoHostResult": Facts(
        "sqResolverGetNameInfoHostResultSize",
        "the receiver; the name is copied into the argument",
        fails=(NO_NAME_INFO, SHORT),
        ranges={"socketName": "a String of at least GetNameInfoHostSize bytes"},
        pharo=(NET + "primGetNameInfoHostResult:",),
    ),
    "primitiveResolverGetNameInfoServiceSize": Facts(
        "sqResolverGetNameInfoServiceSize",
        "the length of the service name (a Unix address: its path)",
        fails=(NO_NAME_INFO,),
        pharo=(NET + "primGetNameInfoServiceSize",),
    ),
    "primitiveResolverGetNameInfoServiceResult": Facts(
        "sqResolverGetNameInfoServiceResultSize",
        "the receiver; the name is copied into the argument",
        fails=(NO_NAME_INFO, SHORT),
        ranges={"socketName": "a String of at least GetNameInfoServiceSize bytes"},
        pharo=(NET + "primGetNameInfoServiceResult:",),
    ),
    "primitiveResolverHostNameSize": Facts(
        "sqResolverHostNameSize",
        "the length of gethostname() (at most MAXHOSTNAMELEN + 1)",
        pharo=(NET + "primHostNameSize",),
    ),
    "primitiveResolverHostNameResult": Facts(
        "sqResolverHostNameResultSize",
        "the receiver; gethostname() is copied into the argument",
        fails=(SHORT,),
        ranges={"nameString": "a String of at least HostNameSize bytes"},
        pharo=(NET + "primHostNameResult:",),
    ),
    # -- socket addresses ----------------------------------------------------------------------
    "primitiveSocketAddressGetPort": Facts(
        "sqSocketAddressSizeGetPort",
        "the port of an INET4 or INET6 socket address",
        fails=(
            "the receiver is not a valid socket address of this session",
            "the address is neither INET4 nor INET6 (a Unix address has no port)",
        ),
        ranges={"address": "the receiver: a socket address"},
    ),
    "primitiveSocketAddressSetPort": Facts(
        "sqSocketAddressSizeSetPort",
        "the receiver, its port changed in place",
        fails=(
            "the receiver is not a valid socket address of this session",
            "the address is neither INET4 nor INET6",
        ),
        ranges={"address": "the receiver: a socket address", "portNumber": "0..65535"},
    ),
    # -- creation ------------------------------------------------------------------------------
    "primitiveSocketCreate": Facts(
        "sqSocketCreateNetTypeSocketTypeRecvBytesSendBytesSemaID",
        "a new socket handle (16 bytes); the one semaphore serves connection, read and write",
        fails=(
            NO_SOCKET_ACCESS,
            "the socket type is neither 0 (TCP) nor 1 (UDP) (65536 + 0: no socket handed "
            "over by the service manager)",
            "the network is not initialized",
            "socket() failed (e.g. an unknown netType: EAFNOSUPPORT)",
        ),
        ranges={
            "netType": "0 default (inet4), 1 local (Unix), 2 inet4, 3 inet6; others go to "
            "socket() as they are",
            "socketType": "0 TCP (stream), 1 UDP (datagram)",
            "recvBufSize": "ignored",
            "sendBufSize": "ignored",
            "semaIndex": SEMA,
        },
        events=(E.CREATE_STREAM, E.CREATE_DGRAM),
        pharo=(SOCK + "primSocketCreateNetwork:type:receiveBufferSize:sendBufSize:semaIndex:",),
    ),
    "primitiveSocketCreate3Semaphores": Facts(
        "sqSocketCreateNetTypeSocketTypeRecvBytesSendBytesSemaIDReadSemaIDWriteSemaID",
        "a new socket handle (16 bytes)",
        fails=(
            NO_SOCKET_ACCESS,
            "the socket type is neither 0 (TCP) nor 1 (UDP)",
            "the network is not initialized",
            "socket() failed",
        ),
        ranges={
            "netType": "0 default (inet4), 1 local (Unix), 2 inet4, 3 inet6",
            "socketType": "0 TCP (stream), 1 UDP (datagram)",
            "recvBufSize": "ignored",
            "sendBufSize": "ignored",
            "semaIndex": SEMA + " (connection)",
            "readSemaIndex": SEMA + " (data to read)",
            "writeSemaIndex": SEMA + " (room to write)",
        },
        events=(E.CREATE_STREAM, E.CREATE_DGRAM),
        pharo=(
            SOCK + "primSocketCreateNetwork:type:receiveBufferSize:sendBufSize:semaIndex:"
            "readSemaIndex:writeSemaIndex:",
        ),
    ),
    "primitiveSocketCreateRAW": Facts(
        "sqSocketCreateRawProtoTypeRecvBytesSendBytesSemaIDReadSemaIDWriteSemaID",
        "a new raw socket handle (ICMP over IPv4), born Connected",
        fails=(
            NO_SOCKET_ACCESS,
            "the protocol is not 1 (ICMP)",
            "the network is not initialized",
            "socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) failed (it needs CAP_NET_RAW)",
        ),
        ranges={"netType": "ignored (always AF_INET)", "protoType": "1 (ICMP)"},
        events=(E.CREATE_RAW,),
    ),
    # -- status --------------------------------------------------------------------------------
    "primitiveSocketConnectionStatus": Facts(
        "sqSocketConnectionStatus",
        "the state: 0 Unconnected, 1 WaitingForConnection, 2 Connected, 3 OtherEndClosed, "
        "4 ThisEndClosed",
        fails=(
            "the socket is Invalid (-1: a failed accept): it is freed and the handle's "
            "pointer cleared, so every later call fails too",
        ),
        pharo=(SOCK + "primSocketConnectionStatus:",),
    ),
    "primitiveSocketError": Facts(
        "sqSocketError",
        "the errno stored by the socket's last failure (0 if none); see the profiles for "
        "what is stored at end-of-file",
        pharo=(SOCK + "primSocketError:",),
    ),
    # -- old API addresses -------------------------------------------------------------------------
    "primitiveSocketLocalAddress": Facts(
        "sqSocketLocalAddress",
        "the local IPv4 address (4 bytes; 0.0.0.0 when not INET4, unbound or getsockname fails)",
        pharo=(SOCK + "primSocketLocalAddress:",),
    ),
    "primitiveSocketLocalPort": Facts(
        "sqSocketLocalPort",
        "the local port (0 when not INET4 or unbound)",
        pharo=(SOCK + "primSocketLocalPort:",),
    ),
    "primitiveSocketRemoteAddress": Facts(
        "sqSocketRemoteAddress",
        "TCP: the peer's IPv4 address by getpeername; UDP: the default peer (or the last "
        "sender), read as a sockaddr_in",
        pharo=(SOCK + "primSocketRemoteAddress:",),
    ),
    "primitiveSocketRemotePort": Facts(
        "sqSocketRemotePort",
        "TCP: the peer's port; UDP: the default peer's (or the last sender's)",
        pharo=(SOCK + "primSocketRemotePort:",),
    ),
    # -- new API addresses ------------------------------------------------------------------------
    "primitiveSocketLocalAddressSize": Facts(
        "sqSocketLocalAddressSize",
        "8 + the getsockname() length; 0 if getsockname fails",
        pharo=(SOCK + "primSocketLocalAddressSize:",),
    ),
    "primitiveSocketLocalAddressResult": Facts(
        "sqSocketLocalAddressResultSize",
        "the receiver; the local socket address is written into the argument",
        fails=("getsockname() failed", "the address object is not exactly LocalAddressSize"),
        ranges={"socketAddress": "a ByteArray of exactly LocalAddressSize bytes"},
        pharo=(SOCK + "primSocket:localAddressResult:",),
    ),
    "primitiveSocketRemoteAddressSize": Facts(
        "sqSocketRemoteAddressSize",
        "8 + the peer address's length (TCP: getpeername; UDP: the default peer or the "
        "last sender), -1 if there is none",
        pharo=(SOCK + "primSocketRemoteAddressSize:",),
    ),
    "primitiveSocketRemoteAddressResult": Facts(
        "sqSocketRemoteAddressResultSize",
        "the receiver; the peer address is written into the argument (once per Size call)",
        fails=(
            "RemoteAddressSize was not asked first (or answered -1)",
            "the address object is not exactly RemoteAddressSize",
        ),
        ranges={"socketAddress": "a ByteArray of exactly RemoteAddressSize bytes"},
        pharo=(SOCK + "primSocket:remoteAddressResult:",),
    ),
    # -- connect / bind / listen ------------------------------------------------------------------
    "primitiveSocketConnectToPort": Facts(
        "sqSocketConnectToPort",
        "the receiver; TCP: connected, connecting (WaitingForConnection) or failed "
        "(Unconnected, with the error); UDP: the default peer is set",
        fails=(NO_SOCKET_ACCESS + " (secCanConnectToPort)", "the address is not 4 bytes"),
        ranges={"address": "a 4-byte IPv4 address", "port": "0..65535"},
        events=(E.CONNECT_SYNC, E.CONNECT_PENDING, E.CONNECT_ERROR, E.DGRAM_CONNECT),
        arms=("connectHandler",),
        pharo=(SOCK + "primSocket:connectTo:port:",),
    ),
    "primitiveSocketConnectTo": Facts(
        "sqSocketConnectToAddressSize",
        "the receiver; as ConnectToPort, for any family (a Unix path, INET4, INET6)",
        fails=("the address is not a valid socket address of this session",),
        ranges={"socketAddress": "a socket address of this session (GetAddressInfoResult)"},
        events=(E.CONNECT_SYNC, E.CONNECT_PENDING, E.CONNECT_ERROR, E.DGRAM_CONNECT),
        arms=("connectHandler",),
        pharo=(SOCK + "primSocket:connectTo:",),
    ),
    "primitiveSocketBindToPort": Facts(
        "sqSocketBindToPort",
        "the receiver, bound",
        fails=("the address is not 4 bytes", "bind() failed (the error is kept)"),
        ranges={"address": "a 4-byte IPv4 address", "port": "0..65535"},
        pharo=(SOCK + "primSocket:bindTo:port:",),
    ),
    "primitiveSocketBindTo": Facts(
        "sqSocketBindToAddressSize",
        "the receiver, bound (a Unix path: the socket file now exists)",
        fails=(
            "the address is not a valid socket address of this session",
            "bind() failed, e.g. EADDRINUSE for an existing path (the error is kept)",
        ),
        pharo=(SOCK + "primSocket:bindTo:",),
    ),
    "primitiveSocketListenOnPort": Facts(
        "sqSocketListenOnPort",
        "the receiver; bound to INADDR_ANY:port (errors ignored), listening with backlog 1",
        fails=(NO_SOCKET_ACCESS + " (secCanListenOnPort)",),
        ranges={"port": "0..65535"},
        events=(E.LISTEN,),
        arms=("acceptHandler",),
    ),
    "primitiveSocketListenOnPortBacklog": Facts(
        "sqSocketListenOnPortBacklogSize",
        "the receiver; bound to INADDR_ANY:port (errors ignored), listening",
        fails=(NO_SOCKET_ACCESS, "a backlog > 1 on a socket that is not TCP"),
        ranges={
            "port": "0..65535",
            "backlog": "1: the connection replaces the listener; > 1: "
            "accept with primitiveSocketAccept",
        },
        events=(E.LISTEN,),
        arms=("acceptHandler",),
    ),
    "primitiveSocketListenOnPortBacklogInterface": Facts(
        "sqSocketListenOnPortBacklogSizeInterface",
        "the receiver; bound to interface:port (errors ignored), listening",
        fails=(
            NO_SOCKET_ACCESS,
            "a backlog > 1 on a socket that is not TCP",
            "the interface address is not 4 bytes",
        ),
        ranges={"port": "0..65535", "ifAddr": "a 4-byte IPv4 address"},
        events=(E.LISTEN,),
        arms=("acceptHandler",),
    ),
    "primitiveSocketListenWithOrWithoutBacklog": Facts(
        "sqSocketListenOnPort / sqSocketListenOnPortBacklogSize",
        "the receiver; two arguments: listenOn:, three: with a backlog (UDP: binds the port)",
        fails=(NO_SOCKET_ACCESS, "a backlog > 1 on a socket that is not TCP"),
        events=(E.LISTEN,),
        arms=("acceptHandler",),
        pharo=(SOCK + "primSocket:setPort:",),
    ),
    "primitiveSocketListenWithBacklog": Facts(
        "sqSocketListenBacklog",
        "the receiver, listening on the address it is bound to (listen() errors ignored)",
        fails=("a backlog > 1 on a socket that is not TCP",),
        ranges={"backlogSize": "1: the connection replaces the listener; > 1: accept"},
        events=(E.LISTEN,),
        arms=("acceptHandler",),
        pharo=(SOCK + "primSocket:listenWithBacklog:",),
    ),
    # -- accept --------------------------------------------------------------------------------
    "primitiveSocketAccept": Facts(
        "sqSocketAcceptFromRecvBytesSendBytesSemaID",
        "a new handle for the connection the listener's acceptHandler parked",
        fails=(
            "the listener is not listening with a backlog > 1",
            "no connection is waiting (the C code would hand out fd 0: quirk 12)",
        ),
        ranges={"sockHandle": HANDLE + " (the listener)", "semaIndex": SEMA},
        events=(E.ACCEPT_TAKEN, E.ACCEPTED),
        arms=("acceptHandler",),
        pharo=(SOCK + "primAcceptFrom:receiveBufferSize:sendBufSize:semaIndex:",),
    ),
    "primitiveSocketAccept3Semaphores": Facts(
        "sqSocketAcceptFromRecvBytesSendBytesSemaIDReadSemaIDWriteSemaID",
        "a new handle for the parked connection, with three semaphores",
        fails=(
            "the listener is not listening with a backlog > 1",
            "no connection is waiting",
        ),
        ranges={"sockHandle": HANDLE + " (the listener)"},
        events=(E.ACCEPT_TAKEN, E.ACCEPTED),
        arms=("acceptHandler",),
        pharo=(
            SOCK + "primAcceptFrom:receiveBufferSize:sendBufSize:semaIndex:readSemaIndex:"
            "writeSemaIndex:",
        ),
    ),
    # -- data ----------------------------------------------------------------------------------
    "primitiveSocketReceiveDataAvailable": Facts(
        "sqSocketReceiveDataAvailable",
        "true if a read would find data; else false, and the read semaphore is signalled "
        "when there is something (dataHandler armed)",
        events=(E.PEER_CLOSED_PEEK,),
        arms=("dataHandler",),
        pharo=(SOCK + "primSocketReceiveDataAvailable:",),
    ),
    "primitiveSocketSendDone": Facts(
        "sqSocketSendDone",
        "true if a send would not block (by the profile's rule); else false, and the write "
        "semaphore is signalled when there is room",
        arms=("dataHandler",),
        pharo=(SOCK + "primSocketSendDone:",),
    ),
    "primitiveSocketReceiveDataBufCount": Facts(
        "sqSocketReceiveDataBufCount",
        "the number of elements read; 0 if nothing is there (or at end-of-file: then "
        "OtherEndClosed)",
        fails=("start and count do not fit the buffer",),
        ranges={"array": BUFFER, "startIndex": ">= 1", "count": ">= 0"},
        events=(E.PEER_CLOSED_READ,),
        pharo=(SOCK + "primSocket:receiveDataInto:startingAt:count:",),
    ),
    "primitiveSocketSendDataBufCount": Facts(
        "sqSocketSendDataBufCount",
        "the number of elements sent; 0 if it would block (or on an error: then "
        "OtherEndClosed, TCP)",
        fails=("start and count do not fit the buffer",),
        ranges={"array": BUFFER, "startIndex": ">= 1", "count": ">= 0 (0: write() of 0 bytes)"},
        events=(E.SEND_FAILED,),
        pharo=(SOCK + "primSocket:sendData:startIndex:count:",),
    ),
    "primitiveSocketReceiveUDPDataBufCount": Facts(
        "sqSocketReceiveUDPDataBufCountaddressportmoreFlag",
        "{count, sender address (4 bytes), sender port, more (always false)}",
        fails=(
            "the socket is TCP",
            "start and count do not fit the buffer",
            "recvfrom() failed other than would-block (the error is kept)",
        ),
        ranges={"array": BUFFER},
        pharo=(SOCK + "primSocket:receiveUDPDataInto:startingAt:count:",),
    ),
    "primitiveSocketSendUDPDataBufCount": Facts(
        "sqSockettoHostportSendDataBufCount",
        "the number of elements sent (0 if it would block)",
        fails=(
            "the socket is TCP",
            "the host address is not 4 bytes",
            "start and count do not fit the buffer",
            "sendto() failed other than would-block (the error is kept)",
        ),
        ranges={"hostAddress": "a 4-byte IPv4 address", "portNumber": "0..65535"},
        pharo=(SOCK + "primSocket:sendUDPData:toHost:port:startIndex:count:",),
    ),
    # -- options -------------------------------------------------------------------------------
    "primitiveSocketSetOptions": Facts(
        "sqSocketSetOptionsoptionNameStartoptionNameSizeoptionValueStartoptionValueSizereturnedValue",
        "{0, the integer set} ({0, 0} when the value went to setsockopt verbatim)",
        fails=(
            "the name is not in this build's socketOptions[] (see the constants)",
            "the value is longer than 31 bytes",
            "setsockopt() failed",
        ),
        ranges={
            "optionName": "an option name, e.g. 'TCP_NODELAY'",
            "optionValue": "a String: a number by the profile's option_value_rule, else bytes",
        },
        pharo=(SOCK + "primSocket:setOption:value:",),
    ),
    "primitiveSocketGetOptions": Facts(
        "sqSocketGetOptionsoptionNameStartoptionNameSizereturnedValue",
        "{0, the option's integer value}",
        fails=(
            "the name is not in this build's socketOptions[]",
            "getsockopt() failed or did not answer an int (4 bytes)",
        ),
        pharo=(SOCK + "primSocket:getOption:",),
    ),
    # -- close ---------------------------------------------------------------------------------
    "primitiveSocketCloseConnection": Facts(
        "sqSocketCloseConnection",
        "the receiver; the state is 0 (Unconnected) once close() returned",
        events=(E.CLOSE_BEGIN, E.CLOSE_DONE, E.CLOSE_ERROR, E.CLOSE_DEFERRED),
        arms=("closeHandler",),
        pharo=(SOCK + "primSocketCloseConnection:",),
    ),
    "primitiveSocketAbortConnection": Facts(
        "sqSocketAbortConnection",
        "the receiver; linger off ({0, 0}: no reset), then as CloseConnection",
        events=(E.CLOSE_BEGIN, E.CLOSE_DONE, E.CLOSE_ERROR, E.CLOSE_DEFERRED),
        arms=("closeHandler",),
        pharo=(SOCK + "primSocketAbortConnection:",),
    ),
    "primitiveSocketDestroy": Facts(
        "sqSocketDestroy",
        "the receiver; aborted if open, freed, and the handle's pointer cleared in place",
        events=(E.CLOSE_BEGIN, E.CLOSE_DONE, E.CLOSE_ERROR),
        pharo=(SOCK + "primSocketDestroy:", SOCK + "primSocketDestroyGently:"),
    ),
}


@dataclass(frozen=True)
class FlagEffect:
    """Which primitives a profile flag changes, and how (one line)."""

    primitives: tuple[str, ...]
    effect: str


_CONNECT = ("primitiveSocketConnectTo", "primitiveSocketConnectToPort")
_READ_SEND = ("primitiveSocketReceiveDataBufCount", "primitiveSocketSendDataBufCount")
_OPTIONS = ("primitiveSocketSetOptions", "primitiveSocketGetOptions")
_NAME = ("primitiveResolverStartNameLookup",)

FLAG_EFFECTS: dict[str, FlagEffect] = {
    "missing_primitives": FlagEffect(
        ("primitiveHasSocketAccess", "primitiveDisableSocketAccess", "primitiveSocketCreateRAW"),
        "the VM's plugin does not export it: every call fails",
    ),
    "max_name_length": FlagEffect(
        (
            "primitiveResolverGetAddressInfo",
            "primitiveResolverStartNameLookup",
            "primitiveResolverStartAddressLookup",
            "primitiveResolverGetNameInfo",
            "primitiveResolverHostNameSize",
        ),
        "longer host or service names fail; names are cut there; getnameinfo/gethostname "
        "buffers are one byte more",
    ),
    "local_lookup_stat": FlagEffect(
        ("primitiveResolverGetAddressInfo",),
        "family 1: a path resolves only if stat() finds it (else any path of 1..107 bytes)",
    ),
    "local_lookup_mode_bit_test": FlagEffect(
        ("primitiveResolverGetAddressInfo",),
        "family 1: st_mode & S_IFSOCK, so regular files and directories resolve too",
    ),
    "unterminated_path_word": FlagEffect(
        ("primitiveResolverGetAddressInfo",),
        "family 1: a path whose length is a multiple of the image's word is not found",
    ),
    "resolver_checks": FlagEffect(
        ("primitiveResolverGetAddressInfo",),
        "where family/type/protocol are checked, and whether 0 type/protocol fails",
    ),
    "address_lookup_length": FlagEffect(
        ("primitiveResolverStartAddressLookup",),
        "gethostbyaddr's length: 8 (u_long on 64 bits) makes every lookup fail",
    ),
    "lookup_host_at_init": FlagEffect(
        ("primitiveInitializeNetwork", "primitiveResolverStatus"),
        "the host name is looked up at init: an unresolvable one leaves status 3",
    ),
    "name_lookup": FlagEffect(
        (*_NAME, "primitiveResolverError", "primitiveResolverLocalAddress"),
        "gethostbyname (h_errno 1..4) or getaddrinfo (EAI codes, negative)",
    ),
    "name_lookup_result_fails_on_error": FlagEffect(
        ("primitiveResolverNameLookupResult",),
        "fails while lastError is not 0 instead of answering 0.0.0.0",
    ),
    "local_address_rule": FlagEffect(
        ("primitiveResolverLocalAddress",),
        "host name's address, eth0/wlan0's, or the first up non-loopback interface's",
    ),
    "option_value_rule": FlagEffect(
        ("primitiveSocketSetOptions",),
        "which value Strings are numbers (one character, or strtol of up to 4)",
    ),
    "tcp_cork_option": FlagEffect(_OPTIONS, "TCP_CORK is in the option table"),
    "tcp_keepalive_options": FlagEffect(
        _OPTIONS, "TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT are in the option table"
    ),
    "option_name_buffer": FlagEffect(
        _OPTIONS, "the name is a C string of at most 31 bytes (a NUL ends it), or compared whole"
    ),
    "send_done_rule": FlagEffect(
        ("primitiveSocketSendDone",),
        "writable by select, by poll or the handler's notice, or simply Connected",
    ),
    "data_handler_would_block": FlagEffect(
        ("primitiveSocketReceiveDataAvailable",),
        "the armed dataHandler finding nothing to read: closes, ignores, or re-arms silently",
    ),
    "close_handler_notifies_read": FlagEffect(
        ("primitiveSocketCloseConnection", "primitiveSocketAbortConnection"),
        "a deferred close's handler signals the read semaphore too",
    ),
    "eof_error_from_errno": FlagEffect(
        (*_READ_SEND, "primitiveSocketReceiveUDPDataBufCount", "primitiveSocketError"),
        "the socket error after a 0 answer: the stale errno, or 0",
    ),
    "stderr_messages": FlagEffect(
        (*_CONNECT, "primitiveSocketError"),
        "perror() before errno is read: the first failed connect may keep EINVAL",
    ),
    "events": FlagEffect(
        (
            "primitiveSocketConnectionStatus",
            "primitiveSocketReceiveDataAvailable",
            "primitiveSocketError",
            "primitiveSocketAccept",
            "primitiveSocketAccept3Semaphores",
        ),
        "when handlers run (poll interval, forced polls) and what an idle wait leaves in errno",
    ),
}
