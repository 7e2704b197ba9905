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
