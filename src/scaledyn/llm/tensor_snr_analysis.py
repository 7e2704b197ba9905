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
  metric and their gap ``log10(matrix) - log10(vector)`` (NaN where a group value is <= 0 or a group is
  absent), and the rank statistic: Spearman's correlation over the run's *decayed* tensors between the
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
  equilibrium: Spearman ``> min_rank_correlation``, on each arm of ``rank_variants`` that was trained.
  Positive is paper 000's direction: a high-GSNR tensor's signal "overcomes" the noise-dominated
  equilibrium, so it ends farther from it than a noise-dominated tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from scaledyn import config, estimators
from scaledyn.llm.tensor_snr import CLASSES
from scaledyn.stats import ClaimResult, Settings

TABLES = ("tensor_snr", "tensor_snr_seeds")
METRICS = ("gsnr", "gsnr_plugin", "snr2", "snr")
BAND_COLUMNS = ["mean", "low", "high", "n_seeds", "level", "ci_method", "plugin_floor"]
SEED_COLUMNS = ["last_step", "n_late_steps"]
SEED_COLUMNS += [f"{m}_{part}" for m in METRICS for part in ("matrix", "vector", "gap")]
SEED_COLUMNS += ["rank_corr", "n_ranked", "equilibration_steps"]
CLAIMS = {
    6: "Matrices keep a higher GSNR than vector parameters (paper 000, in the LM)",
    7: "Matrix entries have a lower per-parameter SNR than scale vectors (paper 001, in the LM)",
    8: "Early GSNR ranks which tensors' norms leave their weight-decay equilibrium (paper 000, in the LM)",
}


def criteria(params: dict[str, Any]) -> dict[str, Any]:
    """``llm.claims`` of ``params`` completed by the schema (a partial section gets its defaults)."""
    return config.section("llm", {"claims": params["claims"]})["claims"]


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
    return float(scipy.stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic), len(both)


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


def claims(
    study: str, tables: dict[str, pd.DataFrame], params: dict[str, Any], stats: Settings | dict | None
) -> list[ClaimResult]:
    """Rows of C6-C8 (module docstring) from the ``tensor_snr_seeds`` table (in memory or read back)."""
    settings, seeds = Settings.of(stats), tables["tensor_snr_seeds"]
    crit = criteria(params)
    cfg, ref = crit["tensor_snr"], crit["reference"]
    arm = [c for c in seeds.columns if c not in (*SEED_COLUMNS, "seed", "variant")]
    m, out = float(cfg["min_log10_gap"]), []
    gaps = [
        (6, "gsnr", "GSNR (bias-corrected)", ">", m),
        (7, "snr2", "per-parameter SNR^2 (unbiased)", "<", -m if m else 0.0),
    ]
    for key, g in seeds[seeds["variant"] == ref].groupby(arm, sort=True) if len(seeds) else []:
        scope = ", ".join(map(str, (*np.atleast_1d(key), ref)))
        for claim, metric, what, direction, threshold in gaps:
            est = settings.mean(g[f"{metric}_gap"].to_numpy())
            note = f"classes {'+'.join(cfg['matrix_classes'])} vs {'+'.join(cfg['vector_classes'])}"
            note += f"; late = last {cfg['late_frac']:g} of the steps; {est.n} seeds, {est.method} CI"
            measure = f"late log10 {what}, matrices - vectors"
            claim_text = f"C{claim}: {CLAIMS[claim]}"
            out.append(
                ClaimResult.checked(study, claim_text, scope, measure, est, "gap", direction, threshold, note)
            )
    for key, g in seeds[seeds["variant"].isin(cfg["rank_variants"])].groupby([*arm, "variant"], sort=True):
        est = settings.mean(g["rank_corr"].to_numpy())
        note = f"Spearman over {int(g['n_ranked'].median())} decayed tensors; early = first "
        note += f"{cfg['early_evals']} evaluation(s); "
        note += f"equilibration ~{g['equilibration_steps'].median():.0f} steps "
        note += f"vs {int(g['last_step'].max())} trained; {est.n} seeds, {est.method} CI"
        measure = "Spearman(early GSNR, late |log10 norm / equilibrium norm|)"
        threshold = float(cfg["min_rank_correlation"])
        scope = ", ".join(map(str, key))
        out.append(
            ClaimResult.checked(study, f"C8: {CLAIMS[8]}", scope, measure, est, "rho", ">", threshold, note)
        )
    return out
