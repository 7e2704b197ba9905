"""Figures 1-3 of study 002, drawn from the tables written by ``scaledyn.llm.analysis`` (they only draw).

python -m scaledyn.plots.llm fig2_delta_vs_baseline --tables deltas.csv runs.csv --out fig2.pdf

(each figure's tables: :data:`scaledyn.plots.FIGURES`; the command line: :mod:`scaledyn.plots.cli`).

Bands and whiskers are the study's intervals over seeds as the analysis computed them
(``stats.ci_method`` at the ``stats`` settings); the level and method printed come from the tables'
``level`` and ``ci_method`` columns, the reference variant from their ``reference`` column and the claims'
``min_effect`` guide lines from ``deltas.csv``. ``runs.csv`` gives fig1 the sizes trained (a size whose runs
all diverged keeps its empty column) and fig2 the diverged-run counts.
"""

from __future__ import annotations

import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from scaledyn.llm.variants import VARIANTS
from scaledyn.plots import cli, style

COLORS = dict(zip(VARIANTS, sns.color_palette(style.PALETTE, len(VARIANTS)), strict=True))


def _ci_text(table: pd.DataFrame) -> str:
    """``<100 level>% CI, <method>`` from a table's ``level`` and ``ci_method`` columns."""
    if not len(table):
        return "CI"
    levels, methods = sorted(set(table["level"].astype(float))), sorted(set(table["ci_method"].astype(str)))
    level = f"{100 * levels[0]:g}% " if len(levels) == 1 else ""
    return f"{level}CI, {', '.join(methods)}"


def _groups(table: pd.DataFrame) -> list[tuple[str, str]]:
    """The (size, arch) groups of a table, sorted: one panel each."""
    return sorted(set(zip(table["size"].astype(str), table["arch"].astype(str), strict=True)))


def _of(table: pd.DataFrame, group: tuple[str, str]) -> pd.DataFrame:
    return table[(table["size"].astype(str) == group[0]) & (table["arch"].astype(str) == group[1])]


def _line(ax: plt.Axes, band: pd.DataFrame, x: str, label: str, color, ls: str = "-") -> None:
    ax.plot(band[x], band["mean"], color=color, ls=ls, lw=1.3, label=label)
    ok = np.isfinite(band["low"]) & np.isfinite(band["high"])
    ax.fill_between(band[x][ok], band["low"][ok], band["high"][ok], color=color, alpha=0.18, lw=0)


def fig1(bands: pd.DataFrame, paired: pd.DataFrame, runs: pd.DataFrame) -> plt.Figure:
    """Validation loss vs tokens per variant (top) and its paired difference to the reference (bottom).

    ``bands``: ``curve_bands.csv``; ``paired``: ``paired_curve_bands.csv``; ``runs``: ``runs.csv``."""
    groups = _groups(runs)  # a group whose runs all diverged keeps its (empty) column
    ref = str(paired["reference"].iloc[0]) if len(paired) else ""
    fig, axes = plt.subplots(2, len(groups), figsize=(5.2 * len(groups), 6.2), squeeze=False, sharex="col")
    for j, group in enumerate(groups):
        sub = _of(bands, group)
        if sub.empty:
            axes[0, j].text(0.5, 0.5, "no validation loss:\nevery run diverged", ha="center",
                            transform=axes[0, j].transAxes)  # fmt: skip
        diff = _of(paired, group)
        for variant in [v for v in VARIANTS if v in set(sub["variant"])]:
            _line(axes[0, j], sub[sub["variant"] == variant], "tokens", variant, COLORS[variant])
            mine = diff[diff["variant"] == variant]
            if len(mine):
                _line(axes[1, j], mine, "tokens", variant, COLORS[variant])
        axes[0, j].set_title(f"size {group[0]}, {group[1]}")
        axes[0, j].set_ylabel("validation loss (nats/byte)")
        axes[1, j].axhline(0.0, color="0.3", lw=0.8)
        axes[1, j].set_ylabel(f"val loss - {ref} (paired by seed)")
        axes[1, j].set_xlabel("training tokens")
        later = sub[sub["step"] > 1]
        if len(later):
            # the first evaluations sit far above the rest: start the loss axis where the runs separate
            late = sub[sub["tokens"] >= later.loc[later["step"] == later["step"].min(), "tokens"].iloc[0]]
            axes[0, j].set_ylim(late["mean"].min() - 0.05, late["mean"].max() + 0.05)
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"mean over seeds and band ({_ci_text(pd.concat([bands, paired]))})", fontsize=9)
    fig.tight_layout()
    return fig


