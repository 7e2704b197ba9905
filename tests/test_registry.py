"""The figure registry (scaledyn.plots.FIGURES) names real drawing functions and tables its study writes."""

import importlib
import inspect

import pytest

from scaledyn.plots import FIGURES

# where a figure group's tables are listed: scaledyn.<study>.TABLES, the claims table's in its own module
TABLE_MODULES = {"claims": "scaledyn.report.claims_table"}


@pytest.mark.parametrize("study", list(FIGURES))
def test_every_figure_draws_tables_its_study_writes(study):
    tables = importlib.import_module(TABLE_MODULES.get(study, f"scaledyn.{study}")).TABLES
    module = importlib.import_module(f"scaledyn.plots.{study}")
    for name, fig in FIGURES[study].items():
        assert set(fig.tables) <= set(tables), (name, set(fig.tables) - set(tables))
        params = list(inspect.signature(getattr(module, fig.draw)).parameters)
        assert len(params) == len(fig.tables) + len(fig.options), name
        assert params[len(fig.tables) :] == list(fig.options), name
