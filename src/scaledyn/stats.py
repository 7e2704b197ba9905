"""Confidence intervals over seeds, paired differences and verdicts against a criterion.

Seeds are the independent unit of every study, so every interval is an interval over seeds. The default
(``stats.ci_method``, one key for every study) is a Student-t interval of per-seed values; ``"bca"`` is the
bias-corrected and accelerated bootstrap of their mean (``scipy.stats.bootstrap``). The percentile bootstrap
over a handful of seeds undercovers (its width is about 0.63 (n = 5) to 0.78 (n = 8) of the t interval's:
coverage 84% (n = 5) to 89% (n = 8) at a nominal 95% on normal values, ``scaledyn.calibration``), so it is
only used where a caller names it (``method="percentile"``). BCa undercovers as much at these n; it is
offered for larger seed counts.

A statistic that is not a mean of per-seed values (a rank correlation, a fitted slope, a classifier's
accuracy) gets a seed-level interval through :meth:`Settings.per_seed`: the statistic is computed on each
seed's rows separately and the interval is that of the per-seed values by the settings' method, so the
estimand is the per-seed statistic averaged over seeds. Where a statistic cannot be computed on one seed's
rows, :meth:`Settings.bootstrap` (seed-cluster percentile bootstrap: resample seeds with replacement,
recompute the statistic on all rows of the drawn seeds) remains; its rows say ``cluster-bootstrap``.

:class:`Settings` (level, resamples, seed, method), built once from the validated ``stats`` config section by
:meth:`Settings.from_section`, is the one way the pipeline asks for an interval: :meth:`~Settings.mean`
(per-seed values), :meth:`~Settings.per_seed` (a statistic per seed), :meth:`~Settings.bootstrap` and
:meth:`~Settings.cluster_mean` (seed-cluster bootstrap) pass the level, resample count, generator seed and
method, so no caller types them. Their results are :class:`Interval` s: ``(estimate, low, high)`` tuples that
also carry ``n`` (seeds behind them), ``method`` and ``level``, which :meth:`ClaimResult.checked` writes into
the claims table. The module functions below are the machinery; their keyword defaults (``None``) are the
schema's ``stats`` defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.stats

from scaledyn import config
from scaledyn.inference import FISHER_Z, ThresholdTest, clopper_pearson, median_interval

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
METHODS = ("t", "bca", "percentile")  # interval of a mean of per-seed values; the first two are configurable
CLUSTER, EXACT = "cluster-bootstrap", "exact"  # the method of a seed-cluster bootstrap / of an exact value
EXACT_BINOMIAL, SIGN = "clopper-pearson", "sign (median)"  # bounded statistics (:class:`Settings`)
ROLES = ("claim", "check", "practitioner", "descriptive")  # what a claims row counts as (ClaimResult.role)


class Interval(tuple):
    """``(estimate, low, high)`` (a 3-tuple: unpacks and compares like one) with how it was computed: ``n``
    (independent seeds behind it), ``method`` (``t``, ``bca``, ``percentile``, ``cluster-bootstrap``, ...),
    ``level`` and ``test``: how it tests a threshold on its own scale
    (:class:`scaledyn.inference.ThresholdTest`; ``None`` for an interval that cannot test one)."""

    n: int
    method: str
    level: float
    test: ThresholdTest | None

    def __new__(
        cls,
        estimate: float,
        low: float,
        high: float,
        *,
        n: int,
        method: str,
        level: float,
        test: ThresholdTest | None = None,
    ):
        self = super().__new__(cls, (float(estimate), float(low), float(high)))
        self.n, self.method, self.level, self.test = int(n), method, float(level), test
        return self

    def __reduce__(self):  # pickles (multiprocessing) with its attributes
        return (_interval, (*self, self.n, self.method, self.level, self.test))


def _interval(estimate, low, high, n, method, level, test=None) -> Interval:
    return Interval(estimate, low, high, n=n, method=method, level=level, test=test)


def seed_bootstrap(
    seeds: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    *,
    resamples: int | None = None,
    level: float | None = None,
    rng_seed: int | None = None,
) -> tuple[float, float, float]:
    """(estimate, low, high): a statistic of rows and its seed-cluster percentile bootstrap CI.

    Only for statistics that cannot be computed on one seed's rows (otherwise :meth:`Settings.per_seed`):
    with a handful of seeds a percentile bootstrap undercovers (see the module docstring).

    ``statistic(rows)`` receives an index array into the data: all rows for the estimate; for each
    resample, the rows of as many seeds as there are, drawn with replacement, concatenated. Resamples whose
    statistic is not finite are dropped; if none is finite the bounds are NaN.
    """
    resamples, level, rng_seed = _fill(resamples, level, rng_seed)
    estimate, draws = seed_bootstrap_draws(seeds, statistic, resamples=resamples, rng_seed=rng_seed)
    return (estimate, *_percentiles(draws, level))


def seed_bootstrap_draws(
    seeds: np.ndarray, statistic: Callable[[np.ndarray], float], *, resamples: int, rng_seed: int
) -> tuple[float, np.ndarray]:
    """(estimate, resampled statistics) of :func:`seed_bootstrap` (no resamples with fewer than 2 seeds)."""
    seeds = np.asarray(seeds)
    estimate = float(statistic(np.arange(seeds.size)))
    labels = np.unique(seeds)
    if labels.size < 2:
        return estimate, np.zeros(0)
    rows = [np.flatnonzero(seeds == s) for s in labels]
    rng = np.random.default_rng(rng_seed)
    draws = np.array(
        [
            statistic(np.concatenate([rows[i] for i in rng.integers(0, labels.size, labels.size)]))
            for _ in range(resamples)
        ],
        dtype=float,
    )
    return estimate, draws


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
    estimate, draws = cluster_mean_draws(values, seeds, resamples=resamples, rng_seed=rng_seed)
    return (estimate, *_percentiles(draws, level))


def cluster_mean_draws(
    values: np.ndarray, seeds: np.ndarray, *, resamples: int, rng_seed: int
) -> tuple[float, np.ndarray]:
    """(mean, resampled means) of :func:`cluster_mean_ci` (no resamples with fewer than 2 seeds)."""
    values, seeds = np.asarray(values, dtype=float), np.asarray(seeds)
    labels, inverse = np.unique(seeds, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=labels.size)
    counts = np.bincount(inverse, minlength=labels.size)
    estimate = float(values.mean())
    if labels.size < 2:
        return estimate, np.zeros(0)
    pick = np.random.default_rng(rng_seed).integers(0, labels.size, (resamples, labels.size))
    return estimate, sums[pick].sum(1) / counts[pick].sum(1)


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
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
    """(mean, low, high) of independent values (one per seed) by percentile bootstrap; NaNs dropped.

    Undercovers with a handful of values (84-89% at a nominal 95% with 5-8; ``scaledyn.calibration``): only
    used where a caller asks for ``method="percentile"``."""
    values, mean = _finite_mean(values)
    if values.size == 0:
        return mean, float("nan"), float("nan")
    return cluster_mean_ci(
        values, np.arange(values.size), resamples=resamples, level=level, rng_seed=rng_seed
    )


def _finite_mean(values: np.ndarray) -> tuple[np.ndarray, float]:
    """The finite values (NaNs dropped) and their mean (NaN when none is left)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return values, float(values.mean()) if values.size else float("nan")


