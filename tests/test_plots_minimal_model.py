"""Figures of study minimal_model: each writes a non-empty PDF and PNG from the tables of a tiny run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaledyn import config
from scaledyn.minimal_model import analysis
from scaledyn.minimal_model.simulate import simulate
from scaledyn.plots import FIGURES, style
from scaledyn.plots import minimal_model as fig
from tests.conftest import layout_problems, rgb

STATS = {"bootstrap_resamples": 100}
TINY = {
    "model": {"n_train": 128},
    "measure": {"snr_draws": 8, "log_checkpoints": 8, "late_checkpoints": 3, "early_end": 5},
    "compute": {"index_chunk": 16},
    "sweeps": {
        "dynamics": {"steps": 40, "seeds": 2},
        "batch": {"steps": 40, "seeds": 2, "values": [2, 8]},
        "weight_decay": {"steps": 40, "seeds": 2, "values": [0.0, 0.01, 0.1]},
        "dimension": {"steps": 40, "seeds": 2, "values": [3, 6]},
    },
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, object]:
    """The simulate / analyse tables of a tiny run of every sweep, in memory and as files."""
    params = config.section("minimal_model", TINY)
    df = pd.concat([simulate(params, sweep, global_seed=0) for sweep in params["sweeps"]], ignore_index=True)
    out = {name: make(df, params, STATS) for name, make in analysis.BUILDERS.items()}
    root = tmp_path_factory.mktemp("mm_tables")
    files = {}
    for name, frame in out.items():
        files[name] = root / f"{name}.csv"
        frame.to_csv(files[name], index=False)
    frames = {name: pd.read_csv(path) for name, path in files.items()}  # as the figures read them
    return {"frames": frames, "files": files, "params": params}


def _check_written(pdf) -> None:
    for path in (pdf, pdf.with_suffix(".png")):
        assert path.exists() and path.stat().st_size > 1000, path


@pytest.mark.parametrize("name", list(FIGURES["minimal_model"])[:3])
def test_figure_functions_write_pdf_and_png(tables, tmp_path, name):
    style.setup()
    entry = FIGURES["minimal_model"][name]
    figure = getattr(fig, entry.draw)(*(tables["frames"][t] for t in entry.tables))
    pdf = tmp_path / f"{name}.pdf"
    style.save(figure, pdf)
    _check_written(pdf)


@pytest.mark.parametrize("name", list(FIGURES["minimal_model"]))
def test_figures_fit_the_text_width_with_no_label_over_another(tables, name):
    """At the report's text width: no tick labels over each other, no legend over a panel or over a guide
    line's label (fig1's "paper: ratio > 5" was under the ratio panel's legend)."""
    style.setup()
    entry = FIGURES["minimal_model"][name]
    figure = getattr(fig, entry.draw)(*(tables["frames"][t] for t in entry.tables))
    assert layout_problems(figure) == []


def test_w_and_gamma_have_the_matrix_and_vector_colours_of_study_000(tables):
    """One palette: W (a matrix) and gamma (a vector) have the colours study 000 gives those shapes."""
    style.setup()
    figure = fig.fig1(*(tables["frames"][t] for t in FIGURES["minimal_model"]["fig1_dynamics"].tables))
    norms = figure.axes[0]
    drawn = {rgb(line.get_color()) for line in norms.get_lines() if len(line.get_xdata()) > 2}
    assert {rgb(style.COLORS["matrix"]), rgb(style.COLORS["vector"])} <= drawn
    assert fig.colors()["w"] == style.COLORS["matrix"] and fig.colors()["gamma"] == style.COLORS["vector"]


def test_cli_reads_only_the_declared_inputs(tables, tmp_path):
    """fig4 through the command line (its function and the CLI at once); a missing input is an error."""
    files = tables["files"]
    pdf = tmp_path / "fig4.pdf"
    given = [str(files[t]) for t in ("sweep_bands", "slopes", "figure_guides")]
    assert fig.main(["fig4_dimension", "--tables", *given, "--out", str(pdf)]) == 0
    _check_written(pdf)
    only = ["--tables", str(files["equilibrium"]), "--out", str(tmp_path / "x.pdf")]
    assert fig.main(["fig3_weight_decay", *only]) == 2


def test_sweep_bands_late_phase_is_the_equilibrium(tables):
    """The figures' late-phase points are the equilibrium table's values; earlier phases are seed means of
    the phase means, at the stats level; the growth rows are the seed means of runs.csv."""
    f = tables["frames"]
    bands, eq, pm, runs = f["sweep_bands"], f["equilibrium"], f["phase_means"], f["runs"]
    late = bands[(bands["phase"] == "late") & ~bands["metric"].str.startswith("late_growth")]
    both = late.merge(eq, on=["sweep", "value", "metric"], suffixes=("", "_eq"))
    assert len(both) == len(late) > 0
    np.testing.assert_allclose(both["mean"], both["mean_eq"])
    np.testing.assert_allclose(both["low"], both["ci_low"])
    np.testing.assert_allclose(both["high"], both["ci_high"])
    assert (bands["level"] == config.section("stats", STATS)["ci_level"]).all()
    early = bands[(bands["sweep"] == "batch") & (bands["phase"] == "early") & (bands["metric"] == "snr_w")]
    expect = pm[(pm["sweep"] == "batch") & (pm["phase"] == "early")].groupby("value")["snr_w"].mean()
    np.testing.assert_allclose(early.set_index("value")["mean"].sort_index(), expect.sort_index())
    growth = bands[(bands["sweep"] == "weight_decay") & (bands["metric"] == "late_growth_w")]
    expect = runs[runs["sweep"] == "weight_decay"].groupby("value")["late_growth_w"].mean()
    np.testing.assert_allclose(growth.set_index("value")["mean"].sort_index(), expect.sort_index())


def test_dynamics_bands_are_seed_means_per_step(tables):
    f = tables["frames"]
    bands = f["dynamics_bands"]
    assert set(bands["metric"]) == set(analysis.DYNAMICS_METRICS)
    assert (bands["n_seeds"] == TINY["sweeps"]["dynamics"]["seeds"]).all()
    # a step where every seed has the same value has the median's interval: NaN bounds at 3 seeds (no band)
    drawn = bands.dropna(subset=["low", "high"])
    assert (drawn["low"] <= drawn["mean"] + 1e-12).all() and (drawn["mean"] <= drawn["high"] + 1e-12).all()
    assert (bands.loc[bands["low"].isna(), "ci_method"] == "sign (median)").all()
    guides = f["figure_guides"].set_index("name")["value"]
    assert guides["snr_draws"] == TINY["measure"]["snr_draws"]


def test_plots_do_not_compute_statistics():
    import inspect

    source = inspect.getsource(fig)
    for banned in ("scaledyn.stats", "errorbar=", "n_boot", "seed_mean", "95%", "0.95", "95\\%"):
        assert banned not in source, banned


def test_lambda_zero_gets_its_own_position():
    pos, zero_at = fig._lambda_positions(np.array([0.0, 0.001, 0.01]))
    assert zero_at == pytest.approx(1e-4)
    np.testing.assert_allclose(pos, [1e-4, 1e-3, 1e-2])
