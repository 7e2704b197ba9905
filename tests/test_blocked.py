"""Blocked comparisons with a reference: known answers, Dunnett's table, coverage and an A/A null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from scaledyn import blocked

# Dunnett (1964), two-sided critical values at 95% for k comparisons with a control (rounded to 2 decimals)
DUNNETT_TABLE = {
    5: {2: 3.03, 3: 3.29, 4: 3.48},
    10: {2: 2.57, 3: 2.76, 4: 2.89, 5: 2.99, 6: 3.07},
    20: {2: 2.38, 3: 2.54, 4: 2.65, 5: 2.73},
}


@pytest.mark.parametrize(("df", "k"), [(df, k) for df, row in DUNNETT_TABLE.items() for k in row])
def test_dunnett_critical_values_match_the_table(df, k):
    assert blocked.dunnett_critical(k, df, 0.95) == pytest.approx(DUNNETT_TABLE[df][k], abs=0.006)


def test_one_comparison_is_students_t_and_the_pvalue_inverts_the_critical_value():
    assert blocked.dunnett_critical(1, 7, 0.9) == pytest.approx(scipy.stats.t.ppf(0.95, 7))
    c = blocked.dunnett_critical(4, 12, 0.95)
    assert blocked.dunnett_pvalue(c, 4, 12) == pytest.approx(0.05, abs=2e-4)
    assert blocked.dunnett_pvalue(-c, 4, 12) == blocked.dunnett_pvalue(c, 4, 12)
    assert blocked.dunnett_pvalue(2.0, 1, 12) == pytest.approx(2 * scipy.stats.t.sf(2.0, 12))


def test_dunnett_critical_value_agrees_with_scipy_dunnett():
    """scipy.stats.dunnett on equal groups: its interval half-width / (s_pooled sqrt(2/n)) is c."""
    rng = np.random.default_rng(3)
    n, k = 6, 3
    control, *treatments = (rng.normal(size=n) for _ in range(k + 1))
    res = scipy.stats.dunnett(*treatments, control=control)
    half = (res.confidence_interval(0.95).high - res.confidence_interval(0.95).low) / 2
    pooled = np.mean([np.var(g, ddof=1) for g in (control, *treatments)])
    c_scipy = half / np.sqrt(pooled * 2 / n)
    assert c_scipy == pytest.approx(blocked.dunnett_critical(k, (k + 1) * (n - 1), 0.95), abs=3e-3)


def long(y: np.ndarray, arms: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"arm": a, "seed": s, "y": y[i, s]} for i, a in enumerate(arms) for s in range(y.shape[1])]
    )


def test_known_answer_on_a_small_table_and_incomplete_blocks_dropped():
    # base, a, b at seeds 0..2 with seed effects (0, 1, -1), effects a = +0.3, b = -0.2, residuals by hand
    y = np.array([[0.0, 1.0, -1.0], [0.3, 1.4, -0.8], [-0.2, 0.8, -1.3]])
    table = long(y, ["base", "a", "b"])
    table = pd.concat([table, pd.DataFrame([{"arm": "base", "seed": 3, "y": 5.0}])])  # seed 3: base only
    table.loc[len(table)] = {"arm": "a", "seed": 4, "y": np.nan}
    model = blocked.fit(table, "arm", "seed", "y", arms=["base", "a", "b"])
    assert model.blocks == (0, 1, 2) and model.dropped == (3, 4)
    r = blocked.residuals(y)
    assert np.allclose(r.sum(0), 0) and np.allclose(r.sum(1), 0)
    assert model.df == 4 and model.s2 == pytest.approx((r**2).sum() / 4)
    out = blocked.versus_reference(model, "base", 0.95).set_index("arm")
    assert out.loc["a", "estimate"] == pytest.approx(np.mean(y[1] - y[0]))
    assert out.loc["b", "estimate"] == pytest.approx(np.mean(y[2] - y[0]))
    se = np.sqrt(2 * model.s2 / 3)
    assert np.allclose(out["se"], se) and (out["df"] == 4).all()
    crit = blocked.dunnett_critical(2, 4, 0.95)
    assert out.loc["a", "ci_high"] - out.loc["a", "estimate"] == pytest.approx(crit * se)
    t_q = scipy.stats.t.ppf(0.975, 4)
    assert out.loc["a", "raw_high"] - out.loc["a", "estimate"] == pytest.approx(t_q * se)
    assert out.loc["a", "p_raw"] == pytest.approx(2 * scipy.stats.t.sf(out.loc["a", "estimate"] / se, 4))
    assert out.loc["a", "p_adjusted"] > out.loc["a", "p_raw"]
    c = blocked.contrast(model, "a", "b", 0.95)
    assert c["estimate"] == pytest.approx(np.mean(y[1] - y[2]))
    assert (c["se"], c["df"]) == (pytest.approx(se), 4)


def simulate(
    n_exp: int, effects: list[float], seeds: int, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """(n_exp, V, S) tables: arm effect + a large seed (block) effect + noise."""
    block = rng.normal(0.0, 1.0, (n_exp, 1, seeds))
    noise = rng.normal(0.0, sigma, (n_exp, len(effects), seeds))
    return np.asarray(effects)[None, :, None] + block + noise


def intervals(y: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(estimates, Dunnett half-widths, raw half-widths) of every arm vs arm 0, vectorised over
    experiments."""
    s2, df = blocked.residual_variance(y)
    est = y.mean(-1)[:, 1:] - y.mean(-1)[:, :1]
    se = np.sqrt(2 * s2 / y.shape[-1])[:, None]
    crit = blocked.dunnett_critical(y.shape[1] - 1, df, level)
    return est, crit * se, scipy.stats.t.ppf(0.5 + level / 2, df) * se


