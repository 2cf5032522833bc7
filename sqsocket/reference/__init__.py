"""The primitive reference (``docs/primitives.md``) and the state-machine picture, generated.

- :mod:`.facts` -- what only a person can write: failure conditions, Pharo 13 selectors,
  which primitive applies which state-table rows, which flags change which primitive;
- :mod:`.model` -- the entries, derived from the registry, the state table, the profiles,
  the option table, the scenarios and :mod:`.facts`;
- :mod:`.markdown` -- ``docs/primitives.md``; :mod:`.svg` -- ``docs/statemachine.svg``;
- :mod:`.cli` -- ``sqsocket reference [NAME] [--json] [--write] [--check]``.
"""
