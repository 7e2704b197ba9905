"""The internal pilot of study 002 (scaledyn.llm.plan): Stein's two-stage sizing from the pilot's residual
variance, its exact level under re-sizing by simulation, and the final analysis on the pilot's variance."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from scaledyn import blocked, inference
from scaledyn.llm import analysis, is_planned, plan, seed_range

ALPHA, POWER = 0.05, 0.8


def test_seed_range_of_a_fixed_count_and_of_a_pilot():
    assert seed_range({"seeds": 3}) == (3, 3)
    assert seed_range({"seeds": {"pilot": 3, "max": 12}}) == (3, 12)


def test_a_pilot_at_its_ceiling_is_still_planned_a_fixed_count_is_not():
    """{pilot: n, max: n} trains n seeds, its plan says what the noise asks for; n alone plans nothing."""
    at_ceiling = {"seeds": {"pilot": 4, "max": 4}}
    assert is_planned(at_ceiling) and seed_range(at_ceiling) == (4, 4)
    assert not is_planned({"seeds": 4})


def test_seeds_for_is_the_first_count_whose_mde_reaches_the_target():
    s0, df0, target = 0.011, 10, 0.01
    n = plan.seeds_for(s0, df0, target, ALPHA / 6, POWER)
    mde = [inference.noncentrality(df0, ALPHA / 6, POWER) * s0 * math.sqrt(2 / k) for k in (n - 1, n)]
    assert mde[0] > target >= mde[1]
    assert math.isnan(plan.seeds_for(float("nan"), df0, target, ALPHA, POWER))


def test_stein_two_stage_keeps_its_level_and_coverage_under_re_sizing():
    """4000 simulated studies (6 arms on one seed stream, block sd 2, residual sd 1, pilot 3 seeds, ceiling
    60): the seeds are sized from the pilot's residual variance, the final test uses the mean over all seeds
    with the pilot's variance and df (Stein). At the margin it rejects in alpha = 5% of the studies (binomial
    sd 0.0034; tolerance 0.011) and its interval covers the true difference in 95%. The sizes vary with the
    pilot's variance (the re-sizing is real), and the naive test on all seeds' pooled variance is shown for
    contrast only."""
    rng = np.random.default_rng(0)
    arms, pilot, ceiling, margin, target = 6, 3, 60, -0.5, 0.8
    df0 = (arms - 1) * (pilot - 1)
    rejects, covers, sizes = [], [], []
    for _ in range(4000):
        shift = np.zeros(arms)
        shift[1] = margin  # arm 1 sits exactly at the margin
        first = shift[:, None] + rng.normal(0, 2, (1, pilot)) + rng.normal(0, 1, (arms, pilot))
        s2_0, df = blocked.residual_variance(first)
        assert df == df0
        n = int(min(max(plan.seeds_for(math.sqrt(s2_0), df0, target, ALPHA, POWER), pilot), ceiling))
        rest = shift[:, None] + rng.normal(0, 2, (1, n - pilot)) + rng.normal(0, 1, (arms, n - pilot))
        y = np.concatenate([first, rest], axis=1)
        d = float(y[1].mean() - y[0].mean())
        se = math.sqrt(2 * s2_0 / n)
        crit = scipy.stats.t.ppf(1 - ALPHA / 2, df0)
        rejects.append(abs(d - margin) / se > crit)
        covers.append(abs(d - margin) <= crit * se)
        sizes.append(n)
    assert np.mean(rejects) == pytest.approx(ALPHA, abs=0.011)
    assert np.mean(covers) == pytest.approx(1 - ALPHA, abs=0.011)
    assert np.std(sizes) > 1 and min(sizes) >= pilot and max(sizes) <= ceiling


def runs_table(effects: dict[str, float], seeds: int, rng: np.random.Generator) -> pd.DataFrame:
    block = rng.normal(0, 2, seeds)
    rows = [(v, s, 4 + e + block[s] + rng.normal(0, 0.1)) for v, e in effects.items() for s in range(seeds)]
    frame = pd.DataFrame(rows, columns=["variant", "seed", "final_val_loss"])
    return frame.assign(size="tiny", arch="prenorm", diverged=False)


def test_the_final_analysis_uses_the_pilots_variance_under_a_pilot():
    runs = runs_table({"baseline": 0.0, "no_scale": 0.05, "md": 0.0}, 7, np.random.default_rng(1))
    claims = {"reference": "baseline", "min_effect": 0.01}
    fixed = analysis.deltas(runs, {"claims": claims, "seeds": 7}, {}).set_index("variant")
    stein = analysis.deltas(runs, {"claims": claims, "seeds": {"pilot": 3, "max": 9}}, {}).set_index(
        "variant"
    )
    y = runs.pivot(index="variant", columns="seed", values="final_val_loss").loc[
        ["baseline", "no_scale", "md"]
    ]
    s2_pilot, df_pilot = blocked.residual_variance(y.to_numpy()[:, :3])
    s2_all, df_all = blocked.residual_variance(y.to_numpy())
    assert stein.loc["no_scale", "delta"] == fixed.loc["no_scale", "delta"]  # the mean over all 7 seeds
    assert (stein.loc["no_scale", "df"], fixed.loc["no_scale", "df"]) == (df_pilot, df_all)
    assert stein.loc["no_scale", "se"] == pytest.approx(math.sqrt(2 * s2_pilot / 7))
    assert fixed.loc["no_scale", "se"] == pytest.approx(math.sqrt(2 * s2_all / 7))
    assert (stein.loc["no_scale", "variance_seeds"], fixed.loc["no_scale", "variance_seeds"]) == (3, 7)
