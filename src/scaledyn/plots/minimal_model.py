"""Figures 1-4 of study ``minimal_model`` (paper 001), drawn from the tables of ``scaledyn.minimal_model``.

python -m scaledyn.plots.minimal_model fig1 --dynamics dynamics.csv --params JSON --out fig1.pdf
python -m scaledyn.plots.minimal_model fig2 --phase-means phase_means.csv --equilibrium equilibrium.csv \
        --params JSON --out fig2.pdf
python -m scaledyn.plots.minimal_model fig3 --equilibrium equilibrium.csv --runs runs.csv --out fig3.pdf
python -m scaledyn.plots.minimal_model fig4 --phase-means phase_means.csv --slopes slopes.csv --params JSON \
        --out fig4.pdf

Inputs of each figure (exactly these files are read; each writes FIG.pdf and FIG.png):

* fig1  ``--dynamics`` the trajectories of the ``dynamics`` sweep (``simulate`` output), ``--params``;
* fig2  ``--phase-means`` and ``--equilibrium`` (``analyse`` output), ``--params``;
* fig3  ``--equilibrium`` and ``--runs`` (``analyse`` output); ``--params`` is accepted and not needed;
* fig4  ``--phase-means`` and ``--slopes`` (``analyse`` output), ``--params``.

``--params`` is the ``minimal_model`` config section (inline JSON or a JSON / YAML file, defaults fill in);
the figures take from it only the SNR draw count K (estimator floor ``scaledyn.estimators.snr_floor``), the
paper's exponents (``analysis.paper_exponent``) and the claim thresholds drawn as guide lines.

Nothing is recomputed. Curves over steps (fig1) are seed means with seaborn's 95% bootstrap CI over seeds
(fixed ``seed=0``). Per-phase points are seed means with a 95% CI: in fig2 the late phase (the equilibrium)
and in fig3 the norms and loss are the ``mean, ci_low, ci_high`` of ``equilibrium.csv``; fig2's init and early
phases, all phases of fig4 and fig3's late growth exponents (``runs.csv``) use ``scaledyn.stats.mean_ci`` over
the per-seed rows (default bootstrap settings). Fitted slopes and their CIs are those of ``slopes.csv``;
fitted and predicted power laws are drawn through (mean log x, mean log y) of the per-seed phase means, the
point the OLS fit passes through. The noise-WD reference ||W||_F = d sqrt(eta / (2 lambda_W)) is d times the
RMS(W) ``reference`` of ``equilibrium.csv`` (fig3); fig1 evaluates the same expression on the run's own eta,
lambda_W and d. Colours: W blue, gamma orange, ratio green in every figure.
"""

from __future__ import annotations

import argparse
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, LogLocator, NullLocator

from scaledyn.estimators import snr_floor
from scaledyn.minimal_model import analysis as an
from scaledyn import config
from scaledyn.plots import style

PHASES = ("init", "early", "late")
LABELS = {
    "w_norm": r"$\|W\|_F$",
    "gamma_norm": r"$\|\gamma\|$",
    "snr_w": r"SNR$_W$",
    "snr_gamma": r"SNR$_\gamma$",
    "snr_ratio": r"SNR$_\gamma$ / SNR$_W$",
    "loss": "training loss",
}
# Which parameter a metric belongs to, for its colour.
OWNER = {
    "w_norm": "w",
    "snr_w": "w",
    "late_growth_w": "w",
    "gamma_norm": "gamma",
    "snr_gamma": "gamma",
    "late_growth_gamma": "gamma",
    "snr_ratio": "ratio",
    "loss": "loss",
}
FLOOR_LABEL = r"estimator floor $\sqrt{2/\pi}/\sqrt{K}$"


def colors() -> dict[str, tuple]:
    pal = sns.color_palette(style.PALETTE)
    return {"w": pal[0], "gamma": pal[1], "ratio": pal[2], "loss": pal[7]}


def color_of(metric: str):
    return colors()[OWNER[metric]]


def _params(params: dict | None) -> dict:
    return config.section("minimal_model", params)


def _floor(params: dict) -> float:
    return snr_floor(int(params["measure"]["snr_draws"]))


def _legend_below(fig: plt.Figure, handles: list, ncol: int, y: float = 0.0) -> None:
    fig.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, y), ncol=ncol, frameon=False, fontsize=8
    )


