"""The package's import graph, read from the source (``ast``): which scaledyn modules each module imports,
at any depth of its code (function-level and relative imports included; a module named in a string for
``importlib.import_module`` is not an edge: that is how a CLI defers a step's imports until the step runs).

The DAG's code inputs are import closures (:func:`closure_files`: a job's rule lists the files of every
module the job can import, so editing one reruns that job and nothing else), and ``tests/test_imports.py``
checks the graph has no cycle and that figures never reach the statistics.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Collection, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[1]
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


@functools.cache
def graph() -> dict[str, frozenset[str]]:
    """Every module's imports (:func:`imports_of`), read once per process."""
    return {m: frozenset(imports_of(m)) for m in MODULES}


def find_cycle(edges: Mapping[str, Collection[str]]) -> list[str] | None:
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


def reachable(edges: Mapping[str, Collection[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def closure(*modules: str) -> set[str]:
    """``modules`` (dotted names, e.g. ``scaledyn.gsnr.simulate``) and every scaledyn module they import,
    directly or through others, with the packages on the way (``scaledyn``, ``scaledyn.gsnr``)."""
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        raise KeyError(f"no module {unknown} under {SRC / ROOT}")
    edges, out = graph(), set(modules)
    for m in modules:
        out |= reachable(edges, m)
    for m in list(out):
        parts = m.split(".")
        out |= {".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in MODULES}
    return out


def closure_files(*modules: str) -> list[Path]:
    """The source files of :func:`closure`, sorted."""
    return sorted(MODULES[m] for m in closure(*modules))
