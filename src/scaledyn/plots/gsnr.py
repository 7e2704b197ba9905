"""Figures 1-3 of study 000, from the tables written by ``scaledyn.gsnr.analysis``.

python -m scaledyn.plots.gsnr fig2_noise_sweep --tables summary.csv --option estimate=plugin --out fig2.pdf

(each figure's tables: :data:`scaledyn.plots.FIGURES`; the command line: :mod:`scaledyn.plots.cli`).

The figures only draw: points (``gsnr_points``), means and CI bands over seeds (``summary``), thresholds,
accuracy curves and confusion counts (``classifier``, ``curves``, ``confusion``) are the tables of
``scaledyn.gsnr.analysis``; seaborn is asked for no estimate or interval.
"""

from __future__ import annotations

import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from scaledyn.plots import cli, style

LABELS = {"plugin": "plug-in", "bias_corrected": "bias-corrected", "exact": "exact"}  # the GSNR estimates
NO_STATS = {"estimator": None, "errorbar": None}  # seaborn draws the table's rows as they are


def _grid(rows: list[str], cols: list[str], width: float = 3.2, height: float = 2.6):
    fig, axes = plt.subplots(
        len(rows), len(cols), figsize=(width * len(cols), height * len(rows)), squeeze=False
    )
    return fig, axes


def _pooled_threshold(classifier: pd.DataFrame, noise: str, opt: str, estimate: str) -> float:
    row = classifier.query(
        "noise_model == @noise and optimizer == @opt and estimate == @estimate and scope == 'pooled'"
    )
    return float(row["threshold_log10"].iloc[0])


def _plugin_floor(ax, table: pd.DataFrame) -> None:
    """The plug-in estimate's floor 1/K (the table's ``plugin_floor_log10``), dotted, if the table has it."""
    if "plugin_floor_log10" not in table:
        return
    floors = table["plugin_floor_log10"].dropna().unique()
    for k, floor in enumerate(floors):
        ax.axhline(floor, ls=":", color="0.4", lw=1, label="plug-in floor 1/K" if k == 0 else None)


