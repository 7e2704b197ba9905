"""Arms compared with a reference in a blocked design: every arm run at the same blocks (seeds).

A table of one value per (arm, block) is read as the two-way additive model

    y_ab = mu + alpha_a + beta_b + e_ab,     e_ab independent, mean 0, variance sigma^2,

with ``V`` arms and ``S`` complete blocks (:func:`fit`; a block missing a value in any arm is dropped, and
recorded). The block effect ``beta_b`` (a seed's shared init, data order and evaluation tokens) cancels from
every difference of arms. Estimates and their error (:func:`contrast`):

- ``d_a = mean_b (y_ab - y_0b)``: arm ``a`` minus the reference ``0``;
- residuals ``r_ab = y_ab - ybar_a. - ybar_.b + ybar_..``, pooled variance
  ``s^2 = sum r_ab^2 / ((V - 1)(S - 1))`` with ``df = (V - 1)(S - 1)`` degrees of freedom (every arm's
  spread pooled: more df than the ``S - 1`` of one paired difference, under equal variances);
- ``SE(d_a) = sqrt(2 s^2 / S)``.

Interval at ``level`` (:func:`contrast`, any difference of two arms): the pooled-t interval
``d_a +- t_{(1+level)/2, df} SE`` with its two-sided p-value against 0. It is not adjusted for multiplicity:
the claims table adjusts every row of a paper as one family (:mod:`scaledyn.inference`).

Every arm must share the blocks: an arm drawn on its own seeds (an A/A arm on another seed stream) has no
block effect in common with the others, and fitting it here would put the block variance into ``s^2`` (at
block sd 2 and residual sd 1, 7 arms and 17 seeds, s^2 ~ 2.1 instead of 1); compare it unpaired instead.

The equal-variance assumption behind the pooling is checked by :func:`spread_check`: the Brown-Forsythe test
(``scipy.stats.levene(center="median")``) of the arms' residuals (approximate: the residuals of an arm are
not independent, they sum to 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats


@dataclass(frozen=True)
class BlockedFit:
    """The complete blocks of an (arm x block) table, fitted by the additive model (module docstring)."""

    arms: tuple[str, ...]
    blocks: tuple[object, ...]  # the complete blocks, in sorted order
    dropped: tuple[object, ...]  # blocks with a missing or non-finite value in some arm
    y: np.ndarray  # (V, S) values, rows in the order of ``arms``
    s2: float  # pooled residual variance
    df: int  # (V - 1)(S - 1)

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def residuals(self) -> np.ndarray:
        return residuals(self.y)

    @property
    def se(self) -> float:
        """Standard error of a difference of two arms' means: ``sqrt(2 s^2 / S)``."""
        return float(np.sqrt(2.0 * self.s2 / self.n_blocks)) if self.n_blocks else float("nan")

    def mean(self, arm: str) -> float:
        return float(self.y[self.arms.index(arm)].mean()) if self.n_blocks else float("nan")


def residuals(y: np.ndarray) -> np.ndarray:
    """``y_ab - ybar_a. - ybar_.b + ybar_..`` over the last two axes (arms, blocks) of ``y``."""
    y = np.asarray(y, dtype=float)
    return y - y.mean(-1, keepdims=True) - y.mean(-2, keepdims=True) + y.mean((-2, -1), keepdims=True)


def residual_variance(y: np.ndarray) -> tuple[np.ndarray, int]:
    """``(s^2, df)`` of the additive model over the last two axes (arms, blocks); vectorised over the rest.

    ``df = (V - 1)(S - 1)``; ``s^2`` is NaN where ``df`` is 0."""
    y = np.asarray(y, dtype=float)
    v, s = y.shape[-2:]
    df = (v - 1) * (s - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = (residuals(y) ** 2).sum((-2, -1)) / df if df else np.full(y.shape[:-2], np.nan)
    return s2, df


def fit(table: pd.DataFrame, arm: str, block: str, value: str, arms: list[str] | None = None) -> BlockedFit:
    """The complete blocks of ``table`` (one row per (arm, block), a duplicate is a ``ValueError``; columns
    ``arm``, ``block``, ``value``).

    ``arms``: the arms in their order (default: those of the table, sorted); an arm with no finite value at
    some block drops that block, so every arm is compared on the same blocks."""
    arms = list(arms) if arms is not None else sorted(table[arm].unique())
    wide = table.pivot(index=arm, columns=block, values=value).reindex(arms).astype(float)
    complete = np.isfinite(wide.to_numpy()).all(axis=0) if len(wide.columns) else np.array([], bool)
    kept = [b for b, ok in zip(wide.columns, complete, strict=True) if ok]
    dropped = [b for b, ok in zip(wide.columns, complete, strict=True) if not ok]
    y = wide[kept].to_numpy(dtype=float)
    s2, df = residual_variance(y) if y.size else (np.nan, 0)
    return BlockedFit(tuple(arms), tuple(kept), tuple(dropped), y, float(s2), int(df))


def contrast(model: BlockedFit, arm: str, other: str, level: float) -> dict[str, float]:
    """``arm - other`` with the pooled residual variance: ``estimate``, ``se``, ``df``, ``n_blocks``, the
    pooled-t interval ``raw_low``/``raw_high`` (not adjusted for multiplicity) and its quantile ``crit``,
    ``t`` and its two-sided ``p_raw``."""
    est, se, df = model.mean(arm) - model.mean(other), model.se, model.df
    ok = df >= 1 and se > 0
    t_q = float(scipy.stats.t.ppf(0.5 + level / 2.0, df)) if df >= 1 else float("nan")
    stat = est / se if ok else float("nan")
    return {
        "estimate": est,
        "se": se,
        "df": df,
        "n_blocks": model.n_blocks,
        "raw_low": est - t_q * se,
        "raw_high": est + t_q * se,
        "crit": t_q,
        "t": stat,
        "p_raw": float(2.0 * scipy.stats.t.sf(abs(stat), df)) if ok else float("nan"),
    }


def spread_check(model: BlockedFit, level: float) -> dict[str, float | bool]:
    """Brown-Forsythe test that the arms' residuals share one spread (``scipy.stats.levene``, median
    centred): ``statistic``, ``p_value`` and ``compatible`` (``p_value >= 1 - level``; ``True`` when the
    test cannot be run: fewer than 2 arms or 3 blocks (with 2 an arm's residuals are ``r, -r``: no spread
    of their deviations from the median), or no residual spread at all)."""
    r = model.residuals
    if r.shape[0] < 2 or r.shape[1] < 3 or not np.any(np.abs(r) > 1e-12 * max(1.0, np.abs(model.y).max())):
        return {"statistic": float("nan"), "p_value": float("nan"), "compatible": True}
    res = scipy.stats.levene(*r, center="median")
    p = float(res.pvalue)
    return {"statistic": float(res.statistic), "p_value": p, "compatible": bool(not p < 1.0 - level)}
