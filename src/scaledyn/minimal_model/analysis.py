"""Derived results of study ``minimal_model`` from the tidy trajectories of ``simulate``.

Definitions (T = steps of the sweep, checkpoints t_0 = 0 < t_1 < ... < t_M = T):

* phase mean: per (sweep, value, seed, phase) the mean of a metric over the phase's checkpoints; the SNR
  ratio is the mean of the per-checkpoint ratio snr_gamma / snr_w of the same run (ratio taken per seed);
* equilibrium value: the late-phase mean; reference RMS(W) = sqrt(eta / (2 lambda_W)) (noise-WD balance of a
  random walk with per-step variance eta^2 and decay factor 1 - eta lambda);
* settle step of a norm n_t with final value n* (late-phase mean): the first checkpoint t_i such that
  |n_t - n*| <= tol n* for every checkpoint t >= t_i; NaN if even the last checkpoint is outside the band;
  settle fraction = settle step / T; settle time: the same crossing located between checkpoints, where the
  excess |n_t - n*| - tol n* changes sign from the last checkpoint outside the band to the next one, by linear
  interpolation in log t (in t on the first segment, which starts at t = 0): a continuous value, so seeds
  that settle between the same two checkpoints still differ (:func:`settle_time`); settle timescales =
  settle time x eta lambda_W, the settle time in units of the AdamW decay timescale 1 / (eta lambda_W) (NaN
  for lambda_W = 0);
* monotonicity index of n over the log-grid checkpoints: |sum_i (n_{i+1} - n_i)| / sum_i |n_{i+1} - n_i|
  in [0, 1]; 1 for a monotone trajectory, near 0 for a trajectory that ends where it started; NaN if n is
  constant (``monotonicity_*_after_early``: the same over the log-grid checkpoints after the early phase);
* late growth exponent: OLS slope of log n_t on log t over the late-phase checkpoints (0 at equilibrium,
  1/2 for an unconstrained random walk of ||W||);
* scaling slope: OLS slope of log(metric) on log(x) over one seed's phase means at every sweep value, x =
  the sweep value (B, d, or lambda > 0); the table's slope is the mean over seeds of the per-seed slopes
  (with every seed at every value, the pooled OLS slope), its CI the seed-level interval of the per-seed
  slopes (:func:`seed_slope`). A seed index at different sweep values has independent draws, but runs of
  different seed indices are independent too, so the per-seed slopes are independent.

Every interval is over seeds at the pipeline's ``stats`` settings (:class:`scaledyn.stats.Settings`; the
functions take the ``stats`` section, partial or None for the defaults, or a ``Settings``), by
``stats.ci_method`` (Student t by default): a mean over seeds (one value per seed) has the interval of
:func:`seed_mean`, for the tables and for the figures' bands alike; a statistic of several rows per seed
(a slope, a difference of slopes) is computed per seed and has the interval of those values
(:func:`seed_ci`). The tables carry ``level`` and ``ci_method``.

Tables (``python -m scaledyn.minimal_model analyse`` writes each as ``NAME.csv``, see :data:`BUILDERS`, one
per name of ``scaledyn.minimal_model.TABLES``): ``phase_means``, ``runs``,
``equilibrium``, ``slopes``, and for the figures, which only draw:

* ``dynamics_bands`` (:func:`dynamics_bands`): per checkpoint step of the ``dynamics`` sweep and metric, the
  seed mean and CI (Fig 1);
* ``sweep_bands`` (:func:`sweep_bands`): per (sweep, value, phase, metric) the seed mean and CI of the phase
  means and of the late growth exponents, the paper's exponent and the point a log-log line is drawn through
  (Figs 2-4);
* ``figure_guides`` (:func:`figure_guides`): the config values drawn as guide lines (estimator floor, claim
  thresholds).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from scaledyn import config
from scaledyn.estimators import snr_floor
from scaledyn.io import write_csv
from scaledyn.minimal_model import TABLES
from scaledyn.minimal_model.simulate import METRICS
from scaledyn.stats import Interval, Settings

Stats = Settings | dict | None

KEYS = ["sweep", "value", "seed"]
RUN_INFO = ["d", "batch_size", "weight_decay_w", "weight_decay_gamma", "lr", "steps"]
PHASES = ("init", "early", "late")
SNR_METRICS = (
    "snr_w",
    "snr_gamma",
    "snr_ratio",
    "snr2_w",
    "snr2_gamma",
    "snr_exact_w",
    "snr_exact_gamma",
    "snr_exact_ratio",
    "snr2_exact_w",
    "snr2_exact_gamma",
)
NORM_METRICS = ("w_norm", "w_rms", "gamma_norm", "gamma_rms", "loss")


def ols_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope sum (x - xbar)(y - ybar) / sum (x - xbar)^2 (NaN if x is constant or any value
    is not finite)."""
    xc = x - x.mean()
    sxx = float((xc * xc).sum())
    if sxx <= 0 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return float("nan")
    return float((xc * (y - y.mean())).sum() / sxx)


