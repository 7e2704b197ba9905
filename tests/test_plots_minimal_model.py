"""Figures of study minimal_model: each writes a non-empty PDF and PNG from the tables of a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scaledyn.minimal_model import analysis
from scaledyn.minimal_model.params import SWEEPS, resolve
from scaledyn.minimal_model.simulate import simulate
from scaledyn.plots import minimal_model as fig
from scaledyn.plots import style

STATS = {"bootstrap_resamples": 50}
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
    params = resolve(TINY)
    df = pd.concat([simulate(params, sweep, global_seed=0) for sweep in SWEEPS], ignore_index=True)
    out = {
        "dynamics": df[df["sweep"] == "dynamics"].reset_index(drop=True),
        "phase_means": analysis.phase_means(df),
        "runs": analysis.run_summary(df, params),
        "equilibrium": analysis.equilibrium(df, params, STATS),
        "slopes": analysis.scaling_slopes(df, params, STATS),
    }
    root = tmp_path_factory.mktemp("mm_tables")
    files = {}
    for name, frame in out.items():
        files[name] = root / f"{name}.csv"
        frame.to_csv(files[name], index=False)
    return {"frames": out, "files": files, "params": params}


def _check_written(pdf) -> None:
    for path in (pdf, pdf.with_suffix(".png")):
        assert path.exists() and path.stat().st_size > 1000, path


@pytest.mark.parametrize(
    "name, inputs",
    [
        ("fig1", ("dynamics",)),
        ("fig2", ("phase_means", "equilibrium")),
        ("fig3", ("equilibrium", "runs")),
    ],
)
def test_figure_functions_write_pdf_and_png(tables, tmp_path, name, inputs):
    style.setup()
    figure = getattr(fig, name)(*(tables["frames"][i] for i in inputs), tables["params"])
    pdf = tmp_path / f"{name}.pdf"
    style.save(figure, pdf)
    _check_written(pdf)


def test_cli_reads_only_the_declared_inputs(tables, tmp_path):
    """fig4 through the command line (its function and the CLI at once); a missing input is an error."""
    files = tables["files"]
    pdf = tmp_path / "fig4.pdf"
    fig.main(
        [
            "fig4",
            "--phase-means",
            str(files["phase_means"]),
            "--slopes",
            str(files["slopes"]),
            "--params",
            json.dumps(TINY),
            "--out",
            str(pdf),
        ]
    )
    _check_written(pdf)
    with pytest.raises(SystemExit):
        fig.main(["fig3", "--equilibrium", str(files["equilibrium"]), "--out", str(tmp_path / "x.pdf")])


def test_phase_summary_uses_equilibrium_for_the_late_phase(tables):
    pm, eq = tables["frames"]["phase_means"], tables["frames"]["equilibrium"]
    summ = fig.phase_summary(pm, "batch", ["snr_w", "w_norm"], eq)
    assert set(summ["phase"]) == {"init", "early", "late"}
    late = summ[summ["phase"] == "late"].merge(
        eq[eq["sweep"] == "batch"], on=["value", "metric"], suffixes=("", "_eq")
    )
    np.testing.assert_allclose(late["mean"], late["mean_eq"])
    np.testing.assert_allclose(late["low"], late["ci_low"])
    early = summ[(summ["phase"] == "early") & (summ["metric"] == "snr_w")].set_index("value")["mean"]
    expect = pm[(pm["sweep"] == "batch") & (pm["phase"] == "early")].groupby("value")["snr_w"].mean()
    np.testing.assert_allclose(early.sort_index(), expect.sort_index())


def test_lambda_zero_gets_its_own_position():
    pos, zero_at = fig._lambda_positions(np.array([0.0, 0.001, 0.01]))
    assert zero_at == pytest.approx(1e-4)
    np.testing.assert_allclose(pos, [1e-4, 1e-3, 1e-2])
