"""Coverage of the seed-level intervals: how often a nominal ``level`` interval over n seeds covers the truth.

    python -m scaledyn.calibration --stats JSON --out results/claims/calibration.csv

:func:`coverage` draws ``experiments`` synthetic experiments, each of ``n`` independent per-seed values with
a known mean, computes the interval of :meth:`scaledyn.stats.Settings.mean` by ``method`` at the given
settings' level and resamples, and returns the fraction of intervals that contain the true mean. Two
distributions of the per-seed values: ``normal`` (standard normal, mean 0) and ``lognormal`` (exp of a
standard normal, mean e^0.5: skewed like a per-seed ratio or SNR).

Every method is vectorised over experiments: t in closed form, the BCa bootstrap by one
``scipy.stats.bootstrap`` call per batch of experiments (the batch shares its resample indices, which leaves
each experiment's coverage unbiased), the percentile bootstrap by drawn index arrays. The CLI writes one row
per (method, n in 3, 5, 8, distribution) with the coverage, the experiments, the resamples and the level;
``--experiments`` defaults to 10000 (Monte-Carlo standard error about 0.002 at 95% coverage; the whole
table takes seconds at 2000 resamples).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats

from scaledyn import config
from scaledyn.io import write_csv
from scaledyn.stats import Settings, bca_rows

DISTRIBUTIONS = {
    "normal": (lambda rng, size: rng.standard_normal(size), 0.0),
    "lognormal": (lambda rng, size: np.exp(rng.standard_normal(size)), float(np.exp(0.5))),
}
SEEDS = (3, 5, 8)
METHODS = ("t", "bca", "percentile")  # the configurable methods and the old default, for comparison
BATCH = 500  # experiments per bootstrap batch (memory: BATCH x resamples x n floats)


def intervals(values: np.ndarray, method: str, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the interval of the mean of each row of ``values`` (experiments x n), by ``method``
    at ``settings`` (level, resamples, generator seed): the intervals of :meth:`Settings.mean`."""
    values = np.asarray(values, dtype=float)
    n = values.shape[1]
    mean = values.mean(axis=1)
    if method == "t":
        half = scipy.stats.t.ppf(0.5 + settings.level / 2.0, n - 1) * values.std(axis=1, ddof=1) / np.sqrt(n)
        return mean - half, mean + half
    lows, highs = [], []
    rng = np.random.default_rng(settings.seed)
    for start in range(0, values.shape[0], BATCH):
        batch = values[start : start + BATCH]
        if method == "bca":
            low, high = bca_rows(
                batch, level=settings.level, resamples=settings.resamples, rng_seed=settings.seed + start
            )
        elif method == "percentile":
            pick = rng.integers(0, n, (settings.resamples, n))
            means = batch[:, pick].mean(axis=2)  # experiments x resamples
            alpha = (1.0 - settings.level) / 2.0
            low, high = np.quantile(means, [alpha, 1.0 - alpha], axis=1)
        else:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        lows.append(low)
        highs.append(high)
    return np.concatenate(lows), np.concatenate(highs)


def coverage(
    method: str,
    n: int,
    experiments: int,
    settings: Settings | dict | None = None,
    rng_seed: int = 0,
    distribution: str = "normal",
) -> float:
    """Fraction of ``experiments`` synthetic experiments of ``n`` per-seed values (``distribution``, known
    mean) whose interval by ``method`` at ``settings`` covers the true mean. ``rng_seed`` seeds the data."""
    settings = Settings.of(settings)
    draw, truth = DISTRIBUTIONS[distribution]
    values = draw(np.random.default_rng(rng_seed), (experiments, n))
    low, high = intervals(values, method, settings)
    return float(np.mean((low <= truth) & (truth <= high)))


def table(
    settings: Settings | dict | None = None,
    experiments: int = 10000,
    rng_seed: int = 0,
    methods: tuple[str, ...] = METHODS,
) -> pd.DataFrame:
    """One row per (method, n in :data:`SEEDS`, distribution): coverage, experiments, resamples, level."""
    settings = Settings.of(settings)
    rows = []
    for method in methods:
        for n in SEEDS:
            for dist in DISTRIBUTIONS:
                rows.append(
                    {
                        "method": method,
                        "n_seeds": n,
                        "distribution": dist,
                        "coverage": coverage(method, n, experiments, settings, rng_seed, dist),
                        "experiments": experiments,
                        "resamples": settings.resamples if method != "t" else 0,
                        "level": settings.level,
                        "default": method == settings.method,
                    }
                )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scaledyn.calibration", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stats", default=None, help="pipeline stats section: inline JSON or a file")
    parser.add_argument("--out", required=True, type=Path, help="CSV to write")
    parser.add_argument("--experiments", type=int, default=10000, help="synthetic experiments per row")
    parser.add_argument("--resamples", type=int, default=None, help="bootstrap resamples (default: stats')")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_section(config.read(args.stats, "stats"))
    except config.ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    if args.resamples is not None:
        settings = dataclasses.replace(settings, resamples=args.resamples)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table(settings, args.experiments, args.seed), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