def t_mean_ci(values: np.ndarray, *, level: float | None = None) -> tuple[float, float, float]:
    """(mean, low, high) of independent values (one per seed) by Student's t; NaNs dropped.

    ``mean +- t_{(1+level)/2, n-1} * sd / sqrt(n)`` (``sd`` with ``n - 1``). Meant for paired differences over
    a handful of seeds, where a percentile bootstrap has too few distinct resamples to cover (with 3 seeds it
    has 10 and its interval is about the range of the 3 values). Bounds are NaN with fewer than 2 values.
    """
    _, level, _ = _fill(None, level, None)
    values, mean = _finite_mean(values)
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = (
        float(scipy.stats.t.ppf(0.5 + level / 2.0, values.size - 1))
        * values.std(ddof=1)
        / np.sqrt(values.size)
    )
    return mean, mean - half, mean + half


def bca_mean_ci(
    values: np.ndarray,
    *,
    level: float | None = None,
    resamples: int | None = None,
    rng_seed: int | None = None,
) -> tuple[float, float, float]:
    """(mean, low, high) of independent values (one per seed) by the BCa bootstrap
    (``scipy.stats.bootstrap(method="BCa")``, ``resamples`` resamples from generator seed ``rng_seed``);
    NaNs dropped. Bounds are NaN with fewer than 2 values; equal values give the zero-width interval (as t).
    """
    resamples, level, rng_seed = _fill(resamples, level, rng_seed)
    values, mean = _finite_mean(values)
    if values.size < 2:
        return mean, float("nan"), float("nan")
    low, high = bca_rows(values[None, :], level=level, resamples=resamples, rng_seed=rng_seed)
    return mean, float(low[0]), float(high[0])


