"""Figures 1-3 of study 002, from the tables written by ``scaledyn.llm.analysis``.

python -m scaledyn.plots.llm fig1 --curves curves.csv --params CLAIMS_JSON --level 0.95 --out fig1.pdf
python -m scaledyn.plots.llm fig2 --deltas deltas.csv --runs runs.csv --params CLAIMS_JSON --out fig2.pdf
python -m scaledyn.plots.llm fig3 --gammas gamma_traj.csv --params CLAIMS_JSON --level 0.95 --out fig3.pdf

Bands and whiskers are the study's intervals over seeds (``llm.claims.ci_method``: Student t by default).
"""

from __future__ import annotations

import argparse
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from scaledyn import stats
from scaledyn.llm.variants import VARIANTS
from scaledyn.plots import style

COLORS = dict(zip(VARIANTS, sns.color_palette(style.PALETTE, len(VARIANTS)), strict=True))


def _band(frame: pd.DataFrame, x: str, y: str, level: float, method: str) -> pd.DataFrame:
    """Mean and CI of ``y`` over seeds at each ``x``."""
    rows = []
    for xv, g in frame.groupby(x, sort=True):
        values = g[y].astype(float).to_numpy()
        est = stats.mean_interval(values, method, level=level)
        rows.append({x: xv, "mean": est[0], "low": est[1], "high": est[2]})
    return pd.DataFrame(rows)


def _line(ax: plt.Axes, band: pd.DataFrame, x: str, label: str, color, ls: str = "-") -> None:
    ax.plot(band[x], band["mean"], color=color, ls=ls, lw=1.3, label=label)
    ok = np.isfinite(band["low"]) & np.isfinite(band["high"])
    ax.fill_between(band[x][ok], band["low"][ok], band["high"][ok], color=color, alpha=0.18, lw=0)


def fig1(curves: pd.DataFrame, claims: dict, level: float) -> plt.Figure:
    """Validation loss vs tokens per variant (top) and its paired difference to the reference (bottom)."""
    ref, method = claims["reference"], claims["ci_method"]
    val = curves.dropna(subset=["val_loss"])
    sizes = sorted(curves["size"].unique())  # a size whose runs all diverged keeps its (empty) column
    fig, axes = plt.subplots(2, len(sizes), figsize=(5.2 * len(sizes), 6.2), squeeze=False, sharex="col")
    for j, size in enumerate(sizes):
        sub = val[val["size"] == size]
        if sub.empty:
            axes[0, j].text(0.5, 0.5, "no validation loss:\nevery run diverged", ha="center",
                            transform=axes[0, j].transAxes)  # fmt: skip
        base = sub[sub["variant"] == ref].set_index(["seed", "step"])["val_loss"]
        for variant in [v for v in VARIANTS if v in set(sub["variant"])]:
            mine = sub[sub["variant"] == variant]
            _line(
                axes[0, j],
                _band(mine, "tokens", "val_loss", level, method),
                "tokens",
                variant,
                COLORS[variant],
            )
            if variant == ref:
                continue
            diff = mine.set_index(["seed", "step"])["val_loss"] - base
            paired = mine.set_index(["seed", "step"]).assign(diff=diff).dropna(subset=["diff"])
            _line(
                axes[1, j], _band(paired, "tokens", "diff", level, method), "tokens", variant, COLORS[variant]
            )
        axes[0, j].set_title(f"size {size}")
        axes[0, j].set_ylabel("validation loss (nats/byte)")
        axes[1, j].axhline(0.0, color="0.3", lw=0.8)
        axes[1, j].set_ylabel(f"val loss - {ref} (paired by seed)")
        axes[1, j].set_xlabel("training tokens")
        first = (
            sub["tokens"][sub["step"] == sub["step"][sub["step"] > 1].min()] if len(sub) else sub["tokens"]
        )
        if len(first):
            # the first evaluations sit far above the rest: start the loss axis where the runs separate
            late = sub[sub["tokens"] >= first.iloc[0]]["val_loss"]
            axes[0, j].set_ylim(late.min() - 0.05, late.max() + 0.05)
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def fig2(deltas: pd.DataFrame, runs: pd.DataFrame, claims: dict, level: float) -> plt.Figure:
    """Final validation loss minus the reference per variant with paired-by-seed CIs."""
    sizes = sorted(deltas["size"].unique()) if len(deltas) else sorted(runs["size"].unique())
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.0 * len(sizes), 3.4), squeeze=False)
    m = float(claims["min_effect"])
    for j, size in enumerate(sizes):
        ax = axes[0, j]
        d = deltas[deltas["size"] == size] if len(deltas) else deltas
        order = [v for v in VARIANTS if len(d) and v in set(d["variant"])]
        for i, variant in enumerate(order):
            row = d[d["variant"] == variant].iloc[0]
            err = np.array([[row["delta"] - row["ci_low"]], [row["ci_high"] - row["delta"]]])
            ax.errorbar(row["delta"], i, xerr=np.nan_to_num(err), fmt="o", color=COLORS[variant], capsize=3)
            n_div = int(runs[(runs["size"] == size) & (runs["variant"] == variant)]["diverged"].sum())
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
        ax.set_xlabel(f"final val loss - {claims['reference']} ({level:.0%} CI, {claims['ci_method']})")
        ax.set_title(f"size {size}")
    fig.tight_layout()
    return fig


PANELS = [
    ("input", "in", "Input-Norm gammas"),
    ("output", "in", "Output-Norm gammas"),
    ("input", "out", "placement vectors (output side)"),
]


def fig3(gammas: pd.DataFrame, claims: dict, level: float) -> plt.Figure:
    """RMS of the scale vectors over training: Input vs Output norms, dashed where weight-decayed."""
    method = claims["ci_method"]
    panels = [p for p in PANELS if ((gammas["kind"] == p[0]) & (gammas["side"] == p[1])).any()]
    sizes = sorted(gammas["size"].unique())
    fig, axes = plt.subplots(
        len(sizes), max(len(panels), 1), figsize=(4.0 * max(len(panels), 1), 3.2 * len(sizes)), squeeze=False
    )
    for i, size in enumerate(sizes):
        for j, (kind, side, title) in enumerate(panels):
            ax = axes[i, j]
            sub = gammas[(gammas["size"] == size) & (gammas["kind"] == kind) & (gammas["side"] == side)]
            for (variant, decayed), g in sub.groupby(["variant", "decayed"], sort=False):
                label = f"{variant} ({'decayed' if decayed else 'no decay'})"
                band = _band(g, "step", "rms", level, method)
                _line(ax, band, "step", label, COLORS.get(variant, "0.3"), "--" if decayed else "-")
            ax.axhline(1.0, color="0.6", lw=0.6)
            ax.set_title(f"{title}, size {size}", fontsize=9)
            ax.set_xlabel("step")
            ax.set_ylabel("RMS of gamma (mean over vectors)")
            ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.plots.llm")
    parser.add_argument("figure", choices=["fig1", "fig2", "fig3"])
    for name in ("curves", "deltas", "runs", "gammas"):
        parser.add_argument(f"--{name}")
    parser.add_argument("--params", required=True, help="the llm.claims section as JSON")
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    claims = json.loads(args.params)
    style.setup()
    read = pd.read_csv
    if args.figure == "fig1":
        fig = fig1(read(args.curves), claims, args.level)
    elif args.figure == "fig2":
        fig = fig2(read(args.deltas), read(args.runs), claims, args.level)
    else:
        fig = fig3(read(args.gammas), claims, args.level)
    style.save(fig, args.out)


if __name__ == "__main__":
    main()
