"""Study 002 aggregation and claims on synthetic runs with known answers; schema vs Python defaults."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from scaledyn import blocked
from scaledyn.llm import TABLES, analysis, claims
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, verdict
from tests.conftest import ANALYSIS_STATS, BASE, CLAIMS, CLAIMS_PARAMS, N_BASE, fake_run

NOISE = [0.002, -0.001, -0.001]  # a small residual, different per arm by its sign (see build)


def build(tmp_path: Path, arms: dict[str, dict[str, list[float]]], **kw) -> dict[str, pd.DataFrame]:
    """Runs of ``arms`` (arch -> variant -> its per-seed difference to baseline; baseline added) through the
    analysis and the claims, from the CSVs as the claims step reads them."""
    files = []
    for arch, effects in arms.items():
        for variant, deltas in {"baseline": [0.0] * len(BASE), **effects}.items():
            for s, d in enumerate(deltas):
                opts = kw.get(variant, {})
                opts = opts(s) if callable(opts) else opts
                files.append(fake_run(tmp_path, variant, s, BASE[s] + d, arch=arch, **opts))
    out = tmp_path / "out"
    memory = analysis.analyse(files, CLAIMS_PARAMS, ANALYSIS_STATS, out)
    tables = {p.stem: pd.read_csv(p) for p in out.glob("*.csv")}
    assert set(tables) == set(TABLES)
    # from the CSVs, as the claims step
    rows = [c.as_dict() for c in claims.check_all(tables, CLAIMS_PARAMS, ANALYSIS_STATS)]
    in_memory = [c.as_dict() for c in claims.check_all(memory, CLAIMS_PARAMS, ANALYSIS_STATS)]
    assert pd.DataFrame(rows).equals(pd.DataFrame(in_memory))  # NaN-aware
    tables["claims"] = rows
    return tables


def effect(mean: float, k: int = 1) -> list[float]:
    """Per-seed differences with the given mean and a small residual (sign k)."""
    return [mean + k * n for n in NOISE]


def rows_of(tables, measure_part: str) -> list[dict]:
    return [c for c in tables["claims"] if measure_part in c["measure"]]


def verdicts(tables, measure_part: str) -> list[str]:
    return [c["verdict"] for c in rows_of(tables, measure_part)]


def test_deltas_are_the_blocked_additive_model_with_pooled_t_intervals(tmp_path):
    no_scale, md = [0.05, 0.07, 0.06], [-0.02, 0.01, 0.00]
    tables = build(tmp_path, {"prenorm": {"no_scale": no_scale, "md": md}})
    d = tables["deltas"].set_index("variant")
    y = np.array([BASE, np.add(BASE, no_scale), np.add(BASE, md)])  # the registry order
    s2, df = blocked.residual_variance(y)
    se, t_q = np.sqrt(2 * s2 / 3), scipy.stats.t.ppf(0.975, 4)
    assert df == 4 and (d["df"] == 4).all() and np.allclose(d["se"], se)
    assert d.loc["no_scale", "delta"] == pytest.approx(0.06)
    assert d.loc["md", "delta"] == pytest.approx(-0.01 / 3)
    assert (
        d.loc["no_scale", "ci_high"] - 0.06 == pytest.approx(t_q * se) and (d["family"] == "reference").all()
    )
    assert (d["n_blocks"] == 3).all() and (d["method"] == "pooled-t").all()
    assert d.loc["no_scale", "dropped_seeds"] != d.loc["no_scale", "dropped_seeds"]  # none dropped: NaN
    (row,) = rows_of(tables, "no_scale - baseline")
    assert (row["direction"], row["threshold"], row["n_seeds"], row["df"]) == (">", 0.01, 3, 4.0)
    assert (row["method"], row["level"], row["role"], row["effect"]) == ("pooled-t", 0.95, "claim", 0.01)
    assert row["verdict"] == verdict(row["ci_low"], row["ci_high"], 0.01, ">")
    # the p-value tests the row's own margin (0.01), not 0, on the pooled df
    assert row["se"] == pytest.approx(se)
    assert row["p_value"] == pytest.approx(2 * scipy.stats.t.sf((0.06 - 0.01) / se, 4))


def simulated_runs(rng: np.random.Generator, seeds: int, block_sd: float) -> pd.DataFrame:
    """One default-shaped Pre-Norm study under the null: 7 arms on the reference's seed stream share each
    seed's block effect; the A/A arm (its own stream) draws its own; residual sd 1."""
    arms = ["baseline", "no_scale", "branch", "placement", "md", "unified"]
    shared = rng.normal(0, block_sd, seeds)
    rows = [(v, s, shared[s] + rng.normal()) for v in arms for s in range(seeds)]
    rows += [("baseline_aa", s, rng.normal(0, block_sd) + rng.normal()) for s in range(seeds)]
    frame = pd.DataFrame(rows, columns=["variant", "seed", "final_val_loss"])
    return frame.assign(size="tiny", arch="prenorm", diverged=False)


