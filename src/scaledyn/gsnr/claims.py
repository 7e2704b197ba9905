"""The checkable claims of paper 000, each a function from results to ``ClaimResult`` rows.

:func:`check_all` takes the tables keyed by name (``tables["runs"]``: the concatenated runs table), the
``gsnr`` config section and the pipeline ``stats`` section, like every study's ``claims.check_all``.

The verdicts are decided on the GSNR estimate named by ``claims.estimate`` (default: ``exact``, the
closed-form population GSNR at theta0). The paper's claims are about GSNR itself, so they are decided on an
estimate with no floor; the plug-in estimate from K draws has a floor near 1/K (0.031 at K = 32) that lies
above the GSNR where runs stop adapting, so on it the floor would decide. Every claim is repeated on each
estimate of ``claims.practitioner_estimates`` (default: the plug-in) as its own rows, scope
``"..., plugin at K=<gsnr_draws>"``: what a practitioner's estimate would conclude.

Scopes: the claims about adaptation are checked per (noise model, optimiser); the matrix-gap claim is about
GSNR at theta0 only, which does not depend on the optimiser, so it is checked once per noise model (scope
``"<noise> noise, any optimiser"``) and its note gives the closed-form expectation of the gap (under the
simulator's noise models the gap follows from the model by construction).

Intervals. The rank statistics (rho, D) and the matrix gap are seed-level: the statistic is computed on each
seed's runs (every shape and noise level of that seed) separately, and the interval is that of the per-seed
values (:meth:`scaledyn.stats.Settings.per_seed` by ``stats.ci_method``; rho and D by Fisher's z, or by the
sign test of the per-seed median when a seed sits at +-1:
:meth:`~scaledyn.stats.Settings.per_seed_correlation`), so the estimand is the per-seed statistic averaged
over seeds. The two error rates are proportions bounded by 0 and 1, where every seed sits in the paper-like
case and a t interval of per-seed rates collapses to zero width: they get the exact Clopper-Pearson interval
of the counts pooled over the job's runs (:meth:`~scaledyn.stats.Settings.proportion`). The in-sample error is
a claim; the leave-one-seed-out accuracy is shown but not counted (role ``descriptive``): its folds share
training seeds, so its hits are not independent trials and its interval is no basis for a decision
(``gsnr.claims.high_accuracy``).

A verdict is ``supported`` when the whole interval meets the criterion, ``not supported`` when the whole
interval misses it, and ``inconclusive`` otherwise. Every row records its direction, threshold, seed count
(the run count for the pooled proportions), method and level; every threshold, and the reason for it, is a
key of the ``gsnr.claims`` schema. Practitioner rows have role ``practitioner`` and count for nothing.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from scaledyn import cli
from scaledyn.estimators import gsnr_plugin_floor
from scaledyn.gsnr import classify, simulate
from scaledyn.gsnr.analysis import ESTIMATES, JOB_KEYS
from scaledyn.stats import ClaimResult, Interval, Settings

STUDY = "000"
FLOORED = ("plugin", "bias_corrected")  # estimates from K draws (their scope names K)


def _column(params: dict, estimate: str | None) -> str:
    return ESTIMATES[params["claims"]["estimate"] if estimate is None else estimate]


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); a perfect ranking is exactly +-1 (the rounding of
    ``corrcoef`` can leave 1 - 1e-16, whose Fisher z, 18.7, would stand for a finite correlation)."""
    rho = float(np.corrcoef(pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy())[0, 1])
    return float(np.sign(rho)) if abs(abs(rho) - 1.0) < 1e-12 else rho


def somers_d(x: np.ndarray, y: np.ndarray) -> float:
    """Somers' D of score x for the binary label y: 2 AUC - 1 (ties half; NaN with one class only)."""
    return 2.0 * classify.roc_auc(x, y) - 1.0


