"""From the per-job run tables to the study's result tables (tidy, one CSV each).

* ``summary``: per (noise model, optimiser, shape, sigma): mean over seeds and seed-level CI of log10 GSNR
  for each estimate, of the scale adaptation, and the fraction of runs that adapt.
* ``classifier``: per (noise model, optimiser, GSNR estimate, scope = each shape and ``pooled``): number of
  runs, best threshold on log10 GSNR, in-sample accuracy, leave-one-seed-out accuracy (mean over held-out
  seeds of the accuracy on that seed, threshold refitted on the others) with its seed-level CI, ROC AUC.

Every CI is :meth:`scaledyn.stats.Settings.per_seed` at the ``stats`` section (``stats.ci_method`` over the
per-seed values; the tables' ``ci_method`` and ``level`` columns say which).
* ``curves``: pooled accuracy vs threshold (Fig 3); ``confusion``: pooled leave-one-seed-out confusion counts.
* ``gsnr_points`` (:func:`gsnr_points`): per run and GSNR estimate, log10 GSNR and scale adaptation (Fig 1).

``summary`` and ``gsnr_points`` carry ``plugin_floor_log10``: log10 of the plug-in estimate's floor 1/K
(:func:`scaledyn.estimators.gsnr_plugin_floor`, K = the runs' ``gsnr_draws``), the line Figures 1 and 2 draw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from scaledyn import config
from scaledyn.estimators import gsnr_plugin_floor
from scaledyn.gsnr import classify
from scaledyn.io import write_csv
from scaledyn.stats import Settings

ESTIMATES = {"plugin": "gsnr_plugin", "bias_corrected": "gsnr_bias_corrected", "exact": "gsnr_exact"}
JOB_KEYS = ["noise_model", "optimizer"]


def _floor_log10(runs: pd.DataFrame) -> np.ndarray:
    """log10 plug-in floor per row, NaN where the runs do not record K."""
    if "gsnr_draws" not in runs:
        return np.full(len(runs), np.nan)
    return np.log10(gsnr_plugin_floor(runs["gsnr_draws"].to_numpy()))


def summary_table(runs: pd.DataFrame, stats: dict) -> pd.DataFrame:
    settings = Settings.of(stats)
    rows = []
    for key, g in runs.groupby([*JOB_KEYS, "shape", "sigma"], sort=True):
        row = dict(zip([*JOB_KEYS, "shape", "sigma"], key, strict=True))
        measures = {f"log10_{k}": classify.log10_gsnr(g[c]) for k, c in ESTIMATES.items()}
        measures["scale_adaptation"] = g["scale_adaptation"].to_numpy()
        for name, v in measures.items():
            finite = np.isfinite(v)
            mean, lo, hi = (
                settings.per_seed(g["seed"].to_numpy()[finite], lambda r, w=v[finite]: float(w[r].mean()))
                if finite.any()
                else (np.nan,) * 3
            )
            row |= {name: mean, f"{name}_low": lo, f"{name}_high": hi}
        row["plugin_floor_log10"] = float(np.nanmax(_floor_log10(g))) if "gsnr_draws" in g else np.nan
        row["adapts_fraction"] = g["adapts"].mean()
        row["n_seeds"] = g["seed"].nunique()
        row["ci_method"], row["level"] = settings.method, settings.level
        rows.append(row)
    return pd.DataFrame(rows)


def _scopes(job: pd.DataFrame):
    yield "pooled", job
    yield from job.groupby("shape", sort=True)


def classifier_tables(runs: pd.DataFrame, stats: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(classifier, curves, confusion) tables."""
    settings = Settings.of(stats)
    table, curves, confusions = [], [], []
    for (noise, opt), job in runs.groupby(JOB_KEYS, sort=True):
        for est, col in ESTIMATES.items():
            for scope, g in _scopes(job):
                x, y, seeds = classify.log10_gsnr(g[col]), g["adapts"].to_numpy(), g["seed"].to_numpy()
                thr, train_acc = classify.best_threshold(x, y)
                pred = classify.loso_predictions(x, y, seeds)
                correct = pred == y
                cv, lo, hi = settings.per_seed(seeds, lambda r, c=correct: float(c[r].mean()))
                base = {"noise_model": noise, "optimizer": opt, "estimate": est, "scope": scope}
                table.append(
                    base
                    | {
                        "n_runs": len(g),
                        "n_adapts": int(y.sum()),
                        "threshold_log10": thr,
                        "train_accuracy": train_acc,
                        "cv_accuracy": cv,
                        "cv_accuracy_low": lo,
                        "cv_accuracy_high": hi,
                        "roc_auc": classify.roc_auc(x, y),
                        "ci_method": settings.method,
                        "level": settings.level,
                    }
                )
                if scope == "pooled":
                    curves.append(classify.accuracy_curve(x, y).assign(**base))
                    confusions.append(base | classify.confusion(y, pred))
    return pd.DataFrame(table), pd.concat(curves, ignore_index=True), pd.DataFrame(confusions)


POINT_COLUMNS = [
    *JOB_KEYS,
    "shape",
    "sigma",
    "seed",
    "estimate",
    "log10_gsnr",
    "scale_adaptation",
    "adapts",
    "plugin_floor_log10",
]


def gsnr_points(runs: pd.DataFrame) -> pd.DataFrame:
    """Fig 1's points: one row per run and GSNR estimate (``ESTIMATES``), its log10 GSNR
    (``classify.log10_gsnr``: -inf where the GSNR is not positive), scale adaptation and whether it adapts."""
    parts = [
        runs[[*JOB_KEYS, "shape", "sigma", "seed", "scale_adaptation", "adapts"]].assign(
            estimate=est, log10_gsnr=classify.log10_gsnr(runs[col]), plugin_floor_log10=_floor_log10(runs)
        )
        for est, col in ESTIMATES.items()
    ]
    return pd.concat(parts, ignore_index=True)[POINT_COLUMNS]


def main(argv: list[str]) -> int:
    """The ``analyse`` step: the simulate step's tables to the study's result tables."""
    parser = argparse.ArgumentParser(prog="python -m scaledyn.gsnr analyse")
    parser.add_argument("--inputs", required=True, nargs="+", type=Path, help="the simulate step's tables")
    parser.add_argument("--stats", default=None, help="the stats section: inline JSON or a JSON/YAML file")
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    stats = config.read(args.stats, "stats")
    runs = pd.concat([pd.read_csv(f) for f in args.inputs], ignore_index=True)
    out = args.out_dir
    write_csv(runs, out / "runs.csv")
    write_csv(summary_table(runs, stats), out / "summary.csv")
    table, curves, confusion = classifier_tables(runs, stats)
    write_csv(table, out / "classifier.csv")
    write_csv(curves, out / "curves.csv")
    write_csv(confusion, out / "confusion.csv")
    write_csv(gsnr_points(runs), out / "gsnr_points.csv")
    return 0
