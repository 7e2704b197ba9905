"""Figures 1-3 of study 000, from the tables written by ``scaledyn.gsnr.analysis``.

python -m scaledyn.plots.gsnr fig2_noise_sweep --tables summary.csv --option estimate=plugin --out fig2.pdf

(each figure's tables: :data:`scaledyn.plots.FIGURES`; the command line: :mod:`scaledyn.plots.cli`).

The figures only draw: points (``gsnr_points``), means and CI bands over seeds (``summary``), thresholds,
accuracy curves and confusion counts (``classifier``, ``curves``, ``confusion``) are the tables of
``scaledyn.gsnr.analysis``; seaborn is asked for no estimate or interval.

Shapes keep the colours, markers and line styles of :mod:`scaledyn.plots.style` in every figure. Under some
noise models the shapes have the same GSNR, so their points and lines coincide: Fig 1 gives each shape its
own column, Fig 2 draws each shape with its own line style over the wider one beneath.
"""

from __future__ import annotations

import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullLocator

from scaledyn.plots import cli, style

LABELS = {"plugin": "plug-in", "bias_corrected": "bias-corrected", "exact": "exact"}  # the GSNR estimates
NO_STATS = {"estimator": None, "errorbar": None}  # seaborn draws the table's rows as they are
THRESHOLD = {"ls": "--", "color": style.GUIDE, "lw": 1.0}  # the classifier's pooled threshold
FLOOR = {"ls": ":", "color": style.GUIDE, "lw": 1.1}  # the plug-in estimate's floor 1/K
ADAPTS = {True: "o", False: "x"}


def _pooled_threshold(classifier: pd.DataFrame, noise: str, opt: str, estimate: str) -> float:
    row = classifier.query(
        "noise_model == @noise and optimizer == @opt and estimate == @estimate and scope == 'pooled'"
    )
    return float(row["threshold_log10"].iloc[0])


def _plugin_floor(ax, table: pd.DataFrame) -> bool:
    """The plug-in estimate's floor 1/K (the table's ``plugin_floor_log10``), dotted, if the table has it."""
    if "plugin_floor_log10" not in table:
        return False
    for floor in table["plugin_floor_log10"].dropna().unique():
        ax.axhline(floor, **FLOOR)
    return True


