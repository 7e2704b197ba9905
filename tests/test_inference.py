"""scaledyn.inference: each interval kind's p-value against known answers, Holm, power and sizing."""

import math

import numpy as np
import pytest
import scipy.stats

from scaledyn import inference
from scaledyn.inference import ThresholdTest
from scaledyn.stats import Settings

S = Settings(level=0.95, resamples=2000, seed=0, method="t")


def test_t_p_value_of_a_threshold_is_the_one_sample_t_test():
    x = np.array([0.3, 0.1, 0.45, 0.2, 0.05])
    interval = S.mean(x)
    for thr in (0.0, 0.1, 0.5):
        assert interval.test.p_value(thr) == pytest.approx(scipy.stats.ttest_1samp(x, thr).pvalue)
    # p < alpha exactly when the interval excludes the threshold: at the bounds p = 0.05
    assert interval.test.p_value(interval[1]) == pytest.approx(0.05)
    assert interval.test.p_value(interval[2]) == pytest.approx(0.05)


def test_fisher_z_p_value_is_on_the_z_scale_and_inverts_the_asymmetric_interval():
    """The issue's example: per-seed rho (0.99, 0.97, 0.9, 0.98, 0.8) against 0.815 and 0.83."""
    rho = np.array([0.99, 0.97, 0.9, 0.98, 0.8])
    interval = S.per_seed_correlation(np.arange(5), lambda r: rho[r[0]])
    assert interval.method == "fisher-z t" and interval[1] == pytest.approx(0.8152, abs=1e-4)
    z = np.arctanh(rho)
    for thr in (0.815, 0.83):
        expected = scipy.stats.ttest_1samp(z, np.arctanh(thr)).pvalue
        assert interval.test.p_value(thr) == pytest.approx(expected)
    assert interval.test.p_value(0.815) == pytest.approx(0.050, abs=1e-3)  # the t-scale reading gave 0.011
    assert interval.test.p_value(0.83) > 0.05  # the interval straddles 0.83: inconclusive, p above alpha
    assert interval.test.p_value(interval[1]) == pytest.approx(0.05)


def test_percentile_and_cluster_bootstrap_p_values_are_tail_shares_of_the_draws():
    x = np.random.default_rng(1).normal(0.4, 1.0, 12)
    interval = S.mean(x, "percentile")
    draws = np.asarray(interval.test.draws)
    for thr in (0.0, 0.4, 1.0):
        tail = min((draws <= thr).sum(), (draws >= thr).sum())
        assert interval.test.p_value(thr) == pytest.approx(2 * (1 + tail) / (1 + draws.size))
    assert interval.test.p_value(interval[1]) == pytest.approx(0.05, abs=0.002)
    rows = np.repeat(np.arange(12), 3)
    cluster = S.cluster_mean(np.repeat(x, 3), rows)
    assert cluster.test.kind == "draws" and cluster.test.p_value(cluster[2]) == pytest.approx(0.05, abs=0.002)


def test_bca_p_value_inverts_the_bca_interval():
    x = np.random.default_rng(3).exponential(1.0, 10)  # skewed: BCa is asymmetric
    interval = S.mean(x, "bca")
    assert interval.test.p_value(interval[1]) == pytest.approx(0.05, abs=0.004)
    assert interval.test.p_value(interval[2]) == pytest.approx(0.05, abs=0.004)
    assert interval.test.p_value(float(x.mean())) > 0.9


def test_clopper_pearson_known_answers_and_p_value_inverts_it():
    # 0 errors in 40 runs: the exact upper bound is 1 - 0.025^(1/40)
    est, low, high = S.proportion(0, 40)
    assert (est, low) == (0.0, 0.0) and high == pytest.approx(1 - 0.025 ** (1 / 40))
    interval = S.proportion(33, 40)
    for bound in interval[1:]:
        assert interval.test.p_value(bound) == pytest.approx(0.05, abs=1e-6)
    assert interval.test.p_value(0.5) == pytest.approx(2 * scipy.stats.binom.sf(32, 40, 0.5))


def test_equal_per_seed_values_get_the_sign_test_not_a_zero_width_interval():
    ones = np.ones(8)
    interval = S.mean(ones)
    assert interval.method == "sign (median)" and tuple(interval) == (1.0, 1.0, 1.0)
    assert interval.test.p_value(0.9) == pytest.approx(2 * 0.5**8)  # every seed above the threshold
    assert (
        tuple(S.mean(ones[:5]))[1:] == (pytest.approx(np.nan, nan_ok=True),) * 2
    )  # 5 seeds cannot reach 95%
    rho = S.per_seed_correlation(np.arange(6), lambda r: 1.0)
    assert rho.method == "sign (median)" and rho.test.p_value(0.7) == pytest.approx(2 * 0.5**6)


def test_holm_is_statsmodels_holm_textbook_example():
    rejected, adjusted = inference.holm([0.01, 0.04, 0.03, 0.005], 0.05)
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert rejected.tolist() == [True, False, False, True]


@pytest.mark.parametrize(("df", "alpha"), [(4, 0.05), (16, 0.05 / 8), (float("nan"), 0.05)])
def test_mde_is_decided_with_the_stated_power_by_simulation(df, alpha):
    """At the MDE, a level-alpha test of the threshold rejects in 80% of 20,000 simulated t statistics
    (binomial sd 0.003; tolerance 0.01)."""
    se, power = 0.02, 0.8
    effect = inference.mde(se, df, alpha, power)
    rng = np.random.default_rng(4)
    est = effect + se * rng.standard_normal(20_000)
    scale = np.sqrt(rng.chisquare(df, 20_000) / df) if np.isfinite(df) else 1.0
    stat = est / (se * scale)
    rejects = np.abs(stat) > inference.critical(alpha, df)
    assert rejects.mean() == pytest.approx(power, abs=0.01)
    approx = (inference.critical(alpha, df) + inference.critical(2 * (1 - power), df)) * se
    assert effect == pytest.approx(approx, rel=0.05)  # about (t_crit + t_power) se
    assert effect > inference.critical(alpha, df) * se  # more than the half-width (power 0.5)


def test_seeds_for_sizes_from_the_spread_and_is_the_first_that_reaches_the_target():
    se, n, df, target = 0.02, 5, 4, 0.01
    need = inference.seeds_for(target, se, df, n, 0.05, 0.8)
    at = [inference.mde(se * math.sqrt(n / s), s - 1, 0.05, 0.8) for s in (need - 1, need)]
    assert at[0] > target >= at[1]
    blocked = inference.seeds_for(target, se, 24, n, 0.05, 0.8)  # (V - 1)(S - 1) df with V = 7: fewer seeds
    assert blocked < need
    assert math.isnan(inference.seeds_for(float("nan"), se, df, n, 0.05, 0.8))
    assert math.isnan(inference.seeds_for(1e-9, se, df, n, 0.05, 0.8, max_seeds=1000))


def test_fisher_z_units_round_trip():
    for thr, upward in ((0.7, True), (0.7, False), (-0.2, True)):
        d = inference.on_scale("fisher-z", thr, 0.1, upward)
        assert inference.in_units("fisher-z", thr, d, upward) == pytest.approx(0.1)
    assert math.isnan(inference.in_units("fisher-z", 0.7, 10.0, True))  # past rho = 1


def test_test_kind_is_checked():
    with pytest.raises(ValueError, match="test kind"):
        ThresholdTest("wilcoxon")