def phase_summary(
    phase_means: pd.DataFrame, sweep: str, metrics, equilibrium: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Seed mean and 95% CI per (value, phase, metric) of one sweep: ``scaledyn.stats.mean_ci`` over the
    per-seed phase means; late-phase rows from ``equilibrium`` (its mean, ci_low, ci_high) where given."""
    pm = phase_means[(phase_means["sweep"] == sweep) & phase_means["phase"].isin(PHASES)]
    rows = []
    for (value, phase), grp in pm.groupby(["value", "phase"], sort=True):
        if phase == "late" and equilibrium is not None:
            continue
        for metric in metrics:
            mean, low, high = an.seed_mean(grp[metric].to_numpy())
            rows.append(
                {"value": value, "phase": phase, "metric": metric, "mean": mean, "low": low, "high": high}
            )
    out = pd.DataFrame(rows, columns=["value", "phase", "metric", "mean", "low", "high"])
    if equilibrium is not None:
        eq = equilibrium[(equilibrium["sweep"] == sweep) & equilibrium["metric"].isin(list(metrics))]
        late = eq.rename(columns={"ci_low": "low", "ci_high": "high"}).assign(phase="late")
        out = pd.concat([out, late[out.columns]], ignore_index=True)
    return out.sort_values(["metric", "phase", "value"], kind="stable").reset_index(drop=True)


def _band(ax, s: pd.DataFrame, color, line: bool = True) -> None:
    """Seed mean (markers, joined if ``line``) and its CI band against the sweep value."""
    s = s.sort_values("value")
    ax.fill_between(s["value"], s["low"], s["high"], color=color, alpha=0.25, lw=0)
    ax.plot(s["value"], s["mean"], marker="o", ms=4, ls="-" if line else "none", lw=1, color=color)


def _power_line(ax, x: np.ndarray, anchor: tuple[float, float], slope: float, **kw) -> None:
    """y = exp(anchor_y) (x / exp(anchor_x))^slope over the range of x (anchor in natural-log units)."""
    xs = np.geomspace(np.min(x), np.max(x), 50)
    ax.plot(xs, np.exp(anchor[1] + slope * (np.log(xs) - anchor[0])), **kw)


def _log_anchor(frame: pd.DataFrame, metric: str) -> tuple[float, float]:
    """(mean log x, mean log y) over the per-seed phase means: the point an OLS log-log line runs through."""
    lx, ly = an.safe_log(frame["value"]), an.safe_log(frame[metric])
    keep = np.isfinite(lx) & np.isfinite(ly)
    if not keep.any():
        return float("nan"), float("nan")
    return float(lx[keep].mean()), float(ly[keep].mean())


def _num(v: float, signed: bool = True) -> str:
    return (f"{v:+.2f}" if signed else f"{v:+g}").replace("-", "\u2212")


def _plain_log(ax, axis: str = "y") -> None:
    """Log axis with plain tick labels (1, 2, 5 x 10^k when it spans under two decades)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    span = hi / lo
    subs = tuple(range(1, 10)) if span < 10 else (1.0, 2.0, 5.0) if span < 100 else (1.0,)
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(lambda v, _: f"{v:g}")
    target.set_minor_locator(NullLocator())


# --- fig1 --------------------------------------------------------------------------------------------------


def _shade_phases(ax, dyn: pd.DataFrame) -> None:
    """Light bands over the early and late phases (their checkpoint ranges in the trajectories)."""
    for phase, shade in (("early", "0.93"), ("late", "0.85")):
        steps = dyn.loc[dyn["phase"] == phase, "step"]
        if steps.empty:
            continue
        ax.axvspan(steps.min(), steps.max(), color=shade, lw=0, zorder=0)
        x = math.sqrt(max(steps.min(), 1) * steps.max())
        ax.text(x, 1.01, phase, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7)


def fig1(dynamics: pd.DataFrame, params: dict | None = None) -> plt.Figure:
    """Headline dynamics: norms with the noise-WD reference; SNRs with the estimator floor; SNR ratio."""
    params = _params(params)
    col = colors()
    dyn = dynamics[dynamics["sweep"] == "dynamics"] if "sweep" in dynamics else dynamics
    first = dyn.iloc[0]
    d, lr, lam_w = int(first["d"]), float(first["lr"]), float(first["weight_decay_w"])
    ci = {"errorbar": ("ci", 95), "seed": 0, "n_boot": 1000, "estimator": "mean"}

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    panels = [
        (axes[0], ("w_norm", "gamma_norm"), "parameter norm", "linear"),
        (axes[1], ("snr_w", "snr_gamma"), "per-parameter SNR", "log"),
        (axes[2], ("snr_ratio",), LABELS["snr_ratio"], "log"),
    ]
    for ax, metrics, ylabel, yscale in panels:
        _shade_phases(ax, dyn)
        for metric in metrics:
            sns.lineplot(
                data=dyn, x="step", y=metric, color=color_of(metric), label=LABELS[metric], ax=ax, **ci
            )
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.8)
        ax.set_xlim(0, dyn["step"].max() * 1.3)
        ax.set_xlabel("step (0 = init, then log scale)")
        ax.set_yscale(yscale)
        ax.set_ylabel(ylabel)

    ax = axes[0]
    top = float(dyn[["w_norm", "gamma_norm"]].max().max())
    if lam_w > 0:
        ref = d * math.sqrt(lr / (2.0 * lam_w))
        ax.axhline(ref, ls="--", lw=1, color=col["w"])
        ax.text(
            0.98,
            ref,
            rf"noise-WD equilibrium $\|W\|_F = d\sqrt{{\eta/2\lambda}}$ = {ref:.2f}",
            transform=ax.get_yaxis_transform(),
            color=col["w"],
            fontsize=7,
            ha="right",
            va="bottom",
        )
        top = max(top, ref)
    ax.set_ylim(0, top * 1.3)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.78), fontsize=8)

    ax = axes[1]
    floor = _floor(params)
    ax.axhline(floor, ls=":", lw=1.2, color="0.3")
    ax.text(
        0.98,
        floor,
        FLOOR_LABEL + f", K = {params['measure']['snr_draws']}",
        transform=ax.get_yaxis_transform(),
        fontsize=7,
        ha="right",
        va="bottom",
    )
    ax.set_ylim(floor / 1.6, None)
    _plain_log(ax)
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[2]
    thr = float(params["claims"]["snr_ratio"]["min_ratio"])
    for level, text, ls in ((thr, f"paper: ratio > {thr:g}", "--"), (1.0, "equal SNRs", ":")):
        ax.axhline(level, ls=ls, lw=1, color="0.3")
        ax.text(0.98, level, text, transform=ax.get_yaxis_transform(), fontsize=7, ha="right", va="bottom")
    lo = min(float(dyn["snr_ratio"].min()), 1.0)
    ax.set_ylim(lo / 1.5, max(thr, float(dyn["snr_ratio"].max())) * 1.6)
    _plain_log(ax)
    ax.get_legend().remove()

    fig.suptitle(
        rf"Headline run: $d$ = {d}, $B$ = {int(first['batch_size'])}, $\eta$ = {lr:g}, $\lambda$ = {lam_w:g};"
        f" mean and 95% CI over {dyn['seed'].nunique()} seeds; shaded: early and late phases",
        fontsize=9,
        y=1.03,
    )
    fig.tight_layout()
    return fig


