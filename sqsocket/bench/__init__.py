"""``sqsocket bench``: the emulator measured against raw sockets, the real VM, and load.

Every figure is the median of repetitions with its min-max, printed as a ratio to a
baseline measured in the same run; servers run in their own processes, pinned to
the measuring process's CPU on small machines. docs/performance.md explains the rows.

Modules, one job each:

* :mod:`.stats` -- repetitions, medians, calibration; :mod:`.results` -- rows, cells,
  targets; :mod:`.report` -- the table and the JSON; :mod:`.settings`,
  :mod:`.pinning`, :mod:`.limits`, :mod:`.procstat` -- run settings and the machine;
* :mod:`.workloads` -- endpoints and the client protocol; the columns: :mod:`.raw`
  (a), :mod:`.emulated` (b), :mod:`.imagelayer` (c), :mod:`.squeakvm` (d);
* servers in processes: :mod:`.peers`, :mod:`.native` (the C helpers under
  ``benchmarks/``), :mod:`.rawserver`, :mod:`.imageserver` (both start
  through :mod:`.peerstart`), :mod:`.loadgen`, :mod:`.memprobe`;
* the sections: :mod:`.client`, :mod:`.capacity`, :mod:`.memory`, :mod:`.growth`,
  run by :mod:`.suite`; :mod:`.cli` is the command (progress: :class:`sqsocket.ui.Progress`);
* :mod:`.load` -- ``sqsocket bench load``.
"""
