"""Tables and claims of the per-tensor gradient SNRs of study 002's runs (:mod:`scaledyn.llm.tensor_snr`).

Input: every run's ``tensor_snr.csv`` rows with the run's identity columns attached by the caller (``keys``,
e.g. size, arch, variant, seed: whatever the analysis names a run by; ``seed`` is the replicate), and the
run table (its ``diverged`` column). Every interval is over seeds by the pipeline's
:class:`scaledyn.stats.Settings`. Criteria and choices: ``llm.claims.tensor_snr``.

A run's *class value* at a step is the mean of a metric over the class's tensors (each tensor one vote);
a *group value* (``matrix_classes``, ``vector_classes``) the mean over the tensors of the group's classes.
The *late* phase is the evaluation steps ``> (1 - late_frac) * last step`` of the run.

Tables (``results/llm/<name>.csv``, :data:`TABLES`):

- ``tensor_snr``: per (identity without seed, ``draws``, class in :data:`~scaledyn.llm.tensor_snr.CLASSES`
  order, step, metric; the identity columns first, up to ``draws``) the class value's mean and CI
  over seeds (``mean``, ``low``, ``high``, ``n_seeds``, ``level``, ``ci_method``), for the metrics
  :data:`METRICS`; ``plugin_floor``: where the metric's plug-in form sits at zero signal with K draws (``1/K``
  for GSNR, ``(K-1)/(K(K-3))`` for the squared SNR, ``sqrt(2/pi)/sqrt(K)`` for ``|mean|/std``): the
  bias-corrected ``gsnr`` and ``snr2`` have no floor, the line shows what a plug-in estimate could resolve.
- ``tensor_snr_seeds``: per run (identity with seed; diverged runs left out) the late group values of each
  metric and, for reading only, their per-run gap ``log10(matrix) - log10(vector)`` (NaN where a group value
  is <= 0 or a group is absent; the claims do not use it, see below), and the rank statistic: Spearman's
  correlation over the run's *decayed* tensors between the
  early GSNR (mean bias-corrected GSNR over the first ``early_evals`` evaluations) and the late distance
  from the AdamW weight-decay equilibrium, the mean over late steps of ``|log10(norm / eq_norm)|``
  (``eq_norm``: :mod:`scaledyn.llm.tensor_snr`; undefined for undecayed tensors, so in the baseline arm the
  ranking is over the matrices only); NaN with fewer than 3 such tensors. ``equilibration_steps``:
  ``1 / (2 lr wd)`` at the peak lr (median over the decayed tensors), the time scale on which a norm
  reaches its equilibrium, to read against ``last_step``.

Claims (:func:`claims`), on the reference arm (``llm.claims.reference``) per remaining identity:

- C6 (paper 000 in the LM): matrices keep a higher GSNR than vector parameters: the late bias-corrected
  ``gsnr`` gap ``> min_log10_gap``.
- C7 (paper 001 in the LM): matrix entries have a lower per-parameter SNR than scale vectors: the late
  unbiased ``snr2`` gap ``< -min_log10_gap``.
- C8 (paper 000 in the LM): early GSNR ranks which tensors' norms move away from their weight-decay
  equilibrium: Spearman ``>=`` paper 000's own criterion of a strong rank correlation
  (``gsnr.claims.strong_correlation``), on each arm of ``rank_variants`` that was trained. Positive is paper
  000's direction: a high-GSNR tensor's signal "overcomes" the noise-dominated equilibrium, so it ends
  farther from it than a noise-dominated tensor. Interval: Fisher's z over seeds, or the sign test of the
  per-seed median when a seed's rho is +-1 (:meth:`~scaledyn.stats.Settings.per_seed_correlation`). Gated on
  equilibrium as study 001's settle claim is: a supported verdict becomes inconclusive when the runs are
  shorter (``last_step``) than the equilibration time scale (``equilibration_steps``), since the late
  distance then measures the approach to equilibrium, not a departure from it.

The gap of C6 and C7 (:func:`log_ratio`) is ``log10(mean_s M_s / mean_s V_s)``: the log ratio of the group
values' means over seeds (``M_s``, ``V_s``: seed s's late matrix and vector group values), not the mean of
per-seed logs. The bias-corrected ``gsnr`` and unbiased ``snr2`` are unbiased but noisy and can be <= 0 where
the signal is below the noise of the mean; a per-seed log is undefined there, and dropping those seeds drops
exactly the lowest values of a group (biasing its log up) while the log of the rest is biased by Jensen's
inequality. Averaging over seeds first keeps the estimates unbiased and takes one log, of a mean whose noise
is averaged out: every seed with both groups enters. The ratio, not the difference of the means, because the
claims (and study 000's smallest effect of interest) are in decades: the groups differ by orders of
magnitude, so a difference would be the larger group's mean in units that change with the GSNR's scale. The
interval is the delta method on the log scale with the per-seed linearisation
``(M_s / mean M - V_s / mean V) / ln 10`` (both groups are measured on the same runs, so their covariance
enters), Student t on ``n - 1`` degrees of freedom; equal linearised values (every seed the same ratio) take
the median interval of the per-seed log ratios instead, as any zero-spread row does. Undefined (inconclusive)
when a group's mean over seeds is <= 0. The smallest effect of interest of both rows is study 000's
``gsnr.claims.min_log10_gap`` (log10 2), read from paper 000's schema: the seeds are sized to decide it, so a
gap smaller than it can be shown.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from scaledyn import config, estimators, inference
from scaledyn.llm.tensor_snr import CLASSES
from scaledyn.stats import INCONCLUSIVE, SUPPORTED, ClaimResult, Interval, Settings

TABLES = ("tensor_snr", "tensor_snr_seeds")
METRICS = ("gsnr", "gsnr_plugin", "snr2", "snr")
BAND_COLUMNS = ["mean", "low", "high", "n_seeds", "level", "ci_method", "plugin_floor"]
SEED_COLUMNS = ["last_step", "n_late_steps"]
SEED_COLUMNS += [f"{m}_{part}" for m in METRICS for part in ("matrix", "vector", "gap")]
SEED_COLUMNS += ["rank_corr", "n_ranked", "equilibration_steps"]
LOG_RATIO = "delta t (log ratio of means)"  # the method of the C6 / C7 interval (:func:`log_ratio`)
CLAIMS = {
    6: "Matrices keep a higher GSNR than vector parameters (paper 000, in the LM)",
    7: "Matrix entries have a lower per-parameter SNR than scale vectors (paper 001, in the LM)",
    8: "Early GSNR ranks which tensors' norms leave their weight-decay equilibrium (paper 000, in the LM)",
}


def criteria(params: dict[str, Any]) -> dict[str, Any]:
    """``llm.claims`` of ``params`` completed by the schema (a partial section gets its defaults)."""
    return config.section("llm", {"claims": params["claims"]})["claims"]


def paper_000() -> dict[str, Any]:
    """Paper 000's criteria as its schema states them (``gsnr.claims``): the one source of C6 and C7's
    smallest effect of interest (``min_log10_gap``) and of C8's threshold (``strong_correlation``). The
    cross-paper claims test the paper's own criteria, so a config that moves study 000's does not move
    them."""
    return config.section("gsnr", {})["claims"]


def log_ratio(matrix: np.ndarray, vector: np.ndarray, settings: Settings) -> Interval:
    """``log10(mean matrix / mean vector)`` over seeds (paired values, one per seed; seeds without both are
    left out) with its delta-method t interval on the log scale (module docstring, method :data:`LOG_RATIO`).
    NaN (no test) with fewer than 2 seeds or a mean <= 0."""
    m, v = np.asarray(matrix, dtype=float), np.asarray(vector, dtype=float)
    both = np.isfinite(m) & np.isfinite(v)
    m, v = m[both], v[both]
    n, nan = m.size, float("nan")
    if n < 2 or m.mean() <= 0 or v.mean() <= 0:
        return Interval(nan, nan, nan, n=n, method=LOG_RATIO, level=settings.level)
    est = float(np.log10(m.mean() / v.mean()))
    linear = (m / m.mean() - v / v.mean()) / np.log(10.0)
    se = float(linear.std(ddof=1) / np.sqrt(n))
    if not se > 0:  # every seed the same ratio (then > 0): zero spread is not zero error
        return settings.median(np.log10(m / v))
    half = inference.critical(1.0 - settings.level, n - 1) * se
    test = inference.ThresholdTest("t", center=est, se=se, df=n - 1)
    return Interval(est, est - half, est + half, n=n, method=LOG_RATIO, level=settings.level, test=test)


def _exactly_one(rho: float) -> float:
    """A correlation within rounding of +-1 as exactly +-1 (its Fisher z would stand for a finite value)."""
    return float(np.sign(rho)) if np.isfinite(rho) and abs(abs(rho) - 1.0) < 1e-12 else rho


def plugin_floor(metric: str, k: int) -> float:
    """Expected plug-in estimate of ``metric`` at zero signal with ``k`` Gaussian draws."""
    if metric in ("gsnr", "gsnr_plugin"):
        return float(estimators.gsnr_plugin_floor(k))
    if metric == "snr2":
        return estimators.snr2_plugin_floor(k)
    return estimators.snr_floor(k)


def class_values(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per run, ``draws``, step and class: the mean of each metric over the class's tensors."""
    by = [*keys, "draws", "step", "class"]
    return rows.groupby(by, as_index=False, sort=True).agg(
        **{m: (m, "mean") for m in METRICS}, n_tensors=("tensor", "size")
    )