# --- fig2 / fig4: sweeps against B or d, per phase ---------------------------------------------------


def _scaling_grid(
    phase_means: pd.DataFrame,
    sweep: str,
    columns: list[tuple[str, tuple[str, ...]]],
    xlabel: str,
    params: dict,
    equilibrium: pd.DataFrame | None = None,
    slopes: pd.DataFrame | None = None,
) -> tuple[plt.Figure, np.ndarray, list]:
    """Rows phases, columns metric groups: seed means with CI, the paper's predicted slope (dashed, SNR
    metrics) and, with ``slopes``, the fitted one (solid), both through the log-mean of the seed points.

    Returns the figure, the axes and the legend handles shared by every panel.
    """
    metrics = [m for _, group in columns for m in group]
    summ = phase_summary(phase_means, sweep, metrics, equilibrium)
    pm = phase_means[phase_means["sweep"] == sweep]
    phases = [p for p in PHASES if (summ["phase"] == p).any()]
    fig, axes = plt.subplots(
        len(phases), len(columns), figsize=(3.5 * len(columns), 2.75 * len(phases)), squeeze=False
    )
    for i, phase in enumerate(phases):
        frame = pm[(pm["phase"] == phase) & (pm["value"] > 0)]
        x = frame["value"].to_numpy(dtype=float)
        for j, (ylabel, group) in enumerate(columns):
            ax = axes[i, j]
            entries = []
            for metric in group:
                color = color_of(metric)
                p = an.paper_exponent(sweep, metric, params) if metric in an.SNR_METRICS else float("nan")
                fit = None
                if slopes is not None:
                    row = slopes[
                        (slopes["sweep"] == sweep) & (slopes["phase"] == phase) & (slopes["metric"] == metric)
                    ]
                    fit = row.iloc[0] if len(row) and np.isfinite(row["slope"].iloc[0]) else None
                s = summ[(summ["metric"] == metric) & (summ["phase"] == phase)]
                _band(ax, s, color, line=fit is None)
                anchor = _log_anchor(frame, metric) if x.size else (float("nan"),) * 2
                if not np.all(np.isfinite(anchor)):
                    continue
                name = LABELS[metric] + ": " if len(group) > 1 else ""
                if fit is not None:
                    _power_line(ax, x, anchor, float(fit["slope"]), color=color, lw=1.2)
                    entries.append(
                        Line2D(
                            [],
                            [],
                            color=color,
                            lw=1.2,
                            label=f"{name}fit {_num(fit['slope'])} "
                            f"[{_num(fit['ci_low'])}, {_num(fit['ci_high'])}]",
                        )
                    )
                if np.isfinite(p):
                    _power_line(ax, x, anchor, p, color="0.25", lw=1.0, ls="--")
                    if slopes is not None:
                        entries.append(
                            Line2D([], [], color="0.25", lw=1.0, ls="--", label=f"paper {_num(p, False)}")
                        )
            if any(m in ("snr_w", "snr_gamma") for m in group):
                ax.axhline(_floor(params), ls=":", lw=1.2, color="0.3")
            if entries:
                ax.legend(handles=entries, loc="best", fontsize=6.5, handlelength=1.6, framealpha=0.85)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(FixedLocator(sorted(pm["value"].unique())))
            ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{phase} phase", fontsize=9)
    for j in range(len(columns)):
        lims = [axes[i, j].get_ylim() for i in range(len(phases))]
        lo, hi = min(lo for lo, _ in lims), max(hi for _, hi in lims)
        for i in range(len(phases)):
            axes[i, j].set_ylim(lo, hi)
            _plain_log(axes[i, j])
    col = colors()
    handles = [
        Line2D([], [], color=col["w"], marker="o", ms=4, lw=0, label="W"),
        Line2D([], [], color=col["gamma"], marker="o", ms=4, lw=0, label=r"$\gamma$"),
        Line2D([], [], color=col["ratio"], marker="o", ms=4, lw=0, label="ratio"),
        Line2D([], [], color="0.5", marker="o", ms=4, lw=6, alpha=0.4, label="seed mean, 95% CI"),
    ]
    if slopes is not None:
        handles.append(Line2D([], [], color="0.3", lw=1.2, label="fitted log-log slope (slopes.csv)"))
    handles += [
        Line2D([], [], color="0.25", lw=1.0, ls="--", label="paper's predicted slope"),
        Line2D(
            [], [], color="0.3", lw=1.2, ls=":", label=FLOOR_LABEL + f", K = {params['measure']['snr_draws']}"
        ),
    ]
    return fig, axes, handles


