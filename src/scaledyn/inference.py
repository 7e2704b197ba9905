"""Every test, multiplicity adjustment, power and sizing rule of the claims: one place, no report code.

A claims row decides ``value <direction> threshold`` from a two-sided interval at ``level``: *supported* when
the whole interval meets the criterion, *not supported* when the whole interval misses it. Both are the two
one-sided tests of ``H0: value = threshold`` at ``alpha / 2`` each, so a row's p-value is the two-sided
p-value of its threshold *on the interval's own scale* (:class:`ThresholdTest`): it is below
``alpha = 1 - level`` exactly when the interval excludes the threshold, whatever the interval's shape.

Interval kinds (:attr:`ThresholdTest.kind`), how each tests a threshold and states its minimal detectable
effect:

- ``t``: Student t, ``(center - threshold) / se`` on ``df`` degrees of freedom (a mean of per-seed values:
  ``df = n - 1``; a blocked comparison: the pooled ``(V - 1)(S - 1)``; Welch: the Satterthwaite df).
  ``scale = "fisher-z"``: the same on ``arctanh`` of correlations (threshold mapped by ``arctanh``).
  MDE from the noncentral t (:func:`mde`).
- ``normal``: as ``t`` with the normal distribution (df unknown).
- ``draws``: a percentile or seed-cluster bootstrap; p = twice the smaller tail share of the draws beyond the
  threshold (``(1 + count) / (1 + B)``). MDE: normal, ``se`` = the draws' sd.
- ``bca``: the BCa bootstrap of a mean (``scipy.stats.bootstrap``); p by inverting the interval over its
  confidence level (bisection, the same resamples). MDE: normal, ``se`` = the resamples' sd.
- ``binomial``: Clopper-Pearson on ``k`` successes in ``trials``; p of the central (equal-tailed) exact
  test, the one the interval inverts. MDE: normal, ``se`` = the binomial sd at the threshold.
- ``sign``: the distribution-free interval of the median of per-seed values (``scipy.stats.quantile_test``),
  for bounded per-seed statistics at their bound (e.g. every seed's rank correlation at 1), where a t interval
  collapses to zero width. No MDE (distribution-free).

Multiplicity (:func:`holm`): one family per paper, Holm's step-down test (``statsmodels``) at the paper's
``alpha`` over its counted rows, which controls the family-wise error rate under any dependence. Power
(:func:`mde`, :func:`seeds_for`): a row's MDE is the true distance from its threshold that it decides with
probability ``power``, at the Bonferroni level ``alpha / m`` (Holm's first step, so under Holm the power is at
least that); its seeds are sized from its standard error alone (the measured spread), never from its estimate.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.optimize
import scipy.stats
from statsmodels.stats.multitest import multipletests

KINDS = ("t", "normal", "draws", "bca", "binomial", "sign")
FISHER_Z = "fisher-z"
MAX_SEEDS = 100_000  # sizing gives up (NaN) beyond this many seeds


def _nan() -> float:
    return float("nan")


@dataclass(frozen=True)
class ThresholdTest:
    """How an interval tests a threshold (module docstring): ``kind`` with the fields it needs.

    ``center``, ``se``, ``df``: the estimate, standard error and degrees of freedom on the test scale
    (``scale``: ``identity`` or ``fisher-z``); ``draws``: bootstrap resamples (``draws``, ``bca``);
    ``values``: the per-seed values (``bca``, ``sign``); ``k``, ``trials``: a binomial count; ``rng_seed``:
    the generator of a ``bca`` interval's resamples."""

    kind: str
    center: float = field(default_factory=_nan)
    se: float = field(default_factory=_nan)
    df: float = field(default_factory=_nan)
    scale: str = "identity"
    draws: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    k: int = 0
    trials: int = 0
    rng_seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"test kind must be one of {', '.join(KINDS)}; got {self.kind!r}")

    def on_scale(self, x: float) -> float:
        """``x`` (in the row's units) on the test's scale."""
        if self.scale == FISHER_Z:
            return float(np.arctanh(np.clip(x, -1.0, 1.0)))
        return float(x)

    def p_value(self, threshold: float) -> float:
        """Two-sided p-value of ``H0: value = threshold`` (module docstring); NaN when it cannot be tested."""
        if not np.isfinite(threshold):
            return float("nan")
        return float(_P_VALUE[self.kind](self, self.on_scale(threshold)))

    def spread(self, threshold: float) -> float:
        """The standard error an MDE is computed from (on the test scale); NaN where there is none."""
        if self.kind in ("t", "normal"):
            return self.se
        if self.kind in ("draws", "bca"):
            return float(np.std(self.draws, ddof=1)) if len(self.draws) > 1 else float("nan")
        if self.kind == "binomial" and self.trials > 0 and 0 < threshold < 1:
            return math.sqrt(threshold * (1.0 - threshold) / self.trials)
        return float("nan")

    def test_df(self) -> float:
        """The degrees of freedom of the MDE's reference distribution (NaN: normal)."""
        return self.df if self.kind == "t" else float("nan")