def correlation(
    job: pd.DataFrame, scope: str, params: dict, stats: dict, estimate: str | None = None
) -> ClaimResult:
    """GSNR strongly correlates with scale adaptation.

    Measure: Spearman rank correlation between log10 GSNR at init and the scale adaptation (relative norm
    change) over the runs of one seed (all shapes and noise levels), combined over seeds by Fisher's z (a
    bounded interval, :meth:`~scaledyn.stats.Settings.per_seed_correlation`). Criterion: rho >=
    ``claims.strong_correlation``. This measures how the norm change follows the GSNR, not who adapts
    (that is :func:`ranking`): under SGD the final norm grows with the noise for every shape, so rho is
    negative whether or not GSNR tells who adapts.
    """
    col, thr = _column(params, estimate), params["claims"]["strong_correlation"]
    x, adapt = classify.log10_gsnr(job[col]), job["scale_adaptation"].to_numpy()
    interval = Settings.of(stats).per_seed_correlation(job["seed"], lambda r: _spearman(x[r], adapt[r]))
    claim = "GSNR strongly correlates with scale adaptation"
    return ClaimResult.checked(STUDY, claim, scope, "Spearman rho", interval, "rho", ">=", thr)


def ranking(
    job: pd.DataFrame, scope: str, params: dict, stats: dict, estimate: str | None = None
) -> ClaimResult:
    """GSNR ranks who adapts (the paper's "correlates with scale adaptation ability").

    Measure: Somers' D = 2 AUC - 1 of log10 GSNR at init against the ``adapts`` label over the runs of one
    seed, combined over seeds by Fisher's z (:meth:`~scaledyn.stats.Settings.per_seed_correlation`; a seed
    whose runs share one label drops out; with a seed at D = +-1, which has no z, the distribution-free
    interval of the per-seed median and its sign test instead).
    D = 1: every adapting run has a higher GSNR than every non-adapting one; 0: no ranking; -1: reversed.
    Criterion: D >= ``claims.strong_ranking``.
    """
    col, thr = _column(params, estimate), params["claims"]["strong_ranking"]
    x, y = classify.log10_gsnr(job[col]), job["adapts"].to_numpy(dtype=bool)
    interval = Settings.of(stats).per_seed_correlation(job["seed"], lambda r: somers_d(x[r], y[r]))
    return ClaimResult.checked(STUDY, "GSNR ranks who adapts", scope, "Somers' D", interval, "D", ">=", thr)


def classifier_accuracy(
    job: pd.DataFrame, scope: str, params: dict, stats: dict, estimate: str | None = None
) -> ClaimResult:
    """A GSNR threshold classifier predicts ``adapts`` with high accuracy (shown, not counted).

    Measure: leave-one-seed-out accuracy of the threshold rule, pooled over shapes: each run is predicted by
    the threshold refitted on the other seeds (:func:`classify.loso_predictions`); the estimate is the share
    of correct predictions over the job's runs, with the exact Clopper-Pearson interval of that count
    (:meth:`~scaledyn.stats.Settings.proportion`). Criterion: accuracy >= ``claims.high_accuracy``.
    Role ``descriptive``: the folds share training seeds (each threshold is fitted on all seeds but one), so
    the predictions are dependent and the binomial interval is no valid basis for a decision; the paper's
    claim about one threshold is decided by :func:`clean_separation` and :func:`ranking`.
    """
    col, thr = _column(params, estimate), params["claims"]["high_accuracy"]
    x, y, seeds = classify.log10_gsnr(job[col]), job["adapts"].to_numpy(), job["seed"].to_numpy()
    correct = classify.loso_predictions(x, y, seeds) == y
    interval = Settings.of(stats).proportion(int(correct.sum()), correct.size)
    note = (
        f"{int(correct.sum())} of {correct.size} runs correct over {np.unique(seeds).size} seeds; "
        "not counted: the leave-one-seed-out folds share training seeds, so the hits are not independent "
        "trials"
    )
    claim = "A GSNR threshold classifier has high accuracy"
    return ClaimResult.checked(
        STUDY, claim, scope, "LOSO accuracy", interval, "accuracy", ">=", thr, note, role="descriptive"
    )


def _is_matrix(params: dict) -> dict[str, bool]:
    return {name: min(dims) > 1 for name, dims in params["shape_dims"].items()}


def _min_gap(medians: dict[str, float], mats: list[str], others: list[str]) -> float:
    return float(min(medians[m] - medians[o] for m in mats for o in others))