def bca_rows(
    values: np.ndarray, *, level: float, resamples: int, rng_seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) arrays: the BCa bootstrap interval of the mean of each row of a 2-D array of finite
    values (one ``scipy.stats.bootstrap`` call over the rows; rows of equal values get zero width)."""
    values = np.asarray(values, dtype=float)
    flat = np.ptp(values, axis=1) == 0
    low, high = values.mean(axis=1), values.mean(axis=1)
    if (~flat).any():
        with warnings.catch_warnings():  # a degenerate resample distribution warns; its bounds are NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            res = scipy.stats.bootstrap(
                (values[~flat],),
                np.mean,
                axis=-1,
                vectorized=True,
                method="BCa",
                n_resamples=resamples,
                confidence_level=level,
                random_state=rng_seed,
            )
        low[~flat], high[~flat] = res.confidence_interval.low, res.confidence_interval.high
    return low, high


def mean_interval(
    values: np.ndarray,
    method: str,
    *,
    level: float | None = None,
    resamples: int | None = None,
    rng_seed: int | None = None,
) -> tuple[float, float, float]:
    """(mean, low, high) of per-seed values by ``method``: ``"t"`` (:func:`t_mean_ci`), ``"bca"``
    (:func:`bca_mean_ci`) or ``"percentile"`` (:func:`mean_ci`); the bootstraps draw ``resamples`` resamples
    from generator seed ``rng_seed``."""
    if method == "t":
        return t_mean_ci(values, level=level)
    if method == "bca":
        return bca_mean_ci(values, level=level, resamples=resamples, rng_seed=rng_seed)
    if method == "percentile":
        return mean_ci(values, level=level, resamples=resamples, rng_seed=rng_seed)
    raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")


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
    """How every interval of the pipeline is computed: confidence ``level``, bootstrap ``resamples``, the
    bootstrap generator's ``seed`` and the ``method`` of an interval over per-seed values (the ``stats``
    config section: ci_level, bootstrap_resamples, bootstrap_seed, ci_method)."""

    level: float
    resamples: int
    seed: int
    method: str

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None = None) -> Settings:
        """From the ``stats`` section (validated here; a partial or empty one is completed by the schema)."""
        st = config.section("stats", dict(section or {}))
        return cls(
            float(st["ci_level"]), int(st["bootstrap_resamples"]), int(st["bootstrap_seed"]), st["ci_method"]
        )

    @classmethod
    def default(cls) -> Settings:
        """The schema's defaults."""
        return _default_settings()

    @classmethod
    def of(cls, stats: Settings | Mapping[str, Any] | None) -> Settings:
        """``stats`` itself if it is a :class:`Settings`, else :meth:`from_section` of it."""
        return stats if isinstance(stats, Settings) else cls.from_section(stats)

    def bootstrap(self, seeds: np.ndarray, statistic: Callable[[np.ndarray], float]) -> Interval:
        """(estimate, low, high) of ``statistic(rows)`` with its seed-cluster percentile bootstrap CI
        (:func:`seed_bootstrap`), for a statistic that cannot be computed per seed (else :meth:`per_seed`)."""
        est, draws = seed_bootstrap_draws(seeds, statistic, resamples=self.resamples, rng_seed=self.seed)
        return self._from_draws(est, draws, np.unique(np.asarray(seeds)).size, CLUSTER)

    def cluster_mean(self, values: np.ndarray, seeds: np.ndarray) -> Interval:
        """(mean, low, high) of rows ``values`` with a seed-cluster bootstrap CI (:func:`cluster_mean_ci`)."""
        est, draws = cluster_mean_draws(values, seeds, resamples=self.resamples, rng_seed=self.seed)
        return self._from_draws(est, draws, np.unique(np.asarray(seeds)).size, CLUSTER)

    def _from_draws(self, estimate: float, draws: np.ndarray, n: int, method: str) -> Interval:
        """A percentile interval of bootstrap ``draws`` that tests thresholds by their tail shares."""
        test = ThresholdTest("draws", center=estimate, draws=tuple(map(float, draws))) if len(draws) else None
        return Interval(
            estimate, *_percentiles(draws, self.level), n=n, method=method, level=self.level, test=test
        )

    def mean(self, values: np.ndarray, method: str | None = None) -> Interval:
        """(mean, low, high) of one value per seed, NaNs dropped, by ``method`` (default: the settings'):
        ``"t"`` (Student t, :func:`t_mean_ci`), ``"bca"`` (:func:`bca_mean_ci`) or ``"percentile"``
        (percentile bootstrap, :func:`mean_ci`; undercovers with few seeds, only where asked for). The
        interval carries its test (:class:`scaledyn.inference.ThresholdTest`)."""
        method = self.method if method is None else method
        values = np.asarray(values, dtype=float)
        finite, mean = _finite_mean(values)
        n = finite.size
        if method == "percentile":
            _, draws = cluster_mean_draws(finite, np.arange(n), resamples=self.resamples, rng_seed=self.seed)
            return self._from_draws(mean, draws, n, method)
        if n >= 2 and np.ptp(finite) == 0:
            return self.median(finite)  # zero spread is not zero error (a bounded statistic at its bound)
        est = mean_interval(values, method, level=self.level, resamples=self.resamples, rng_seed=self.seed)
        test = None
        if n >= 2 and method == "t":
            test = ThresholdTest("t", center=mean, se=float(finite.std(ddof=1) / np.sqrt(n)), df=n - 1)
        elif n >= 2 and method == "bca":
            _, draws = cluster_mean_draws(finite, np.arange(n), resamples=self.resamples, rng_seed=self.seed)
            test = ThresholdTest(
                "bca", center=mean, draws=tuple(draws), values=tuple(finite), rng_seed=self.seed
            )
        return Interval(*est, n=n, method=method, level=self.level, test=test)

    def median(self, values: np.ndarray) -> Interval:
        """(median, low, high) of per-seed values: the distribution-free interval of the median (order
        statistics; NaN bounds when the seeds are too few for the level), which tests a threshold by the sign
        test (method ``"sign (median)"``). Valid where a t interval is not: equal per-seed values (a bounded
        statistic at its bound, where the t interval has zero width) and values at +-1 of a correlation."""
        values = np.asarray(values, dtype=float)
        finite = values[np.isfinite(values)]
        est = median_interval(finite, self.level)
        test = ThresholdTest("sign", center=est[0], values=tuple(map(float, finite))) if finite.size else None
        return Interval(*est, n=finite.size, method=SIGN, level=self.level, test=test)

    def proportion(self, successes: int, trials: int) -> Interval:
        """(proportion, low, high): the exact Clopper-Pearson interval of pooled counts, valid at 0 and 1
        (where a t interval of per-seed proportions collapses to zero width); ``n`` counts the trials."""
        est = clopper_pearson(int(successes), int(trials), self.level)
        test = ThresholdTest("binomial", center=est[0], k=int(successes), trials=int(trials))
        return Interval(*est, n=int(trials), method=EXACT_BINOMIAL, level=self.level, test=test)

    def per_seed_values(self, seeds: np.ndarray, statistic: Callable[[np.ndarray], float]) -> pd.Series:
        """``statistic(rows)`` on each seed's rows separately (``rows``: an index array into the data),
        indexed by seed label in sorted order."""
        seeds = np.asarray(seeds)
        labels = np.unique(seeds)
        return pd.Series(
            [float(statistic(np.flatnonzero(seeds == s))) for s in labels], index=labels, dtype=float
        )

    def per_seed(
        self, seeds: np.ndarray, statistic: Callable[[np.ndarray], float], method: str | None = None
    ) -> Interval:
        """Seed-level interval of a statistic of rows: :meth:`per_seed_values`, then :meth:`mean` of them.

        The estimand is the per-seed statistic averaged over seeds (for a statistic that is not linear in the
        rows, e.g. a rank correlation or a fitted threshold, this differs from the statistic of the pooled
        rows). Seeds whose statistic is not finite are dropped (``n`` counts the finite ones).
        """
        return self.mean(self.per_seed_values(seeds, statistic).to_numpy(), method)

    def per_seed_correlation(self, seeds: np.ndarray, statistic: Callable[[np.ndarray], float]) -> Interval:
        """Seed-level interval of a correlation-like statistic in [-1, 1] (Spearman's rho, Somers' D).

        With every per-seed value strictly inside (-1, 1): Fisher's z, the interval of ``arctanh`` of the
        per-seed values by :meth:`mean`, mapped back by ``tanh`` (estimate ``tanh(mean z)``, Fisher's average
        of correlations; the bounds stay inside (-1, 1), where a t interval of the raw values can pass 1); it
        tests thresholds on the z scale. A per-seed value at +-1 has no z, and a t interval of values at the
        bound collapses to zero width: then the distribution-free interval of the per-seed median (order
        statistics, method ``"sign (median)"``, NaN bounds when the seeds are too few for the level), which
        tests a threshold by the sign test.
        """
        values = self.per_seed_values(seeds, statistic).to_numpy()
        finite = values[np.isfinite(values)]
        if finite.size and (np.abs(finite) < 1).all():
            z = self.mean(np.arctanh(values))
            est, low, high = (float(np.tanh(x)) for x in z)
            test = z.test if z.test is None else dataclasses.replace(z.test, scale=FISHER_Z)
            return Interval(est, low, high, n=z.n, method=f"fisher-z {z.method}", level=z.level, test=test)
        return self.median(finite)


