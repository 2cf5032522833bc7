"""The parts of the interpreter that the SocketPlugin calls back into."""

from sqsocket.vm.semaphores import ExternalObjectsTable, Semaphore, VirtualMachine

__all__ = ["ExternalObjectsTable", "Semaphore", "VirtualMachine"]
