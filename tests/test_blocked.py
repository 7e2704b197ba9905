"""Blocked comparisons with a reference: known answers, pooled-t coverage, the spread check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from scaledyn import blocked


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
    c = blocked.contrast(model, "a", "base", 0.95)
    se = np.sqrt(2 * model.s2 / 3)
    assert c["estimate"] == pytest.approx(np.mean(y[1] - y[0]))
    assert (c["se"], c["df"]) == (pytest.approx(se), 4)
    t_q = scipy.stats.t.ppf(0.975, 4)
    assert c["raw_high"] - c["estimate"] == pytest.approx(t_q * se)
    assert c["p_raw"] == pytest.approx(2 * scipy.stats.t.sf(c["estimate"] / se, 4))
    c = blocked.contrast(model, "a", "b", 0.95)
    assert c["estimate"] == pytest.approx(np.mean(y[1] - y[2]))


def simulate(
    n_exp: int, effects: list[float], seeds: int, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """(n_exp, V, S) tables: arm effect + a large seed (block) effect + noise."""
    block = rng.normal(0.0, 1.0, (n_exp, 1, seeds))
    noise = rng.normal(0.0, sigma, (n_exp, len(effects), seeds))
    return np.asarray(effects)[None, :, None] + block + noise


def test_pooled_t_intervals_cover_each_known_effect_at_the_level():
    """Every comparison's pooled-t interval covers its true effect in ``level`` of the experiments, one at a
    time (2000 experiments: binomial sd 0.005), and the block effect (sd 1, ten times the noise) cancels."""
    effects, level = [0.0, 0.3, -0.2, 0.0, 0.05], 0.95
    y = simulate(2000, effects, 4, 0.1, np.random.default_rng(11))
    s2, df = blocked.residual_variance(y)
    assert df == 12 and np.mean(s2) == pytest.approx(0.01, rel=0.05)
    est = y.mean(-1)[:, 1:] - y.mean(-1)[:, :1]
    half = scipy.stats.t.ppf(0.5 + level / 2, df) * np.sqrt(2 * s2 / 4)[:, None]
    truth = np.asarray(effects[1:]) - effects[0]
    assert (np.abs(est - truth) <= half).mean(axis=0) == pytest.approx([level] * 4, abs=0.015)
    model = blocked.fit(
        long(y[0], ["r", "a", "b", "c", "d"]), "arm", "seed", "y", arms=["r", "a", "b", "c", "d"]
    )
    c = blocked.contrast(model, "b", "r", level)
    assert c["estimate"] == pytest.approx(est[0, 1]) and c["raw_high"] - c["estimate"] == pytest.approx(
        half[0, 0]
    )


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