def expected_matrix_gap(params: dict, noise: str, shapes, sigmas: np.ndarray) -> float:
    """The matrix gap of :func:`matrix_gsnr_gap` from the closed-form exact GSNR
    (:func:`simulate.exact_gsnr` at ||theta0||^2 = s^2 n, so ||D||^2 = (c - 1)^2 s^2 n): under ``entry`` noise
    it is the same for every shape with the same init scale s, under ``total`` it is proportional to n, under
    ``minibatch`` it depends on d_in only. NaN without a matrix and a non-matrix shape."""
    is_matrix, c = _is_matrix(params), params["target_factor"]
    mats = [s for s in shapes if is_matrix[s]]
    others = [s for s in shapes if not is_matrix[s]]
    if not mats or not others or len(sigmas) == 0:
        return float("nan")
    medians = {}
    for name in (*mats, *others):
        dims = params["shape_dims"][name]
        signal_sq = (c - 1.0) ** 2 * simulate.init_scale(dims, params["init"]) ** 2 * math.prod(dims)
        exact = simulate.exact_gsnr(noise, dims, signal_sq, np.asarray(sigmas), params["minibatch_size"])
        medians[name] = float(np.median(np.log10(exact)))
    return _min_gap(medians, mats, others)


def one_optimizer(job: pd.DataFrame, col: str) -> pd.DataFrame:
    """The rows of the first optimiser (sorted) of a noise model's runs, after checking that every other
    optimiser has the same GSNR at theta0 (it is measured before training, so it cannot depend on it)."""
    opts = sorted(job["optimizer"].unique())
    key = ["shape", "sigma", "seed"]
    first = job[job["optimizer"] == opts[0]]
    ref = first.set_index(key)[col].sort_index()
    for opt in opts[1:]:
        other = job[job["optimizer"] == opt].set_index(key)[col].sort_index()
        same = ref.index.equals(other.index) and np.allclose(ref, other, rtol=1e-6, equal_nan=True)
        if not same:
            raise ValueError(f"GSNR ({col}) at theta0 differs between optimisers {opts[0]} and {opt}")
    return first


def matrix_gsnr_gap(
    job: pd.DataFrame, scope: str, params: dict, stats: dict, estimate: str | None = None
) -> ClaimResult:
    """Matrices keep a higher GSNR than vectors and scalars at moderate noise.

    ``job``: the runs of one noise model, any optimisers (the GSNR at theta0 is the same for each:
    :func:`one_optimizer` keeps one). Measure: over runs with sigma in ``claims.moderate_noise`` = [lo, hi],
    the smallest gap median(log10 GSNR | matrix) - median(log10 GSNR | shape) over the non-matrix shapes (a
    matrix has both dimensions > 1), computed on each seed's runs (medians over its noise levels) and rounded
    to ``claims.gap_resolution``, averaged over seeds, with its seed-level interval.
    Criterion: gap > ``claims.min_log10_gap`` decades. The note gives the closed-form expectation
    (:func:`expected_matrix_gap`).
    """
    claim = "Matrices keep a higher GSNR than vectors and scalars at moderate noise"
    crit = params["claims"]
    col, gap_min, res = _column(params, estimate), crit["min_log10_gap"], crit["gap_resolution"]
    lo_sig, hi_sig = crit["moderate_noise"]
    is_matrix = _is_matrix(params)
    job = one_optimizer(job, col)
    sub = job[(job["sigma"] >= lo_sig) & (job["sigma"] <= hi_sig)]
    shapes = sorted(sub["shape"].unique())
    mats = [s for s in shapes if is_matrix[s]]
    others = [s for s in shapes if not is_matrix[s]]
    if not mats or not others:
        note = "needs a matrix and a non-matrix shape with noise levels in the moderate range"
        settings = Settings.of(stats)  # undefined interval: the verdict is inconclusive
        nan3 = Interval(np.nan, np.nan, np.nan, n=0, method=settings.method, level=settings.level)
        return ClaimResult.checked(STUDY, claim, scope, "min log10 GSNR gap", nan3, "gap", ">", gap_min, note)

    x, shape = classify.log10_gsnr(sub[col]), sub["shape"].to_numpy()
    noise = str(sub["noise_model"].iloc[0])

    def gap(rows: np.ndarray) -> float:
        here = shape[rows]
        if not all((here == s).any() for s in (*mats, *others)):
            return float("nan")  # this seed lacks a shape in the range: it drops out
        value = _min_gap({s: np.median(x[rows][here == s]) for s in (*mats, *others)}, mats, others)
        return float(np.round(value / res) * res) if res > 0 and np.isfinite(value) else value

    interval = Settings.of(stats).per_seed(sub["seed"].to_numpy(), gap)
    expected = expected_matrix_gap(params, noise, shapes, np.unique(sub["sigma"].to_numpy()))
    note = (
        f"sigma in [{lo_sig:g}, {hi_sig:g}], decades; closed form {expected:+.3g} "
        f"(follows from the {noise} noise model by construction)"
    )
    return ClaimResult.checked(STUDY, claim, scope, "min log10 GSNR gap", interval, "gap", ">", gap_min, note)


