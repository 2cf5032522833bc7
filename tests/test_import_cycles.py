"""No import cycle among the package's modules, counting every import a module makes.

Imports inside functions and under ``TYPE_CHECKING`` count too: a function-level
import only hides a cycle until the function runs (or until a type checker or a
refactoring follows it). ``from sqsocket.image import X`` counts as importing the
package, whose ``__init__`` imports its submodules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sqsocket

ROOT = Path(sqsocket.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str | None:
    """The absolute name a (possibly relative) ``from ... import`` names."""
    if level == 0:
        return module
    base = importer.split(".")
    # a package's own __init__ is its level-1 anchor; a module's is its package
    base = base if is_package else base[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join(base + ([module] if module else []))


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports (anywhere in it)."""
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module, node.level, name, is_package)
                if base is None:
                    continue
                # "from pkg import sub" imports pkg (its __init__) and pkg.sub
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in graph and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_walker_finds_a_cycle() -> None:
    """The check can fail: a two-module loop and a three-module loop are both reported."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(cycles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_the_walker_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert len(graph) > 50, "it walked the package"
    # a top-level import, a from-import of a submodule, and a package import
    assert "sqsocket.image.environment" in graph["sqsocket.image.socket"]
    assert "sqsocket.image.address" in graph["sqsocket.image.resolver"]
    assert "sqsocket.image.socket" in graph["sqsocket.image"]


def test_no_import_cycle_in_the_package() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)
