"""Whole-pipeline calibration of the verdicts: synthetic per-seed results of a paper with known effects pushed
through the real interval builders (:class:`scaledyn.stats.Settings`, :mod:`scaledyn.blocked`, Welch) and the
real claims table (:func:`scaledyn.report.claims_table.table`, Holm per paper, MDE at ``stats.power``).

One synthetic paper = one experiment: m = 6 claim rows of four interval kinds (two per-seed t means, a
Fisher-z correlation, two blocked pooled-t comparisons against a margin, a Clopper-Pearson proportion), plus
an A/A check (Welch, unpaired) and a practitioner row that must not count. N = 1000 experiments per
scenario, all in one table (one paper each).

- Null at the margin (every true value exactly at its threshold): the paper's family-wise error (any claim row
  decided after adjustment) is at most alpha = 0.05 + 0.021 (3 binomial sd at N = 1000).
- At the MDE (one t row and one blocked row at their MDE at 80% power, level alpha / m; the rest at the
  margin): each is supported in 80% -0.038 (3 sd) of the experiments, and at most the power at level
  alpha / (m - 1) + 0.038 (Holm's step-down may test the second at that level once the first is rejected).

``gc.freeze()``: ``statsmodels``' ``multipletests`` calls ``gc.collect()`` on every call (15 ms in a full
test process); freezing the objects already alive makes it 20 us and changes no result.
"""

import gc

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from scaledyn import blocked, inference
from scaledyn.inference import ThresholdTest
from scaledyn.report import claims_table as ct
from scaledyn.stats import INCONCLUSIVE, SUPPORTED, ClaimResult, Settings

N, ALPHA, POWER, M = 1000, 0.05, 0.8, 6
S = Settings(level=1 - ALPHA, resamples=200, seed=0, method="t")
SEEDS, ARMS, BLOCK_SD, MARGIN, TRIALS = 6, 5, 2.0, 0.5, 60
T_SE = 1 / np.sqrt(SEEDS)  # per-seed sd 1
BLOCKED_SE, BLOCKED_DF = np.sqrt(2 / 8), (ARMS - 1) * (8 - 1)  # residual sd 1, 8 blocks


def t_effect() -> float:
    return inference.mde(T_SE, SEEDS - 1, ALPHA / M, POWER)


def blocked_effect() -> float:
    return inference.mde(BLOCKED_SE, BLOCKED_DF, ALPHA / M, POWER)


def experiment(rng: np.random.Generator, paper: str, t_shift: float, blocked_shift: float) -> list[dict]:
    rows = []

    def add(interval, direction, threshold, role="claim", test=None, kind="t"):
        rows.append(
            ClaimResult.checked(
                paper,
                f"{kind} {len(rows)}",
                "s",
                "m",
                interval,
                "x",
                direction,
                threshold,
                role=role,
                test=test,
            ).as_dict()
        )

    add(S.mean(rng.normal(t_shift, 1.0, SEEDS)), ">", 0.0)
    add(S.mean(rng.normal(0.0, 1.0, SEEDS)), "<", 0.0)
    z = rng.normal(np.arctanh(0.7), 0.3, SEEDS)
    add(S.per_seed_correlation(np.arange(SEEDS), lambda r: float(np.tanh(z[r[0]]))), ">=", 0.7, kind="rho")
    effects = np.array([0.0, -MARGIN - blocked_shift, -MARGIN, 0.0, 0.0])
    y = effects[:, None] + rng.normal(0, BLOCK_SD, (1, 8)) + rng.normal(0, 1.0, (ARMS, 8))
    table = pd.DataFrame(
        [(a, b, y[a, b]) for a in range(ARMS) for b in range(8)], columns=["arm", "seed", "y"]
    )
    model = blocked.fit(table, "arm", "seed", "y", arms=list(range(ARMS)))
    for arm in (1, 2):
        c = blocked.contrast(model, arm, 0, 1 - ALPHA)
        test = ThresholdTest("t", center=c["estimate"], se=c["se"], df=c["df"])
        add((c["estimate"], c["raw_low"], c["raw_high"]), "<", -MARGIN, test=test, kind="blocked")
    add(S.proportion(rng.binomial(TRIALS, 0.9), TRIALS), ">=", 0.9, kind="proportion")
    aa = rng.normal(0, np.sqrt(BLOCK_SD**2 + 1), (2, 8))  # independent seeds: the block variance stays
    res = scipy.stats.ttest_ind(aa[0], aa[1], equal_var=False)
    ci = res.confidence_interval(1 - ALPHA)
    se = (ci.high - ci.low) / 2 / scipy.stats.t.ppf(1 - ALPHA / 2, res.df)
    test = ThresholdTest("t", center=aa[0].mean() - aa[1].mean(), se=se, df=res.df)
    add((aa[0].mean() - aa[1].mean(), ci.low, ci.high), "covers", 0.0, role="check", test=test, kind="aa")
    add(S.mean(rng.normal(5.0, 1.0, SEEDS)), ">", 0.0, role="practitioner")  # always decided: must not count
    return rows


def run(t_shift: float, blocked_shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [r for i in range(N) for r in experiment(rng, f"e{i}", t_shift, blocked_shift)]
    gc.freeze()
    try:
        return ct.table(rows, {"ci_level": 1 - ALPHA, "power": POWER, "adjust": "holm"})
    finally:
        gc.unfreeze()


@pytest.fixture(scope="module")
def null() -> pd.DataFrame:
    return run(0.0, 0.0, seed=1)


@pytest.fixture(scope="module")
def at_mde() -> pd.DataFrame:
    return run(t_effect(), blocked_effect(), seed=2)


def test_family_wise_error_at_the_margin_is_at_most_alpha(null):
    counted = null[null["counted"]]
    assert (counted["family_size"] == M).all()  # the check and the practitioner row are not in the family
    assert not null.loc[~null["counted"], "role"].eq("claim").any()
    decided = counted["verdict_adjusted"].ne(INCONCLUSIVE).groupby(counted["paper"]).any()
    assert len(decided) == N
    assert decided.mean() <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / N)
    raw = counted["verdict"].ne(INCONCLUSIVE).groupby(counted["paper"]).any().mean()
    assert raw > 2 * ALPHA  # without the family adjustment the paper would err far more often
    aa = null[null["role"] == "check"]
    assert aa["verdict"].eq(SUPPORTED).mean() == pytest.approx(1 - ALPHA, abs=3 * np.sqrt(ALPHA * 0.95 / N))


def test_rows_at_their_mde_are_decided_with_the_configured_power(at_mde):
    sd = 3 * np.sqrt(POWER * (1 - POWER) / N)
    for kind, se, df, effect in (
        ("t 0", T_SE, SEEDS - 1, t_effect()),
        ("blocked 3", BLOCKED_SE, BLOCKED_DF, blocked_effect()),
    ):
        rows = at_mde[at_mde["claim"] == kind]
        power = rows["verdict_adjusted"].eq(SUPPORTED).mean()
        upper = inference.power_at(effect, se, df, ALPHA / (M - 1))
        assert POWER - sd <= power <= upper + sd, (kind, power, upper)
        # the MDE each row reports is the true one up to its estimated standard error
        assert rows["mde"].median() == pytest.approx(effect, rel=0.15)
