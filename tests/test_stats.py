"""Seed-cluster bootstrap intervals."""

import numpy as np
import pytest

from scaledyn.stats import cluster_mean_ci, mean_ci, seed_bootstrap


def test_cluster_bootstrap_matches_generic_path():
    rng = np.random.default_rng(0)
    seeds = np.repeat(np.arange(10), 5)
    values = rng.normal(size=50) + seeds * 0.1
    fast = cluster_mean_ci(values, seeds, resamples=500, rng_seed=3)
    generic = seed_bootstrap(seeds, lambda r: values[r].mean(), resamples=500, rng_seed=3)
    assert fast == pytest.approx(generic)


def test_interval_covers_the_mean_at_the_nominal_rate():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        v = rng.normal(2.0, 1.0, size=30)
        _, lo, hi = mean_ci(v, resamples=400, rng_seed=int(rng.integers(1 << 30)))
        covered += lo <= 2.0 <= hi
    assert 0.88 <= covered / 200 <= 0.99


def test_single_seed_gives_nan_interval():
    est, lo, hi = seed_bootstrap(np.zeros(4), lambda r: float(len(r)))
    assert est == 4 and np.isnan(lo) and np.isnan(hi)


def test_t_interval_closed_form_and_coverage():
    from scaledyn.stats import t_mean_ci

    # n = 3: t_{0.975, 2} = 4.302653; values 1, 2, 3 -> sd 1, half width 4.302653 / sqrt(3)
    mean, low, high = t_mean_ci(np.array([1.0, 2.0, 3.0]))
    assert mean == pytest.approx(2.0)
    assert high - mean == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)
    # coverage of the true mean at n = 3 close to 95 % for normal data
    rng = np.random.default_rng(0)
    hits = [lo <= 0.5 <= hi for _, lo, hi in (t_mean_ci(rng.normal(0.5, 2.0, 3)) for _ in range(4000))]
    assert abs(np.mean(hits) - 0.95) < 0.015
    assert np.isnan(t_mean_ci(np.array([1.0, np.nan]))[1])


def test_mean_interval_dispatches_to_the_named_method():
    from scaledyn.stats import mean_interval, t_mean_ci

    values = np.array([0.1, 0.3, 0.2, 0.4])
    assert mean_interval(values, "t", level=0.9) == t_mean_ci(values, level=0.9)
    assert mean_interval(values, "bootstrap", resamples=300) == mean_ci(values, resamples=300)
    with pytest.raises(ValueError, match="t or bootstrap"):
        mean_interval(values, "jackknife")
