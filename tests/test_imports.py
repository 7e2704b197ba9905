"""The package's import graph: no cycle (function-level imports included); figures never import the
statistics (they draw tables the analysis steps wrote)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scaledyn import studies
from scaledyn.imports import MODULES, closure, find_cycle, graph, imports_of, reachable


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    edges = graph()
    assert "scaledyn.llm.variants" in edges["scaledyn.llm"]  # imported inside llm.check
    assert "scaledyn.stats" in edges["scaledyn.llm.claims"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("scaledyn.plots")))
def test_figures_do_not_import_the_statistics(module):
    """Not directly and not through another module: a figure draws the tables of an analysis step."""
    edges = graph()
    assert "scaledyn.stats" not in imports_of(module), f"{module} imports scaledyn.stats: figures only draw"
    assert "scaledyn.stats" not in reachable(edges, module), f"{module} reaches scaledyn.stats"


STEP_MODULES = [
    pytest.param((f"scaledyn.{study}.__main__", f"scaledyn.{study}.{m}"), id=f"scaledyn.{study}.{m}")
    for study, contract in studies.CONTRACTS.items()
    for m in contract.steps.values()
] + [  # the report's context step, which imports each study's part of it by name (Contract.report)
    pytest.param(
        ("scaledyn.report.__main__", *(f"scaledyn.{s}.{c.report}" for s, c in studies.CONTRACTS.items())),
        id="scaledyn.report context",
    )
]


@pytest.mark.parametrize("modules", STEP_MODULES)
def test_a_step_imports_nothing_beyond_its_rules_code_inputs(modules):
    """What a study step's process imports (its CLI and its step module, in a fresh interpreter) is within
    the import closure its rule declares as code inputs (scaledyn.imports.closure)."""
    program = (
        "import importlib, sys\n"
        f"for m in {list(modules)!r}: importlib.import_module(m)\n"
        "print('\\n'.join(m for m in sys.modules if m == 'scaledyn' or m.startswith('scaledyn.')))"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) <= closure(*modules)
