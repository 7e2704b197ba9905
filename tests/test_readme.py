"""The README's study map (the table under "## Studies") matches the registries it describes, and the
README and docs/ name no figure that is not registered and link no file that does not exist.

Map columns: study (or ``claims``, the report's own group), paper, figures, tables, rules; names in backticks.
"""

from __future__ import annotations

import importlib
import re

import pytest

from scaledyn import studies
from scaledyn.plots import FIGURES
from scaledyn.report import claims_table
from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
RULES = ROOT / "workflow" / "rules"
GENERATED = ("analyse", "claims", "figure")  # the rules workflow/rules/study.smk makes for every study
REPORT = "claims"  # the report's own figures and tables: results/claims/, results/figures/claims/


def study_map() -> dict[str, dict[str, list[str] | str]]:
    """The map's rows: group name -> column -> the backticked names of that cell (``paper``: the cell)."""
    section = README.read_text().split("\n## Studies\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    columns = [cell.split()[0] for cell in cells(lines[0])]
    assert columns == ["study", "paper", "figures", "tables", "rules"], columns
    rows = {}
    for line in lines[2:]:
        row = {col: re.findall(r"`([^`]+)`", cell) for col, cell in zip(columns, cells(line), strict=True)}
        row["paper"] = cells(line)[1]
        rows[row["study"][0]] = row
    return rows


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def hand_written_rules(group: str) -> set[str]:
    """The rules and checkpoints a .smk file defines by name (a study's own, or the report's)."""
    name = "report" if group == REPORT else group
    return set(re.findall(r"^(?:rule|checkpoint) (\w+):", (RULES / f"{name}.smk").read_text(), re.M))


def tables_of(group: str) -> tuple[str, ...]:
    return claims_table.TABLES if group == REPORT else studies.CONTRACTS[group].tables


MAP = study_map()
GROUPS = [*studies.CONTRACTS, REPORT]


def test_the_map_has_one_row_per_study_in_the_report_order_and_the_report_last():
    assert list(MAP) == GROUPS
    assert set(FIGURES) == set(GROUPS)


@pytest.mark.parametrize("group", GROUPS)
def test_figures_are_exactly_the_registered_ones(group):
    assert MAP[group]["figures"] == list(FIGURES[group])


@pytest.mark.parametrize("group", GROUPS)
def test_tables_are_exactly_the_analysis_tables(group):
    assert MAP[group]["tables"] == list(tables_of(group))


@pytest.mark.parametrize("group", GROUPS)
def test_paper_is_the_number_the_claims_carry(group):
    expected = "all" if group == REPORT else importlib.import_module(f"scaledyn.{group}.claims").STUDY
    assert MAP[group]["paper"] == expected


@pytest.mark.parametrize("group", GROUPS)
def test_rules_are_the_generated_and_the_hand_written_ones(group):
    study_smk = (RULES / "study.smk").read_text()
    generated = set()
    if group != REPORT:
        for step in GENERATED:
            assert f'f"{{_study}}_{step}"' in study_smk, step  # study.smk still names the rule so
            generated.add(f"{group}_{step}")
    assert set(MAP[group]["rules"]) == generated | hand_written_rules(group)


def test_no_unregistered_figure_is_named_anywhere():
    registered = {(group, name) for group, figs in FIGURES.items() for name in figs}
    names = {name for _, name in registered}
    for path in DOCS:
        text = path.read_text()
        for group, name in re.findall(r"results/figures/(\w+)/(\w+)\.(?:pdf|png)", text):
            assert (group, name) in registered, (path.name, group, name)
        for name in re.findall(r"\bfig\d+_\w+", text):
            assert name in names, (path.name, name)


def test_relative_links_resolve():
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), (path.name, target)
