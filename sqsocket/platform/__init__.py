"""The platform layer: what ``platforms/unix/plugins/SocketPlugin/sqUnixSocket.c`` does.

Real sockets, the resolvers, the socket
options table and the connection-status state table. The primitive entry
points in :mod:`sqsocket.plugin` sit on top of this, as SocketPlugin.c sits on
top of sqUnixSocket.c.
"""
