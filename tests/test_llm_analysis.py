"""Study 002 aggregation and claims on synthetic runs with known answers; schema vs Python defaults."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaledyn.llm import TABLES, analysis, claims
from scaledyn.llm import outputs as tr  # the run-log column lists (train.py writes them through outputs)
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

ROOT = Path(__file__).resolve().parents[1]
STATS = {"ci_level": 0.95, "bootstrap_resamples": 500}
CLAIMS = {
    "reference": "baseline",
    "min_effect": 0.0,
    "max_param_overhead": 0.01,
    "min_throughput_ratio": 0.95,
}
PARAMS = {"claims": CLAIMS}
N_BASE = 100_000


def fake_run(
    root: Path, variant: str, seed: int, loss: float, *, diverged=False, tps=1000.0, extra=0, arch="prenorm"
) -> Path:
    """A run directory like scaledyn.llm.train writes, with a given final validation loss."""
    out = root / arch / variant / f"seed{seed}"
    out.mkdir(parents=True)
    steps = [1, 10, 20]
    pd.DataFrame(
        {
            "step": steps,
            "tokens": [s * 64 for s in steps],
            "lr": 1e-3,
            "train_loss": [5.0, 4.0, loss],
            "val_loss": [np.nan, 4.5, np.nan if diverged else loss],
            "tokens_per_s": tps,
            "mfu": 0.01,
            "grad_norm": 1.0,
        }
    ).to_csv(out / "metrics.csv", index=False)
    rows = []
    for step in steps:
        for kind, decayed in (("input", variant == "wd_input"), ("output", variant == "wd_output")):
            rows.append([step, "n", "n", kind, "in", "", decayed, 1.0, 1.0 + 0.01 * step, 0.9, 1.1])
    pd.DataFrame(rows, columns=tr.GAMMA_COLUMNS).to_csv(out / "gammas.csv", index=False)
    grads = [
        [s, f"layers.{i}.attn.{m}", 2.0 if variant == "branch" else 1.0]
        for s in steps
        for i in (0, 1)
        for m in ("q", "k")
    ]
    pd.DataFrame(grads, columns=tr.GRAD_COLUMNS).to_csv(out / "linear_grads.csv", index=False)
    summary = {
        "variant": variant,
        "size": "tiny",
        "arch": arch,
        "seed": seed,
        "final_val_loss": None if diverged else loss,
        "min_val_loss": 4.5 if diverged else min(loss, 4.5),
        "final_train_loss": loss,
        "diverged": diverged,
        "diverged_step": 15 if diverged else None,
        "diverged_reason": "non-finite loss" if diverged else None,
        "tokens_per_s": tps,
        "mfu": 0.01,
        "n_params": N_BASE + extra,
        "n_scale_params": 100 + extra,
        "steps": 20,
        "steps_planned": 20,
        "tokens": 1280,
        "wall_s": 1.0,
        "device": "cpu",
        "threads": 1,
        "resumed_at": [],
    }
    (out / "summary.json").write_text(json.dumps(summary))
    return out / "summary.json"


BASE = [4.00, 4.10, 3.95]  # per seed: the seed effect is large, the paired differences small


def build(tmp_path: Path, effects: dict[str, list[float]], **kw) -> dict[str, pd.DataFrame]:
    files = [fake_run(tmp_path, "baseline", s, b) for s, b in enumerate(BASE)]
    for variant, deltas in effects.items():
        for s, d in enumerate(deltas):
            opts = kw.get(variant, {})
            files.append(fake_run(tmp_path, variant, s, BASE[s] + d, **(opts(s) if callable(opts) else opts)))
    out = tmp_path / "out"
    memory = analysis.analyse(files, PARAMS, STATS, out)
    tables = {p.stem: pd.read_csv(p) for p in out.glob("*.csv")}
    assert set(tables) == set(TABLES)
    rows = [c.as_dict() for c in claims.check_all(tables, PARAMS, STATS)]  # from the CSVs, as the claims step
    assert rows == [c.as_dict() for c in claims.check_all(memory, PARAMS, STATS)]
    tables["claims"] = rows
    return tables


def verdicts(tables, measure_part: str) -> list[str]:
    return [c["verdict"] for c in tables["claims"] if measure_part in c["measure"]]


def test_paired_deltas_are_exact_t_intervals(tmp_path):
    tables = build(tmp_path, {"no_scale": [0.05, 0.07, 0.06], "md": [-0.02, 0.01, 0.00]})
    d = tables["deltas"].set_index("variant")
    assert d.loc["no_scale", "delta"] == pytest.approx(0.06)
    half = 4.302653 * 0.01 / np.sqrt(3)  # t_{0.975,2} * sd / sqrt(n), sd of (0.05, 0.07, 0.06) = 0.01
    assert d.loc["no_scale", "ci_high"] - 0.06 == pytest.approx(half, rel=1e-5)
    assert d.loc["no_scale", "n_pairs"] == 3 and d.loc["no_scale", "ci_method"] == "t"  # stats.ci_method
    row = [c for c in tables["claims"] if "no_scale - baseline" in c["measure"]][0]
    assert (row["direction"], row["threshold"], row["n_seeds"]) == (">", 0.0, 3)
    assert (row["method"], row["level"]) == ("t", 0.95)
    # the seed effect (BASE spread 0.15) does not enter a paired difference
    assert verdicts(tables, "no_scale - baseline") == [SUPPORTED]  # removal hurts: CI above 0
    assert verdicts(tables, "md - baseline") == [INCONCLUSIVE]


def test_directions_of_every_claim(tmp_path):
    tables = build(
        tmp_path,
        {
            "no_scale": [-0.05, -0.06, -0.04],  # removal *helps* here: C1 not supported
            "wd_input": [-0.03, -0.02, -0.04],  # helps: supported
            "wd_output": [-0.03, -0.02, -0.04],  # helps, the claim says hurts: not supported
            "branch": [-0.01, -0.02, -0.015],
            "placement": [0.01, 0.02, 0.015],
            "unified": [-0.10, -0.12, -0.11],
        },
        unified={"extra": 500, "tps": 900.0},
    )
    assert verdicts(tables, "no_scale - baseline") == [NOT_SUPPORTED]
    assert verdicts(tables, "wd_input - baseline") == [SUPPORTED]
    assert verdicts(tables, "wd_output - baseline") == [NOT_SUPPORTED]
    assert verdicts(tables, "branch - baseline") == [SUPPORTED]
    assert verdicts(tables, "placement - baseline") == [NOT_SUPPORTED]
    assert not verdicts(tables, "md - baseline")  # not trained: no row
    runner = [c for c in tables["claims"] if "runner-up" in c["measure"]]
    assert len(runner) == 1 and "unified - no_scale" in runner[0]["measure"]  # lowest mean among the others
    assert runner[0]["value"] == pytest.approx(-0.06) and runner[0]["verdict"] == SUPPORTED
    overhead = [c for c in tables["claims"] if "extra parameters" in c["measure"]][0]
    assert overhead["value"] == pytest.approx(500 / N_BASE) and overhead["verdict"] == SUPPORTED
    assert (overhead["method"], overhead["direction"], overhead["threshold"]) == ("exact", "<=", 0.01)
    speed = [c for c in tables["claims"] if "tokens/s" in c["measure"]][0]
    assert speed["value"] == pytest.approx(0.9) and speed["verdict"] == NOT_SUPPORTED
    assert (speed["n_seeds"], speed["method"]) == (3, "t")
    assert (runner[0]["n_seeds"], runner[0]["method"]) == (3, "t")
    v = tables["variants"].set_index("variant")
    assert v.loc["unified", "param_overhead"] == pytest.approx(0.005)
    assert v.loc["baseline", "final_val_loss"] == pytest.approx(np.mean(BASE))
    g = tables["grads"].set_index(["variant", "map"])
    assert g.loc[("branch", "q"), "ratio_to_reference"] == pytest.approx(2.0)
    traj = tables["gamma_traj"]
    assert set(traj["kind"]) == {"input", "output"} and (traj["n_vectors"] == 1).all()


def test_diverged_run_drops_its_pair_and_is_counted(tmp_path):
    tables = build(tmp_path, {"no_scale": [0.05, 0.07, 0.06]}, no_scale=lambda s: {"diverged": s == 1})
    d = tables["deltas"].set_index("variant")
    assert d.loc["no_scale", "n_pairs"] == 2 and d.loc["no_scale", "seeds"] == "0 2"
    assert d.loc["no_scale", "delta"] == pytest.approx(0.055)
    assert tables["variants"].set_index("variant").loc["no_scale", "n_diverged"] == 1
    assert tables["runs"]["diverged"].sum() == 1


def test_bca_method_and_single_seed(tmp_path):
    files = [fake_run(tmp_path, "baseline", 0, 4.0), fake_run(tmp_path, "no_scale", 0, 4.1)]
    stats = {**STATS, "ci_method": "bca"}  # the one stats.ci_method of every study
    analysis.analyse(files, PARAMS, stats, tmp_path / "out")
    tables = {p.stem: pd.read_csv(p) for p in (tmp_path / "out").glob("*.csv")}
    rows = [r.as_dict() for r in claims.check_all(tables, PARAMS, stats)]
    assert [r["verdict"] for r in rows] == [INCONCLUSIVE]  # one seed: no interval
    assert rows[0]["value"] == pytest.approx(0.1) and rows[0]["method"] == "bca"
    assert (tables["deltas"]["ci_method"] == "bca").all() and (
        tables["curve_bands"]["ci_method"] == "bca"
    ).all()


def test_band_tables_hold_what_the_figures_draw(tmp_path):
    tables = build(tmp_path, {"no_scale": [0.05, 0.07, 0.06], "wd_input": [0.0, 0.01, 0.02]})
    curve = tables["curve_bands"]
    assert (curve["level"] == STATS["ci_level"]).all() and (curve["ci_method"] == "t").all()
    last = curve[(curve["variant"] == "no_scale") & (curve["step"] == 20)].iloc[0]
    assert last["mean"] == pytest.approx(np.mean(BASE) + 0.06) and last["n_seeds"] == 3
    paired = tables["paired_curve_bands"]
    end = paired[(paired["variant"] == "no_scale") & (paired["tokens"] == 20 * 64)].iloc[0]
    d = tables["deltas"].set_index("variant").loc["no_scale"]
    # the last point of the paired curve is the paired final-loss delta and its CI
    assert (end["mean"], end["low"], end["high"]) == pytest.approx((d["delta"], d["ci_low"], d["ci_high"]))
    assert end["reference"] == "baseline" and set(paired["variant"]) == {"no_scale", "wd_input"}
    assert d["level"] == STATS["ci_level"] and d["min_effect"] == CLAIMS["min_effect"]
    gam = tables["gamma_bands"]
    assert {"kind", "side", "decayed", "step", "mean", "low", "high", "level"} <= set(gam.columns)
    one = gam[(gam["variant"] == "baseline") & (gam["step"] == 10) & (gam["kind"] == "input")].iloc[0]
    assert one["mean"] == pytest.approx(1.1) and one["n_seeds"] == 3


def test_missing_run_file_is_a_clear_error(tmp_path, capsys):
    summary = fake_run(tmp_path, "baseline", 0, 4.0)
    (summary.parent / "gammas.csv").unlink()
    code = analysis.main(
        [
            "--summaries",
            str(summary),
            "--params",
            json.dumps(PARAMS),
            "--stats",
            json.dumps(STATS),
            "--out-dir",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("Error: cannot read run") and "gammas.csv" in err
    bad = ["--summaries", str(summary), "--params", "{}", "--stats", '{"ci_level": 2}', "--out-dir", "o"]
    assert analysis.main(bad) == 2
    assert capsys.readouterr().err.startswith("Error: Invalid config at 'stats.ci_level'")
