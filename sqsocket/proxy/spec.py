"""Fault specifications as text: what ``sqsocket proxy --fault`` takes.

The form is ``[DIRECTION:]NAME[:PARAM=VALUE[,PARAM=VALUE...]]``::

    up:slicer:size=7,ms=5        client -> upstream in writes of 7 bytes, 5 ms apart
    down:latency:ms=200,jitter=50
    latency:ms=20                no direction: both
    up:stall:after=1000          stop reading the client after 1000 bytes
    down:reset:after=100         RST after 100 bytes towards the client
    refuse:rst                   a flag without a value is true
    accept-delay:ms=500          accept faults take no direction

:func:`parse_fault` answers the :class:`~sqsocket.proxy.faults.Fault`, or
raises :class:`~sqsocket.proxy.faults.FaultError` with one line saying what
is allowed; :func:`faults_help` is the table ``--help`` prints.
"""

from __future__ import annotations

import math
from dataclasses import MISSING
from typing import Any

from sqsocket.proxy.faults import (
    BYTES,
    FAULT_TYPES,
    FLAG,
    MS,
    RATE,
    SECONDS,
    SIZE,
    AcceptFault,
    Direction,
    DirectionFault,
    Fault,
    FaultError,
    param_text,
)

__all__ = ["faults_help", "parse_fault"]

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_UNITS = {BYTES: "bytes", SIZE: "bytes", RATE: "bytes/s", MS: "ms", SECONDS: "s", FLAG: "flag"}


def _names() -> str:
    return ", ".join(FAULT_TYPES)


def _value(fault: str, pname: str, kind: str, text: str | None) -> Any:
    """Convert one parameter's text; FaultError names the fault, the parameter and the form."""
    if kind == FLAG:
        if text is None or text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise FaultError(f"{fault}: {pname} is true or false, not {text!r}")
    if text is None or text == "":
        raise FaultError(f"{fault}: give a value, {pname}=NUMBER")
    if kind in (BYTES, SIZE):
        try:
            return int(text, 10)
        except ValueError:
            raise FaultError(f"{fault}: {pname} is a whole number of bytes, not {text!r}") from None
    try:
        number = float(text)
    except ValueError:
        raise FaultError(f"{fault}: {pname} is a number ({_UNITS[kind]}), not {text!r}") from None
    if not math.isfinite(number):
        raise FaultError(f"{fault}: {pname} must be a finite number, not {text!r}")
    return number


def parse_fault(text: str) -> Fault:
    """Read one ``[DIRECTION:]NAME[:PARAM=VALUE,...]`` specification."""
    parts = text.strip().split(":", 2)
    direction: Direction | None = None
    if parts and parts[0] in {d.value for d in Direction}:
        direction = Direction(parts[0])
        parts = parts[1:]
    if not parts or not parts[0]:
        raise FaultError(f"empty fault {text!r}; the form is [up|down|both:]NAME[:PARAM=VALUE,...]")
    name, params_text = parts[0], ":".join(parts[1:])
    cls = FAULT_TYPES.get(name)
    if cls is None:
        raise FaultError(f"unknown fault {name!r} in {text!r}; faults are: {_names()}")
    if direction is not None and issubclass(cls, AcceptFault):
        raise FaultError(f"{name} acts on accepting a connection and takes no direction")
    known = {pname: kind for pname, kind, _help, _default in cls.params()}
    values: dict[str, Any] = {}
    for item in params_text.split(",") if params_text else ():
        pname, eq, raw = item.partition("=")
        pname = pname.strip()
        if pname not in known:
            allowed = ", ".join(known) or "no parameters"
            raise FaultError(f"{name}: unknown parameter {pname!r}; it takes {allowed}")
        if pname in values:
            raise FaultError(f"{name}: {pname} given twice")
        values[pname] = _value(name, pname, known[pname], raw.strip() if eq else None)
    missing = [p for p, _k, _h, default in cls.params() if default is MISSING and p not in values]
    if missing:
        raise FaultError(f"{name} needs {', '.join(f'{p}=' for p in missing)}")
    if direction is not None:
        values["direction"] = direction
    try:
        return cls(**values)
    except FaultError as exc:
        raise FaultError(f"{name}: {exc}") from None


def faults_help() -> str:
    """One entry per fault: the form, each parameter with its unit, the first doc line."""
    lines = []
    for name, cls in FAULT_TYPES.items():
        prefix = "[up|down|both:]" if issubclass(cls, DirectionFault) else ""
        params = []
        for pname, kind, help_text, default in cls.params():
            shown = "" if default in (MISSING, None) else f", default {param_text(kind, default)}"
            params.append(f"      {pname}={_UNITS[kind].upper()}: {help_text}{shown}")
        summary = " ".join((cls.__doc__ or "").replace("``", "").split())
        lines.append(f"  {prefix}{name}")
        lines.append(f"      {summary}")
        lines.extend(params)
    return "\n".join(lines)
