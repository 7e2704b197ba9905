"""Confidence intervals over seeds, paired differences and verdicts against a criterion.

Seeds are the independent unit of every study, so intervals come from a seed-cluster bootstrap: resample
seeds with replacement, recompute the statistic on all rows of the drawn seeds, take percentile bounds.

:class:`Settings` (level, resamples, seed), built once from the validated ``stats`` config section by
:meth:`Settings.from_section`, is the one way the pipeline asks for an interval: its methods
:meth:`~Settings.bootstrap` (seed-cluster bootstrap of any statistic), :meth:`~Settings.cluster_mean`
(seed-cluster bootstrap CI of a mean over rows), :meth:`~Settings.mean` (per-seed values, ``"t"`` or
``"bootstrap"``) pass the level, resample count and generator seed, so no caller types them. The module
functions below are the machinery; their keyword defaults (``None``) are the schema's ``stats`` defaults.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from scaledyn import config

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


def seed_bootstrap(
    seeds: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    *,
    resamples: int | None = None,
    level: float | None = None,
    rng_seed: int | None = None,
) -> tuple[float, float, float]:
    """(estimate, low, high): a statistic of rows and its seed-cluster percentile bootstrap CI.

    ``statistic(rows)`` receives an index array into the data: all rows for the estimate; for each
    resample, the rows of as many seeds as there are, drawn with replacement, concatenated. Resamples whose
    statistic is not finite are dropped; if none is finite the bounds are NaN.
    """
    resamples, level, rng_seed = _fill(resamples, level, rng_seed)
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
    values: np.ndarray,
    seeds: np.ndarray,
    *,
    resamples: int | None = None,
    level: float | None = None,
    rng_seed: int | None = None,
) -> tuple[float, float, float]:
    """Mean of ``values`` with a seed-cluster bootstrap CI (a fast path of ``seed_bootstrap`` for means)."""
    resamples, level, rng_seed = _fill(resamples, level, rng_seed)
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


def mean_ci(
    values: np.ndarray,
    *,
    level: float | None = None,
    resamples: int | None = None,
    rng_seed: int | None = None,
) -> tuple[float, float, float]:
    """(mean, low, high) of independent values (one per seed) by percentile bootstrap; NaNs dropped."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    return cluster_mean_ci(
        values, np.arange(values.size), resamples=resamples, level=level, rng_seed=rng_seed
    )


def t_mean_ci(values: np.ndarray, *, level: float | None = None) -> tuple[float, float, float]:
    """(mean, low, high) of independent values (one per seed) by Student's t; NaNs dropped.

    ``mean +- t_{(1+level)/2, n-1} * sd / sqrt(n)`` (``sd`` with ``n - 1``). Meant for paired differences over
    a handful of seeds, where a percentile bootstrap has too few distinct resamples to cover (with 3 seeds it
    has 10 and its interval is about the range of the 3 values). Bounds are NaN with fewer than 2 values.
    """
    _, level, _ = _fill(None, level, None)
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
    values: np.ndarray,
    method: str,
    *,
    level: float | None = None,
    resamples: int | None = None,
    rng_seed: int | None = None,
) -> tuple[float, float, float]:
    """(mean, low, high) of per-seed values by ``method``: ``"t"`` (:func:`t_mean_ci`) or ``"bootstrap"``
    (:func:`mean_ci`, ``resamples`` percentile-bootstrap resamples from generator seed ``rng_seed``)."""
    if method == "t":
        return t_mean_ci(values, level=level)
    if method == "bootstrap":
        return mean_ci(values, level=level, resamples=resamples, rng_seed=rng_seed)
    raise ValueError(f"method must be t or bootstrap; got {method!r}")


def _fill(resamples: int | None, level: float | None, rng_seed: int | None) -> tuple[int, float, int]:
    """The given settings, each missing one from the schema's ``stats`` defaults."""
    d = Settings.default()
    return (
        d.resamples if resamples is None else resamples,
        d.level if level is None else level,
        d.seed if rng_seed is None else rng_seed,
    )