def fig1(points: pd.DataFrame, classifier: pd.DataFrame, estimate: str) -> plt.Figure:
    """log10 GSNR at init vs scale adaptation; rows noise models, columns optimisers; runs whose GSNR is not
    positive (log10 = -inf) half a decade below the lowest finite point; dotted: the plug-in floor 1/K."""
    df = points[points["estimate"] == estimate].copy()
    floor = np.nanmin(df.loc[np.isfinite(df["log10_gsnr"]), "log10_gsnr"]) - 0.5
    df["log10_gsnr"] = df["log10_gsnr"].where(np.isfinite(df["log10_gsnr"]), floor)
    df["label"] = np.where(df["adapts"], "adapts", "does not adapt")
    noises, opts = sorted(df["noise_model"].unique()), sorted(df["optimizer"].unique())
    fig, axes = _grid(noises, opts)
    for i, noise in enumerate(noises):
        for j, opt in enumerate(opts):
            ax, sub = axes[i, j], df[(df["noise_model"] == noise) & (df["optimizer"] == opt)]
            sns.scatterplot(
                data=sub,
                hue_order=sorted(df["shape"].unique()),
                x="scale_adaptation",
                y="log10_gsnr",
                hue="shape",
                style="label",
                style_order=["adapts", "does not adapt"],
                markers=["o", "X"],
                s=18,
                alpha=0.7,
                ax=ax,
                legend=(i == 0 and j == len(opts) - 1),
            )
            thr = _pooled_threshold(classifier, noise, opt, estimate)
            if np.isfinite(thr):
                ax.axhline(thr, ls="--", color="0.2", lw=1)
            _plugin_floor(ax, sub)
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_title(f"{noise} noise, {opt}")
            ax.set_xlabel("scale adaptation")
            ax.set_ylabel(f"log10 GSNR ({LABELS[estimate]})")
    if axes[0, -1].get_legend():
        sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def fig2(summary: pd.DataFrame, estimate: str) -> plt.Figure:
    """Rows noise models; left GSNR vs sigma (dotted: the plug-in floor 1/K), then scale adaptation vs sigma
    per optimiser; CI bands."""
    noises, opts = sorted(summary["noise_model"].unique()), sorted(summary["optimizer"].unique())
    fig, axes = _grid(noises, ["gsnr", *opts])
    col = f"log10_{estimate}"
    for i, noise in enumerate(noises):
        panels = [("gsnr", opts[0], col, f"log10 GSNR ({LABELS[estimate]})")]
        panels += [(opt, opt, "scale_adaptation", f"scale adaptation ({opt})") for opt in opts]
        for j, (_, opt, y, ylabel) in enumerate(panels):
            ax = axes[i, j]
            sub = summary[(summary["noise_model"] == noise) & (summary["optimizer"] == opt)]
            sns.lineplot(
                data=sub,
                hue_order=sorted(summary["shape"].unique()),
                x="sigma",
                y=y,
                hue="shape",
                marker="o",
                markersize=3,
                ax=ax,
                **NO_STATS,
                legend=(i == 0 and j == len(panels) - 1),
            )
            for color, (_, g) in zip(
                sns.color_palette(style.PALETTE), sub.groupby("shape", sort=True), strict=False
            ):
                ax.fill_between(g["sigma"], g[f"{y}_low"], g[f"{y}_high"], color=color, alpha=0.2, lw=0)
            ax.set_xscale("log")
            if y == col:
                _plugin_floor(ax, sub)
            if y == "scale_adaptation":
                ax.set_yscale("symlog", linthresh=1.0)
            ax.set_title(f"{noise} noise" + ("" if j == 0 else f", {opt}"))
            ax.set_xlabel("noise level sigma")
            ax.set_ylabel(ylabel)
    if axes[0, -1].get_legend():
        sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def fig3(
    curves: pd.DataFrame, confusion: pd.DataFrame, classifier: pd.DataFrame, estimate: str
) -> plt.Figure:
    """Per (noise model, optimiser): pooled accuracy vs threshold (chosen one marked), LOSO confusion."""
    curves = curves[(curves["estimate"] == estimate) & np.isfinite(curves["threshold"])]
    confusion = confusion[confusion["estimate"] == estimate]
    noises, opts = sorted(curves["noise_model"].unique()), sorted(curves["optimizer"].unique())
    fig, axes = _grid(noises, [f"{o}{k}" for o in opts for k in ("c", "m")], width=2.8)
    for i, noise in enumerate(noises):
        for j, opt in enumerate(opts):
            ax = axes[i, 2 * j]
            sub = curves[(curves["noise_model"] == noise) & (curves["optimizer"] == opt)]
            sns.lineplot(
                data=sub, x="threshold", y="accuracy", ax=ax, color="0.3", drawstyle="steps-mid", **NO_STATS
            )
            thr = _pooled_threshold(classifier, noise, opt, estimate)
            if np.isfinite(thr):
                ax.axvline(thr, ls="--", color="C3", lw=1)
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{noise} noise, {opt}")
            ax.set_xlabel(f"threshold on log10 GSNR ({LABELS[estimate]})")
            c = confusion[(confusion["noise_model"] == noise) & (confusion["optimizer"] == opt)].iloc[0]
            mat = pd.DataFrame(
                [[c["true_adapts"], c["false_stuck"]], [c["false_adapts"], c["true_stuck"]]],
                index=["adapts", "stuck"],
                columns=["pred. adapts", "pred. stuck"],
            )
            sns.heatmap(mat, annot=True, fmt="d", cbar=False, cmap="Blues", ax=axes[i, 2 * j + 1])
            axes[i, 2 * j + 1].set_title("LOSO confusion")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    return cli.main("gsnr", argv)


if __name__ == "__main__":
    sys.exit(main())
