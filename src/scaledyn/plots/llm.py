"""Figures 1-3 of study 002, drawn from the tables written by ``scaledyn.llm.analysis`` (they only draw).

python -m scaledyn.plots.llm fig2_delta_vs_baseline --tables deltas.csv runs.csv --out fig2.pdf

(each figure's tables: :data:`scaledyn.plots.FIGURES`; the command line: :mod:`scaledyn.plots.cli`).

One panel (column, or row for fig3) per (size, arch): both architectures' arms are visible, each against its
own reference. Bands of fig1 and fig3 are the study's intervals over seeds as the analysis computed them
(``stats.ci_method`` at the ``stats`` settings; the level and method printed come from the tables' ``level``
and ``ci_method`` columns). fig2 draws ``deltas.csv``'s comparisons: the pooled-t intervals against the
reference, the union minus its runner-up, the A/A arm's unpaired interval, the claims' ``min_effect`` guide
lines, each panel's seeds, pooled df and spread check. ``runs.csv`` gives fig1 the groups trained (a
group whose runs all diverged keeps its empty column) and fig2 the diverged-run counts.
"""

from __future__ import annotations

import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import EngFormatter

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
    fig, axes = style.figure(4.6, nrows=2, ncols=len(groups), squeeze=False, sharex="col")
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
        axes[1, j].axhline(0.0, color=style.GUIDE, lw=0.8)
        axes[1, j].set_xlabel("training tokens")
        axes[1, j].xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 400k, ...: labels that fit
        later = sub[sub["step"] > 1]
        if len(later):
            # the first evaluations sit far above the rest: start the loss axis where the runs separate
            late = sub[sub["tokens"] >= later.loc[later["step"] == later["step"].min(), "tokens"].iloc[0]]
            axes[0, j].set_ylim(late["mean"].min() - 0.05, late["mean"].max() + 0.05)
    axes[0, 0].set_ylabel("validation loss (nats/byte)")
    axes[1, 0].set_ylabel(f"val loss $-$ {ref}\n(paired by seed)")
    for ax in axes[0]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(ncol=2, handlelength=1.5, columnspacing=0.8)
    fig.suptitle(f"mean over seeds and band ({_ci_text(pd.concat([bands, paired]))})")
    return fig


def fig2(deltas: pd.DataFrame, runs: pd.DataFrame) -> plt.Figure:
    """Final validation loss minus the reference per arm, one panel per (size, arch): the pooled-t interval of
    each arm on the reference's seed stream (bar, dot), the union minus its runner-up (square) and the A/A arm
    (diamond, Welch's unpaired interval); each row's standard error beside it.

    ``deltas``: ``deltas.csv`` (intervals, level, blocks, df, spread check, reference, min_effect);
    ``runs``: ``runs.csv`` (the diverged-run counts)."""
    groups = _groups(deltas) if len(deltas) else _groups(runs)
    n_rows = [max(len(_of(deltas, g)) if len(deltas) else 0, 3) for g in groups]
    fig, axes = style.figure(
        0.5 + 0.2 * sum(n_rows) + 0.45 * len(groups),
        nrows=len(groups),
        squeeze=False,
        sharex=True,
        gridspec_kw={"height_ratios": n_rows},
    )
    axes = axes.T  # one panel per row of the page: axes[0, j]
    m = float(deltas["min_effect"].iloc[0]) if len(deltas) else 0.0
    ref = str(deltas["reference"].iloc[0]) if len(deltas) else ""
    for j, group in enumerate(groups):
        ax = axes[0, j]
        d = _of(deltas, group) if len(deltas) else deltas
        order = {"reference": 0, "runner_up": 1, "aa": 2}
        rows = sorted(d.to_dict("records"), key=lambda r: (order.get(r["family"], 3), _rank(r["variant"])))
        for i, r in enumerate(rows):
            colour, main = COLORS[r["variant"]], r["family"] == "reference"
            marker = {"runner_up": "s", "aa": "D"}.get(r["family"], "o")
            ax.hlines(i, r["ci_low"], r["ci_high"], color=colour, lw=2.4 if main else 1.3)
            ax.plot(r["delta"], i, marker, color=colour, ms=4, mfc=colour if main else "white")
            n_div = int(_of(runs, group).query("variant == @r['variant']")["diverged"].astype(bool).sum())
            ax.annotate(
                f"se {r['se']:.2g}" + (f", {n_div} diverged" if n_div else ""),
                (1.0, i),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=6.5,
            )
        ax.axvline(0.0, color=style.GUIDE, lw=0.8)
        for x in (-m, m) if m > 0 else ():
            ax.axvline(x, color=style.GUIDE, lw=0.8, ls=":")
        labels = [
            r["variant"] if r["family"] == "reference" else f"{r['variant']} - {r['versus']}" for r in rows
        ]
        ax.set_yticks(range(len(rows)), labels)
        ax.set_ylim(max(len(rows), 3) - 0.5, -0.5)
        ax.set_title(f"size {group[0]}, {group[1]}: {_design_text(d)}")
    axes[0, -1].set_xlabel("difference of final val loss (nats/byte)")
    if len(deltas):
        fig.suptitle(
            f"arm $-$ {ref}: {100 * float(deltas['level'].iloc[0]):g}% pooled-t interval, paired by seed;\n"
            "square: unified $-$ runner-up; diamond: A/A arm (Welch, unpaired); "
            f"dotted: $\\pm$min_effect {m:g}"
        )
    return fig


