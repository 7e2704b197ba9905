"""The five claims of paper 001 checked against the minimal-model sweeps.

:func:`check_all` takes the sweep tables keyed by sweep name (``simulate`` output, one per sweep, read back
from ``results/minimal_model/sweeps/<sweep>.csv``), the ``minimal_model`` config section and the pipeline
``stats`` section. Every claim function takes the tidy trajectories of all sweeps concatenated and returns
``ClaimResult`` rows: the measured number, its seed-level CI (``stats.ci_method``, Student t by default, of
one value per seed: a per-seed mean, or a per-seed slope or slope difference, so that a slope's estimate is
the per-seed slope averaged over seeds; ``analysis.seed_mean``, ``analysis.seed_slope``,
``analysis.seed_ci``), the criterion with its threshold from ``params["claims"]`` and the verdict of
``scaledyn.stats.verdict`` (supported: the whole CI meets the criterion; not supported: the whole CI violates
it; inconclusive otherwise), both from one direction and threshold (``ClaimResult.checked``). A two-sided
criterion lo <= value <= hi is supported when the CI lies inside [lo, hi], not supported when the CI lies
entirely outside it, inconclusive otherwise (``interval_verdict``).

SNR estimate (``claims.snr_estimate``): the SNR rows (C2, C3, C5) are decided on the exact per-parameter
SNR at each checkpoint (``snr_exact_*``, ``model.exact_snr``: the mini-batch gradient's mean and variance from
the N training points; no estimator floor) by default, or on the K-draw estimate (``sampled``: ``snr_*``,
floor sqrt(2/pi)/sqrt(K)). With ``exact``, the headline SNR rows are repeated on the K-draw estimate as
"practitioner" rows (scope ending ``practitioner K-draw estimate``), what one measures from K mini-batches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scaledyn import cli
from scaledyn.minimal_model import analysis as an
from scaledyn.stats import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    ClaimResult,
    Interval,
    verdict,
)

STUDY = "001"
CLAIMS = {
    1: "||W||_F reaches an equilibrium quickly while ||gamma|| evolves monotonically",
    2: "The SNR ratio gamma/W exceeds 5x throughout training",
    3: "Increasing B raises both SNRs, gamma's faster; at B=256 W approaches the signal-dominated regime",
    4: "Weight decay constrains ||W||_F strongly and ||gamma|| weakly; with lambda=0 both grow freely",
    5: "The SNR ratio grows roughly linearly with d; SNR_W ~ d^-2 and SNR_gamma ~ d^-1",
}


def interval_verdict(low: float, high: float, lo: float, hi: float) -> str:
    """Verdict of lo <= value <= hi from a CI: both one-sided verdicts combined."""
    parts = (verdict(low, high, lo, ">="), verdict(low, high, hi, "<="))
    if NOT_SUPPORTED in parts:
        return NOT_SUPPORTED
    return SUPPORTED if parts == (SUPPORTED, SUPPORTED) else INCONCLUSIVE


def _between(
    claim: int, scope: str, measure: str, est: Interval, lo: float, hi: float, note=""
) -> ClaimResult:
    """A two-sided row, ``lo <= value <= hi`` (:func:`interval_verdict`), tested at the bound nearer the
    estimate (the one the verdict turns on: the interval excludes both bounds exactly when it excludes that
    one), whose one-sided direction the row records (``>=`` at ``lo``, ``<=`` at ``hi``)."""
    at_lo = abs(est[0] - lo) <= abs(est[0] - hi)
    row = _checked(claim, scope, measure, est, ">=" if at_lo else "<=", lo if at_lo else hi, note)
    row.criterion, row.verdict = f"{lo:g} <= slope <= {hi:g}", interval_verdict(est[1], est[2], lo, hi)
    return row


def _checked(
    claim: int,
    scope: str,
    measure: str,
    interval: tuple[float, float, float],
    direction: str,
    threshold: float,
    note: str = "",
) -> ClaimResult:
    """A one-sided row, ``value <direction> threshold`` (:meth:`ClaimResult.checked`, no label)."""
    return ClaimResult.checked(
        STUDY, f"C{claim}: {CLAIMS[claim]}", scope, measure, interval, "", direction, threshold, note
    )


def _missing(claim: int, sweep: str) -> list[ClaimResult]:
    nan = (float("nan"),) * 3
    note = f"sweep {sweep!r} not among the inputs"
    return [ClaimResult(STUDY, f"C{claim}: {CLAIMS[claim]}", sweep, "-", *nan, "-", INCONCLUSIVE, note)]


SAMPLED = {"snr_w": "snr_w", "snr_gamma": "snr_gamma", "snr_ratio": "snr_ratio"}
EXACT = {"snr_w": "snr_exact_w", "snr_gamma": "snr_exact_gamma", "snr_ratio": "snr_exact_ratio"}


def _estimates(params: dict) -> list[tuple[dict[str, str], bool]]:
    """(column names, practitioner?) of the SNR estimates the claims report: the decision estimate
    (``claims.snr_estimate``), then with ``exact`` the K-draw estimate as practitioner rows."""
    if params["claims"]["snr_estimate"] == "sampled":
        return [(SAMPLED, False)]
    return [(EXACT, False), (SAMPLED, True)]


PRACTITIONER = "practitioner K-draw estimate"  # the scope's mark of a practitioner row


def _tag(scope: str, practitioner: bool, params: dict) -> str:
    """The scope of a row, marked when it is a practitioner (K-draw estimate) row."""
    if not practitioner:
        return scope
    return f"{scope}, {PRACTITIONER} (K={int(params['measure']['snr_draws'])})"


def _snr_note(frame: pd.DataFrame, practitioner: bool, cols: dict[str, str]) -> str:
    """Floor note of an SNR row: for the exact estimate its distance from the K-draw floor, for the K-draw
    estimate the share near its floor; plus, for practitioner rows, that they do not decide the claim."""
    if cols is EXACT:
        return _exact_note(frame)
    note = _floor_note(frame)
    return f"{note}; not the decision estimate (claims.snr_estimate)" if practitioner else note


def _exact_note(frame: pd.DataFrame) -> str:
    """The exact SNR_W against the K-draw floor it avoids."""
    ratio = float((frame["snr_exact_w"] / frame["snr_floor"]).min())
    return f"exact SNR (no floor); min exact SNR_W / K-draw floor {ratio:.2g}"


def _floor_note(frame: pd.DataFrame) -> str:
    """Share of SNR_W measurements within 2x of the zero-signal floor sqrt(2/pi)/sqrt(K)."""
    share = float((frame["snr_w"] <= 2.0 * frame["snr_floor"]).mean())
    return (
        f"{100 * share:.0f}% of SNR_W values lie within 2x the estimator floor "
        f"{frame['snr_floor'].iloc[0]:.3f} (near the floor SNR_W is biased up and the ratio down)"
    )


def claim_equilibrium(df: pd.DataFrame, params: dict, stats: dict | None = None) -> list[ClaimResult]:
    """C1 on the dynamics sweep.

    (a) ||W||_F settles quickly: mean over seeds of t_settle eta lambda_W <= ``max_settle_timescales``, where
        t_settle is the interpolated time (``analysis.settle_time``, log-t interpolation between checkpoints)
        after which ||W||_F stays within ``settle_tolerance`` of its late-phase mean, in units of the AdamW
        decay timescale 1 / (eta lambda_W): the criterion does not move with the run length T. A run that
        never settles enters with T eta lambda_W (a lower bound) and the row cannot be supported; nor can it
        when the run is shorter than ``max_settle_timescales`` decay timescales (T eta lambda_W below it).
    (b) ||gamma|| evolves monotonically: mean monotonicity index of ||gamma|| over the log-grid checkpoints
        (|net change| / total variation) >= ``min_monotonicity_gamma`` (default 0.8: back-steps make up at
        most 10% of the path length).
    """
    if not (df["sweep"] == "dynamics").any():
        return _missing(1, "dynamics")
    cfg = params["claims"]["equilibrium"]
    rs = an.run_summary(df[df["sweep"] == "dynamics"], params)
    rate = rs["lr"].astype(float) * rs["weight_decay_w"].astype(float)
    censored = rs["settle_timescales_w"].isna() & (rate > 0)
    settle = rs["settle_timescales_w"].where(~censored, rs["steps"].astype(float) * rate).to_numpy()
    est_a = an.seed_mean(settle, stats)
    thr_a = float(cfg["max_settle_timescales"])
    est_b = an.seed_mean(rs["monotonicity_gamma"].to_numpy(), stats)
    thr_b = float(cfg["min_monotonicity_gamma"])
    note_b = (
        f"||gamma|| {rs['initial_gamma'].mean():.3g} -> {rs['final_gamma'].mean():.3g} (late mean); "
        f"index after the early phase {rs['monotonicity_gamma_after_early'].mean():.2f}; "
        f"gamma settle fraction {rs['settle_fraction_gamma'].fillna(1.0).mean():.2f}"
    )
    tau = 1.0 / float(rate.iloc[0]) if float(rate.iloc[0]) > 0 else float("inf")
    note_a = (
        f"||W||_F {rs['initial_w'].mean():.3g} -> {rs['final_w'].mean():.3g}; "
        f"tolerance {params['analysis']['settle_tolerance']}; 1/(eta lambda_W) = {tau:.4g} steps, "
        f"T = {int(rs['steps'].iloc[0])}; mean settle time {np.nanmean(rs['settle_time_w']):.4g} steps "
        f"(interpolated in log t between checkpoints); {int(censored.sum())} of {len(rs)} seeds never settle"
    )
    scope = "dynamics (headline), all seeds"
    row_a = _checked(1, scope, "mean t_settle(||W||_F) x eta lambda_W", est_a, "<=", thr_a, note_a)
    if censored.any() and row_a.verdict == SUPPORTED:
        row_a.verdict = INCONCLUSIVE
        row_a.note += " (censored seeds: settled no earlier than T, so not supported on a lower bound)"
    span = float(rs["steps"].iloc[0]) * float(rate.iloc[0])
    if span < thr_a and row_a.verdict == SUPPORTED:
        row_a.verdict = INCONCLUSIVE
        row_a.note += (
            f" (the run spans T eta lambda_W = {span:.3g} < {thr_a:g} decay timescales: its late mean is not"
            " shown to be the equilibrium, so settling quickly cannot be supported)"
        )
    return [
        row_a,
        _checked(1, scope, "mean monotonicity index of ||gamma||", est_b, ">=", thr_b, note_b),
    ]


def claim_snr_ratio(df: pd.DataFrame, params: dict, stats: dict | None = None) -> list[ClaimResult]:
    """C2 on the dynamics sweep: the per-seed SNR ratio snr_gamma / snr_w >= ``min_ratio`` (default 5, the
    paper's number), on the ``claims.snr_estimate`` estimate.

    One row per phase (init, early, late: mean over seeds of the per-seed phase mean of the ratio) and one
    for "throughout": mean over seeds of the per-seed fraction of log-grid checkpoints whose ratio exceeds
    ``min_ratio``, >= ``min_fraction`` (a seed-level interval; the minimum over ~45 checkpoints would be
    biased low by every fluctuation). Practitioner rows (K-draw estimate): the throughout row.
    """
    if not (df["sweep"] == "dynamics").any():
        return _missing(2, "dynamics")
    cfg = params["claims"]["snr_ratio"]
    thr, min_fraction = float(cfg["min_ratio"]), float(cfg["min_fraction"])
    dyn = df[df["sweep"] == "dynamics"]
    pm = an.phase_means(dyn)
    log_grid = dyn[dyn["on_log_grid"].astype(bool)]
    rows = []
    for cols, practitioner in _estimates(params):
        ratio = cols["snr_ratio"]
        if not practitioner:
            for phase in an.PHASES:
                est = an.seed_mean(pm.loc[pm["phase"] == phase, ratio].to_numpy(), stats)
                note = _snr_note(dyn[dyn["phase"] == phase], practitioner, cols)
                scope = f"dynamics, {phase} phase"
                rows.append(_checked(2, scope, f"mean per-seed {ratio}", est, ">=", thr, note))
        above = (log_grid[ratio] > thr).groupby(log_grid["seed"]).mean()
        est = an.seed_mean(above.to_numpy(dtype=float), stats)
        rows.append(
            _checked(
                2,
                _tag("dynamics, all log-grid checkpoints", practitioner, params),
                f"mean over seeds of the fraction of checkpoints with {ratio} > {thr:g}",
                est,
                ">=",
                min_fraction,
                f"{log_grid['step'].nunique()} checkpoints per seed; " + _snr_note(dyn, practitioner, cols),
            )
        )
    return rows


def claim_batch(df: pd.DataFrame, params: dict, stats: dict | None = None) -> list[ClaimResult]:
    """C3 on the batch sweep, phase means of ``phase`` (default late, the equilibrium of Fig. 2), on the
    ``claims.snr_estimate`` estimate.

    (a), (b) both SNRs rise with B: log-log slope of snr_w (snr_gamma) on B > ``claims.min_slope``.
    (c) gamma's SNR grows faster in absolute terms: slope of snr_gamma on log2 B minus slope of snr_w on
        log2 B > 0 (the reading compatible with eq. 3, where both scale as sqrt(B); in SNR units per
        doubling, so the dimensionless ``min_slope`` does not apply and the threshold stays 0).
    (d) gamma's SNR grows faster in relative terms: log-log slope of snr_gamma minus that of snr_w >
        ``min_slope``.
    (e) at the largest B, W approaches the signal-dominated regime: mean snr_w >= ``approach_fraction`` x
        ``signal_dominated_snr`` (defaults 0.5 x 1: within a factor 2 of the per-entry signal = noise line).
    Practitioner rows (K-draw estimate): (a) and (e).
    """
    if not (df["sweep"] == "batch").any():
        return _missing(3, "batch")
    cfg, m = params["claims"]["batch"], float(params["claims"]["min_slope"])
    phase = cfg["phase"]
    batch = df[df["sweep"] == "batch"]
    pm = an.phase_means(batch)
    frame = pm.loc[pm["phase"] == phase]
    raw = batch[batch["phase"] == phase]
    seeds = frame["seed"].to_numpy()
    log2_b, log_b = np.log2(frame["value"].to_numpy(dtype=float)), an.safe_log(frame["value"])
    b_max = frame["value"].max()
    thr = float(cfg["approach_fraction"]) * float(cfg["signal_dominated_snr"])
    rows = []
    for cols, practitioner in _estimates(params):
        c_w, c_g = cols["snr_w"], cols["snr_gamma"]
        scope = _tag(f"batch sweep, {phase} phase", practitioner, params)
        note = _snr_note(raw, practitioner, cols)
        snr_w, snr_g = frame[c_w].to_numpy(), frame[c_g].to_numpy()
        log_w, log_g = an.safe_log(snr_w), an.safe_log(snr_g)

        def abs_diff(r: np.ndarray, snr_w=snr_w, snr_g=snr_g) -> float:
            return an.ols_slope(log2_b[r], snr_g[r]) - an.ols_slope(log2_b[r], snr_w[r])

        def rel_diff(r: np.ndarray, log_w=log_w, log_g=log_g) -> float:
            return an.ols_slope(log_b[r], log_g[r]) - an.ols_slope(log_b[r], log_w[r])

        for metric in (c_w,) if practitioner else (c_w, c_g):
            est = an.seed_slope(frame, "value", metric, stats)
            rows.append(_checked(3, scope, f"log-log slope of {metric} vs B", est, ">", m, note))
        if not practitioner:
            est = an.seed_ci(seeds, abs_diff, stats)
            measure = f"d {c_g} / d log2 B - d {c_w} / d log2 B"
            rows.append(_checked(3, scope, measure, est, ">", 0, "absolute growth"))
            est = an.seed_ci(seeds, rel_diff, stats)
            measure = f"log-log slope of {c_g} minus that of {c_w} (vs B)"
            rows.append(
                _checked(3, scope, measure, est, ">", m, "relative growth; eq. 3 predicts equal slopes")
            )
        est = an.seed_mean(frame.loc[frame["value"] == b_max, c_w].to_numpy(), stats)
        gamma_bmax = frame.loc[frame["value"] == b_max, c_g].mean()
        rows.append(
            _checked(
                3,
                _tag(f"batch sweep, B={b_max:g}, {phase} phase", practitioner, params),
                f"mean {c_w}",
                est,
                ">=",
                thr,
                f"{c_g} at B={b_max:g}: {gamma_bmax:.3g}; "
                + _snr_note(raw[raw["value"] == b_max], practitioner, cols),
            )
        )
    return rows


def claim_weight_decay(df: pd.DataFrame, params: dict, stats: dict | None = None) -> list[ClaimResult]:
    """C4 on the weight-decay sweep, phase means of ``phase`` (default late).

    (a) WD constrains ||W||_F: log-log slope of ||W||_F on lambda (lambda > 0) < -``claims.min_slope``.
    (b) strongly for W, weakly for gamma: |slope of ||W||_F| - |slope of ||gamma||| > ``min_slope``
        (absolute values, so a gamma that grows with lambda also counts as weakly constrained).
    (c), (d) with lambda = 0 both grow freely: mean over seeds of the late growth exponent
        d log||.|| / d log t of ||W||_F (of ||gamma||) > ``min_slope``.
    """
    if not (df["sweep"] == "weight_decay").any():
        return _missing(4, "weight_decay")
    phase, m = params["claims"]["weight_decay"]["phase"], float(params["claims"]["min_slope"])
    wd = df[df["sweep"] == "weight_decay"]
    pm = an.phase_means(wd)
    frame = pm.loc[(pm["phase"] == phase) & (pm["value"] > 0), ["seed", "value", "w_norm", "gamma_norm"]]
    scope = f"weight-decay sweep (lambda > 0), {phase} phase"

    log_lam = an.safe_log(frame["value"])
    log_w, log_g = an.safe_log(frame["w_norm"]), an.safe_log(frame["gamma_norm"])

    def gap(r: np.ndarray) -> float:
        return abs(an.ols_slope(log_lam[r], log_w[r])) - abs(an.ols_slope(log_lam[r], log_g[r]))

    est_a = an.seed_slope(frame, "value", "w_norm", stats)
    est_g = an.seed_slope(frame, "value", "gamma_norm", stats)
    est_b = an.seed_ci(frame["seed"].to_numpy(), gap, stats)
    note_b = f"slope of ||gamma||: {est_g[0]:.3g} [{est_g[1]:.3g}, {est_g[2]:.3g}]"
    rows = [
        _checked(
            4, scope, "log-log slope of ||W||_F vs lambda", est_a, "<", -m, "noise-WD reference exponent -1/2"
        ),
        _checked(4, scope, "|slope ||W||_F| - |slope ||gamma||| (vs lambda)", est_b, ">", m, note_b),
    ]
    free = wd[wd["value"] == 0]
    if free.empty:
        return rows + _missing(4, "weight_decay at lambda = 0")
    rs = an.run_summary(free, params)
    for name, label in (("w", "||W||_F"), ("gamma", "||gamma||")):
        est = an.seed_mean(rs[f"late_growth_{name}"].to_numpy(), stats)
        note = f"{label} {rs[f'initial_{name}'].mean():.3g} -> {rs[f'final_{name}'].mean():.3g} (late mean)"
        rows.append(
            _checked(
                4,
                "weight-decay sweep, lambda = 0, late phase",
                f"mean late growth exponent d log {label} / d log t",
                est,
                ">",
                m,
                note,
            )
        )
    return rows


def claim_dimension(df: pd.DataFrame, params: dict, stats: dict | None = None) -> list[ClaimResult]:
    """C5 on the dimension sweep, phase means of ``phase`` (default late), on the ``claims.snr_estimate``
    estimate.

    Log-log slopes on d of the SNR ratio, snr_w and snr_gamma must lie within ``relative_tolerance`` x |p|
    of the predicted exponent p: p_ratio = p_gamma - p_w = 1 ("roughly linear"), p_w = -2, p_gamma = -1
    (``analysis.paper_exponents``); default tolerance 25%. Practitioner row (K-draw estimate): the ratio.
    """
    if not (df["sweep"] == "dimension").any():
        return _missing(5, "dimension")
    phase = params["claims"]["dimension"]["phase"]
    tol = float(params["claims"]["dimension"]["relative_tolerance"])
    dim = df[df["sweep"] == "dimension"]
    pm = an.phase_means(dim)
    frame = pm[pm["phase"] == phase]
    raw = dim[dim["phase"] == phase]
    rows = []
    for cols, practitioner in _estimates(params):
        scope = _tag(f"dimension sweep, {phase} phase", practitioner, params)
        for key in ("snr_ratio",) if practitioner else ("snr_ratio", "snr_w", "snr_gamma"):
            metric = cols[key]
            p = an.paper_exponent("dimension", metric, params)
            lo, hi = p - tol * abs(p), p + tol * abs(p)
            est = an.seed_slope(frame, "value", metric, stats)
            note = _snr_note(raw, practitioner, cols) if key != "snr_gamma" else ""
            rows.append(_between(5, scope, f"log-log slope of {metric} vs d", est, lo, hi, note))
    return rows


CLAIM_FUNCTIONS = (claim_equilibrium, claim_snr_ratio, claim_batch, claim_weight_decay, claim_dimension)


def check_all(tables: dict[str, pd.DataFrame], params: dict, stats: dict) -> list[ClaimResult]:
    """Rows of all five claims from the sweep tables keyed by sweep name (``tables["dynamics"]``, ...), each
    holding that sweep's rows only; a claim whose sweep is missing gives one inconclusive row."""
    for name, table in tables.items():
        other = set(table["sweep"].unique()) - {name} if "sweep" in table else {"(no sweep column)"}
        if other:
            raise ValueError(
                f"table {name!r} holds rows of sweep {sorted(map(str, other))}; key it by its sweep"
            )
    frames = [t for t in tables.values() if len(t)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"sweep": pd.Series(dtype=str)})
    rows = [row for fn in CLAIM_FUNCTIONS for row in fn(df, params, stats)]
    for row in rows:  # what a K-draw estimate would conclude: reported, not a claim of the paper
        row.role = "practitioner" if PRACTITIONER in row.scope else row.role
    return rows


def main(argv: list[str]) -> int:
    """The ``claims`` step (:func:`scaledyn.cli.claims_main`)."""
    return cli.claims_main(argv, study="minimal_model", check_all=check_all)