def _symlog_axis(axis, values: pd.Series) -> None:
    """Symmetric log axis (linear within +-1) with plain ticks at 0, +-1 and each decade the data reach
    (and at 2 and 5 times each decade when they span less than two)."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    subs = (1.0, 2.0, 5.0) if hi < 100 else (1.0,)
    ticks = {0.0} | {m * 10.0**k for k in range(0, 7) for m in subs if m * 10.0**k <= hi * 1.05}
    ticks |= {-(m * 10.0**k) for k in range(0, 7) for m in subs if -(m * 10.0**k) >= min(lo * 1.05, -1.0)}
    if hi >= 1:
        ticks.add(1.0)
    axis.set_major_locator(FixedLocator(sorted(ticks)))
    axis.set_major_formatter(lambda v, _: f"{v:g}".replace("-", "\u2212"))
    axis.set_minor_locator(NullLocator())


def _shape_title(ax, shape: str) -> None:
    ax.set_title(shape, color=style.COLORS.get(shape, "0.1"), fontweight="bold")


def fig1(points: pd.DataFrame, classifier: pd.DataFrame, estimate: str) -> plt.Figure:
    """log10 GSNR at init vs scale adaptation: a row per (optimiser, noise model), a column per shape; runs
    whose GSNR is not positive (log10 = -inf) half a decade below the lowest finite point; dashed: the
    classifier's pooled threshold; dotted: the plug-in floor 1/K."""
    df = points[points["estimate"] == estimate].copy()
    floor = np.nanmin(df.loc[np.isfinite(df["log10_gsnr"]), "log10_gsnr"]) - 0.5
    df["log10_gsnr"] = df["log10_gsnr"].where(np.isfinite(df["log10_gsnr"]), floor)
    shapes = style.shape_order(df["shape"])
    colors = style.colors(shapes)
    opts, noises = sorted(df["optimizer"].unique()), sorted(df["noise_model"].unique())
    rows = [(opt, noise) for opt in opts for noise in noises]
    fig, axes = style.figure(
        0.45 + 1.2 * len(rows), nrows=len(rows), ncols=len(shapes), squeeze=False, sharey="row"
    )
    floors = False
    for i, (opt, noise) in enumerate(rows):
        block = df[df["optimizer"] == opt]
        span = (block["scale_adaptation"].min(), block["scale_adaptation"].max())
        last = i == len(rows) - 1 or rows[i + 1][0] != opt
        for j, shape in enumerate(shapes):
            ax = axes[i, j]
            sub = block[(block["noise_model"] == noise) & (block["shape"] == shape)]
            for adapts, marker in ADAPTS.items():
                pts = sub[sub["adapts"] == adapts]
                ax.scatter(pts["scale_adaptation"], pts["log10_gsnr"], marker=marker, s=9, lw=0.8,
                           color=colors[shape], alpha=0.55)  # fmt: skip
            thr = _pooled_threshold(classifier, noise, opt, estimate)
            if np.isfinite(thr):
                ax.axhline(thr, **THRESHOLD)
            floors |= _plugin_floor(ax, sub)
            ax.set_xscale("symlog", linthresh=1.0, linscale=0.6)
            ax.set_xlim(min(span[0], 0.0) - 0.15, span[1] * 1.6)
            _symlog_axis(ax.xaxis, block["scale_adaptation"])
            ax.tick_params(labelbottom=last)
            ax.set_xlabel(f"scale adaptation ({opt})" if last else "")
            if i == 0:
                _shape_title(ax, shape)
        axes[i, 0].set_ylabel(f"{noise} noise\n{opt}", fontweight="bold")
    fig.supylabel(f"log10 GSNR at initialisation ({LABELS[estimate]})", fontsize=8)
    handles = [
        Line2D([], [], marker=ADAPTS[True], ls="none", color="0.3", label="run adapts"),
        Line2D([], [], marker=ADAPTS[False], ls="none", color="0.3", label="run does not adapt"),
        Line2D([], [], **THRESHOLD, label="pooled GSNR threshold (classifier)"),
    ]
    if floors:
        handles.append(Line2D([], [], **FLOOR, label="plug-in floor 1/K"))
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles), frameon=False)
    return fig


def fig2(summary: pd.DataFrame, estimate: str) -> plt.Figure:
    """Rows noise models; left GSNR vs sigma (dotted: the plug-in floor 1/K), then scale adaptation vs sigma
    per optimiser; CI bands. Each shape its colour, marker and line style, drawn widest first."""
    noises, opts = sorted(summary["noise_model"].unique()), sorted(summary["optimizer"].unique())
    shapes = style.shape_order(summary["shape"])
    colors = style.colors(shapes)
    col = f"log10_{estimate}"
    fig, axes = style.figure(0.5 + 1.75 * len(noises), nrows=len(noises), ncols=1 + len(opts), squeeze=False)
    panels = [(opts[0], col, f"log10 GSNR ({LABELS[estimate]})")]
    panels += [(opt, "scale_adaptation", f"scale adaptation ({opt})") for opt in opts]
    floors = False
    for i, noise in enumerate(noises):
        for j, (opt, y, ylabel) in enumerate(panels):
            ax = axes[i, j]
            sub = summary[(summary["noise_model"] == noise) & (summary["optimizer"] == opt)]
            for k, shape in enumerate(shapes):
                g = sub[sub["shape"] == shape].sort_values("sigma")
                ax.fill_between(
                    g["sigma"], g[f"{y}_low"], g[f"{y}_high"], color=colors[shape], alpha=0.15, lw=0
                )
                ax.plot(g["sigma"], g[y], color=colors[shape], ls=style.LINESTYLES.get(shape, "-"),
                        marker=style.MARKERS.get(shape, "o"), ms=2.5, markevery=max(1, len(g) // 8),
                        lw=2.2 - 0.5 * k, zorder=3 + k)  # fmt: skip
            ax.set_xscale("log")
            if y == col:
                floors |= _plugin_floor(ax, sub)
            else:
                ax.set_yscale("symlog", linthresh=1.0, linscale=0.6)
                mine = summary[summary["optimizer"] == opt]
                _symlog_axis(ax.yaxis, mine[[y, f"{y}_low", f"{y}_high"]].stack())
            ax.set_title(f"{noise} noise" + ("" if j == 0 else f", {opt}"))
            ax.set_xlabel("noise level sigma" if i == len(noises) - 1 else "")
            ax.set_ylabel(ylabel)
    handles = [
        Line2D([], [], color=colors[s], ls=style.LINESTYLES.get(s, "-"), marker=style.MARKERS.get(s, "o"),
               ms=3, lw=1.4, label=s)
        for s in shapes
    ]  # fmt: skip
    handles.append(Patch(color="0.5", alpha=0.3, lw=0, label=f"{_ci_text(summary)} over seeds"))
    if floors:
        handles.append(Line2D([], [], **FLOOR, label="plug-in floor 1/K"))
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles), frameon=False)
    return fig