def fig2(phase_means: pd.DataFrame, equilibrium: pd.DataFrame, params: dict | None = None) -> plt.Figure:
    """Batch sweep: norms, SNRs and their ratio against B, rows init / early / late phase (log-log)."""
    params = _params(params)
    fig, axes, handles = _scaling_grid(
        phase_means,
        "batch",
        [
            ("parameter norm", ("w_norm", "gamma_norm")),
            ("per-parameter SNR", ("snr_w", "snr_gamma")),
            (LABELS["snr_ratio"], ("snr_ratio",)),
        ],
        "batch size B",
        params,
        equilibrium=equilibrium,
    )
    signal = float(params["claims"]["batch"]["signal_dominated_snr"])
    for ax in axes[:, 1]:
        ax.axhline(signal, ls="-.", lw=0.9, color="0.5")
        ax.text(
            0.98, signal, "SNR = 1", transform=ax.get_yaxis_transform(), fontsize=6.5, ha="right", va="bottom"
        )
    p_snr = an.paper_exponent("batch", "snr_w", params)
    p_ratio = an.paper_exponent("batch", "snr_ratio", params)
    handles[-2].set_label(rf"paper: SNR $\propto B^{{{p_snr:g}}}$, ratio $\propto B^{{{p_ratio:g}}}$")
    fig.suptitle(
        "Batch sweep: phase means against B (late phase = equilibrium, from equilibrium.csv)", fontsize=9
    )
    fig.tight_layout()
    _legend_below(fig, handles, ncol=len(handles))
    return fig


