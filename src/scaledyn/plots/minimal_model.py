"""Figures 1-4 of study ``minimal_model`` (paper 001), drawn from the tables of ``scaledyn.minimal_model``.

python -m scaledyn.plots.minimal_model fig1_dynamics --tables dynamics_bands.csv figure_guides.csv \
        --out fig1_dynamics.pdf

(each figure's tables: :data:`scaledyn.plots.FIGURES`; the command line: :mod:`scaledyn.plots.cli`).

Every table is written by ``python -m scaledyn.minimal_model analyse`` (``scaledyn.minimal_model.analysis``);
exactly the named files are read; each figure writes FIG.pdf and FIG.png. The figures only draw:

* means and intervals over seeds are those of ``dynamics_bands.csv`` (fig1, per checkpoint step) and
  ``sweep_bands.csv`` (figs 2-4: per sweep value and phase; its late-phase rows are the equilibrium values of
  ``equilibrium.csv``; the late growth exponents of fig3 are its ``late_growth_*`` rows); the confidence level
  printed is the tables' ``level`` column;
* fitted slopes and their CIs are those of ``slopes.csv``; fitted and predicted power laws (the paper's
  exponent, ``sweep_bands.paper_exponent``) are drawn through ``sweep_bands``' (anchor_log_x, anchor_log_y),
  the point the OLS fit passes through;
* guide lines (the SNR estimator floor sqrt(2/pi)/sqrt(K), claim thresholds) are the rows of
  ``figure_guides.csv``; the noise-WD reference ||W||_F = d sqrt(eta / (2 lambda_W)) is the ``w_norm``
  ``reference`` of ``equilibrium.csv`` (fig1: the headline, fig3: the weight-decay sweep).

Colours (:data:`scaledyn.plots.style.COLORS`, as in every figure): W has the matrix colour, gamma the vector
colour of study 000's shapes, the ratio SNR_gamma / SNR_W its own. Every figure is drawn at the report's text
width; legends sit outside the panels and guide-line labels where the data are not.
"""

from __future__ import annotations

import math
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, LogLocator, MaxNLocator, NullLocator

from scaledyn.plots import cli, style

PHASES = ("init", "early", "late")
LABELS = {
    "w_norm": r"$\|W\|_F$",
    "gamma_norm": r"$\|\gamma\|$",
    "snr_w": r"SNR$_W$",
    "snr_gamma": r"SNR$_\gamma$",
    "snr_ratio": r"SNR$_\gamma$ / SNR$_W$",
    "snr_exact_w": r"SNR$_W$",
    "snr_exact_gamma": r"SNR$_\gamma$",
    "snr_exact_ratio": r"SNR$_\gamma$ / SNR$_W$",
    "loss": "training loss",
}
# The exact SNR of a K-draw metric (what the figures draw with bands; the K-draw estimate is overlaid dashed).
EXACT = {"snr_w": "snr_exact_w", "snr_gamma": "snr_exact_gamma", "snr_ratio": "snr_exact_ratio"}
SNR_PLOTTED = (*EXACT, *EXACT.values())
# Which parameter a metric belongs to, for its colour.
OWNER = {
    "w_norm": "w",
    "snr_w": "w",
    "late_growth_w": "w",
    "gamma_norm": "gamma",
    "snr_gamma": "gamma",
    "late_growth_gamma": "gamma",
    "snr_ratio": "ratio",
    "snr_exact_w": "w",
    "snr_exact_gamma": "gamma",
    "snr_exact_ratio": "ratio",
    "loss": "loss",
}
FLOOR_LABEL = r"estimator floor $\sqrt{2/\pi}/\sqrt{K}$"


CLASS = {"w": "matrix", "gamma": "vector", "ratio": "ratio", "loss": "loss"}  # style.COLORS name of an owner


def colors() -> dict[str, tuple]:
    return {owner: style.COLORS[name] for owner, name in CLASS.items()}


def marker_of(owner: str) -> str:
    """The marker of an owner's tensor class (W a matrix, gamma a vector), as in study 000's figures."""
    return style.MARKERS.get(CLASS[owner], "o")