def fig2(deltas: pd.DataFrame, runs: pd.DataFrame) -> plt.Figure:
    """Final validation loss minus the reference per variant with paired-by-seed CIs.

    ``deltas``: ``deltas.csv`` (intervals, level, method, reference, min_effect); ``runs``: ``runs.csv``."""
    groups = _groups(deltas) if len(deltas) else _groups(runs)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.0 * len(groups), 3.4), squeeze=False)
    m = float(deltas["min_effect"].iloc[0]) if len(deltas) else 0.0
    ref = str(deltas["reference"].iloc[0]) if len(deltas) else ""
    for j, group in enumerate(groups):
        ax = axes[0, j]
        d = _of(deltas, group) if len(deltas) else deltas
        order = [v for v in VARIANTS if len(d) and v in set(d["variant"])]
        for i, variant in enumerate(order):
            row = d[d["variant"] == variant].iloc[0]
            err = np.array([[row["delta"] - row["ci_low"]], [row["ci_high"] - row["delta"]]])
            ax.errorbar(row["delta"], i, xerr=np.nan_to_num(err), fmt="o", color=COLORS[variant], capsize=3)
            n_div = int(_of(runs, group).query("variant == @variant")["diverged"].sum())
            text = f"n={int(row['n_pairs'])}" + (f", {n_div} diverged" if n_div else "")
            ax.annotate(
                text,
                (1.0, i),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        ax.axvline(0.0, color="0.3", lw=0.8)
        if m > 0:
            for s in (-m, m):
                ax.axvline(s, color="0.5", lw=0.8, ls=":")
        ax.set_yticks(range(len(order)), order)
        ax.invert_yaxis()
        ax.set_xlabel(f"final val loss - {ref} ({_ci_text(deltas)})")
        ax.set_title(f"size {group[0]}, {group[1]}")
    fig.tight_layout()
    return fig


PANELS = [
    ("input", "in", "Input-Norm gammas"),
    ("output", "in", "Output-Norm gammas"),
    ("input", "out", "placement vectors (output side)"),
]


def fig3(bands: pd.DataFrame) -> plt.Figure:
    """RMS of the scale vectors over training: Input vs Output norms, dashed where weight-decayed.

    ``bands``: ``gamma_bands.csv``."""
    panels = [p for p in PANELS if ((bands["kind"] == p[0]) & (bands["side"] == p[1])).any()]
    groups = _groups(bands)
    fig, axes = plt.subplots(
        len(groups),
        max(len(panels), 1),
        figsize=(4.0 * max(len(panels), 1), 3.2 * len(groups)),
        squeeze=False,
    )
    for i, group in enumerate(groups):
        for j, (kind, side, title) in enumerate(panels):
            ax = axes[i, j]
            sub = _of(bands, group)
            sub = sub[(sub["kind"] == kind) & (sub["side"] == side)]
            order = [v for v in VARIANTS if v in set(sub["variant"])]
            for variant in order:
                for decayed, g in sub[sub["variant"] == variant].groupby("decayed", sort=True):
                    label = f"{variant} ({'decayed' if decayed else 'no decay'})"
                    _line(ax, g, "step", label, COLORS.get(variant, "0.3"), "--" if decayed else "-")
            ax.axhline(1.0, color="0.6", lw=0.6)
            ax.set_title(f"{title}, size {group[0]}, {group[1]}", fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel("RMS of gamma (mean over vectors)")
            ax.legend(fontsize=6)
    fig.suptitle(f"mean over seeds and band ({_ci_text(bands)})", fontsize=9)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    return cli.main("llm", argv)


if __name__ == "__main__":
    sys.exit(main())
