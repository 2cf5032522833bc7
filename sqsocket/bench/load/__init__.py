"""``sqsocket bench load``: a thousand clients, well-behaved and not, on the echo servers.

:mod:`.mix` says which kinds of client there are and how many of each;
:mod:`.worker` is a client process (hundreds of clients in one selectors loop);
:mod:`.runner` starts the servers (``sqsocket serve echo`` on a Unix path and
on TCP, each in its own process), the workers, and the victims it SIGKILLs,
watches the servers' descriptors and memory, and sums up; :mod:`.cli` is the
command.
"""