def clean_separation(
    job: pd.DataFrame, scope: str, params: dict, stats: dict, estimate: str | None = None
) -> ClaimResult:
    """The best threshold cleanly separates the regimes.

    Measure: in-sample error rate of the best threshold rule, pooled over shapes. The one threshold is
    fitted on all runs of the job (the claim is about a single threshold); the estimate is its error over the
    job's runs, with the exact Clopper-Pearson interval of the count of misclassified runs
    (:meth:`~scaledyn.stats.Settings.proportion`): valid at 0 errors, where every per-seed error rate is 0
    and a t interval of them has zero width. The interval treats the runs as independent trials: it holds
    the noise of which runs land on the wrong side, not the threshold's own fitting noise (out of sample,
    that is the leave-one-seed-out row). Criterion: error <= ``claims.clean_max_error``.
    """
    col, thr = _column(params, estimate), params["claims"]["clean_max_error"]

    x, y = classify.log10_gsnr(job[col]), job["adapts"].to_numpy()
    threshold, _ = classify.best_threshold(x, y)
    wrong = (x >= threshold) != y
    interval = Settings.of(stats).proportion(int(wrong.sum()), wrong.size)
    note = f"{int(wrong.sum())} of {wrong.size} runs misclassified over {job['seed'].nunique()} seeds"
    claim = "The best GSNR threshold cleanly separates the regimes"
    return ClaimResult.checked(STUDY, claim, scope, "in-sample error", interval, "error", "<=", thr, note)


CLAIMS = (correlation, ranking, classifier_accuracy, matrix_gsnr_gap, clean_separation)
PER_NOISE = (matrix_gsnr_gap,)  # about GSNR at theta0 only: once per noise model, any optimiser


def practitioner_note(estimate: str, params: dict) -> str:
    k = params["gsnr_draws"]
    floor = f", floor 1/K = {float(gsnr_plugin_floor(k)):.2g}" if estimate == "plugin" else ""
    decided = params["claims"]["estimate"]
    return (
        f"what a practitioner's {estimate} estimate from K={k} draws would conclude{floor}; "
        f"the claim is decided on the {decided} rows"
    )


def practitioner_row(row: ClaimResult, note: str) -> ClaimResult:
    """``row`` as a practitioner row: role ``practitioner`` (it counts for nothing), ``note`` first."""
    return dataclasses.replace(row, note=f"{note}; {row.note}" if row.note else note, role="practitioner")


def check_all(tables: dict[str, pd.DataFrame], params: dict, stats: dict) -> list[ClaimResult]:
    """Every claim on ``claims.estimate`` and then on each of ``claims.practitioner_estimates``, claim by
    claim: per (noise model, optimiser) job of ``tables["runs"]`` (the concatenated runs table,
    ``results/gsnr/runs.csv``), or per noise model for :data:`PER_NOISE`, in sorted order. The rows of the
    practitioner estimates have role ``practitioner`` (:func:`practitioner_row`)."""
    runs = tables["runs"]
    main = params["claims"]["estimate"]
    estimates = [main, *(e for e in params["claims"]["practitioner_estimates"] if e != main)]
    rows = []
    for claim in CLAIMS:
        for est in estimates:
            suffix = (
                ""
                if est == main
                else f", {est}" + (f" at K={params['gsnr_draws']}" if est in FLOORED else "")
            )
            if claim in PER_NOISE:
                groups = [
                    (f"{noise} noise, any optimiser", job) for noise, job in runs.groupby("noise_model")
                ]
            else:
                groups = [(f"{n} noise, {o}", job) for (n, o), job in runs.groupby(JOB_KEYS, sort=True)]
            for scope, job in groups:
                row = claim(job.reset_index(drop=True), scope + suffix, params, stats, estimate=est)
                rows.append(row if est == main else practitioner_row(row, practitioner_note(est, params)))
    return rows


def main(argv: list[str]) -> int:
    """The ``claims`` step (:func:`scaledyn.cli.claims_main`)."""
    return cli.claims_main(argv, study="gsnr", check_all=check_all)