def test_the_aa_check_and_the_paired_comparisons_reject_at_the_nominal_rate():
    """600 simulated null studies of the real design (6 shared-stream arms + the A/A arm, 17 seeds, block sd
    2, residual sd 1): the pooled variance is the residual one (1, not ~2.1 as with the A/A arm in the fit),
    and both the A/A check and a paired comparison exclude 0 in 5% of the studies (binomial sd 0.009;
    tolerance 0.027)."""
    rng = np.random.default_rng(8)
    aa_out, paired_out, s2 = [], [], []
    for _ in range(600):
        d = analysis.deltas(simulated_runs(rng, 17, 2.0), CLAIMS_PARAMS, ANALYSIS_STATS).set_index("variant")
        aa_out.append(not d.loc["baseline_aa", "ci_low"] <= 0 <= d.loc["baseline_aa", "ci_high"])
        paired_out.append(not d.loc["md", "ci_low"] <= 0 <= d.loc["md", "ci_high"])
        s2.append(d.loc["md", "resid_sd"] ** 2)
    assert np.mean(s2) == pytest.approx(1.0, abs=0.03)
    assert np.mean(aa_out) == pytest.approx(0.05, abs=0.027)
    assert np.mean(paired_out) == pytest.approx(0.05, abs=0.027)
    aa = d.loc["baseline_aa"]
    assert (aa["family"], aa["method"], aa["n_blocks"]) == ("aa", "welch", 17) and 16 < aa["df"] < 32


def test_directions_of_every_claim(tmp_path):
    tables = build(
        tmp_path,
        {
            "prenorm": {
                "baseline_aa": effect(0.0, -1),  # the A/A arm: noise only, covers 0
                "no_scale": effect(-0.05),  # removal *helps* here: C1 not supported
                "branch": effect(-0.10, -1),
                "placement": effect(0.05),  # hurts, the claim says helps: not supported
                "md": effect(0.001, -1),  # a null inside +-min_effect: not supported
                "unified": effect(-0.20),
            },
            "sandwich": {
                "no_scale": effect(0.05),  # C1 is a Pre-Norm claim: no row from sandwich
                "wd_input": effect(-0.03),  # helps: supported
                "wd_output": effect(-0.03, -1),  # helps, the claim says hurts: not supported
            },
        },
        unified={"extra": 500, "tps": 900.0},
    )
    assert verdicts(tables, "baseline_aa - baseline") == [SUPPORTED]
    aa = rows_of(tables, "baseline_aa")[0]
    assert aa["direction"] == "covers" and aa["claim"].startswith("C0:") and aa["scope"] == "tiny, prenorm"
    assert verdicts(tables, "no_scale - baseline") == [NOT_SUPPORTED]
    assert rows_of(tables, "no_scale")[0]["scope"] == "tiny, prenorm"
    assert verdicts(tables, "branch - baseline") == [SUPPORTED]
    assert verdicts(tables, "placement - baseline") == [NOT_SUPPORTED]
    assert verdicts(tables, "md - baseline") == [NOT_SUPPORTED]  # inside +-0.01: the null shown
    assert verdicts(tables, "wd_input - baseline") == [SUPPORTED]
    assert verdicts(tables, "wd_output - baseline") == [NOT_SUPPORTED]
    assert {r["scope"] for r in rows_of(tables, "wd_")} == {"tiny, sandwich"}
    assert (aa["role"], aa["method"], aa["effect"] != aa["effect"]) == ("check", "welch", True)
    (runner,) = rows_of(tables, "runner-up")
    assert "unified - branch" in runner["measure"] and runner["value"] == pytest.approx(-0.10)
    assert runner["verdict"] == SUPPORTED and runner["method"] == "pooled-t"
    assert runner["df"] == 10.0  # (6 shared-stream arms - 1)(3 seeds - 1): the pooled df, not seeds - 1
    overhead = rows_of(tables, "extra parameters")[0]
    assert overhead["value"] == pytest.approx(500 / N_BASE) and overhead["verdict"] == SUPPORTED
    assert (overhead["method"], overhead["direction"], overhead["threshold"]) == ("exact", "<=", 0.01)
    speed = rows_of(tables, "tokens/s")[0]
    # every seed's ratio is exactly 0.9: zero spread is not zero error; 3 seeds are too few for the median's
    # 95% interval, so the row stays open (a t interval would have zero width and say "not supported")
    assert speed["value"] == pytest.approx(0.9) and speed["verdict"] == INCONCLUSIVE
    assert (speed["n_seeds"], speed["method"]) == (3, "sign (median)")
    v = tables["variants"].set_index(["arch", "variant"])
    assert v.loc[("prenorm", "unified"), "param_overhead"] == pytest.approx(0.005)
    assert v.loc[("sandwich", "baseline"), "final_val_loss"] == pytest.approx(np.mean(BASE))
    assert [c["claim"][:3] for c in tables["claims"]] == [
        "C0:",
        "C1:",
        "C3:",
        "C3:",
        "C3:",
        "C4:",
        "C4:",
        "C5:",
        "C5:",
        "C2:",
        "C2:",
    ]
    traj = tables["gamma_traj"]
    assert set(traj["kind"]) == {"input", "output"} and (traj["n_vectors"] == 1).all()