@functools.cache
def _default_settings() -> Settings:
    return Settings.from_section({})


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
    inconclusive: the CI straddles the threshold or is undefined (NaN). Strict and non-strict criteria differ
    at the threshold itself: a zero-width interval [0, 0] does not meet ``> 0`` but meets ``>= 0``.
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return INCONCLUSIVE
    if direction == ">=":
        ok_all, bad_all = low >= threshold, high < threshold
    elif direction == ">":
        ok_all, bad_all = low > threshold, high <= threshold
    elif direction == "<=":
        ok_all, bad_all = high <= threshold, low > threshold
    elif direction == "<":
        ok_all, bad_all = high < threshold, low >= threshold
    else:
        raise ValueError(f"direction must be one of >=, >, <=, <; got {direction!r}")
    if ok_all:
        return SUPPORTED
    if bad_all:
        return NOT_SUPPORTED
    return INCONCLUSIVE


@dataclass
class ClaimResult:
    """One row of a claims table: what was measured, against which criterion (``direction`` ``threshold``,
    written out in ``criterion``), the verdict, and how the interval was computed: ``n_seeds`` independent
    seeds, ``method`` (``t``, ``bca``, ``percentile``, ``cluster-bootstrap``, ``pooled-t``, ``welch``,
    ``clopper-pearson``, ``sign (median)``, or ``exact`` for a value with no sampling error) at confidence
    ``level``. The fields after ``note`` have defaults (unknown: empty or NaN) so rows built field by field
    still work.

    Inference (:mod:`scaledyn.inference`), computed where the data are: ``p_value`` of ``H0: value =
    threshold`` on the interval's own scale (``test``: its kind, ``scale``: ``identity`` or ``fisher-z``),
    ``se`` and ``df`` on that scale (what the MDE and the seed sizing read). ``role``: ``claim`` (a claim of
    the paper: in its multiplicity family and its tallies), ``check`` (an A/A check), ``practitioner`` (what
    another estimate would conclude) or ``descriptive`` (no valid interval for a decision); only claims count.
    ``effect``: the smallest effect of interest beyond the criterion, in the row's units, that its seeds are
    sized to decide (NaN: none declared, not sized).

    Direction :attr:`COVERS` is a check rather than a claim of an effect: supported when the interval covers
    ``threshold`` (an A/A comparison, expected to be noise), not supported when it excludes it.
    """

    COVERS: ClassVar[str] = "covers"

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
    direction: str = ""
    threshold: float = float("nan")
    n_seeds: int = 0
    method: str = ""
    level: float = float("nan")
    df: float = float("nan")
    se: float = float("nan")
    p_value: float = float("nan")
    test: str = ""
    scale: str = "identity"
    role: str = "claim"
    effect: float = float("nan")

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}; got {self.role!r}")

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
        *,
        n_seeds: int | None = None,
        method: str | None = None,
        level: float | None = None,
        stats: Settings | None = None,
        test: ThresholdTest | None = None,
        role: str = "claim",
        effect: float = float("nan"),
    ) -> ClaimResult:
        """A row whose criterion is ``label direction threshold`` (no label: ``direction threshold``;
        :attr:`COVERS`: ``label interval covers threshold``), whose verdict comes from :func:`verdict` on the
        same direction and threshold (:attr:`COVERS`: supported when ``low <= threshold <= high``, not
        supported otherwise, inconclusive without an interval), and whose p-value tests that threshold with
        ``test`` (default: the interval's, when it is an :class:`Interval`).

        ``n_seeds``, ``method`` and ``level``, when not given, come from ``interval`` if it is an
        :class:`Interval`, else ``method`` and ``level`` from ``stats`` (its :class:`Settings`).
        """
        est, low, high = interval
        if direction == cls.COVERS:
            criterion = " ".join(part for part in (label, f"interval covers {threshold:g}") if part)
            finite = np.isfinite(low) and np.isfinite(high)
            result = INCONCLUSIVE if not finite else SUPPORTED if low <= threshold <= high else NOT_SUPPORTED
        else:
            criterion = " ".join(part for part in (label, direction, f"{threshold:g}") if part)
            result = verdict(low, high, threshold, direction)
        tagged = isinstance(interval, Interval)
        if n_seeds is None:
            n_seeds = interval.n if tagged else 0
        if method is None:
            method = interval.method if tagged else stats.method if stats is not None else ""
        if level is None:
            level = interval.level if tagged else stats.level if stats is not None else float("nan")
        if test is None and tagged:
            test = interval.test
        row = cls(study, claim, scope, measure, est, low, high, criterion, result, note, direction)
        row.threshold, row.n_seeds, row.method, row.level = (
            float(threshold),
            int(n_seeds),
            method,
            float(level),
        )
        row.role, row.effect = role, float(effect)
        return row.tested(test, float(threshold))

    def tested(self, test: ThresholdTest | None, threshold: float) -> ClaimResult:
        """This row with the p-value of ``threshold`` and the ``se``, ``df``, ``test`` and ``scale`` of
        ``test`` (unchanged without one)."""
        if test is not None:
            self.p_value, self.test, self.scale = test.p_value(threshold), test.kind, test.scale
            self.se, self.df = test.spread(threshold), test.test_df()
        return self