def color_of(metric: str):
    return colors()[OWNER[metric]]


def _guide(guides: pd.DataFrame, name: str) -> float:
    """A value of ``figure_guides.csv`` by name."""
    row = guides.loc[guides["name"] == name, "value"]
    if row.empty:
        raise ValueError(f"figure_guides has no row {name!r}")
    return float(row.iloc[0])


def _floor_label(guides: pd.DataFrame) -> str:
    return FLOOR_LABEL + f", K = {int(_guide(guides, 'snr_draws'))}"


def _ci_text(table: pd.DataFrame) -> str:
    """The confidence level of a table's intervals (its ``level`` column) as text (``<100 level>% CI``)."""
    levels = sorted(set(table["level"].dropna().astype(float))) if "level" in table and len(table) else []
    if len(levels) != 1:
        return "CI"
    return f"{100 * levels[0]:g}% CI"


def _legend_below(fig: plt.Figure, handles: list, ncol: int) -> None:
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False)


def _band(ax, s: pd.DataFrame, color, line: bool = True, marker: str = "o") -> None:
    """Seed mean (markers, joined if ``line``) and its CI band against the sweep value."""
    s = s.sort_values("value")
    ax.fill_between(s["value"], s["low"], s["high"], color=color, alpha=0.25, lw=0)
    ax.plot(s["value"], s["mean"], marker=marker, ms=3.5, ls="-" if line else "none", lw=1, color=color)


def _power_line(ax, x: np.ndarray, anchor: tuple[float, float], slope: float, **kw) -> None:
    """y = exp(anchor_y) (x / exp(anchor_x))^slope over the range of x (anchor in natural-log units)."""
    xs = np.geomspace(np.min(x), np.max(x), 50)
    ax.plot(xs, np.exp(anchor[1] + slope * (np.log(xs) - anchor[0])), **kw)


def _num(v: float, signed: bool = True) -> str:
    return (f"{v:+.2f}" if signed else f"{v:+g}").replace("-", "\u2212")