def _rank(variant: str) -> int:
    return list(VARIANTS).index(variant) if variant in VARIANTS else len(VARIANTS)


def _design_text(d: pd.DataFrame) -> str:
    """``S seeds, df k, spread p`` of one (size, arch) panel (the same on every row of it)."""
    if not len(d):
        return "no comparison"
    r = d.iloc[0]
    spread = "n/a" if pd.isna(r["spread_p"]) else f"{float(r['spread_p']):.2g}"
    return f"{int(r['n_blocks'])} seeds, df {int(r['df'])}, spread check p {spread}"


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
    fig, axes = style.figure(
        0.4 + 2.1 * len(groups), nrows=len(groups), ncols=max(len(panels), 1), squeeze=False
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
            ax.set_title(f"{title}\nsize {group[0]}, {group[1]}")
            if not order:  # e.g. Output-Norms in Pre-Norm, placement vectors without a placement arm
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"none in the {group[1]} arms", ha="center", transform=ax.transAxes)
                continue
            ax.axhline(1.0, color=style.GUIDE, lw=0.6)
            ax.set_xlabel("step")
            ax.legend(fontsize=6, handlelength=1.8)
        axes[i, 0].set_ylabel("RMS of gamma\n(mean over vectors)")
    fig.suptitle(f"mean over seeds and band ({_ci_text(bands)}); dashed: weight-decayed")
    return fig


def main(argv: list[str] | None = None) -> int:
    return cli.main("llm", argv)


if __name__ == "__main__":
    sys.exit(main())


# -- per-tensor gradient SNR (papers 000 and 001 in the LM; table: scaledyn.llm.tensor_snr_analysis) --------

SNR_PANELS = (
    ("gsnr", "GSNR, bias-corrected (paper 000)"),
    ("snr2", "per-parameter SNR$^2$, unbiased (paper 001)"),
)


def tensor_snr(bands: pd.DataFrame) -> plt.Figure:
    """GSNR and per-parameter SNR^2 per tensor class over training, log y, bands over seeds, plug-in floors.

    ``bands``: ``tensor_snr.csv``. One row of panels per arm (its identity columns but the variant); each
    class is drawn from the first variant (in :data:`VARIANTS` order, baseline first) that has it, dashed
    and labelled with that variant when it is not baseline. Values <= 0 (the unbiased estimates can be
    negative) are not drawn; a band reaching below the axis is cut at its bottom."""
    lead = list(bands.columns[: list(bands.columns).index("draws")])
    arms = [c for c in lead if c != "variant"]
    groups = list(bands.groupby(arms, sort=True)) if arms and len(bands) else [((), bands)]
    classes = list(pd.unique(bands["class"]))
    colors = style.colors(classes)
    fig, axes = style.figure(0.9 + 2.2 * len(groups), nrows=len(groups), ncols=2, squeeze=False, sharex=True)
    for i, (key, sub) in enumerate(groups):
        for j, (metric, title) in enumerate(SNR_PANELS):
            ax, mine = axes[i, j], sub[sub["metric"] == metric]
            positive = mine.loc[mine["mean"] > 0, "mean"]
            floors = sorted(set(mine["plugin_floor"].astype(float)))
            bottom = 0.3 * min([*positive, *floors]) if len(positive) or floors else 1e-6
            for cls in classes:
                have = [v for v in VARIANTS if ((mine["class"] == cls) & (mine["variant"] == v)).any()]
                if not have:
                    continue
                band = mine[(mine["class"] == cls) & (mine["variant"] == have[0])].sort_values("step")
                band = band.assign(
                    mean=band["mean"].where(band["mean"] > 0), low=band["low"].clip(lower=bottom)
                )
                label = cls if have[0] == "baseline" else f"{cls} ({have[0]})"
                ls = "-" if have[0] == "baseline" else "--"
                ax.plot(band["step"], band["mean"], color=colors[cls], ls=ls, lw=1.3, marker=".", label=label)
                ok = np.isfinite(band["low"]) & np.isfinite(band["high"])
                x, low, high = band["step"][ok], band["low"][ok], band["high"][ok]
                ax.fill_between(x, low, high, color=colors[cls], alpha=0.08, lw=0)
            for k, floor in mine[["draws", "plugin_floor"]].drop_duplicates().itertuples(index=False):
                ax.axhline(floor, color=style.GUIDE, lw=0.9, ls=":", label=f"plug-in floor, K={k}")
            ax.set_yscale("log")
            ax.set_ylim(bottom=bottom)
            ax.set_title(f"{title}" + (f"\n{', '.join(map(str, np.atleast_1d(key)))}" if arms else ""))
        axes[-1, 0].set_xlabel("step")
        axes[-1, 1].set_xlabel("step")
        axes[i, 0].set_ylabel("class mean over its tensors")
    if bands.empty:
        axes[0, 0].text(0.5, 0.5, "no measurement (llm.tensor_snr.enabled: false)", ha="center",
                        transform=axes[0, 0].transAxes)  # fmt: skip
    else:
        entries = {}  # every class of every arm (sandwich adds its output gammas), each once
        for ax in axes[:, 1]:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                entries.setdefault(label, handle)
        fig.legend(entries.values(), entries.keys(), loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(f"mean over seeds and band ({_ci_text(bands)})")
    return fig
