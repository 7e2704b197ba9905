"""Figures of study 002: each writes a PDF and PNG from the analysis tables of synthetic runs, read back."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

from scaledyn.llm import TABLES, analysis
from scaledyn.plots import FIGURES
from scaledyn.plots import llm as fig
from tests.conftest import ANALYSIS_STATS, BASE, CLAIMS_PARAMS, fake_run


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("llm_runs")
    arms = {
        "prenorm": {
            "baseline_aa": [0.01, -0.01, 0.0],
            "no_scale": [0.05, 0.07, 0.06],
            "unified": [-0.02, -0.03, -0.02],
        },
        "sandwich": {"wd_input": [-0.02, 0.0, -0.01]},
    }
    summaries = []
    for arch, effects in arms.items():
        for variant, deltas in {"baseline": [0.0] * 3, **effects}.items():
            summaries += [fake_run(root, variant, s, BASE[s] + d, arch=arch) for s, d in enumerate(deltas)]
    out = root / "out"
    analysis.analyse(summaries, CLAIMS_PARAMS, ANALYSIS_STATS, out)
    return {name: out / f"{name}.csv" for name in TABLES}


@pytest.mark.parametrize("name", list(FIGURES["llm"]))
def test_cli_draws_each_figure_from_its_tables(files, tmp_path, name):
    tables = [str(files[t]) for t in FIGURES["llm"][name].tables]
    pdf = tmp_path / f"{name}.pdf"
    assert fig.main([name, "--tables", *tables, "--out", str(pdf)]) == 0
    for path in (pdf, pdf.with_suffix(".png")):
        assert path.exists() and path.stat().st_size > 1000, path
    assert fig.main([name, "--tables", str(files["grads"]), "--out", str(tmp_path / "x.pdf")]) == 2


def test_both_architectures_get_their_panels(files):
    deltas, runs = pd.read_csv(files["deltas"]), pd.read_csv(files["runs"])
    panels = fig.fig2(deltas, runs).axes
    assert [a.get_title().split(":")[0] for a in panels] == ["size tiny, prenorm", "size tiny, sandwich"]
    rows = [t.get_text() for t in panels[0].get_yticklabels()]
    assert rows == ["no_scale", "unified", "unified - baseline", "baseline_aa - baseline"]  # A/A last


def test_level_text_comes_from_the_table():
    t = pd.DataFrame({"level": [0.9, 0.9], "ci_method": ["t", "t"]})
    assert fig._ci_text(t) == "90% CI, t"


def test_plots_do_not_compute_statistics():
    source = inspect.getsource(fig)
    for banned in ("scaledyn import stats", "scaledyn.stats", "mean_interval", "errorbar=", "95%", "0.95"):
        assert banned not in source, banned
