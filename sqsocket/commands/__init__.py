"""Sub-commands that cut across features: ``demo``, ``primitives``, ``example``.

A feature package's own commands live in its ``<feature>/cli.py``; every module
that adds commands is listed in :data:`sqsocket.cli.COMMAND_MODULES`. Every
command's name, help line and description, for all of them, are in
:mod:`sqsocket.commands.catalog`.
"""