def test_dunnett_intervals_cover_the_known_effects_at_the_simultaneous_level():
    effects, level = [0.0, 0.3, -0.2, 0.0, 0.05], 0.95
    y = simulate(2000, effects, 4, 0.1, np.random.default_rng(11))
    est, half, raw = intervals(y, level)
    truth = np.asarray(effects[1:]) - effects[0]
    together = (np.abs(est - truth) <= half).all(axis=1).mean()
    assert together == pytest.approx(level, abs=0.015)  # binomial sd at 2000 experiments: 0.005
    assert (np.abs(est - truth) <= raw).all(axis=1).mean() < level - 0.05  # raw intervals undercover jointly
    assert (np.abs(est - truth) <= raw).mean() == pytest.approx(level, abs=0.01)  # ... but one at a time
    # the table interface gives the vectorised numbers
    model = blocked.fit(
        long(y[0], ["r", "a", "b", "c", "d"]), "arm", "seed", "y", arms=["r", "a", "b", "c", "d"]
    )
    out = blocked.versus_reference(model, "r", level)
    assert np.allclose(out["estimate"], est[0]) and np.allclose(out["ci_high"] - out["estimate"], half[0])


def test_aa_null_rejects_at_the_nominal_rate():
    """Arms that are all the reference (A/A): some interval excludes 0 in 1 - level of the experiments."""
    level = 0.9
    y = simulate(2000, [0.0, 0.0, 0.0], 5, 0.2, np.random.default_rng(5))
    est, half, _ = intervals(y, level)
    assert (np.abs(est) > half).any(axis=1).mean() == pytest.approx(1 - level, abs=0.015)
    # the adjusted p-value says the same as the interval, experiment by experiment
    s2, df = blocked.residual_variance(y[:40])
    t = est[:40] / np.sqrt(2 * s2[:, None] / 5)
    p = np.array([[blocked.dunnett_pvalue(x, 2, df) for x in row] for row in t])
    assert ((p < 1 - level) == (np.abs(est[:40]) > half[:40])).all()


def test_spread_check_flags_an_arm_with_a_larger_spread():
    rng = np.random.default_rng(2)
    arms = ["r", "a", "b", "c", "d", "e"]
    same = blocked.fit(long(simulate(1, [0] * 6, 12, 0.1, rng)[0], arms), "arm", "seed", "y", arms=arms)
    assert blocked.spread_check(same, 0.95)["compatible"]
    y = simulate(1, [0] * 6, 12, 0.1, rng)[0]
    y[2] += rng.normal(0, 1.0, 12)  # arm b: ten times the noise
    check = blocked.spread_check(blocked.fit(long(y, arms), "arm", "seed", "y", arms=arms), 0.95)
    assert check["p_value"] < 0.01 and not check["compatible"]
    flat = blocked.spread_check(blocked.fit(long(np.zeros((3, 2)), arms[:3]), "arm", "seed", "y"), 0.95)
    assert flat["compatible"] and np.isnan(flat["p_value"])
    two = blocked.spread_check(blocked.fit(long(y[:, :2], arms), "arm", "seed", "y", arms=arms), 0.95)
    assert two["compatible"] and np.isnan(two["p_value"])  # 2 blocks: residuals r, -r, no test


def test_seeds_for_halfwidth_is_the_first_design_at_the_target():
    """The sizing inverts the half-width: S blocks reach the target and S - 1 do not (t and Dunnett)."""
    sd, target = 0.02, 0.015

    def half(n: int, k: int, n_arms: int) -> float:
        return blocked.dunnett_critical(k, (n_arms - 1) * (n - 1), 0.95) * sd * np.sqrt(2 / n)

    for k, n_arms in ((1, 2), (1, 7), (3, 4)):
        s = blocked.seeds_for_halfwidth(sd, k, n_arms, target, 0.95)
        assert half(s, k, n_arms) <= target < half(s - 1, k, n_arms)
    # the CPU study's prenorm family: sd 0.0092, 6 comparisons: 12 seeds for an MDE of 0.01 (issue 11)
    assert blocked.seeds_for_halfwidth(0.0092, 6, 7, 0.01, 0.95) == 12
    assert blocked.seeds_for_halfwidth(1.0, 1, 2, 1e-6, 0.95) is None
    assert blocked.seeds_for_halfwidth(float("nan"), 1, 2, 0.01, 0.95) is None