def test_the_aa_check_fails_when_the_aa_arm_is_offset(tmp_path):
    # Welch's unpaired interval holds the seed-to-seed spread of BASE (sd 0.08): an offset of 0.5 excludes 0
    tables = build(tmp_path, {"prenorm": {"baseline_aa": effect(0.5), "no_scale": effect(0.05, -1)}})
    assert verdicts(tables, "baseline_aa - baseline") == [NOT_SUPPORTED]


def test_a_diverged_run_drops_its_seed_from_its_architecture(tmp_path):
    arms = {
        "prenorm": {"no_scale": [0.05, 0.07, 0.06], "md": effect(0.0)},
        "sandwich": {"wd_input": effect(0.0)},
    }
    tables = build(tmp_path, arms, no_scale=lambda s: {"diverged": s == 1})
    d = tables["deltas"].set_index(["arch", "variant"])
    assert (d.loc["prenorm", "n_blocks"] == 2).all() and (d.loc["prenorm", "dropped_seeds"] == 1).all()
    assert d.loc[("prenorm", "no_scale"), "delta"] == pytest.approx(0.055)
    assert d.loc[("sandwich", "wd_input"), "n_blocks"] == 3  # the other architecture keeps every seed
    v = tables["variants"].set_index(["arch", "variant"])
    assert v.loc[("prenorm", "no_scale"), "n_diverged"] == 1 and tables["runs"]["diverged"].sum() == 1
    assert "seeds dropped: 1" in rows_of(tables, "no_scale - baseline")[0]["note"]


def test_a_single_seed_gives_no_interval(tmp_path):
    files = [fake_run(tmp_path, "baseline", 0, 4.0), fake_run(tmp_path, "no_scale", 0, 4.1)]
    analysis.analyse(files, CLAIMS_PARAMS, ANALYSIS_STATS, tmp_path / "out")
    tables = {p.stem: pd.read_csv(p) for p in (tmp_path / "out").glob("*.csv")}
    rows = [r.as_dict() for r in claims.check_all(tables, CLAIMS_PARAMS, ANALYSIS_STATS)]
    assert [r["verdict"] for r in rows] == [INCONCLUSIVE]  # one seed: no residual df, no interval
    assert rows[0]["value"] == pytest.approx(0.1) and rows[0]["df"] == 0


def test_band_tables_hold_what_the_figures_draw(tmp_path):
    tables = build(tmp_path, {"sandwich": {"no_scale": [0.05, 0.07, 0.06], "wd_input": [0.0, 0.01, 0.02]}})
    curve = tables["curve_bands"]
    assert (curve["level"] == ANALYSIS_STATS["ci_level"]).all()
    assert set(curve["ci_method"]) == {"t", "sign (median)"}  # equal values at a step: the median interval
    last = curve[(curve["variant"] == "no_scale") & (curve["step"] == 20)].iloc[0]
    assert last["mean"] == pytest.approx(np.mean(BASE) + 0.06) and last["n_seeds"] == 3
    paired = tables["paired_curve_bands"]
    end = paired[(paired["variant"] == "no_scale") & (paired["tokens"] == 20 * 64)].iloc[0]
    d = tables["deltas"].set_index("variant").loc["no_scale"]
    # the last point of the paired curve is the final-loss delta (its band: a paired t over seeds, per step)
    assert end["mean"] == pytest.approx(d["delta"])
    assert end["reference"] == "baseline" and set(paired["variant"]) == {"no_scale", "wd_input"}
    assert d["level"] == ANALYSIS_STATS["ci_level"] and d["min_effect"] == CLAIMS["min_effect"]
    gam = tables["gamma_bands"]
    assert {"kind", "side", "decayed", "step", "mean", "low", "high", "level"} <= set(gam.columns)
    one = gam[(gam["variant"] == "baseline") & (gam["step"] == 10) & (gam["kind"] == "input")].iloc[0]
    assert one["mean"] == pytest.approx(1.1) and one["n_seeds"] == 3


def test_missing_run_file_is_a_clear_error(tmp_path, capsys):
    summary = fake_run(tmp_path, "baseline", 0, 4.0)
    (summary.parent / "gammas.csv").unlink()
    code = analysis.main(
        [
            "--inputs",
            str(summary),
            "--params",
            json.dumps(CLAIMS_PARAMS),
            "--stats",
            json.dumps(ANALYSIS_STATS),
            "--out-dir",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("Error: cannot read run") and "gammas.csv" in err
    bad = ["--inputs", str(summary), "--params", "{}", "--stats", '{"ci_level": 2}', "--out-dir", "o"]
    assert analysis.main(bad) == 2
    assert capsys.readouterr().err.startswith("Error: Invalid config at 'stats.ci_level'")
