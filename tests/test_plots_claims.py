"""The forest plot of every claim: drawn through the figure CLI from a claims table, computing nothing."""

from __future__ import annotations

import inspect

import pytest

from scaledyn.plots import FIGURES, style
from scaledyn.plots import claims as fig
from scaledyn.report import claims_table as ct
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from tests.conftest import claim_row as row
from tests.conftest import layout_problems, rgb


def test_forest_plot_draws_every_paper_from_the_claims_table(tmp_path):
    rows = [
        row(0.8, 0.7, 0.9, ">=", 0.5, SUPPORTED, study="000", claim="unnumbered"),
        row(0.1, 0.05, 0.12, "<=", 0.02, NOT_SUPPORTED, study="000", claim="other"),
        row(-0.9, -1.3, -0.4, "<=", -0.75, INCONCLUSIVE),
        row(float("nan"), float("nan"), float("nan"), "", float("nan"), INCONCLUSIVE, claim="C2: missing"),
        row(0.03, 0.001, 0.06, ">", 0, SUPPORTED, study="002", claim="C4: x"),
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


@pytest.mark.parametrize("rows", [5, 76])
def test_forest_fits_a_page_at_the_text_width_with_readable_rows(rows):
    """Up to the rows of the default studies 000 + 001 (76) the forest fits one page of the report unscaled;
    its labels never overlap; verdicts keep their colours of style.COLORS."""
    verdicts = [SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE]
    claims = [
        row(0.1 * k, 0.1 * k - 0.05, 0.1 * k + 0.05, ">=", 1, verdicts[k % 3],
            study="000" if k % 4 else "001", claim=f"C{k % 5}: a claim with a long text")
        for k in range(rows)
    ]  # fmt: skip
    style.setup()
    figure = fig.forest(ct.table(claims, {}))
    assert layout_problems(figure) == []
    assert figure.get_size_inches()[1] <= style.PAGE_HEIGHT
    colours = {rgb(c) for ax in figure.axes for coll in ax.collections for c in coll.get_color()}
    assert colours <= {rgb(style.COLORS[v]) for v in verdicts}


def test_forest_labels_shrink_only_as_far_as_readable():
    """More rows than a page holds at the smallest readable row: rows stay that tall (labels >= 5.5 pt)."""
    assert fig._row_inches(rows=500, panels=3) == fig.ROW_MIN
    assert fig._row_inches(rows=3, panels=1) == fig.ROW_MAX
    assert 0.85 * 72 * fig.ROW_MIN >= 5.5