@dataclass(frozen=True)
class Settings:
    """How every interval of the pipeline is computed: confidence ``level``, bootstrap ``resamples`` and the
    bootstrap generator's ``seed`` (the ``stats`` config section: ci_level, bootstrap_resamples,
    bootstrap_seed)."""

    level: float
    resamples: int
    seed: int

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None = None) -> Settings:
        """From the ``stats`` section (validated here; a partial or empty one is completed by the schema)."""
        st = config.section("stats", dict(section or {}))
        return cls(float(st["ci_level"]), int(st["bootstrap_resamples"]), int(st["bootstrap_seed"]))

    @classmethod
    def default(cls) -> Settings:
        """The schema's defaults."""
        return _default_settings()

    @classmethod
    def of(cls, stats: Settings | Mapping[str, Any] | None) -> Settings:
        """``stats`` itself if it is a :class:`Settings`, else :meth:`from_section` of it."""
        return stats if isinstance(stats, Settings) else cls.from_section(stats)

    def as_section(self) -> dict[str, Any]:
        """The ``stats`` config section these settings come from."""
        return {"ci_level": self.level, "bootstrap_resamples": self.resamples, "bootstrap_seed": self.seed}

    def bootstrap(
        self, seeds: np.ndarray, statistic: Callable[[np.ndarray], float]
    ) -> tuple[float, float, float]:
        """(estimate, low, high) of ``statistic(rows)`` with its seed-cluster percentile bootstrap CI
        (:func:`seed_bootstrap`)."""
        return seed_bootstrap(
            seeds, statistic, resamples=self.resamples, level=self.level, rng_seed=self.seed
        )

    def cluster_mean(self, values: np.ndarray, seeds: np.ndarray) -> tuple[float, float, float]:
        """(mean, low, high) of rows ``values`` with a seed-cluster bootstrap CI (:func:`cluster_mean_ci`)."""
        return cluster_mean_ci(values, seeds, resamples=self.resamples, level=self.level, rng_seed=self.seed)

    def mean(self, values: np.ndarray, method: str = "bootstrap") -> tuple[float, float, float]:
        """(mean, low, high) of one value per seed, NaNs dropped, by ``method``: ``"bootstrap"`` (percentile
        bootstrap over seeds, :func:`mean_ci`) or ``"t"`` (Student t, :func:`t_mean_ci`)."""
        return mean_interval(values, method, level=self.level, resamples=self.resamples, rng_seed=self.seed)


@functools.cache
def _default_settings() -> Settings:
    return Settings.from_section({})


def interval(
    values: np.ndarray, method: str, stats: Settings | Mapping[str, Any] | None
) -> tuple[float, float, float]:
    """Mean and CI of per-seed values by ``method`` (``"t"`` or ``"bootstrap"``) at ``stats``
    (:class:`Settings` or the ``stats`` section): :meth:`Settings.mean`."""
    return Settings.of(stats).mean(values, method)


def paired(runs: pd.DataFrame, size: str, variant: str, reference: str, column: str, how: str) -> pd.Series:
    """Per seed ``variant - reference`` (``how="diff"``) or ``variant / reference`` (``"ratio"``) of a column
    of a run table (columns size, variant, seed, diverged and ``column``), indexed by seed.

    Only seeds where both runs of ``size`` exist, did not diverge and have a finite value take part.
    """
    if how not in ("diff", "ratio"):
        raise ValueError(f"how must be diff or ratio; got {how!r}")
    diverged = runs["diverged"]
    if pd.api.types.is_numeric_dtype(diverged) and not pd.api.types.is_bool_dtype(diverged):
        diverged = diverged.fillna(0).astype(bool)
    elif not pd.api.types.is_bool_dtype(diverged):  # read back from a CSV with a gap: "True" / "False" text
        diverged = diverged.astype(str).str.strip().str.lower().isin(["true", "1", "1.0"])
    ok = runs[(runs["size"] == size) & ~diverged].dropna(subset=[column])
    a = ok[ok["variant"] == variant].set_index("seed")[column].astype(float)
    b = ok[ok["variant"] == reference].set_index("seed")[column].astype(float)
    a, b = a.align(b, join="inner")
    return (a - b) if how == "diff" else (a / b)


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
        """A row whose criterion is ``label direction threshold`` (no label: ``direction threshold``), whose
        verdict comes from :func:`verdict` on the same direction and threshold."""
        est, low, high = interval
        criterion = " ".join(part for part in (label, direction, f"{threshold:g}") if part)
        result = verdict(low, high, threshold, direction)
        return cls(study, claim, scope, measure, est, low, high, criterion, result, note)