def bands(rows: pd.DataFrame, keys: list[str], settings: Settings) -> pd.DataFrame:
    """The ``tensor_snr`` table: class values' mean and CI over seeds (see the module docstring)."""
    arm = [k for k in keys if k != "seed"]
    by = [*arm, "draws", "class", "step", "metric"]
    long = class_values(rows, keys).melt(
        id_vars=[*keys, "draws", "step", "class"], value_vars=list(METRICS), var_name="metric"
    )
    out = []
    for key, g in long.groupby(by, sort=True):
        band = settings.mean(g["value"].to_numpy())
        row = dict(zip(by, key, strict=True))
        values = (*band, band.n, band.level, band.method, plugin_floor(row["metric"], int(row["draws"])))
        out.append(row | dict(zip(BAND_COLUMNS, values, strict=True)))
    order = {c: i for i, c in enumerate(CLASSES)}  # classes in their documented order, not alphabetical
    frame = pd.DataFrame(out, columns=[*by, *BAND_COLUMNS])
    return frame.sort_values(by, key=lambda c: c.map(order) if c.name == "class" else c, ignore_index=True)


def _log10(x: float) -> float:
    return float(np.log10(x)) if np.isfinite(x) and x > 0 else float("nan")


def _rank(run: pd.DataFrame, early_evals: int, late: pd.Series) -> tuple[float, int]:
    """Spearman's rho between early GSNR and the late distance from equilibrium over the decayed tensors."""
    steps = sorted(run["step"].unique())[:early_evals]
    decayed = run[run["decayed"].astype(str).str.lower().isin(["true", "1", "1.0"])]
    early = decayed[decayed["step"].isin(steps)].groupby("tensor")["gsnr"].mean()
    settled = decayed[late.reindex(decayed.index).to_numpy()]
    dist = np.abs(np.log10(settled["norm"] / settled["eq_norm"])).groupby(settled["tensor"]).mean()
    both = pd.concat([early, dist], axis=1, join="inner").dropna()
    both = both[np.isfinite(both).all(axis=1)]
    if len(both) < 3:
        return float("nan"), len(both)
    return _exactly_one(float(scipy.stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)), len(both)


