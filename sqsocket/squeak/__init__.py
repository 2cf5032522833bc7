"""The real Squeak VM: build a headless image for Debian's squeak-vm and run scripts in it.

* :mod:`~sqsocket.squeak.builder` -- ``build_image(source, dest)``, ``ensure_image()``.
* :mod:`~sqsocket.squeak.runner` -- ``run_script(script, args, timeout)``,
  ``start_script(...)`` for servers.
* :mod:`~sqsocket.squeak.paths` -- default locations, ``find_vm()``,
  ``missing_requirements()``.
* :mod:`~sqsocket.squeak.imagefile`, :mod:`~sqsocket.squeak.heap`,
  :mod:`~sqsocket.squeak.methods`, :mod:`~sqsocket.squeak.disasm` -- the image format,
  a name-based view of it, CompiledMethods, a bytecode printer.

The Smalltalk side lives in ``images/squeak/`` (bootstrap.st, prelude.st,
SocketPrims.st, Sockets.st, workspace.st, uds_server.st).
"""
