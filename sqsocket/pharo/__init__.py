"""Static checks of Pharo sources, for a machine that has no Pharo image.

No Pharo runs on sqsocket's machines, so ``images/pharo/*.st`` (and the Pharo
scripts the conformance harness generates) are checked here before a Docker build
nobody here can run. The syntax is Pharo's own grammar, the maintained
``pharo-tree-sitter`` package (a tree-sitter grammar of Pharo methods, do-its and
Tonel files); the chunk format around it is read the way Pharo 13's file-in reads it.

Modules, each small:

* :mod:`.chunks` -- split a chunk-format file on ``!`` as Pharo 13's ``ChunkReadStream``
  and ``ChunkFileFormatParser`` do; the structure errors that reader would trip on.
* :mod:`.grammar` -- parse a method, a do-it or a Tonel file with the grammar; its
  syntax errors, plus the two rules of Pharo 13's parser that the grammar does not
  make (a cascade needs a message; a byte array holds bytes).
* :mod:`.names` -- what no grammar can tell: undeclared variables, stores into
  arguments, and the class definitions Pharo 13's importer recognises.
* :mod:`.check` -- ``check_pharo_source(text, filename) -> list[Problem]``, and the
  command line ``python -m sqsocket.pharo FILE...``.

Nothing is compiled or evaluated. The grammar is an optional dependency (the
``test`` extra): importing :mod:`.grammar` without it raises ``ModuleNotFoundError``
naming the package to install.
"""

from __future__ import annotations