def seed_table(
    rows: pd.DataFrame, runs: pd.DataFrame, keys: list[str], params: dict[str, Any]
) -> pd.DataFrame:
    """The ``tensor_snr_seeds`` table: per run late group values, gaps and the rank statistic."""
    cfg = criteria(params)["tensor_snr"]
    diverged = runs["diverged"].astype(str).str.lower().isin(["true", "1", "1.0"])
    bad = set(map(tuple, runs.loc[diverged, keys].astype(str).to_numpy()))
    out = []
    for key, run in rows.groupby(keys, sort=True):
        if tuple(map(str, key)) in bad:
            continue
        last = int(run["step"].max())
        late = run["step"] > (1.0 - float(cfg["late_frac"])) * last
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row |= {"last_step": last, "n_late_steps": int(run.loc[late, "step"].nunique())}
        for m in METRICS:
            for part in ("matrix", "vector"):
                mine = run[late & run["class"].isin(cfg[f"{part}_classes"])]
                row[f"{m}_{part}"] = (
                    float(mine.groupby("step")[m].mean().mean()) if len(mine) else float("nan")
                )
            row[f"{m}_gap"] = _log10(row[f"{m}_matrix"]) - _log10(row[f"{m}_vector"])
        row["rank_corr"], row["n_ranked"] = _rank(run, int(cfg["early_evals"]), late)
        decayed = run[run["weight_decay"].astype(float) > 0]
        peak = decayed.groupby("tensor").agg(lr=("lr", "max"), wd=("weight_decay", "first"))
        row["equilibration_steps"] = (
            float((1.0 / (2.0 * peak["lr"] * peak["wd"])).median()) if len(peak) else np.nan
        )
        out.append(row)
    return pd.DataFrame(out, columns=[*keys, *SEED_COLUMNS])


