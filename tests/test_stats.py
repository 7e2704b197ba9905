"""Intervals over seeds (t, BCa, per-seed statistics, seed-cluster bootstrap), the one settings object,
paired differences, claim rows."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from scaledyn import config
from scaledyn.stats import (
    CLUSTER,
    ClaimResult,
    Interval,
    Settings,
    bca_mean_ci,
    cluster_mean_ci,
    mean_ci,
    mean_interval,
    paired,
    seed_bootstrap,
    t_mean_ci,
)

DEFAULT = Settings.from_section(config.section("stats"))


def test_settings_come_from_the_stats_section():
    s = Settings.from_section(
        {"ci_level": 0.9, "bootstrap_resamples": 300, "bootstrap_seed": 7, "ci_method": "bca"}
    )
    assert (s.level, s.resamples, s.seed, s.method) == (0.9, 300, 7, "bca")
    assert DEFAULT.method == "t"  # a percentile bootstrap over a handful of seeds undercovers
    assert Settings.from_section({}) == Settings.default() == DEFAULT  # the schema's defaults
    section = {"ci_level": 0.9, "bootstrap_resamples": 300, "bootstrap_seed": 7, "ci_method": "bca"}
    assert Settings.of(s) is s and Settings.of(section) == s
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.level = 0.5
    with pytest.raises(config.ConfigError, match="stats.ci_level"):
        Settings.from_section({"ci_level": 1.5})
    with pytest.raises(config.ConfigError, match="stats.ci_method"):  # not configurable any more
        Settings.from_section({"ci_method": "percentile"})


def test_settings_methods_are_the_functions_at_their_settings():
    rng = np.random.default_rng(0)
    seeds = np.repeat(np.arange(6), 4)
    values = rng.normal(size=seeds.size)
    s = Settings(level=0.8, resamples=300, seed=3, method="t")
    kw = {"level": 0.8, "resamples": 300, "rng_seed": 3}
    assert s.cluster_mean(values, seeds) == cluster_mean_ci(values, seeds, **kw)
    assert s.bootstrap(seeds, lambda r: values[r].mean()) == seed_bootstrap(
        seeds, lambda r: values[r].mean(), **kw
    )
    assert s.mean(values[:5]) == s.mean(values[:5], "t") == t_mean_ci(values[:5], level=0.8)  # default t
    assert s.mean(values[:5], "percentile") == mean_ci(values[:5], **kw)
    assert s.mean(values[:5], "bca") == bca_mean_ci(values[:5], **kw)
    assert dataclasses.replace(s, method="bca").mean(values[:5]) == bca_mean_ci(values[:5], **kw)
    section = {"ci_level": 0.8, "bootstrap_resamples": 300, "bootstrap_seed": 3}
    assert Settings.of(section).mean(values[:5], "t") == s.mean(values[:5], "t")
    # without settings the module functions use the schema's defaults
    assert mean_ci(values[:5]) == DEFAULT.mean(values[:5], "percentile")
    assert t_mean_ci(values[:5]) == DEFAULT.mean(values[:5])


def test_intervals_carry_n_method_and_level():
    s = Settings(level=0.9, resamples=200, seed=0, method="t")
    got = s.mean(np.array([1.0, 2.0, np.nan, 4.0]))
    assert isinstance(got, Interval) and (got.n, got.method, got.level) == (3, "t", 0.9)
    est, lo, hi = got  # unpacks like a tuple
    assert lo < est < hi
    seeds = np.repeat(np.arange(4), 3)
    assert s.bootstrap(seeds, lambda r: float(len(r))).method == CLUSTER
    assert s.cluster_mean(np.ones(12), seeds).n == 4


def test_per_seed_interval_is_the_interval_of_per_seed_statistics():
    rng = np.random.default_rng(2)
    seeds = np.repeat([3, 1, 2, 0, 4], 6)
    x = rng.normal(size=seeds.size)
    y = 2 * x + rng.normal(size=seeds.size) + seeds
    s = dataclasses.replace(DEFAULT, resamples=300)

    def slope(r):
        return float(np.polyfit(x[r], y[r], 1)[0])

    values = s.per_seed_values(seeds, slope)
    assert list(values.index) == [0, 1, 2, 3, 4]
    assert values[3] == pytest.approx(slope(np.flatnonzero(seeds == 3)))
    got = s.per_seed(seeds, slope)
    assert got == s.mean(values.to_numpy()) and got.n == 5 and got.method == "t"
    assert s.per_seed(seeds, slope, "bca") == s.mean(values.to_numpy(), "bca")
    nan_one = s.per_seed(seeds, lambda r: float("nan") if seeds[r[0]] == 4 else 1.0 + seeds[r[0]])
    assert nan_one.n == 4 and nan_one[0] == 2.5  # non-finite seeds dropped


def test_correlation_interval_stays_in_bounds_and_is_fishers_z():
    """Per-seed correlations near 1: the t interval of the raw values passes 1, the Fisher-z one is that
    interval on arctanh mapped back by tanh; a seed at exactly 1 falls back to the median's sign-test
    interval (3 seeds: too few for 95%, NaN bounds)."""
    seeds = np.repeat([0, 1, 2], 4)
    near = {0: 0.99, 1: 0.6, 2: 0.95}
    got = DEFAULT.per_seed_correlation(seeds, lambda r: near[seeds[r[0]]])
    raw = DEFAULT.mean(np.array(list(near.values())))
    assert raw[2] > 1.0 and -1.0 < got[1] < got[0] < got[2] < 1.0
    z = DEFAULT.mean(np.arctanh(np.array(list(near.values()))))
    assert tuple(got) == pytest.approx(tuple(np.tanh(z)))
    assert (got.n, got.method, got.level) == (3, "fisher-z t", DEFAULT.level)
    at_one = DEFAULT.per_seed_correlation(seeds, lambda r: {0: 1.0, 1: 0.6, 2: 0.95}[seeds[r[0]]])
    assert at_one.method == "sign (median)" and at_one[0] == 0.95 and np.isnan(at_one[1])
    ones = DEFAULT.per_seed_correlation(seeds, lambda r: 1.0)
    assert ones[0] == 1.0 and np.isnan(ones[1]) and ones.test.p_value(0.7) == pytest.approx(0.25)


def test_correlation_interval_covers_at_the_nominal_rate():
    """2000 experiments of 5 seeds, each seed's Pearson r from 20 bivariate-normal points at rho = 0.8: the
    Fisher-z interval covers its estimand tanh(E arctanh r) (from 200,000 simulated seeds) in 93-97%."""
    rng = np.random.default_rng(3)
    rho, n, seeds, experiments = 0.8, 20, 5, 2000

    def correlations(count: int) -> np.ndarray:
        x = rng.normal(size=(count, n))
        y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(count, n))
        xc, yc = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
        return (xc * yc).sum(1) / np.sqrt((xc**2).sum(1) * (yc**2).sum(1))

    truth = np.tanh(np.arctanh(correlations(200_000)).mean())
    r = correlations(experiments * seeds).reshape(experiments, seeds)
    labels = np.arange(seeds)
    hits = [
        lo <= truth <= hi
        for _, lo, hi in (DEFAULT.per_seed_correlation(labels, lambda i, row=row: row[i[0]]) for row in r)
    ]
    assert 0.93 <= np.mean(hits) <= 0.97


def test_bca_interval():
    values = np.array([0.3, 1.1, 0.7, 2.5, 0.9, 1.4])
    est, lo, hi = bca_mean_ci(values, level=0.9, resamples=2000, rng_seed=1)
    assert est == pytest.approx(values.mean()) and lo < est < hi
    assert bca_mean_ci(values, level=0.9, resamples=2000, rng_seed=1) == (est, lo, hi)  # seeded
    assert bca_mean_ci(np.full(4, 2.0)) == (2.0, 2.0, 2.0)  # equal values: zero width, like t
    assert np.isnan(bca_mean_ci(np.array([1.0]))[1])


def test_claim_rows_record_direction_threshold_and_how_the_interval_was_computed():
    s = Settings(level=0.9, resamples=200, seed=0, method="t")
    row = ClaimResult.checked("000", "c", "all", "m", s.mean(np.array([1.0, 1.2, 0.9])), "x", ">=", 0.5)
    assert row.verdict == "supported" and row.criterion == "x >= 0.5"
    d = row.as_dict()
    assert (d["direction"], d["threshold"], d["n_seeds"], d["method"], d["level"]) == (">=", 0.5, 3, "t", 0.9)
    plain = ClaimResult.checked("002", "c", "s", "m", (0.0, 0.0, 0.0), "", "<=", 1, method="exact", stats=s)
    assert (plain.method, plain.level, plain.n_seeds) == ("exact", 0.9, 0)
    old = ClaimResult("001", "c", "s", "m", 1.0, 0.0, 2.0, "-", "inconclusive")  # old call sites still work
    assert old.method == "" and np.isnan(old.threshold)


def test_cluster_bootstrap_matches_generic_path():
    rng = np.random.default_rng(0)
    seeds = np.repeat(np.arange(10), 5)
    values = rng.normal(size=50) + seeds * 0.1
    s = dataclasses.replace(DEFAULT, resamples=500, seed=3)
    assert s.cluster_mean(values, seeds) == pytest.approx(s.bootstrap(seeds, lambda r: values[r].mean()))


def test_interval_covers_the_mean_at_the_nominal_rate():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        v = rng.normal(2.0, 1.0, size=30)
        _, lo, hi = dataclasses.replace(DEFAULT, resamples=400, seed=int(rng.integers(1 << 30))).mean(
            v, "percentile"
        )
        covered += lo <= 2.0 <= hi
    assert abs(covered / 200 - DEFAULT.level) < 0.07


def test_single_seed_gives_nan_interval():
    est, lo, hi = DEFAULT.bootstrap(np.zeros(4), lambda r: float(len(r)))
    assert est == 4 and np.isnan(lo) and np.isnan(hi)


def test_t_interval_closed_form_and_coverage():
    level = 0.95  # the closed form below is at this level
    s = dataclasses.replace(DEFAULT, level=level)
    # n = 3: t_{0.975, 2} = 4.302653; values 1, 2, 3 -> sd 1, half width 4.302653 / sqrt(3)
    mean, low, high = s.mean(np.array([1.0, 2.0, 3.0]), "t")
    assert mean == pytest.approx(2.0)
    assert high - mean == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)
    # coverage of the true mean at n = 3 close to the level for normal data
    rng = np.random.default_rng(0)
    hits = [lo <= 0.5 <= hi for _, lo, hi in (s.mean(rng.normal(0.5, 2.0, 3), "t") for _ in range(4000))]
    assert abs(np.mean(hits) - level) < 0.015
    assert np.isnan(s.mean(np.array([1.0, np.nan]), "t")[1])


def test_mean_interval_dispatches_to_the_named_method():
    values = np.array([0.1, 0.3, 0.2, 0.4])
    assert mean_interval(values, "t", level=0.9) == t_mean_ci(values, level=0.9)
    assert mean_interval(values, "percentile", resamples=300) == mean_ci(values, resamples=300)
    assert mean_interval(values, "bca", resamples=300) == bca_mean_ci(values, resamples=300)
    with pytest.raises(ValueError, match="t, bca, percentile"):
        DEFAULT.mean(values, "jackknife")
    with pytest.raises(ValueError, match="t, bca, percentile"):
        Settings(0.95, 100, 0, "bootstrap")


def test_paired_differences_by_seed():
    runs = pd.DataFrame(
        {
            "size": "s",
            "variant": ["a", "a", "a", "ref", "ref", "ref"],
            "seed": [0, 1, 2, 0, 1, 3],
            "diverged": ["False", "True", "False", "False", "False", np.nan],  # as read back from a CSV
            "loss": [1.0, 2.0, 3.0, 0.5, 1.5, 9.0],
        }
    )
    d = paired(runs, "s", "a", "ref", "loss", "diff")
    assert list(d.index) == [0] and d.iloc[0] == pytest.approx(0.5)  # seed 1 diverged, seeds 2, 3 unpaired
    assert paired(runs, "s", "a", "ref", "loss", "ratio").iloc[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="diff or ratio"):
        paired(runs, "s", "a", "ref", "loss", "sum")


def test_strict_and_non_strict_criteria_differ_at_the_threshold():
    from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, verdict

    assert verdict(0.0, 0.0, 0.0, ">") == NOT_SUPPORTED and verdict(0.0, 0.0, 0.0, ">=") == SUPPORTED
    assert verdict(0.0, 0.0, 0.0, "<") == NOT_SUPPORTED and verdict(0.0, 0.0, 0.0, "<=") == SUPPORTED
    assert verdict(0.0, 1.0, 0.0, ">") == INCONCLUSIVE and verdict(0.5, 1.0, 0.0, ">") == SUPPORTED