def safe_log(values: np.ndarray) -> np.ndarray:
    """Natural log, NaN where the value is not positive."""
    values = np.asarray(values, dtype=float)
    return np.log(np.where(values > 0, values, np.nan))


def seed_mean(values: np.ndarray, stats: Stats = None) -> Interval:
    """(mean, low, high) of one value per seed (NaNs dropped) by ``stats.ci_method`` at ``stats``
    (:meth:`scaledyn.stats.Settings.mean`)."""
    return Settings.of(stats).mean(values)


def seed_ci(seeds: np.ndarray, statistic: Callable[[np.ndarray], float], stats: Stats = None) -> Interval:
    """(estimate, low, high): ``statistic(rows)`` on each seed's rows (an array of row indices), then the
    seed-level interval of the per-seed values by ``stats.ci_method``; the estimate is their mean (the
    per-seed statistic averaged over seeds; :meth:`scaledyn.stats.Settings.per_seed`)."""
    return Settings.of(stats).per_seed(np.asarray(seeds), statistic)


def cluster_ci(seeds: np.ndarray, statistic: Callable[[np.ndarray], float], stats: Stats = None) -> Interval:
    """(estimate, low, high): seed-cluster percentile bootstrap at ``stats``
    (:meth:`scaledyn.stats.Settings.bootstrap`), only for a statistic that cannot be computed on one seed's
    rows (no claim or table of this study needs it now: use :func:`seed_ci`); ``statistic`` receives an
    array of row indices (all rows, then each resample's rows)."""
    return Settings.of(stats).bootstrap(np.asarray(seeds), statistic)


