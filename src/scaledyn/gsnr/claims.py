"""The checkable claims of paper 000, each a function from results to ``ClaimResult`` rows.

:func:`check_all` takes the tables keyed by name (``tables["runs"]``: the concatenated runs table), the
``gsnr`` config section and the pipeline ``stats`` section, like every study's ``claims.check_all``.

Every claim is checked per (noise model, optimiser) on the GSNR estimate named by ``claims.estimate``
(default: the plug-in estimate, the paper's eq. 1 computed from mini-batch draws). Every interval is a
seed-level interval (:meth:`scaledyn.stats.Settings.per_seed`): the statistic is computed on each seed's runs
(every shape and noise level of that seed) separately, and the interval is that of the per-seed values by
``stats.ci_method`` (Student t by default). The estimand is thus the per-seed statistic averaged over seeds.
A verdict is ``supported`` when the whole interval meets the criterion, ``not supported`` when the whole
interval misses it, and ``inconclusive`` otherwise. Every row records its direction, threshold, seed count,
method and level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scaledyn.gsnr import classify
from scaledyn.gsnr.analysis import ESTIMATES, JOB_KEYS
from scaledyn.stats import ClaimResult, Interval, Settings

STUDY = "000"


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    return float(np.corrcoef(pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy())[0, 1])


def correlation(job: pd.DataFrame, scope: str, params: dict, stats: dict) -> ClaimResult:
    """GSNR strongly correlates with scale adaptation.

    Measure: Spearman rank correlation between log10 GSNR at init and the scale adaptation over the runs of
    one seed (all shapes and noise levels), averaged over seeds, with its seed-level interval.
    Criterion: rho >= ``claims.strong_correlation``.
    """
    col, thr = ESTIMATES[params["claims"]["estimate"]], params["claims"]["strong_correlation"]
    x, adapt = classify.log10_gsnr(job[col]), job["scale_adaptation"].to_numpy()
    interval = Settings.of(stats).per_seed(job["seed"], lambda r: _spearman(x[r], adapt[r]))
    claim = "GSNR strongly correlates with scale adaptation"
    return ClaimResult.checked(STUDY, claim, scope, "Spearman rho", interval, "rho", ">=", thr)


def classifier_accuracy(job: pd.DataFrame, scope: str, params: dict, stats: dict) -> ClaimResult:
    """A GSNR threshold classifier predicts ``adapts`` with high accuracy.

    Measure: leave-one-seed-out accuracy of the threshold rule, pooled over shapes: the per-seed value is
    the accuracy on the held-out seed's runs of the threshold refitted on the other seeds; mean over seeds
    and its seed-level interval. Criterion: accuracy >= ``claims.high_accuracy``.
    """
    col, thr = ESTIMATES[params["claims"]["estimate"]], params["claims"]["high_accuracy"]
    x, y, seeds = classify.log10_gsnr(job[col]), job["adapts"].to_numpy(), job["seed"].to_numpy()
    correct = classify.loso_predictions(x, y, seeds) == y
    interval = Settings.of(stats).per_seed(seeds, lambda r: float(correct[r].mean()))
    claim = "A GSNR threshold classifier has high accuracy"
    return ClaimResult.checked(STUDY, claim, scope, "LOSO accuracy", interval, "accuracy", ">=", thr)


def matrix_gsnr_gap(job: pd.DataFrame, scope: str, params: dict, stats: dict) -> ClaimResult:
    """Matrices keep a higher GSNR than vectors and scalars at moderate noise.

    Measure: over runs with sigma in ``claims.moderate_noise`` = [lo, hi], the smallest gap
    median(log10 GSNR | matrix) - median(log10 GSNR | shape) over the non-matrix shapes (a matrix has both
    dimensions > 1), computed on each seed's runs (medians over its noise levels), averaged over seeds, with
    its seed-level interval. Criterion: gap > ``claims.min_log10_gap`` decades.
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
        settings = Settings.of(stats)  # undefined interval: the verdict is inconclusive
        nan3 = Interval(np.nan, np.nan, np.nan, n=0, method=settings.method, level=settings.level)
        return ClaimResult.checked(STUDY, claim, scope, "min log10 GSNR gap", nan3, "gap", ">", gap_min, note)

    x, shape = classify.log10_gsnr(sub[col]), sub["shape"].to_numpy()

    def gap(rows: np.ndarray) -> float:
        here = shape[rows]
        if not all((here == s).any() for s in (*mats, *others)):
            return float("nan")  # this seed lacks a shape in the range: it drops out
        med = {s: np.median(x[rows][here == s]) for s in (*mats, *others)}
        return float(min(med[m] - med[o] for m in mats for o in others))

    interval = Settings.of(stats).per_seed(sub["seed"].to_numpy(), gap)
    note = f"sigma in [{lo_sig:g}, {hi_sig:g}], decades"
    return ClaimResult.checked(STUDY, claim, scope, "min log10 GSNR gap", interval, "gap", ">", gap_min, note)


def clean_separation(job: pd.DataFrame, scope: str, params: dict, stats: dict) -> ClaimResult:
    """The best threshold cleanly separates the regimes.

    Measure: in-sample error rate of the best threshold rule, pooled over shapes. The one threshold is
    fitted on all runs of the job (the claim is about a single threshold); the per-seed value is its error
    on that seed's runs, so the estimate is the pooled in-sample error (seeds have equal run counts) and the
    seed-level interval is over the per-seed errors. The threshold's own fitting noise is not in it (out of
    sample, that is the leave-one-seed-out claim). Criterion: error <= ``claims.clean_max_error``.
    """
    col, thr = ESTIMATES[params["claims"]["estimate"]], params["claims"]["clean_max_error"]

    x, y = classify.log10_gsnr(job[col]), job["adapts"].to_numpy()
    threshold, _ = classify.best_threshold(x, y)
    wrong = (x >= threshold) != y
    interval = Settings.of(stats).per_seed(job["seed"].to_numpy(), lambda r: float(wrong[r].mean()))
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
