"""Interop and conformance: the emulator and real Smalltalk VMs against the same Python peers."""