def phase_means(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (sweep, value, seed, phase): run info and the phase mean of every metric."""
    agg = {c: "first" for c in RUN_INFO} | {m: "mean" for m in METRICS}
    return df.groupby([*KEYS, "phase"], sort=True).agg(agg).reset_index()


def monotonicity_index(values: np.ndarray) -> float:
    """|sum of increments| / sum of |increments| of a sequence, in [0, 1] (NaN if constant)."""
    inc = np.diff(np.asarray(values, dtype=float))
    total = np.abs(inc).sum()
    return float(abs(inc.sum()) / total) if total > 0 else float("nan")


def settle_step(steps: np.ndarray, values: np.ndarray, final: float, tol: float) -> float:
    """First checkpoint after which |value - final| <= tol |final| holds to the end (NaN if never)."""
    inside = np.abs(np.asarray(values, dtype=float) - final) <= tol * abs(final)
    if not inside[-1]:
        return float("nan")
    outside = np.flatnonzero(~inside)
    first = 0 if outside.size == 0 else outside[-1] + 1
    return float(np.asarray(steps)[first])


def settle_time(steps: np.ndarray, values: np.ndarray, final: float, tol: float) -> float:
    """Interpolated settle time: where the excess e_t = |value - final| - tol |final| crosses 0 between the
    last checkpoint outside the band (e > 0) and the next (e <= 0), linear in log t (linear in t when the
    segment starts at t = 0); the first checkpoint if none is outside, NaN if the last one is outside."""
    steps = np.asarray(steps, dtype=float)
    excess = np.abs(np.asarray(values, dtype=float) - final) - tol * abs(final)
    if excess[-1] > 0:
        return float("nan")
    outside = np.flatnonzero(excess > 0)
    if outside.size == 0:
        return float(steps[0])
    i = outside[-1]
    (t_a, t_b), (e_a, e_b) = steps[i : i + 2], excess[i : i + 2]
    frac = e_a / (e_a - e_b)
    if t_a <= 0:
        return float(t_a + frac * (t_b - t_a))
    return float(math.exp(math.log(t_a) + frac * (math.log(t_b) - math.log(t_a))))


def growth_exponent(steps: np.ndarray, values: np.ndarray) -> float:
    """OLS slope of log(value) on log(step) (steps > 0 only; NaN with fewer than 2 points)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    keep = (steps > 0) & (values > 0)
    if keep.sum() < 2:
        return float("nan")
    return ols_slope(np.log(steps[keep]), np.log(values[keep]))


def run_summary(df: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Per (sweep, value, seed): settle steps / fractions (checkpoint grid), interpolated settle times and
    their value in AdamW timescales (t eta lambda of the parameter), monotonicity indices and late growth
    exponents of ||W||_F and ||gamma||, their initial and final (late-mean) values."""
    tol = float(params["analysis"]["settle_tolerance"])
    rows = []
    for (sweep, value, seed), run in df.groupby(KEYS, sort=True):
        run = run.sort_values("step")
        steps = run["step"].to_numpy()
        late = run["phase"].to_numpy() == "late"
        log_grid = run["on_log_grid"].to_numpy(dtype=bool)
        after_early = log_grid & np.isin(run["phase"].to_numpy(), ["mid", "late"])
        total = float(run["steps"].iloc[0])
        row = {"sweep": sweep, "value": value, "seed": seed, **run[RUN_INFO].iloc[0].to_dict()}
        for name, col in (("w", "w_norm"), ("gamma", "gamma_norm")):
            vals = run[col].to_numpy()
            final = float(vals[late].mean())
            t_settle = settle_step(steps, vals, final, tol)
            t_interp = settle_time(steps, vals, final, tol)
            rate = float(run["lr"].iloc[0]) * float(run[f"weight_decay_{name}"].iloc[0])
            row |= {
                f"initial_{name}": float(vals[0]),
                f"final_{name}": final,
                f"settle_step_{name}": t_settle,
                f"settle_fraction_{name}": t_settle / total,
                f"settle_time_{name}": t_interp,
                f"settle_timescales_{name}": t_interp * rate if rate > 0 else float("nan"),
                f"monotonicity_{name}": monotonicity_index(vals[log_grid]),
                f"monotonicity_{name}_after_early": monotonicity_index(vals[after_early]),
                f"late_growth_{name}": growth_exponent(steps[late], vals[late]),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def equilibrium(df: pd.DataFrame, params: dict, stats: Stats = None) -> pd.DataFrame:
    """Late-phase means per (sweep, value) and metric: mean over seeds with its interval over seeds
    (:func:`seed_mean`) at confidence ``level`` by ``ci_method``.

    ``reference``: the noise-WD balance, sqrt(eta / (2 lambda_W)) for ``w_rms`` and d times it for ``w_norm``
    (NaN for lambda_W = 0 and other metrics).
    """
    stats = Settings.of(stats)
    late = phase_means(df).query("phase == 'late'")
    rows = []
    for (sweep, value), grp in late.groupby(["sweep", "value"], sort=True):
        lam_w, lr = float(grp["weight_decay_w"].iloc[0]), float(grp["lr"].iloc[0])
        for metric in (*NORM_METRICS, "product_err", *SNR_METRICS):
            mean, low, high = seed_mean(grp[metric].to_numpy(), stats)
            ref = (
                math.sqrt(lr / (2.0 * lam_w)) if metric in ("w_rms", "w_norm") and lam_w > 0 else float("nan")
            )
            ref *= int(grp["d"].iloc[0]) if metric == "w_norm" else 1
            rows.append(
                {
                    "sweep": sweep,
                    "value": value,
                    "d": int(grp["d"].iloc[0]),
                    "batch_size": int(grp["batch_size"].iloc[0]),
                    "weight_decay_w": lam_w,
                    "metric": metric,
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "n_seeds": len(grp),
                    "reference": ref,
                    "level": stats.level,
                    "ci_method": stats.method,
                }
            )
    return pd.DataFrame(rows)


def loglog_slope(frame: pd.DataFrame, x: str, y: str) -> float:
    """OLS slope of log(frame[y]) on log(frame[x]) (NaN if x is constant or some value is not positive)."""
    return ols_slope(safe_log(frame[x]), safe_log(frame[y]))


def seed_slope(frame: pd.DataFrame, x: str, y: str, stats: Stats = None) -> Interval:
    """(slope, low, high): ``loglog_slope`` of each seed's rows, mean over seeds and the seed-level interval
    of the per-seed slopes (:func:`seed_ci`; a seed whose slope is undefined drops out)."""
    lx, ly = safe_log(frame[x]), safe_log(frame[y])
    return seed_ci(frame["seed"].to_numpy(), lambda rows: ols_slope(lx[rows], ly[rows]), stats)


def paper_exponent(sweep: str, metric: str, params: dict) -> float:
    """The exponent paper 001 predicts for metric ~ x^p (eq. 3; noise-WD RMS(W) ~ lambda^-1/2); the exact
    SNRs (``snr_exact_*``, ``snr2_exact_*``) have the exponents of their K-draw estimates."""
    metric = metric.replace("_exact", "")
    ex = params["analysis"]["paper_exponents"]
    squared = 2.0 if metric.startswith("snr2") else 1.0
    if sweep == "batch":
        return 0.0 if metric == "snr_ratio" else squared * ex["batch"]
    if sweep == "dimension":
        table = {
            "snr_w": ex["dimension_w"],
            "snr_gamma": ex["dimension_gamma"],
            "snr_ratio": ex["dimension_gamma"] - ex["dimension_w"],
            "snr2_w": 2.0 * ex["dimension_w"],
            "snr2_gamma": 2.0 * ex["dimension_gamma"],
        }
        return table[metric]
    if sweep == "weight_decay" and metric in ("w_norm", "w_rms"):
        return -0.5
    return float("nan")


SLOPE_SPECS = {
    "batch": ("B", SNR_METRICS, PHASES),
    "dimension": ("d", SNR_METRICS, PHASES),
    "weight_decay": ("lambda", ("w_norm", "gamma_norm", "loss"), ("early", "late")),
}


def scaling_slopes(df: pd.DataFrame, params: dict, stats: Stats = None) -> pd.DataFrame:
    """Log-log slopes of phase means against the sweep value: mean over seeds of the per-seed slope, its
    seed-level CI (:func:`seed_slope`; confidence ``level``, ``ci_method``, ``n_seeds`` slopes) and the
    paper's exponent.

    batch: x = B; dimension: x = d (SNRs, ratio, squared SNRs; init, early and late phases);
    weight_decay: x = lambda over lambda > 0 (norms and loss; early and late phases).
    """
    stats = Settings.of(stats)
    pm = phase_means(df)
    rows = []
    for sweep, (x, metrics, phases) in SLOPE_SPECS.items():
        sub = pm[(pm["sweep"] == sweep) & (pm["value"] > 0)]
        if sub.empty:
            continue
        for phase in phases:
            frame = sub[sub["phase"] == phase]
            for metric in metrics:
                fit = seed_slope(frame, "value", metric, stats)
                slope, low, high = fit
                expected = paper_exponent(sweep, metric, params)
                rows.append(
                    {
                        "sweep": sweep,
                        "x": x,
                        "phase": phase,
                        "metric": metric,
                        "slope": slope,
                        "ci_low": low,
                        "ci_high": high,
                        "paper_exponent": expected,
                        "ci_contains_paper": bool(low <= expected <= high) if np.isfinite(expected) else None,
                        "n_points": len(frame),
                        "n_seeds": fit.n,
                        "level": stats.level,
                        "ci_method": stats.method,
                    }
                )
    return pd.DataFrame(rows)


# -- tables the figures draw ---------------------------------------------------------------------------------

EXACT_BAND_METRICS = ("snr_exact_w", "snr_exact_gamma", "snr_exact_ratio")
BAND_METRICS = ("w_norm", "gamma_norm", "loss", "snr_w", "snr_gamma", "snr_ratio", *EXACT_BAND_METRICS)
DYNAMICS_METRICS = ("w_norm", "gamma_norm", "snr_w", "snr_gamma", "snr_ratio", *EXACT_BAND_METRICS)
GROWTH_METRICS = ("late_growth_w", "late_growth_gamma")
BAND_COLUMNS = ["mean", "low", "high", "n_seeds", "level", "ci_method"]


def _band_row(values: np.ndarray, stats: Settings) -> dict:
    mean, low, high = band = seed_mean(values, stats)
    return dict(zip(BAND_COLUMNS, (mean, low, high, band.n, stats.level, band.method), strict=True))


def dynamics_bands(df: pd.DataFrame, stats: Stats = None) -> pd.DataFrame:
    """Fig 1: per checkpoint ``step`` of the ``dynamics`` sweep and metric (norms, SNRs, SNR ratio), the mean
    over seeds and its CI over seeds (:func:`seed_mean`, the interval of
    ``equilibrium.csv``), with the checkpoint's ``phase`` and the run's d, B, eta and lambda_W."""
    stats = Settings.of(stats)
    dyn = df[df["sweep"] == "dynamics"]
    info = ["d", "batch_size", "lr", "weight_decay_w"]
    rows = []
    for step, grp in dyn.groupby("step", sort=True):
        first = grp.iloc[0]
        base = {"step": step, "phase": first["phase"], **{c: first[c] for c in info}}
        for metric in DYNAMICS_METRICS:
            rows.append(base | {"metric": metric} | _band_row(grp[metric].to_numpy(), stats))
    return pd.DataFrame(rows, columns=["step", "phase", *info, "metric", *BAND_COLUMNS])


def sweep_bands(df: pd.DataFrame, params: dict, stats: Stats = None) -> pd.DataFrame:
    """Figs 2-4: per (sweep, value, phase, metric) of the batch, dimension and weight-decay sweeps, the mean
    over seeds and CI over seeds (:func:`seed_mean`) of the phase means (init, early,
    late; the late rows equal ``equilibrium.csv``) and of the late growth exponents of ``runs.csv`` (phase
    ``late``). Per (sweep, phase, metric): ``paper_exponent`` (:func:`paper_exponent` of the SNR metrics, the
    predicted slopes the figures draw; NaN otherwise) and ``anchor_log_x``,
    ``anchor_log_y``, the mean log sweep value and mean log metric over the per-seed phase means at values
    > 0 (the point an OLS log-log line passes through; NaN for the growth exponents)."""
    stats = Settings.of(stats)
    sweeps = [s for s in SLOPE_SPECS if (df["sweep"] == s).any()]
    sub = df[df["sweep"].isin(sweeps)]
    pm = phase_means(sub)
    pm = pm[pm["phase"].isin(PHASES)]
    rows = []
    for (sweep, phase), frame in pm.groupby(["sweep", "phase"], sort=True):
        positive = frame[frame["value"] > 0]
        lx = safe_log(positive["value"])
        for metric in BAND_METRICS:
            ly = safe_log(positive[metric])
            keep = np.isfinite(lx) & np.isfinite(ly)
            anchor = (float(lx[keep].mean()), float(ly[keep].mean())) if keep.any() else (float("nan"),) * 2
            head = {"sweep": sweep, "phase": phase, "metric": metric}
            tail = {
                "paper_exponent": paper_exponent(sweep, metric, params)
                if metric in SNR_METRICS
                else float("nan"),
                "anchor_log_x": anchor[0],
                "anchor_log_y": anchor[1],
            }
            for value, grp in frame.groupby("value", sort=True):
                rows.append(head | {"value": value} | _band_row(grp[metric].to_numpy(), stats) | tail)
    rs = run_summary(sub, params) if len(sub) else pd.DataFrame(columns=KEYS)
    for (sweep, value), grp in rs.groupby(["sweep", "value"], sort=True):
        for metric in GROWTH_METRICS:
            head = {"sweep": sweep, "phase": "late", "metric": metric, "value": value}
            tail = {
                "paper_exponent": float("nan"),
                "anchor_log_x": float("nan"),
                "anchor_log_y": float("nan"),
            }
            rows.append(head | _band_row(grp[metric].to_numpy(), stats) | tail)
    columns = [
        "sweep",
        "phase",
        "metric",
        "value",
        *BAND_COLUMNS,
        "paper_exponent",
        "anchor_log_x",
        "anchor_log_y",
    ]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["sweep", "metric", "phase", "value"], kind="stable", ignore_index=True)


def figure_guides(params: dict) -> pd.DataFrame:
    """The config values the figures draw as guide lines, one row each (``name``, ``value``): the SNR draw
    count K and the estimator floor sqrt(2/pi)/sqrt(K) (``scaledyn.estimators.snr_floor``), the SNR-ratio
    claim's ``min_ratio`` and the batch claim's signal-dominated SNR."""
    k = int(params["measure"]["snr_draws"])
    rows = [
        ("snr_draws", k, "minimal_model.measure.snr_draws"),
        ("snr_floor", snr_floor(k), "scaledyn.estimators.snr_floor(snr_draws)"),
        ("snr_ratio_min_ratio", params["claims"]["snr_ratio"]["min_ratio"], "claims.snr_ratio.min_ratio"),
        (
            "signal_dominated_snr",
            params["claims"]["batch"]["signal_dominated_snr"],
            "claims.batch.signal_dominated_snr",
        ),
    ]
    return pd.DataFrame(rows, columns=["name", "value", "source"])


# Every table of ``analyse``: file stem -> builder(trajectories, params, stats).
BUILDERS: dict[str, Callable[[pd.DataFrame, dict, Stats], pd.DataFrame]] = {  # one per name of TABLES
    "phase_means": lambda df, params, stats: phase_means(df),
    "runs": lambda df, params, stats: run_summary(df, params),
    "equilibrium": equilibrium,
    "slopes": scaling_slopes,
    "dynamics_bands": lambda df, params, stats: dynamics_bands(df, stats),
    "sweep_bands": sweep_bands,
    "figure_guides": lambda df, params, stats: figure_guides(params),
}


def main(argv: list[str]) -> int:
    """The ``analyse`` step: the sweeps' tables to the study's result tables."""
    parser = argparse.ArgumentParser(prog="python -m scaledyn.minimal_model analyse")
    parser.add_argument("--inputs", nargs="+", required=True, help="the simulate step's sweep tables")
    parser.add_argument("--params", default=None, help="minimal_model section: inline JSON or JSON/YAML file")
    parser.add_argument("--stats", default=None, help="the stats section: inline JSON or a JSON/YAML file")
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    params = config.read(args.params, "minimal_model")
    stats = config.read(args.stats, "stats")
    df = pd.concat([pd.read_csv(p) for p in args.inputs], ignore_index=True)
    for name in TABLES:
        t0 = time.perf_counter()
        write_csv(BUILDERS[name](df, params, stats), args.out_dir / f"{name}.csv")
        print(f"[minimal_model analyse] {name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0