def _p_location(test: ThresholdTest, thr: float) -> float:
    if not (np.isfinite(test.center) and np.isfinite(test.se)):
        return float("nan")
    if test.se <= 0:  # no spread: the threshold is either the value itself or certainly not it
        return 1.0 if test.center == thr else 0.0
    stat = abs(test.center - thr) / test.se
    if test.kind == "t" and np.isfinite(test.df) and test.df >= 1:
        return float(2.0 * scipy.stats.t.sf(stat, test.df))
    return float(2.0 * scipy.stats.norm.sf(stat))


def _p_draws(test: ThresholdTest, threshold: float) -> float:
    draws = np.asarray(test.draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return float("nan")
    tail = min((draws <= threshold).sum(), (draws >= threshold).sum())
    return float(min(1.0, 2.0 * (1.0 + tail) / (1.0 + draws.size)))


def _p_bca(test: ThresholdTest, threshold: float) -> float:
    values = np.asarray(test.values, dtype=float)
    if values.size < 2:
        return float("nan")
    if np.ptp(values) == 0:
        return 1.0 if values[0] == threshold else 0.0
    below = threshold < test.center  # the bound that moves towards the threshold as the level grows

    def bootstrap(**how):  # scipy.stats.bootstrap of the mean, BCa
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return scipy.stats.bootstrap((values,), np.mean, method="BCa", **how)

    drawn = bootstrap(n_resamples=len(test.draws), random_state=test.rng_seed)  # resampled once

    def bound(level: float) -> float:
        ci = bootstrap(n_resamples=0, bootstrap_result=drawn, confidence_level=level).confidence_interval
        return float(ci.low if below else ci.high)

    def excludes(level: float) -> bool:
        b = bound(level)
        return b > threshold if below else b < threshold

    lo, hi = 0.0, 1.0 - 1e-9
    if excludes(hi):
        return 1e-9
    if not excludes(lo):
        return 1.0
    for _ in range(30):  # the largest level whose interval still excludes the threshold: p = 1 - it
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if excludes(mid) else (lo, mid)
    return float(1.0 - lo)


def _p_binomial(test: ThresholdTest, threshold: float) -> float:
    if test.trials < 1 or not 0.0 <= threshold <= 1.0:
        return float("nan")
    low = scipy.stats.binom.cdf(test.k, test.trials, threshold)
    high = scipy.stats.binom.sf(test.k - 1, test.trials, threshold)
    return float(min(1.0, 2.0 * min(low, high)))


def _p_sign(test: ThresholdTest, threshold: float) -> float:
    values = np.asarray(test.values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(scipy.stats.quantile_test(values, q=threshold, p=0.5).pvalue)


_P_VALUE = {
    "t": _p_location,
    "normal": _p_location,
    "draws": _p_draws,
    "bca": _p_bca,
    "binomial": _p_binomial,
    "sign": _p_sign,
}


def clopper_pearson(k: int, trials: int, level: float) -> tuple[float, float, float]:
    """(proportion, low, high): the exact (Clopper-Pearson) interval of ``k`` successes in ``trials``."""
    if trials < 1:
        return float("nan"), float("nan"), float("nan")
    ci = scipy.stats.binomtest(int(k), int(trials)).proportion_ci(confidence_level=level, method="exact")
    return k / trials, float(ci.low), float(ci.high)


def median_interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    """(median, low, high): the distribution-free interval of the median (order statistics,
    ``scipy.stats.quantile_test``); bounds NaN when the seeds are too few for ``level``."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    ci = scipy.stats.quantile_test(values, p=0.5).confidence_interval(confidence_level=level)
    low, high = float(ci.low), float(ci.high)
    if not (np.isfinite(low) and np.isfinite(high)):
        low = high = float("nan")
    return float(np.median(values)), low, high


def holm(p_values, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down test (``statsmodels.stats.multitest.multipletests``): (rejected, adjusted p)."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return np.zeros(0, bool), np.zeros(0)
    reject, adjusted, _, _ = multipletests(p, alpha=alpha, method="holm")
    return np.asarray(reject, bool), np.asarray(adjusted, float)


def critical(alpha: float, df: float) -> float:
    """Two-sided critical value at ``alpha``: Student t on ``df`` (NaN or < 1: normal)."""
    if np.isfinite(df) and df >= 1:
        return float(scipy.stats.t.ppf(1.0 - alpha / 2.0, df))
    return float(scipy.stats.norm.ppf(1.0 - alpha / 2.0))


def power_at(effect: float, se: float, df: float, alpha: float) -> float:
    """Probability that a two-sided level-``alpha`` t (normal without df) test rejects when the true distance
    from the threshold is ``effect`` and the standard error ``se`` (noncentral t, both tails)."""
    if not (np.isfinite(se) and se > 0):
        return float("nan")
    c, ncp = critical(alpha, df), effect / se
    if np.isfinite(df) and df >= 1:
        far = scipy.stats.nct.cdf(-c, df, ncp)  # the wrong-side tail: below Phi(-ncp); NaN far out in scipy
        return float(scipy.stats.nct.sf(c, df, ncp) + (far if np.isfinite(far) else 0.0))
    return float(scipy.stats.norm.sf(c - ncp) + scipy.stats.norm.cdf(-c - ncp))


def mde(se: float, df: float, alpha: float, power: float) -> float:
    """The true distance from the threshold decided with probability ``power`` by a two-sided level-``alpha``
    test with standard error ``se`` on ``df`` degrees of freedom: ``se`` times the noncentrality at which the
    test has that power (:func:`noncentrality`; about ``t_{1-alpha/2} + t_power``). NaN without a finite
    positive ``se``."""
    if not (np.isfinite(se) and se > 0):
        return float("nan")
    return float(se * noncentrality(float(df) if np.isfinite(df) else float("nan"), alpha, power))


@functools.lru_cache(maxsize=4096)
def noncentrality(df: float, alpha: float, power: float) -> float:
    """The noncentrality ``delta / se`` at which a two-sided level-``alpha`` t test on ``df`` degrees of
    freedom (NaN: normal) rejects with probability ``power`` (noncentral t, both tails; solved exactly)."""
    hi = critical(alpha, df) + critical(2.0 * (1.0 - power), df) + 1.0
    while power_at(hi, 1.0, df, alpha) < power:
        hi *= 2.0
    return float(scipy.optimize.brentq(lambda e: power_at(e, 1.0, df, alpha) - power, 0.0, hi, xtol=1e-12))


def seeds_for(
    target: float, se: float, df: float, n: int, alpha: float, power: float, max_seeds: int = MAX_SEEDS
) -> float:
    """The fewest seeds ``n'`` whose MDE (:func:`mde`) is at most ``target``, from a row measured at ``n``
    seeds with standard error ``se`` on ``df`` degrees of freedom: ``se`` scales as ``1 / sqrt(n)`` and ``df``
    as ``n - 1`` (a mean over seeds: ``df = n - 1``; a blocked design: ``(V - 1)(n - 1)``). Sized from the
    spread alone. NaN when an input is missing or more than ``max_seeds`` would be needed."""
    if not (np.isfinite(target) and target > 0 and np.isfinite(se) and se > 0 and n >= 2):
        return float("nan")
    per_seed = df / (n - 1) if np.isfinite(df) else float("nan")

    def ok(s: int) -> bool:
        return mde(se * math.sqrt(n / s), per_seed * (s - 1), alpha, power) <= target

    hi = 2
    while not ok(hi):
        if hi >= max_seeds:
            return float("nan")
        hi = min(2 * hi, max_seeds)
    lo = max(1, hi // 2)  # ok(lo) is False or lo < 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return float(hi)


def in_units(scale: str, threshold: float, distance: float, upward: bool) -> float:
    """A distance on the test scale from ``threshold`` (in the row's units), back in the row's units
    (Fisher's z: ``|tanh(arctanh(threshold) +- distance) - threshold|``, towards the claimed side)."""
    if scale != FISHER_Z or not np.isfinite(distance):
        return distance
    z = float(np.arctanh(np.clip(threshold, -1.0, 1.0))) + (distance if upward else -distance)
    if abs(np.tanh(z)) > 1.0 - 1e-6:  # past the end of the scale: no correlation is decided with that power
        return float("nan")
    return float(abs(np.tanh(z) - threshold))


def on_scale(scale: str, threshold: float, distance: float, upward: bool) -> float:
    """A distance in the row's units from ``threshold``, on the test scale (the inverse of :func:`in_units`);
    NaN where it leaves the scale (a correlation beyond +-1)."""
    if scale != FISHER_Z or not np.isfinite(distance):
        return distance
    other = threshold + (distance if upward else -distance)
    if not (-1.0 < other < 1.0 and -1.0 < threshold < 1.0):
        return float("nan")
    return float(abs(np.arctanh(other) - np.arctanh(threshold)))


def flip_at(
    verdict: str, direction: str, estimate: float, low: float, high: float, threshold: float
) -> float:
    """The criterion value at which a row's verdict would change (``direction`` one-sided): ``>=`` is
    supported until the threshold passes ``low``, not supported until it reaches ``high``; an inconclusive
    row is decided when the threshold passes the bound on the estimate's far side. ``<=`` mirrored."""
    if direction not in (">=", ">", "<=", "<") or not (np.isfinite(low) and np.isfinite(high)):
        return float("nan")
    upward = direction in (">=", ">")
    if verdict == "supported":
        return low if upward else high
    if verdict == "not supported":
        return high if upward else low
    if not (np.isfinite(estimate) and np.isfinite(threshold)):
        return float("nan")
    meets = estimate >= threshold if upward else estimate <= threshold
    return (low if meets else high) if upward else (high if meets else low)


def decide(rows, alpha: float, power: float, adjust: str = "holm", exact: str = "exact"):
    """The papers' decisions: ``rows`` (a DataFrame of claims rows: ``paper``, ``verdict``, ``role``,
    ``p_value``, ``method``, ``se``, ``df``, ``scale``, ``direction``, ``threshold``, ``seeds``, ``effect``)
    with ``counted``, ``family_size`` m, ``p_adjusted``, ``verdict_adjusted``, ``mde`` and ``seeds_needed``.

    One family per paper: its rows of role ``claim`` with a finite p-value, Holm at ``alpha`` (:func:`holm`).
    A family row keeps a decided verdict only if Holm rejects its null, else it is inconclusive; a claim row
    that is ``exact`` (no sampling error) keeps its verdict; any other claim row without a p-value cannot be
    decided. Checks, practitioner and descriptive rows keep their raw verdict and count for nothing.
    ``adjust="none"``: each claim row at level ``alpha`` on its own. For claim rows: ``mde``, the distance
    beyond the threshold decided with ``power`` at level ``alpha / m`` (:func:`mde`, in the row's units);
    ``seeds_needed``, the seeds whose MDE reaches the row's ``effect`` (:func:`seeds_for`)."""
    out = rows.copy()
    p = out["p_value"].to_numpy(float)
    claim = out["role"].eq("claim").to_numpy()
    exact_row = out["method"].eq(exact).to_numpy()
    family = claim & np.isfinite(p) & ~exact_row
    m = pd.Series(family).groupby(out["paper"].to_numpy()).transform("sum").to_numpy()  # per paper
    adjusted, reject = np.full(len(out), np.nan), np.zeros(len(out), bool)
    papers = out["paper"].to_numpy()
    for paper in np.unique(papers[family]):
        rows_of = np.flatnonzero(family & (papers == paper))
        rej, adj = holm(p[rows_of], alpha) if adjust == "holm" else (p[rows_of] <= alpha, p[rows_of])
        adjusted[rows_of], reject[rows_of] = adj, rej
    decided = out["verdict"].isin(["supported", "not supported"]).to_numpy()
    keep = np.where(family, reject, np.where(claim, exact_row, True))
    row_alpha = alpha / np.maximum(m, 1) if adjust == "holm" else np.full(len(out), alpha)
    upward = out["direction"].isin([">=", ">"]).to_numpy()
    se, df, n = (out[c].to_numpy(float) for c in ("se", "df", "seeds"))
    thr, effect, scale = (
        out["threshold"].to_numpy(float),
        out["effect"].to_numpy(float),
        out["scale"].to_numpy(),
    )
    mdes, seeds = np.full(len(out), np.nan), np.full(len(out), np.nan)
    for i in np.flatnonzero(claim & ~exact_row):
        mdes[i] = in_units(scale[i], thr[i], mde(se[i], df[i], row_alpha[i], power), upward[i])
        if np.isfinite(effect[i]):
            target = on_scale(scale[i], thr[i], effect[i], upward[i])
            seeds[i] = seeds_for(
                target, se[i], df[i], int(n[i]) if np.isfinite(n[i]) else 0, row_alpha[i], power
            )
    out["counted"], out["family_size"], out["p_adjusted"] = claim, m.astype(int), adjusted
    out["verdict_adjusted"] = np.where(decided & keep, out["verdict"], "inconclusive")
    out["mde"], out["seeds_needed"] = mdes, seeds
    return out