def fig4(phase_means: pd.DataFrame, slopes: pd.DataFrame, params: dict | None = None) -> plt.Figure:
    """Dimension sweep: SNR_W, SNR_gamma and the ratio against d per phase, fitted and predicted slopes."""
    params = _params(params)
    fig, _, handles = _scaling_grid(
        phase_means,
        "dimension",
        [
            (LABELS["snr_w"], ("snr_w",)),
            (LABELS["snr_gamma"], ("snr_gamma",)),
            (LABELS["snr_ratio"], ("snr_ratio",)),
        ],
        "dimension d",
        params,
        slopes=slopes,
    )
    fig.suptitle(
        "Dimension sweep: phase means against d; lines through the log-mean of the seed points", fontsize=9
    )
    fig.tight_layout()
    _legend_below(fig, handles, ncol=4)
    return fig


# --- fig3 --------------------------------------------------------------------------------------------------


def _lambda_positions(values: np.ndarray) -> tuple[np.ndarray, float]:
    """x positions on a log axis: lambda for lambda > 0, one decade below the smallest positive for 0."""
    values = np.asarray(values, dtype=float)
    positive = values[values > 0]
    zero_at = (positive.min() if positive.size else 1.0) / 10.0
    return np.where(values > 0, values, zero_at), zero_at


