"""The forest plot of every claim: drawn through the figure CLI from a claims table, computing nothing."""

from __future__ import annotations

import inspect

from scaledyn.plots import FIGURES
from scaledyn.plots import claims as fig
from scaledyn.report import claims_table as ct
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from tests.test_claims_table import row


def test_forest_plot_draws_every_paper_from_the_claims_table(tmp_path):
    rows = [
        row(0.8, 0.7, 0.9, "rho >= 0.5", SUPPORTED, study="000", claim="unnumbered"),
        row(0.1, 0.05, 0.12, "error <= 0.02", NOT_SUPPORTED, study="000", claim="other"),
        row(-0.9, -1.3, -0.4, "-1.25 <= slope <= -0.75", INCONCLUSIVE),
        row(float("nan"), float("nan"), float("nan"), "-", INCONCLUSIVE, claim="C2: missing sweep"),
        row(0.03, 0.001, 0.06, "diff > 0", SUPPORTED, study="002", claim="C4: x"),
    ]
    csv = tmp_path / "claims.csv"
    ct.write(ct.table(rows, {}), csv)
    pdf = tmp_path / "forest.pdf"
    assert list(FIGURES["claims"]) == ["forest"]
    assert fig.main(["forest", "--tables", str(csv), "--out", str(pdf)]) == 0
    for path in (pdf, pdf.with_suffix(".png")):
        assert path.exists() and path.stat().st_size > 1000, path


def test_forest_plot_computes_no_statistics():
    source = inspect.getsource(fig)
    for banned in (
        "scaledyn.stats",
        "scaledyn.report import",
        "scipy",
        "0.95",
        '["threshold"]',
        '["estimate"]',
    ):
        assert banned not in source, banned