def _plain_log(ax, axis: str = "y") -> None:
    """Log axis with plain tick labels, three to six of them: evenly spaced values when it spans less than
    a factor 8, 1, 2, 5 x 10^k under two decades, decades above."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    span = hi / lo
    if span < 8:
        target.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    else:
        subs = (1.0, 2.0, 5.0) if span < 100 else (1.0,)
        target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(lambda v, _: f"{v:g}")
    target.set_minor_locator(NullLocator())


# --- fig1 --------------------------------------------------------------------------------------------------


def _shade_phases(ax, bands: pd.DataFrame) -> None:
    """Light bands over the early and late phases (their checkpoint ranges in the trajectories)."""
    for phase, shade in (("early", "0.93"), ("late", "0.85")):
        steps = bands.loc[bands["phase"] == phase, "step"]
        if steps.empty:
            continue
        ax.axvspan(steps.min(), steps.max(), color=shade, lw=0, zorder=0)
        x = math.sqrt(max(steps.min(), 1) * steps.max())
        ax.text(x, 1.01, phase, transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7)


def _step_band(ax, s: pd.DataFrame, color, label: str) -> None:
    """Seed mean (line) and CI band (where defined) against the step."""
    s = s.sort_values("step")
    ok = np.isfinite(s["low"]) & np.isfinite(s["high"])
    ax.fill_between(s["step"][ok], s["low"][ok], s["high"][ok], color=color, alpha=0.2, lw=0)
    ax.plot(s["step"], s["mean"], color=color, lw=1.5, label=label)


def _guide_text(ax, y: float, text: str, left: bool = False, **kw) -> None:
    """A guide line's label just above it, at the panel's left or right edge (where the data are not)."""
    x, ha = (0.02, "left") if left else (0.98, "right")
    ax.text(x, y, text, transform=ax.get_yaxis_transform(), ha=ha, va="bottom", fontsize=6.5, **kw)


def fig1(bands: pd.DataFrame, guides: pd.DataFrame, equilibrium: pd.DataFrame) -> plt.Figure:
    """Headline dynamics: norms with the noise-WD reference; exact SNRs (bands) with the K-draw estimates
    (dashed) and the K-draw estimator floor; the exact SNR ratio with the K-draw one (dashed).

    ``bands``: ``dynamics_bands.csv``; ``guides``: ``figure_guides.csv``; ``equilibrium``: ``equilibrium.csv``
    (the noise-WD reference of ||W||_F at the headline)."""
    col = colors()
    first = bands.iloc[0]
    d, lr, lam_w = int(first["d"]), float(first["lr"]), float(first["weight_decay_w"])

    fig, axes = style.figure(3.0, ncols=3)
    panels = [
        (axes[0], ("w_norm", "gamma_norm"), "parameter norm", "linear"),
        (axes[1], ("snr_exact_w", "snr_exact_gamma"), "per-parameter SNR", "log"),
        (axes[2], ("snr_exact_ratio",), LABELS["snr_ratio"], "log"),
    ]
    for ax, metrics, ylabel, yscale in panels:
        _shade_phases(ax, bands)
        for metric in metrics:
            _step_band(ax, bands[bands["metric"] == metric], color_of(metric), LABELS[metric])
        for sampled, exact in EXACT.items():  # the K-draw estimate, dashed, no band
            if exact in metrics:
                s = bands[bands["metric"] == sampled].sort_values("step")
                ax.plot(s["step"], s["mean"], color=color_of(sampled), lw=1.0, ls="--", alpha=0.9)
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.8)
        ax.set_xlim(0, bands["step"].max() * 1.3)
        ax.set_yscale(yscale)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("step (0 = init, then log scale)")

    def extent(metrics, key):
        sel = bands[bands["metric"].isin(metrics)]
        return sel[["mean", key]].to_numpy(dtype=float)

    ax = axes[0]
    top = float(np.nanmax(extent(["w_norm", "gamma_norm"], "high")))
    headline = equilibrium[(equilibrium["sweep"] == "dynamics") & (equilibrium["metric"] == "w_norm")]
    ref = float(headline["reference"].iloc[0]) if len(headline) else float("nan")
    if np.isfinite(ref):
        ax.axhline(ref, ls="--", lw=1, color=col["w"])
        _guide_text(ax, ref, f"noise-WD equilibrium {ref:.2f}", left=True, color=col["w"])
        top = max(top, ref)
    ax.set_ylim(0, top * 1.25)

    ax = axes[1]
    floor = _guide(guides, "snr_floor")
    ax.axhline(floor, ls=":", lw=1.2, color=style.GUIDE)
    _guide_text(ax, floor, _floor_label(guides), left=True)
    ax.set_ylim(floor / 1.6, None)
    _plain_log(ax)

    ax = axes[2]
    thr = _guide(guides, "snr_ratio_min_ratio")
    for y, text, ls in ((thr, f"paper: ratio > {thr:g}", "--"), (1.0, "equal SNRs", ":")):
        ax.axhline(y, ls=ls, lw=1, color=style.GUIDE)
        _guide_text(ax, y, text, left=True)
    ratio = extent(["snr_ratio", "snr_exact_ratio"], "low")
    positive = ratio[np.isfinite(ratio) & (ratio > 0)]
    lo = min(float(positive.min()) if positive.size else 1.0, 1.0)
    hi = float(np.nanmax(extent(["snr_ratio", "snr_exact_ratio"], "high")))
    ax.set_ylim(lo / 1.5, max(thr, hi) * 1.6)
    _plain_log(ax)

    n, draws = int(bands["n_seeds"].max()), int(_guide(guides, "snr_draws"))
    fig.suptitle(
        rf"Headline run ($d$ = {d}, $B$ = {int(first['batch_size'])}, $\eta$ = {lr:g},"
        rf" $\lambda$ = {lam_w:g}): mean and {_ci_text(bands)} over {n} seeds, by phase"
    )
    handles = [
        Line2D([], [], color=col["w"], lw=1.5, label="W"),
        Line2D([], [], color=col["gamma"], lw=1.5, label=r"$\gamma$"),
        Line2D([], [], color=col["ratio"], lw=1.5, label=LABELS["snr_ratio"]),
        Line2D([], [], color="0.4", lw=1.5, label="exact SNR; band: CI"),
        Line2D([], [], color="0.4", lw=1.0, ls="--", label=f"K-draw estimate (K = {draws})"),
    ]
    _legend_below(fig, handles, ncol=3)
    return fig


# --- fig2 / fig4: sweeps against B or d, per phase ---------------------------------------------------


def _scaling_grid(
    bands: pd.DataFrame,
    sweep: str,
    columns: list[tuple[str, tuple[str, ...]]],
    xlabel: str,
    guides: pd.DataFrame,
    slopes: pd.DataFrame | None = None,
) -> tuple[plt.Figure, np.ndarray, list]:
    """Rows phases, columns metric groups: seed means with CI (``sweep_bands``), the paper's predicted slope
    (dashed, SNR metrics) and, with ``slopes``, the fitted one (solid), both through the bands' log anchor.

    Returns the figure, the axes and the legend handles shared by every panel.
    """
    metrics = [m for _, group in columns for m in group]
    summ = bands[(bands["sweep"] == sweep) & bands["metric"].isin(metrics) & bands["phase"].isin(PHASES)]
    phases = [p for p in PHASES if (summ["phase"] == p).any()]
    values = sorted(summ["value"].unique())
    x = np.array([v for v in values if v > 0], dtype=float)
    floor = _guide(guides, "snr_floor")
    fig, axes = style.figure(0.9 + 1.8 * len(phases), nrows=len(phases), ncols=len(columns), squeeze=False)
    for i, phase in enumerate(phases):
        for j, (ylabel, group) in enumerate(columns):
            ax = axes[i, j]
            entries = []
            for metric in group:
                color = color_of(metric)
                s = summ[(summ["metric"] == metric) & (summ["phase"] == phase)]
                fit = None
                if slopes is not None:
                    row = slopes[
                        (slopes["sweep"] == sweep) & (slopes["phase"] == phase) & (slopes["metric"] == metric)
                    ]
                    fit = row.iloc[0] if len(row) and np.isfinite(row["slope"].iloc[0]) else None
                _band(ax, s, color, line=fit is None, marker=marker_of(OWNER[metric]))
                if s.empty:
                    continue
                p = float(s["paper_exponent"].iloc[0])
                anchor = (float(s["anchor_log_x"].iloc[0]), float(s["anchor_log_y"].iloc[0]))
                if not (x.size and np.all(np.isfinite(anchor))):
                    continue
                name = LABELS[metric] + ": " if len(group) > 1 else ""
                if fit is not None:
                    _power_line(ax, x, anchor, float(fit["slope"]), color=color, lw=1.2)
                    ci = f"[{_num(fit['ci_low'])}, {_num(fit['ci_high'])}]"
                    entries.append(f"{name}fit {_num(fit['slope'])} {ci}")
                if np.isfinite(p):
                    _power_line(ax, x, anchor, p, color="0.25", lw=1.0, ls="--")
                    if slopes is not None:
                        entries.append(f"paper {_num(p, False)}")
            if any(m in SNR_PLOTTED and "ratio" not in m for m in group):
                ax.axhline(floor, ls=":", lw=1.2, color="0.3")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.xaxis.set_major_locator(FixedLocator(values))
            ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{phase} phase" + (f"\n{'; '.join(entries)}" if entries else ""),
                         fontsize=7 if entries else None)  # fmt: skip
    for j in range(len(columns)):
        lims = [axes[i, j].get_ylim() for i in range(len(phases))]
        lo, hi = min(lo for lo, _ in lims), max(hi for _, hi in lims)
        for i in range(len(phases)):
            axes[i, j].set_ylim(lo, hi)
            _plain_log(axes[i, j])
    col = colors()
    handles = [
        Line2D([], [], color=col["w"], marker=marker_of("w"), ms=4, lw=0, label="W"),
        Line2D([], [], color=col["gamma"], marker=marker_of("gamma"), ms=4, lw=0, label=r"$\gamma$"),
        Line2D([], [], color=col["ratio"], marker=marker_of("ratio"), ms=4, lw=0, label="ratio"),
        Line2D([], [], color="0.5", marker="o", ms=4, lw=6, alpha=0.4, label=f"seed mean, {_ci_text(summ)}"),
    ]
    if slopes is not None:
        handles.append(Line2D([], [], color="0.3", lw=1.2, label="fitted log-log slope (slopes.csv)"))
    handles += [
        Line2D([], [], color="0.25", lw=1.0, ls="--", label="paper's predicted slope"),
        Line2D([], [], color="0.3", lw=1.2, ls=":", label=_floor_label(guides)),
    ]
    if any(m in EXACT.values() for m in metrics):
        handles.insert(3, Line2D([], [], lw=0, label="SNRs: exact (model.exact_snr), no estimator floor"))
    return fig, axes, handles


def fig2(bands: pd.DataFrame, guides: pd.DataFrame) -> plt.Figure:
    """Batch sweep: norms, SNRs and their ratio against B, rows init / early / late phase (log-log).

    ``bands``: ``sweep_bands.csv``; ``guides``: ``figure_guides.csv``."""
    fig, axes, handles = _scaling_grid(
        bands,
        "batch",
        [
            ("parameter norm", ("w_norm", "gamma_norm")),
            ("per-parameter SNR", ("snr_exact_w", "snr_exact_gamma")),
            (LABELS["snr_ratio"], ("snr_exact_ratio",)),
        ],
        "batch size B",
        guides,
    )
    signal = _guide(guides, "signal_dominated_snr")
    for ax in axes[:, 1]:
        ax.axhline(signal, ls="-.", lw=0.9, color="0.5")
        ax.text(
            0.98, signal, f"SNR = {signal:g}", transform=ax.get_yaxis_transform(), fontsize=6.5, ha="right",
            va="bottom",
        )  # fmt: skip
    batch = bands[bands["sweep"] == "batch"]

    def exponent(metric: str) -> float:
        return float(batch.loc[batch["metric"] == metric, "paper_exponent"].iloc[0])

    p_snr, p_ratio = exponent("snr_exact_w"), exponent("snr_exact_ratio")
    handles[-2].set_label(rf"paper: SNR $\propto B^{{{p_snr:g}}}$, ratio $\propto B^{{{p_ratio:g}}}$")
    fig.suptitle("Batch sweep: phase means against B (late phase = equilibrium, as in equilibrium.csv)")
    _legend_below(fig, handles, ncol=3)
    return fig


def fig4(bands: pd.DataFrame, slopes: pd.DataFrame, guides: pd.DataFrame) -> plt.Figure:
    """Dimension sweep: SNR_W, SNR_gamma and the ratio against d per phase, fitted and predicted slopes.

    ``bands``: ``sweep_bands.csv``; ``slopes``: ``slopes.csv``; ``guides``: ``figure_guides.csv``."""
    fig, _, handles = _scaling_grid(
        bands,
        "dimension",
        [
            (LABELS["snr_w"], ("snr_exact_w",)),
            (LABELS["snr_gamma"], ("snr_exact_gamma",)),
            (LABELS["snr_ratio"], ("snr_exact_ratio",)),
        ],
        "dimension d",
        guides,
        slopes=slopes,
    )
    fig.suptitle("Dimension sweep: phase means against d; lines through the log-mean of the seed points")
    _legend_below(fig, handles, ncol=3)
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
    ax.set_xlabel(r"weight decay $\lambda$")


def _lambda_series(ax, s: pd.DataFrame, color, marker: str = "o") -> None:
    """Mean and CI against lambda: joined markers and band over lambda > 0, an open square at lambda = 0."""
    s = s.sort_values("value")
    pos, _ = _lambda_positions(s["value"].to_numpy())
    s = s.assign(pos=pos)
    on = s[s["value"] > 0]
    ax.fill_between(on["pos"], on["low"], on["high"], color=color, alpha=0.25, lw=0)
    ax.plot(on["pos"], on["mean"], marker=marker, ms=3.5, lw=1, color=color)
    off = s[s["value"] == 0]
    if len(off):
        err = np.vstack([off["mean"] - off["low"], off["high"] - off["mean"]])
        ax.errorbar(
            off["pos"], off["mean"], yerr=err, fmt="s", ms=5, mfc="white", color=color, capsize=2, lw=1
        )


def fig3(bands: pd.DataFrame, equilibrium: pd.DataFrame) -> plt.Figure:
    """Weight-decay sweep: late-phase norms (with the noise-WD reference), final loss and late growth
    exponents against lambda, lambda = 0 at its own position.

    ``bands``: ``sweep_bands.csv`` (late-phase rows: norms, loss, growth exponents); ``equilibrium``:
    ``equilibrium.csv`` (the noise-WD reference only)."""
    col = colors()
    eq = bands[(bands["sweep"] == "weight_decay") & (bands["phase"] == "late")]
    ref = equilibrium[
        (equilibrium["sweep"] == "weight_decay")
        & (equilibrium["metric"] == "w_norm")
        & (equilibrium["value"] > 0)
    ].sort_values("value")
    fig, axes = style.figure(3.0, ncols=3)

    ax = axes[0]
    for metric in ("w_norm", "gamma_norm"):
        _lambda_series(ax, eq[eq["metric"] == metric], color_of(metric), marker_of(OWNER[metric]))
    if len(ref) and np.isfinite(ref["reference"]).any():
        ax.plot(ref["value"], ref["reference"], ls="--", lw=1, color=col["w"])
    ax.set_yscale("log")
    _plain_log(ax)
    ax.set_ylabel("late-phase norm")
    ax.set_title("norms at the end of training")

    ax = axes[1]
    _lambda_series(ax, eq[eq["metric"] == "loss"], col["loss"])
    ax.set_ylabel("final training loss (late-phase mean)")
    ax.set_title("loss")

    ax = axes[2]
    growth = eq[eq["metric"].isin(["late_growth_w", "late_growth_gamma"])]
    for metric in ("late_growth_w", "late_growth_gamma"):
        _lambda_series(ax, growth[growth["metric"] == metric], color_of(metric), marker_of(OWNER[metric]))
    growth_guides = {
        0.5: (":", r"growth exponent 1/2: random walk $\propto t^{1/2}$"),
        0.0: ("-", "0: equilibrium"),
    }
    for y, (ls, _) in growth_guides.items():
        ax.axhline(y, color="0.4", lw=0.8, ls=ls)
    ax.set_ylabel(r"late growth exponent $d\log\|\cdot\|\,/\,d\log t$")
    ax.set_ylim(min(-0.35, float(growth["low"].min()) - 0.05), max(0.62, float(growth["high"].max()) + 0.05))
    ax.set_title("growth over the late phase")

    for ax in axes:
        _lambda_axis(ax, eq["value"].to_numpy())
    n = int(eq["n_seeds"].max()) if len(eq) else 0
    fig.suptitle(
        rf"Weight-decay sweep: mean and {_ci_text(eq)} over {n} seeds ($\lambda$ = 0 left of the break)",
    )
    handles = [
        Line2D([], [], color=col["w"], marker=marker_of("w"), ms=4, label=LABELS["w_norm"]),
        Line2D([], [], color=col["gamma"], marker=marker_of("gamma"), ms=4, label=LABELS["gamma_norm"]),
        Line2D([], [], color=col["loss"], marker="o", ms=4, label="loss"),
        Line2D([], [], color="0.3", marker="s", mfc="white", ms=5, lw=0, label=r"$\lambda$ = 0 (no decay)"),
        Line2D([], [], color=col["w"], ls="--", lw=1, label=r"noise-WD equilibrium $d\sqrt{\eta/2\lambda}$"),
        *(Line2D([], [], color="0.4", lw=0.8, ls=ls, label=text) for ls, text in growth_guides.values()),
    ]
    _legend_below(fig, handles, ncol=4)
    return fig


def main(argv: list[str] | None = None) -> int:
    return cli.main("minimal_model", argv)


if __name__ == "__main__":
    sys.exit(main())
