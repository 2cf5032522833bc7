"""The parts of the interpreter that the SocketPlugin calls back into."""

from sqsocket.vm.machine import EventModel, VirtualMachine
from sqsocket.vm.semaphores import ExternalObjectsTable, Semaphore

__all__ = ["EventModel", "ExternalObjectsTable", "Semaphore", "VirtualMachine"]
