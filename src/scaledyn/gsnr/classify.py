"""Threshold classifier of ``adapts`` on log10 GSNR.

The rule follows the paper's hypothesis and never flips direction: predict "adapts" when
log10 GSNR >= threshold. Non-positive GSNR estimates (the bias-corrected estimator can go below zero) map
to log10 = -inf and so always fall below any threshold.

``best_threshold``: candidates are -inf, the midpoints between consecutive distinct finite values, and
+inf; the accuracy-maximising candidates form a set, and the middle one (by index) is taken, so ties are
broken deterministically. ``loso_accuracy``: leave-one-seed-out cross-validation (fit on all other seeds,
predict the held-out seed). ``roc_auc``: Mann-Whitney U / (n_pos n_neg), ties counted half.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def log10_gsnr(values: pd.Series | np.ndarray) -> np.ndarray:
    """log10 of the GSNR with non-positive values mapped to -inf."""
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), -np.inf)


def candidate_thresholds(x: np.ndarray) -> np.ndarray:
    finite = np.unique(x[np.isfinite(x)])
    mids = (finite[:-1] + finite[1:]) / 2 if finite.size > 1 else np.array([])
    return np.concatenate([[-np.inf], mids, [np.inf]])


def accuracy_curve(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Accuracy of the rule ``x >= t`` for every candidate threshold t."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=bool)
    t = candidate_thresholds(x)
    # correct = positives at or above t + negatives below t (searchsorted "left" counts values < t)
    pos, neg = np.sort(x[y]), np.sort(x[~y])
    correct = pos.size - np.searchsorted(pos, t, side="left") + np.searchsorted(neg, t, side="left")
    return pd.DataFrame({"threshold": t, "accuracy": correct / x.size})


def best_threshold(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(threshold, in-sample accuracy) of the accuracy-maximising rule ``x >= threshold``."""
    curve = accuracy_curve(x, y)
    best = np.flatnonzero(curve["accuracy"].to_numpy() == curve["accuracy"].max())
    i = best[len(best) // 2]
    return float(curve["threshold"].iloc[i]), float(curve["accuracy"].iloc[i])


def loso_predictions(x: np.ndarray, y: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Leave-one-seed-out predictions: each seed's rows predicted by the threshold fitted on the others."""
    x, y, seeds = np.asarray(x, dtype=float), np.asarray(y, dtype=bool), np.asarray(seeds)
    pred = np.zeros_like(y)
    for s in np.unique(seeds):
        held = seeds == s
        if held.all():
            raise ValueError("leave-one-seed-out needs at least two seeds")
        thr, _ = best_threshold(x[~held], y[~held])
        pred[held] = x[held] >= thr
    return pred


def roc_auc(x: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve of score x for label y (NaN when only one class is present)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(x).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def confusion(y: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    y, pred = np.asarray(y, dtype=bool), np.asarray(pred, dtype=bool)
    return {
        "true_adapts": int((y & pred).sum()),
        "false_adapts": int((~y & pred).sum()),
        "true_stuck": int((~y & ~pred).sum()),
        "false_stuck": int((y & ~pred).sum()),
    }