def tables(
    rows: pd.DataFrame, runs: pd.DataFrame, keys: list[str], params: dict[str, Any], stats: Settings | dict
) -> dict[str, pd.DataFrame]:
    """Both tables (:data:`TABLES`) from the runs' ``tensor_snr.csv`` rows with their ``keys`` columns."""
    return {
        "tensor_snr": bands(rows, keys, Settings.of(stats)),
        "tensor_snr_seeds": seed_table(rows, runs, keys, params),
    }


def _seed_note(n_in: int, n_all: int, why: str) -> str:
    return f"{n_in} seeds" + (f" ({n_all - n_in} of {n_all} dropped: {why})" if n_in < n_all else "")


def claims(
    study: str, tables: dict[str, pd.DataFrame], params: dict[str, Any], stats: Settings | dict | None
) -> list[ClaimResult]:
    """Rows of C6-C8 (module docstring) from the ``tensor_snr_seeds`` table (in memory or read back)."""
    settings, seeds = Settings.of(stats), tables["tensor_snr_seeds"]
    crit, p000 = criteria(params), paper_000()
    cfg, ref = crit["tensor_snr"], crit["reference"]
    arm = [c for c in seeds.columns if c not in (*SEED_COLUMNS, "seed", "variant")]
    m, effect, out = float(cfg["min_log10_gap"]), float(p000["min_log10_gap"]), []
    gaps = [
        (6, "gsnr", "GSNR (bias-corrected)", ">", m),
        (7, "snr2", "per-parameter SNR^2 (unbiased)", "<", -m if m else 0.0),
    ]
    for key, g in seeds[seeds["variant"] == ref].groupby(arm, sort=True) if len(seeds) else []:
        scope = ", ".join(map(str, (*np.atleast_1d(key), ref)))
        for claim, metric, what, direction, threshold in gaps:
            matrix, vector = (g[f"{metric}_{part}"].to_numpy(dtype=float) for part in ("matrix", "vector"))
            est = log_ratio(matrix, vector, settings)
            both = np.isfinite(matrix) & np.isfinite(vector)
            low = int((both & ((matrix <= 0) | (vector <= 0))).sum())
            note = f"classes {'+'.join(cfg['matrix_classes'])} vs {'+'.join(cfg['vector_classes'])}"
            note += f"; late = last {cfg['late_frac']:g} of the steps; "
            note += f"{_seed_note(int(both.sum()), len(g), 'a group absent')}, {est.method} CI"
            if low:
                note += f"; {low} seed(s) with a group value <= 0 kept (a ratio of means over seeds)"
            if not np.isfinite(est[0]) and both.sum() >= 2:
                note += "; no ratio: a group's mean over seeds is <= 0"
            measure = f"late log10 {what}, matrices / vectors (ratio of means over seeds)"
            claim_text = f"C{claim}: {CLAIMS[claim]}"
            out.append(
                ClaimResult.checked(
                    study, claim_text, scope, measure, est, "gap", direction, threshold, note, effect=effect
                )
            )
    threshold = float(p000["strong_correlation"])
    for key, g in seeds[seeds["variant"].isin(cfg["rank_variants"])].groupby([*arm, "variant"], sort=True):
        rho = g["rank_corr"].to_numpy(dtype=float)
        est = settings.per_seed_correlation(np.arange(rho.size), lambda r, rho=rho: float(rho[r[0]]))
        equilibrate, trained = float(g["equilibration_steps"].median()), int(g["last_step"].min())
        note = f"Spearman over {int(g['n_ranked'].median())} decayed tensors; early = first "
        note += f"{cfg['early_evals']} evaluation(s); equilibration ~{equilibrate:.0f} steps "
        note += f"vs {trained} trained; {_seed_note(est.n, rho.size, 'fewer than 3 ranked tensors')}, "
        note += f"{est.method} CI; criterion gsnr.claims.strong_correlation (paper 000)"
        measure = "Spearman(early GSNR, late |log10 norm / equilibrium norm|)"
        scope = ", ".join(map(str, key))
        row = ClaimResult.checked(
            study, f"C8: {CLAIMS[8]}", scope, measure, est, "rho", ">=", threshold, note
        )
        if row.verdict == SUPPORTED and not trained >= equilibrate:
            row.verdict = INCONCLUSIVE
            row.note += (
                f" (the runs stop at {trained} steps, before the equilibration time scale ~{equilibrate:.0f}:"
                " the late distance is the approach to equilibrium, so not supported on it)"
            )
        out.append(row)
    return out
