"""Confidence intervals over seeds and verdicts against a criterion.

Seeds are the independent unit of every study, so intervals come from a seed-cluster bootstrap: resample
seeds with replacement, recompute the statistic on all rows of the drawn seeds, take percentile bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import scipy.stats

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


def seed_bootstrap(
    seeds: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    *,
    resamples: int = 2000,
    level: float = 0.95,
    rng_seed: int = 0,
) -> tuple[float, float, float]:
    """(estimate, low, high): a statistic of rows and its seed-cluster percentile bootstrap CI.

    ``statistic(rows)`` receives an index array into the data: all rows for the estimate; for each
    resample, the rows of as many seeds as there are, drawn with replacement, concatenated. Resamples whose
    statistic is not finite are dropped; if none is finite the bounds are NaN.
    """
    seeds = np.asarray(seeds)
    estimate = float(statistic(np.arange(seeds.size)))
    labels = np.unique(seeds)
    if labels.size < 2:
        return estimate, float("nan"), float("nan")
    rows = [np.flatnonzero(seeds == s) for s in labels]
    rng = np.random.default_rng(rng_seed)
    values = np.array(
        [
            statistic(np.concatenate([rows[i] for i in rng.integers(0, labels.size, labels.size)]))
            for _ in range(resamples)
        ],
        dtype=float,
    )
    return (estimate, *_percentiles(values, level))


def cluster_mean_ci(
    values: np.ndarray, seeds: np.ndarray, *, resamples: int = 2000, level: float = 0.95, rng_seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``values`` with a seed-cluster bootstrap CI (a fast path of ``seed_bootstrap`` for means)."""
    values, seeds = np.asarray(values, dtype=float), np.asarray(seeds)
    labels, inverse = np.unique(seeds, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=labels.size)
    counts = np.bincount(inverse, minlength=labels.size)
    estimate = float(values.mean())
    if labels.size < 2:
        return estimate, float("nan"), float("nan")
    pick = np.random.default_rng(rng_seed).integers(0, labels.size, (resamples, labels.size))
    return (estimate, *_percentiles(sums[pick].sum(1) / counts[pick].sum(1), level))


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def mean_ci(values: np.ndarray, *, level: float = 0.95, resamples: int = 2000, rng_seed: int = 0):
    """(mean, low, high) of independent values (one per seed) by percentile bootstrap; NaNs dropped."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    return cluster_mean_ci(
        values, np.arange(values.size), resamples=resamples, level=level, rng_seed=rng_seed
    )


def t_mean_ci(values: np.ndarray, *, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of independent values (one per seed) by Student's t; NaNs dropped.

    ``mean +- t_{(1+level)/2, n-1} * sd / sqrt(n)`` (``sd`` with ``n - 1``). Meant for paired differences over
    a handful of seeds, where a percentile bootstrap has too few distinct resamples to cover (with 3 seeds it
    has 10 and its interval is about the range of the 3 values). Bounds are NaN with fewer than 2 values.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = (
        float(scipy.stats.t.ppf(0.5 + level / 2.0, values.size - 1))
        * values.std(ddof=1)
        / np.sqrt(values.size)
    )
    return mean, mean - half, mean + half


def mean_interval(
    values: np.ndarray, method: str, *, level: float = 0.95, resamples: int = 2000
) -> tuple[float, float, float]:
    """(mean, low, high) of per-seed values by ``method``: ``"t"`` (:func:`t_mean_ci`) or ``"bootstrap"``
    (:func:`mean_ci`, ``resamples`` percentile-bootstrap resamples)."""
    if method == "t":
        return t_mean_ci(values, level=level)
    if method == "bootstrap":
        return mean_ci(values, level=level, resamples=resamples)
    raise ValueError(f"method must be t or bootstrap; got {method!r}")


def verdict(low: float, high: float, threshold: float, direction: str = ">=") -> str:
    """Verdict from a confidence interval against a criterion ``value <direction> threshold``.

    supported: the whole CI satisfies the criterion; not supported: the whole CI violates it;
    inconclusive: the CI straddles the threshold or is undefined (NaN).
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return INCONCLUSIVE
    if direction in (">=", ">"):
        ok_all, bad_all = low >= threshold, high < threshold
    elif direction in ("<=", "<"):
        ok_all, bad_all = high <= threshold, low > threshold
    else:
        raise ValueError(f"direction must be one of >=, >, <=, <; got {direction!r}")
    if ok_all:
        return SUPPORTED
    if bad_all:
        return NOT_SUPPORTED
    return INCONCLUSIVE


@dataclass
class ClaimResult:
    """One row of a claims table: what was measured, against which criterion, and the verdict."""

    study: str
    claim: str
    scope: str
    measure: str
    value: float
    ci_low: float
    ci_high: float
    criterion: str
    verdict: str
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def checked(
        cls,
        study: str,
        claim: str,
        scope: str,
        measure: str,
        interval: tuple[float, float, float],
        label: str,
        direction: str,
        threshold: float,
        note: str = "",
    ) -> ClaimResult:
        """A row whose criterion is ``label direction threshold`` and whose verdict comes from ``verdict``."""
        est, low, high = interval
        criterion = f"{label} {direction} {threshold:g}"
        result = verdict(low, high, threshold, direction)
        return cls(study, claim, scope, measure, est, low, high, criterion, result, note)