def _lambda_axis(ax, values: np.ndarray) -> None:
    """Log lambda axis with lambda = 0 as a separate position left of a break."""
    values = np.unique(np.asarray(values, dtype=float))
    pos, zero_at = _lambda_positions(values)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sorted(pos)))
    ax.xaxis.set_major_formatter(lambda v, _: "0" if np.isclose(v, zero_at) else f"{v:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(zero_at / 2.2, pos.max() * 2.2)
    if (values == 0).any():
        brk = zero_at * math.sqrt(10.0)
        ax.axvline(brk, color="0.6", lw=0.8, ls=(0, (2, 2)))
        ax.text(brk, 0.0, "//", transform=ax.get_xaxis_transform(), ha="center", va="center", fontsize=9)
    ax.set_xlabel(r"weight decay $\lambda$ (0 | log scale for $\lambda$ > 0)")


def _lambda_series(ax, s: pd.DataFrame, color) -> None:
    """Mean and CI against lambda: joined markers and band over lambda > 0, an open square at lambda = 0."""
    s = s.sort_values("value")
    pos, _ = _lambda_positions(s["value"].to_numpy())
    s = s.assign(pos=pos)
    on = s[s["value"] > 0]
    ax.fill_between(on["pos"], on["low"], on["high"], color=color, alpha=0.25, lw=0)
    ax.plot(on["pos"], on["mean"], marker="o", ms=4, lw=1, color=color)
    off = s[s["value"] == 0]
    if len(off):
        err = np.vstack([off["mean"] - off["low"], off["high"] - off["mean"]])
        ax.errorbar(
            off["pos"], off["mean"], yerr=err, fmt="s", ms=5, mfc="white", color=color, capsize=2, lw=1
        )


def fig3(equilibrium: pd.DataFrame, runs: pd.DataFrame, params: dict | None = None) -> plt.Figure:
    """Weight-decay sweep: late-phase norms (with the noise-WD reference), final loss and late growth
    exponents against lambda, lambda = 0 at its own position."""
    col = colors()
    eq = equilibrium[equilibrium["sweep"] == "weight_decay"].rename(
        columns={"ci_low": "low", "ci_high": "high"}
    )
    rs = runs[runs["sweep"] == "weight_decay"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))

    ax = axes[0]
    for metric in ("w_norm", "gamma_norm"):
        _lambda_series(ax, eq[eq["metric"] == metric], color_of(metric))
    ref = eq[(eq["metric"] == "w_rms") & (eq["value"] > 0)].sort_values("value")
    if len(ref) and np.isfinite(ref["reference"]).any():
        ax.plot(ref["value"], ref["reference"] * ref["d"], ls="--", lw=1, color=col["w"])
    ax.set_yscale("log")
    _plain_log(ax)
    ax.set_ylabel("late-phase norm")
    ax.set_title("norms at the end of training", fontsize=9)

    ax = axes[1]
    _lambda_series(ax, eq[eq["metric"] == "loss"], col["loss"])
    ax.set_ylabel("final training loss (late-phase mean)")
    ax.set_title("loss", fontsize=9)

    ax = axes[2]
    rows = []
    for value, grp in rs.groupby("value", sort=True):
        for metric in ("late_growth_w", "late_growth_gamma"):
            mean, low, high = an.seed_mean(grp[metric].to_numpy())
            rows.append({"value": value, "metric": metric, "mean": mean, "low": low, "high": high})
    growth = pd.DataFrame(rows, columns=["value", "metric", "mean", "low", "high"])
    for metric in ("late_growth_w", "late_growth_gamma"):
        _lambda_series(ax, growth[growth["metric"] == metric], color_of(metric))
    for level, text, ls, x in (
        (0.5, r"random walk $\propto t^{1/2}$", ":", 0.98),
        (0.0, "equilibrium", "-", 0.02),
    ):
        ax.axhline(level, color="0.4", lw=0.8, ls=ls)
        ax.text(
            x,
            level,
            text,
            transform=ax.get_yaxis_transform(),
            fontsize=7,
            ha="right" if x > 0.5 else "left",
            va="bottom",
        )
    ax.set_ylabel(r"late growth exponent $d\log\|\cdot\|\,/\,d\log t$")
    ax.set_ylim(min(-0.35, float(growth["low"].min()) - 0.05), max(0.62, float(growth["high"].max()) + 0.05))
    ax.set_title("growth over the late phase (runs.csv)", fontsize=9)

    for ax in axes:
        _lambda_axis(ax, eq["value"].to_numpy())
    n = int(eq["n_seeds"].max()) if len(eq) else 0
    fig.suptitle(
        rf"Weight-decay sweep: mean and 95% CI over {n} seeds ($\lambda$ = 0 left of the break)", fontsize=9
    )
    fig.tight_layout()
    handles = [
        Line2D([], [], color=col["w"], marker="o", ms=4, label=LABELS["w_norm"]),
        Line2D([], [], color=col["gamma"], marker="o", ms=4, label=LABELS["gamma_norm"]),
        Line2D([], [], color=col["loss"], marker="o", ms=4, label="loss"),
        Line2D([], [], color="0.3", marker="s", mfc="white", ms=5, lw=0, label=r"$\lambda$ = 0 (no decay)"),
        Line2D([], [], color=col["w"], ls="--", lw=1, label=r"noise-WD equilibrium $d\sqrt{\eta/2\lambda}$"),
    ]
    _legend_below(fig, handles, ncol=len(handles))
    return fig


# --- command line ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.plots.minimal_model")
    parser.add_argument("figure", choices=["fig1", "fig2", "fig3", "fig4"])
    for name in ("dynamics", "phase-means", "equilibrium", "slopes", "runs"):
        parser.add_argument(f"--{name}")
    parser.add_argument("--params", help="the minimal_model config section: inline JSON or a JSON/YAML file")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    needs = {
        "fig1": ("dynamics",),
        "fig2": ("phase_means", "equilibrium"),
        "fig3": ("equilibrium", "runs"),
        "fig4": ("phase_means", "slopes"),
    }[args.figure]
    missing = [f"--{n.replace('_', '-')}" for n in needs if not getattr(args, n)]
    if missing:
        parser.error(f"{args.figure} needs {', '.join(missing)}")
    params = config.read(args.params, "minimal_model")
    tables = {n: pd.read_csv(getattr(args, n)) for n in needs}
    style.setup()
    fig = {"fig1": fig1, "fig2": fig2, "fig3": fig3, "fig4": fig4}[args.figure](*tables.values(), params)
    style.save(fig, args.out)


if __name__ == "__main__":
    main()
