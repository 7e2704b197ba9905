"""Figures of study 000 draw the analysis tables as they are (no statistic computed in a figure), at the
report's text width, with no label over another and no shape hidden behind another."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaledyn.gsnr import analysis
from scaledyn.plots import FIGURES, style
from scaledyn.plots import gsnr as fig
from tests.conftest import layout_problems, rgb


def test_estimate_labels_cover_the_estimates():
    assert set(fig.LABELS) == set(analysis.ESTIMATES)


def synthetic_runs(n: int, noise: str, draws: int, rng_seed: int, shapes=("a", "b")) -> pd.DataFrame:
    """A runs table of n random runs (shapes x 3 noise levels x 4 seeds) of one noise model."""
    rng = np.random.default_rng(rng_seed)
    return pd.DataFrame(
        {
            "noise_model": noise,
            "optimizer": "sgd",
            "shape": np.tile(list(shapes), n // len(shapes)),
            "sigma": np.repeat([0.1, 1.0, 10.0], n // 3),
            "seed": np.arange(n) % 4,
            "scale_adaptation": rng.normal(size=n),
            "adapts": rng.random(n) > 0.5,
            **{col: np.abs(rng.normal(size=n)) for col in analysis.ESTIMATES.values()},
            "gsnr_draws": draws,
        }
    )


def test_gsnr_points_and_fig1(tmp_path):
    n = 24
    runs = synthetic_runs(n, "additive", draws=32, rng_seed=0)
    runs.loc[0, "gsnr_plugin"] = 0.0  # log10 = -inf, drawn below the rest
    points = analysis.gsnr_points(runs)
    assert len(points) == n * len(analysis.ESTIMATES)
    plugin = points[points["estimate"] == "plugin"]
    np.testing.assert_allclose(plugin["log10_gsnr"].iloc[1:], np.log10(runs["gsnr_plugin"].iloc[1:]))
    assert plugin["log10_gsnr"].iloc[0] == -np.inf
    np.testing.assert_allclose(points["plugin_floor_log10"], np.log10(1 / 32))  # the floor Fig 1 draws
    path = tmp_path / "gsnr_points.csv"
    points.to_csv(path, index=False)
    classifier = pd.DataFrame(
        [{"noise_model": "additive", "optimizer": "sgd", "estimate": "plugin", "scope": "pooled",
          "threshold_log10": -0.2}]
    )  # fmt: skip
    cpath = tmp_path / "classifier.csv"
    classifier.to_csv(cpath, index=False)
    pdf = tmp_path / "fig1.pdf"
    argv = ["fig1_gsnr_vs_adaptation", "--tables", str(path), str(cpath), "--option", "estimate=plugin"]
    assert fig.main([*argv, "--out", str(pdf)]) == 0
    assert pdf.exists() and pdf.with_suffix(".png").stat().st_size > 1000


def test_summary_carries_the_plugin_floor_and_fig2(tmp_path):
    runs = synthetic_runs(24, "entry", draws=8, rng_seed=1)
    summary = analysis.summary_table(runs, {})
    np.testing.assert_allclose(summary["plugin_floor_log10"], np.log10(1 / 8))
    path = tmp_path / "summary.csv"
    summary.to_csv(path, index=False)
    pdf = tmp_path / "fig2.pdf"
    argv = ["fig2_noise_sweep", "--tables", str(path), "--option", "estimate=exact", "--out", str(pdf)]
    assert fig.main(argv) == 0 and pdf.exists()


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    """Every table the figures draw, from 2 noise models x 2 optimisers of 36 runs (3 shapes) each; under
    ``entry`` every shape has the same GSNR, so their points and lines coincide."""
    parts = []
    for k, (noise, opt) in enumerate([(n, o) for n in ("entry", "total") for o in ("adamw", "sgd")]):
        runs = synthetic_runs(36, noise, draws=16, rng_seed=k, shapes=style.SHAPES).assign(optimizer=opt)
        if noise == "entry":
            for col in analysis.ESTIMATES.values():
                runs[col] = runs.groupby(["sigma", "seed"])[col].transform("first")
        parts.append(runs)
    runs = pd.concat(parts, ignore_index=True)
    classifier, curves, confusion = analysis.classifier_tables(runs, {})
    return {
        "gsnr_points": analysis.gsnr_points(runs),
        "summary": analysis.summary_table(runs, {}),
        "classifier": classifier,
        "curves": curves,
        "confusion": confusion,
    }


def test_fig1_gives_each_shape_a_column_in_its_colour(tables):
    """Coinciding shapes are not drawn over each other: each column holds one shape's points only, in the
    shape's colour of style.COLORS (the colour every figure gives it)."""
    style.setup()
    figure = fig.fig1(tables["gsnr_points"], tables["classifier"], "exact")
    axes = np.array(figure.axes).reshape(4, 3)  # (optimiser, noise) rows x shape columns
    assert [ax.get_title() for ax in axes[0]] == list(style.SHAPES)
    for column, shape in zip(axes.T, style.SHAPES, strict=True):
        colours = {rgb(c) for ax in column for coll in ax.collections for c in coll.get_facecolor()}
        colours |= {rgb(c) for ax in column for coll in ax.collections for c in coll.get_edgecolor()}
        assert colours == {rgb(style.COLORS[shape])}, shape
    points = sum(len(coll.get_offsets()) for ax in figure.axes for coll in ax.collections)
    assert points == (tables["gsnr_points"]["estimate"] == "exact").sum()


def test_fig2_draws_coinciding_shapes_in_their_own_style(tables):
    """Under entry noise the three GSNR lines coincide; each keeps its colour and its own line style."""
    style.setup()
    figure = fig.fig2(tables["summary"], "exact")
    entry_gsnr = figure.axes[0]
    lines = [(rgb(line.get_color()), line.get_linestyle()) for line in entry_gsnr.get_lines()[:3]]
    assert lines == [(rgb(style.COLORS[s]), style.LINESTYLES[s]) for s in style.SHAPES]
    ys = [line.get_ydata() for line in entry_gsnr.get_lines()[:3]]
    np.testing.assert_allclose(ys[0], ys[1])  # the data do coincide
    np.testing.assert_allclose(ys[0], ys[2])


@pytest.mark.parametrize("name", ["fig1", "fig2", "fig3"])
def test_figures_fit_the_text_width_with_no_label_over_another(tables, name):
    style.setup()
    entry = {f.draw: f for f in FIGURES["gsnr"].values()}[name]
    figure = getattr(fig, name)(*(tables[t] for t in entry.tables), estimate="exact")
    assert layout_problems(figure) == []


def test_layout_problems_sees_crowded_tick_labels_and_a_wrong_width():
    style.setup()
    figure, ax = style.figure(1.5)
    ax.set_xticks(np.arange(60), [f"label {k}" for k in range(60)])
    assert any("overlap" in p for p in layout_problems(figure))
    wide = style.figure(1.5)[0]
    wide.set_size_inches(9.0, 1.5)
    assert layout_problems(wide) == [f"width 9.0 in, not the text width {style.TEXT_WIDTH}"]
