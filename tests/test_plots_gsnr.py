"""Figures of study 000 draw the analysis tables as they are (no statistic computed in a figure)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scaledyn.gsnr import analysis
from scaledyn.plots import gsnr as fig


def test_estimate_labels_cover_the_estimates():
    assert set(fig.LABELS) == set(analysis.ESTIMATES)


def synthetic_runs(n: int, noise: str, draws: int, rng_seed: int) -> pd.DataFrame:
    """A runs table of n random runs (2 shapes x 3 noise levels x 4 seeds) of one noise model."""
    rng = np.random.default_rng(rng_seed)
    return pd.DataFrame(
        {
            "noise_model": noise,
            "optimizer": "sgd",
            "shape": np.tile(["a", "b"], n // 2),
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
