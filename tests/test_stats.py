"""Seed-cluster bootstrap intervals, the one settings object, paired differences."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from scaledyn import config
from scaledyn.stats import (
    Settings,
    cluster_mean_ci,
    interval,
    mean_ci,
    mean_interval,
    paired,
    seed_bootstrap,
    t_mean_ci,
)

DEFAULT = Settings.from_section(config.section("stats"))


def test_settings_come_from_the_stats_section():
    s = Settings.from_section({"ci_level": 0.9, "bootstrap_resamples": 300, "bootstrap_seed": 7})
    assert (s.level, s.resamples, s.seed) == (0.9, 300, 7)
    assert Settings.from_section({}) == Settings.default() == DEFAULT  # the schema's defaults
    assert Settings.of(s) is s and Settings.of(s.as_section()) == s
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.level = 0.5
    with pytest.raises(config.ConfigError, match="stats.ci_level"):
        Settings.from_section({"ci_level": 1.5})


def test_settings_methods_are_the_functions_at_their_settings():
    rng = np.random.default_rng(0)
    seeds = np.repeat(np.arange(6), 4)
    values = rng.normal(size=seeds.size)
    s = Settings(level=0.8, resamples=300, seed=3)
    kw = {"level": 0.8, "resamples": 300, "rng_seed": 3}
    assert s.cluster_mean(values, seeds) == cluster_mean_ci(values, seeds, **kw)
    assert s.bootstrap(seeds, lambda r: values[r].mean()) == seed_bootstrap(
        seeds, lambda r: values[r].mean(), **kw
    )
    assert s.mean(values[:5]) == mean_ci(values[:5], **kw)
    assert s.mean(values[:5], "t") == t_mean_ci(values[:5], level=0.8)
    assert (
        interval(values[:5], "t", s) == interval(values[:5], "t", s.as_section()) == s.mean(values[:5], "t")
    )
    # without settings the module functions use the schema's defaults
    assert mean_ci(values[:5]) == DEFAULT.mean(values[:5])


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
        _, lo, hi = dataclasses.replace(DEFAULT, resamples=400, seed=int(rng.integers(1 << 30))).mean(v)
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
    assert mean_interval(values, "bootstrap", resamples=300) == mean_ci(values, resamples=300)
    with pytest.raises(ValueError, match="t or bootstrap"):
        DEFAULT.mean(values, "jackknife")


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
