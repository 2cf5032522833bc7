"""Argument checks as the interpreter proxy does them (stackIntegerValue, isBytes, ...).

Each check answers the Python value the platform layer wants or raises
:class:`ArgumentError` naming the argument; the primitive then fails, exactly where
the VM's ``failed()`` test would make it fail.
"""

from __future__ import annotations

import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqsocket.platform.layouts import SOCKET_HANDLE_SIZE

# SmallInteger range of a 32-bit image (format 6502/6504): 31-bit two's complement.
SMALLINT_MIN = -(1 << 30)
SMALLINT_MAX = (1 << 30) - 1

ByteObject = bytes | bytearray | memoryview | str


class ArgumentError(Exception):
    """An argument is not of the kind the primitive declares."""


def small_integer(value: object, what: str) -> int:
    """``stackIntegerValue``: a SmallInteger, nothing else (not a Boolean, not a Float)."""
    if type(value) is int and SMALLINT_MIN <= value <= SMALLINT_MAX:
        return value  # the common case: no Boolean, no other int subclass
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(f"{what} must be a SmallInteger, not {type(value).__name__}")
    if not SMALLINT_MIN <= value <= SMALLINT_MAX:
        raise ArgumentError(f"{what} {value} is outside the SmallInteger range")
    return value


def byte_object(value: object, what: str) -> bytes:
    """``isBytes`` + ``byteSizeOf``: a String or ByteArray; a Python str is a ByteString."""
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise ArgumentError(f"{what} has characters a ByteString cannot hold") from None
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, memoryview) and value.itemsize == 1 and value.ndim == 1:
        return value.tobytes()
    raise ArgumentError(
        f"{what} must be a byte object (String or ByteArray), not {type(value).__name__}"
    )


def mutable_bytes(value: object, what: str) -> bytearray | memoryview:
    """A byte object the primitive writes into: it must be mutable."""
    if isinstance(value, bytearray):
        return value
    if (
        isinstance(value, memoryview)
        and not value.readonly
        and value.itemsize == 1
        and value.ndim == 1
        and value.c_contiguous
    ):
        return value
    if isinstance(value, bytes | str):
        raise ArgumentError(
            f"{what} is written into, so it must be a bytearray, not {type(value).__name__}"
        )
    raise ArgumentError(
        f"{what} must be a byte object (String or ByteArray), not {type(value).__name__}"
    )


def socket_handle(value: object, what: str = "the socket handle") -> bytes | bytearray:
    """``socketValueOf``: a byte object of exactly sizeof(SQSocket) bytes."""
    if isinstance(value, bytearray):
        data: bytes | bytearray = value
    elif isinstance(value, bytes):
        data = value
    else:
        raise ArgumentError(f"{what} must be a ByteArray, not {type(value).__name__}")
    if len(data) != SOCKET_HANDLE_SIZE:
        raise ArgumentError(f"{what} must be {SOCKET_HANDLE_SIZE} bytes, not {len(data)}")
    return data


def net_address(value: object, what: str) -> int:
    """``netAddressToInt``: a 4-byte ByteArray, most significant byte first."""
    data = byte_object(value, what)
    if len(data) != 4:
        raise ArgumentError(f"{what} must be a 4-byte address, not {len(data)} bytes")
    return int.from_bytes(data, "big")


def data_buffer(
    value: object, start: object, count: object, what: str, writable: bool
) -> tuple[memoryview, int]:
    """``isWordsOrBytes`` + the 1-based start/count bounds check.

    Answers the byte window to read or write and the element size (1 for bytes,
    4 for a word array: the count is then in words, as in the VM).
    """
    start_i = small_integer(start, "the start index")
    count_i = small_integer(count, "the count")
    kind = type(value)
    if (
        (kind is bytearray or (kind is bytes and not writable))
        and start_i >= 1
        and count_i >= 0
        and start_i + count_i - 1 <= len(value)  # type: ignore[arg-type]
    ):
        # the common case first: a ByteArray (or a String to read) the window fits
        return memoryview(value)[start_i - 1 : start_i - 1 + count_i], 1  # type: ignore[arg-type]
    if isinstance(value, array.array) and value.itemsize == 4:
        element, size, view = 4, len(value), memoryview(value).cast("B")
    elif isinstance(value, bytearray):
        element, size, view = 1, len(value), memoryview(value)
    elif isinstance(value, memoryview) and value.itemsize == 1 and value.ndim == 1:
        if not value.c_contiguous:
            # a ByteArray is one run of bytes; a strided view is nothing the VM could pass
            raise ArgumentError(f"{what} must be contiguous bytes, not a strided memoryview")
        element, size, view = 1, len(value), value
    elif not writable and isinstance(value, bytes):
        element, size, view = 1, len(value), memoryview(value)
    elif not writable and isinstance(value, str):
        data = byte_object(value, what)
        element, size, view = 1, len(data), memoryview(data)
    elif writable and isinstance(value, bytes | str):
        raise ArgumentError(f"{what} is written into, so it must be a bytearray")
    else:
        raise ArgumentError(f"{what} must be a byte or word array, not {type(value).__name__}")
    if writable and view.readonly:
        raise ArgumentError(f"{what} is read-only")
    if not (start_i >= 1 and count_i >= 0 and start_i + count_i - 1 <= size):
        raise ArgumentError(
            f"start {start_i} and count {count_i} do not fit {what} of {size} elements "
            "(1-based: start >= 1, count >= 0, start + count - 1 <= size)"
        )
    lo = (start_i - 1) * element
    return view[lo : lo + count_i * element], element


# -- argument kinds: what the image passes, and how the interpreter proxy checks it --------


@dataclass(frozen=True)
class Kind:
    """An argument kind, as VMMaker declares a primitive's parameters.

    ``label`` is the kind as the image sees it (``SmallInteger``, ``String``, ``Oop``...);
    ``convert(value, name)`` checks and converts the argument, naming it by its
    parameter name when it refuses it (None: passed as it is, for a data buffer the
    primitive checks together with its start and count).
    """

    label: str
    convert: Callable[[Any, str], Any] | None
    optional: bool = False


SMALL_INTEGER = Kind("SmallInteger", small_integer)
OPTIONAL_SMALL_INTEGER = Kind("[SmallInteger]", small_integer, optional=True)
STRING = Kind("String", byte_object)  # a String (or ByteArray) the primitive reads
STRING_OUT = Kind("String", mutable_bytes)  # a String the primitive writes into
IPV4 = Kind("ByteArray", net_address)  # a 4-byte IPv4 address
BYTES_OUT = Kind("ByteArray", mutable_bytes)  # a ByteArray the primitive writes into
SOCKET = Kind("Oop", socket_handle)  # an SQSocket handle
ADDRESS = Kind("Oop", byte_object)  # a socket address the primitive reads
ADDRESS_OUT = Kind("Oop", mutable_bytes)  # a socket address the primitive fills
BUFFER = Kind("Oop", None)  # data: checked with its start and count (data_buffer)
RECEIVER = Kind("receiver", byte_object)  # the receiver, a socket address read
RECEIVER_OUT = Kind("receiver", mutable_bytes)  # the receiver, changed in place
