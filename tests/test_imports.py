"""The package's import graph: no cycle (function-level imports included); figures never import the
statistics (they draw tables the analysis steps wrote)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "scaledyn"


def _modules() -> dict[str, Path]:
    """Module name -> file for every module under src/scaledyn (a package is its ``__init__``)."""
    out = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The longest known module ``name`` is or lies in (``scaledyn.stats.verdict``: ``scaledyn.stats``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def imports_of(module: str) -> set[str]:
    """Every scaledyn module ``module`` imports, at any depth of its code (relative imports resolved).

    ``import a.b.c`` and ``from a.b import c`` also import the packages ``a`` and ``a.b``: an edge to
    ``a/b/__init__.py`` (which is skipped where it is the importing module's own package ancestor, which
    Python has already imported before the module itself runs)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            names = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] != ROOT:
                continue
            target = _resolve(name)
            # the packages on the way to the target are imported first
            parts = name.split(".")
            for i in range(2, len(parts) + 1):
                pkg = ".".join(parts[:i])
                if pkg in MODULES and MODULES[pkg].name == "__init__.py" and not module.startswith(pkg + "."):
                    found.add(pkg)
            if target is not None:
                found.add(target)
    found.discard(module)
    return found


def graph() -> dict[str, set[str]]:
    return {m: imports_of(m) for m in MODULES}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    edges = graph()
    assert "scaledyn.llm.variants" in edges["scaledyn.llm"]  # imported inside llm.check
    assert "scaledyn.stats" in edges["scaledyn.llm.claims"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("scaledyn.plots")))
def test_figures_do_not_import_the_statistics(module):
    """Not directly and not through another module: a figure draws the tables of an analysis step."""
    edges = graph()
    assert "scaledyn.stats" not in imports_of(module), f"{module} imports scaledyn.stats: figures only draw"
    assert "scaledyn.stats" not in reachable(edges, module), f"{module} reaches scaledyn.stats"
