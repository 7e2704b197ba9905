"""The checkable claims of paper 000, each a function from results to ``ClaimResult`` rows.

:func:`check_all` takes the tables keyed by name (``tables["runs"]``: the concatenated runs table), the
``gsnr`` config section and the pipeline ``stats`` section, like every study's ``claims.check_all``.

Every claim is checked per (noise model, optimiser) on the GSNR estimate named by ``claims.estimate``
(default: the plug-in estimate, the paper's eq. 1 computed from mini-batch draws). Confidence intervals are
seed-cluster bootstrap intervals; a verdict is ``supported`` when the whole interval meets the criterion,
``not supported`` when the whole interval misses it, and ``inconclusive`` otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scaledyn.gsnr import classify
from scaledyn.gsnr.analysis import ESTIMATES, JOB_KEYS, _ci_kwargs
from scaledyn.stats import ClaimResult, cluster_mean_ci, seed_bootstrap

STUDY = "000"


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    return float(np.corrcoef(pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy())[0, 1])


def correlation(job: pd.DataFrame, scope: str, params: dict, stats: dict) -> ClaimResult:
    """GSNR strongly correlates with scale adaptation.

    Measure: Spearman rank correlation between log10 GSNR at init and the scale adaptation over all runs
    of the job (all shapes and noise levels). Criterion: rho >= ``claims.strong_correlation``.
    """
    col, thr = ESTIMATES[params["claims"]["estimate"]], params["claims"]["strong_correlation"]
    x, adapt = classify.log10_gsnr(job[col]), job["scale_adaptation"].to_numpy()
    interval = seed_bootstrap(job["seed"], lambda r: _spearman(x[r], adapt[r]), **_ci_kwargs(stats))
    claim = "GSNR strongly correlates with scale adaptation"
    return ClaimResult.checked(STUDY, claim, scope, "Spearman rho", interval, "rho", ">=", thr)


def classifier_accuracy(job: pd.DataFrame, scope: str, params: dict, stats: dict) -> ClaimResult:
    """A GSNR threshold classifier predicts ``adapts`` with high accuracy.

    Measure: leave-one-seed-out accuracy of the threshold rule, pooled over shapes.
    Criterion: accuracy >= ``claims.high_accuracy``.
    """
    col, thr = ESTIMATES[params["claims"]["estimate"]], params["claims"]["high_accuracy"]
    x, y, seeds = classify.log10_gsnr(job[col]), job["adapts"].to_numpy(), job["seed"].to_numpy()
    pred = classify.loso_predictions(x, y, seeds)
    interval = cluster_mean_ci(pred == y, seeds, **_ci_kwargs(stats))
    claim = "A GSNR threshold classifier has high accuracy"
    return ClaimResult.checked(STUDY, claim, scope, "LOSO accuracy", interval, "accuracy", ">=", thr)


def matrix_gsnr_gap(job: pd.DataFrame, scope: str, params: dict, stats: dict) -> ClaimResult:
    """Matrices keep a higher GSNR than vectors and scalars at moderate noise.

    Measure: over runs with sigma in ``claims.moderate_noise`` = [lo, hi], the smallest gap
    median(log10 GSNR | matrix) - median(log10 GSNR | shape) over the non-matrix shapes (a matrix has both
    dimensions > 1). Criterion: gap > ``claims.min_log10_gap`` decades.
    """
    claim = "Matrices keep a higher GSNR than vectors and scalars at moderate noise"
    col, gap_min = ESTIMATES[params["claims"]["estimate"]], params["claims"]["min_log10_gap"]
    lo_sig, hi_sig = params["claims"]["moderate_noise"]
    is_matrix = {name: min(dims) > 1 for name, dims in params["shape_dims"].items()}
    sub = job[(job["sigma"] >= lo_sig) & (job["sigma"] <= hi_sig)]
    mats = [s for s in sub["shape"].unique() if is_matrix[s]]
    others = [s for s in sub["shape"].unique() if not is_matrix[s]]
    if not mats or not others:
        note = "needs a matrix and a non-matrix shape with noise levels in the moderate range"
        nan3 = (np.nan, np.nan, np.nan)  # undefined interval: the verdict is inconclusive
        return ClaimResult.checked(STUDY, claim, scope, "min log10 GSNR gap", nan3, "gap", ">", gap_min, note)

    x, shape = classify.log10_gsnr(sub[col]), sub["shape"].to_numpy()

    def gap(rows: np.ndarray) -> float:
        med = {s: np.median(x[rows][shape[rows] == s]) for s in (*mats, *others)}
        return float(min(med[m] - med[o] for m in mats for o in others))

    interval = seed_bootstrap(sub["seed"], gap, **_ci_kwargs(stats))
    note = f"sigma in [{lo_sig:g}, {hi_sig:g}], decades"
    return ClaimResult.checked(STUDY, claim, scope, "min log10 GSNR gap", interval, "gap", ">", gap_min, note)


def clean_separation(job: pd.DataFrame, scope: str, params: dict, stats: dict) -> ClaimResult:
    """The best threshold cleanly separates the regimes.

    Measure: in-sample error rate of the best threshold rule, pooled over shapes (refitted in every bootstrap
    resample). Criterion: error <= ``claims.clean_max_error``.
    """
    col, thr = ESTIMATES[params["claims"]["estimate"]], params["claims"]["clean_max_error"]

    x, y = classify.log10_gsnr(job[col]), job["adapts"].to_numpy()

    def error(rows: np.ndarray) -> float:
        return 1.0 - classify.best_threshold(x[rows], y[rows])[1]

    interval = seed_bootstrap(job["seed"], error, **_ci_kwargs(stats))
    claim = "The best GSNR threshold cleanly separates the regimes"
    return ClaimResult.checked(STUDY, claim, scope, "in-sample error", interval, "error", "<=", thr)


CLAIMS = (correlation, classifier_accuracy, matrix_gsnr_gap, clean_separation)


def check_all(tables: dict[str, pd.DataFrame], params: dict, stats: dict) -> list[ClaimResult]:
    """Every claim for every (noise model, optimiser) job of ``tables["runs"]`` (the concatenated runs table,
    ``results/gsnr/runs.csv``), claim by claim, jobs in sorted order."""
    runs = tables["runs"]
    return [
        claim(job.reset_index(drop=True), f"{noise} noise, {opt}", params, stats)
        for claim in CLAIMS
        for (noise, opt), job in runs.groupby(JOB_KEYS, sort=True)
    ]