def _ci_text(table: pd.DataFrame) -> str:
    """The tables' interval: ``<100 level>% CI (<method>)`` from its ``level`` and ``ci_method`` columns."""
    if not {"level", "ci_method"} <= set(table) or table["level"].nunique() != 1:
        return "CI"
    return f"{100 * float(table['level'].iloc[0]):g}% CI ({table['ci_method'].iloc[0]})"


def fig3(
    curves: pd.DataFrame, confusion: pd.DataFrame, classifier: pd.DataFrame, estimate: str
) -> plt.Figure:
    """Per (noise model, optimiser): pooled accuracy vs threshold (chosen one marked), LOSO confusion."""
    curves = curves[(curves["estimate"] == estimate) & np.isfinite(curves["threshold"])]
    confusion = confusion[confusion["estimate"] == estimate]
    noises, opts = sorted(curves["noise_model"].unique()), sorted(curves["optimizer"].unique())
    fig, axes = style.figure(
        0.4 + 1.65 * len(noises),
        nrows=len(noises),
        ncols=2 * len(opts),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.35, 1] * len(opts)},
    )
    for i, noise in enumerate(noises):
        for j, opt in enumerate(opts):
            ax = axes[i, 2 * j]
            sub = curves[(curves["noise_model"] == noise) & (curves["optimizer"] == opt)]
            sns.lineplot(
                data=sub, x="threshold", y="accuracy", ax=ax, color="0.2", drawstyle="steps-mid", **NO_STATS
            )
            thr = _pooled_threshold(classifier, noise, opt, estimate)
            if np.isfinite(thr):
                ax.axvline(thr, **THRESHOLD)
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{noise} noise, {opt}")
            ax.set_xlabel(f"threshold on log10 GSNR ({LABELS[estimate]})" if i == len(noises) - 1 else "")
            ax.set_ylabel("in-sample accuracy" if j == 0 else "")
            c = confusion[(confusion["noise_model"] == noise) & (confusion["optimizer"] == opt)].iloc[0]
            mat = pd.DataFrame(
                [[c["true_adapts"], c["false_stuck"]], [c["false_adapts"], c["true_stuck"]]],
                index=["adapts", "stuck"],
                columns=["pred.\nadapts", "pred.\nstuck"],
            )
            hm = axes[i, 2 * j + 1]
            sns.heatmap(mat, annot=True, fmt="d", cbar=False, cmap="Blues", ax=hm, annot_kws={"fontsize": 7})
            hm.set_title("LOSO confusion")
            hm.set_ylabel("true" if j == 0 else "")
            hm.tick_params(length=0)
    handles = [
        Line2D([], [], color="0.2", label="accuracy of the threshold (pooled over shapes)"),
        Line2D([], [], **THRESHOLD, label="chosen threshold"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=2, frameon=False)
    return fig


def main(argv: list[str] | None = None) -> int:
    return cli.main("gsnr", argv)


if __name__ == "__main__":
    sys.exit(main())
