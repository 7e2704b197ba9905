"""The forest plot of every claim, from the claims table (``results/claims/claims.csv``).

python -m scaledyn.plots.claims forest --tables claims.csv --out forest.pdf

(the table: :mod:`scaledyn.report.claims_table`; the command line: :mod:`scaledyn.plots.cli`).

The figure only draws: each row's interval minus its threshold, signed so that meeting the criterion is
positive (``margin_low``, ``margin``, ``margin_high``), one panel per paper, coloured by the adjusted verdict;
a hollow marker where the multiplicity adjustment turned a decided verdict inconclusive. Drawn at the report's
text width; the rows are as tall as fits the figure on one page (:data:`scaledyn.plots.style.PAGE_HEIGHT`),
between :data:`ROW_MIN` and :data:`ROW_MAX` inches, and the labels' size follows the row height.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from scaledyn.plots import cli, style

VERDICTS = ("supported", "not supported", "inconclusive")
ROW_MAX, ROW_MIN = 0.13, 0.09  # inches per claim row (labels 0.85 of it, 5.5 to 6.5 pt: no overlap)
PANEL_INCHES = 0.3  # title and axis of each paper's panel
FRAME_INCHES = 0.55  # the legend above and the x label below


def _colours() -> dict[str, tuple]:
    return {v: style.COLORS[v] for v in VERDICTS}


def _row_inches(rows: int, panels: int) -> float:
    """The row height that fits every row on one page, within [ROW_MIN, ROW_MAX]."""
    free = style.PAGE_HEIGHT - FRAME_INCHES - PANEL_INCHES * panels
    return min(ROW_MAX, max(ROW_MIN, free / max(rows, 1)))


def _linthresh(frame: pd.DataFrame) -> float:
    """The symlog axis's linear range: a power of ten at or below the paper's median interval half-width."""
    half = ((frame["margin_high"] - frame["margin_low"]) / 2).to_numpy(float)
    half = half[np.isfinite(half) & (half > 0)]
    if half.size == 0:
        return 0.01
    return 10.0 ** math.floor(math.log10(float(np.median(half))))


def _paper(value: object) -> str:
    """A paper's number as the studies write it ("000"), also when the CSV reader made it an integer."""
    text = str(value)
    return f"{int(text):03d}" if text.isdigit() else text


def forest(claims: pd.DataFrame):
    colours = _colours()
    claims = claims.assign(paper=claims["paper"].map(_paper))
    papers = sorted(set(claims["paper"]))
    counts = [int((claims["paper"] == p).sum()) for p in papers]
    row = _row_inches(sum(counts), len(papers))
    font = min(6.5, 0.85 * 72 * row)  # points: a label a little smaller than its row
    height = row * sum(counts) + PANEL_INCHES * len(papers) + FRAME_INCHES
    fig, axes = style.figure(
        height,
        nrows=len(papers),
        gridspec_kw={"height_ratios": [c + PANEL_INCHES / row for c in counts]},
        squeeze=False,
    )
    for ax, paper in zip(axes[:, 0], papers, strict=True):
        rows = claims[claims["paper"] == paper].reset_index(drop=True)
        y = np.arange(len(rows))
        numbers = rows["label"].astype(str).str.split(" ", n=1).str[0]
        for k, (_, block) in enumerate(rows.groupby(numbers, sort=False)):
            if k % 2:
                ax.axhspan(block.index.min() - 0.5, block.index.max() + 0.5, color="0.94", zorder=0, lw=0)
        for i, r in rows.iterrows():
            c = colours.get(r["verdict_adjusted"], colours["inconclusive"])
            if not np.isfinite(r["margin_low"]):
                ax.text(0, i, "no interval", fontsize=font - 0.5, color="0.4", ha="center", va="center")
                continue
            ax.hlines(i, r["margin_low"], r["margin_high"], color=c, lw=1.6, zorder=2)
            downgraded = r["verdict"] != r["verdict_adjusted"]
            ax.plot(r["margin"], i, "o", ms=3.2, mfc="white" if downgraded else c, mec=c, mew=0.9, zorder=3)
        ax.axvline(0, color="0.2", lw=0.8, zorder=1)
        ax.set_xscale("symlog", linthresh=_linthresh(rows), linscale=0.6)
        ax.set_yticks(y, rows["label"].astype(str), fontsize=font)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.tick_params(axis="x", labelsize=6.5)
        ax.margins(x=0.04)
        ax.grid(axis="y", visible=False)
        ax.set_title(f"Paper {paper}", fontsize=8, loc="left", fontweight="bold")
    axes[-1, 0].set_xlabel("interval minus threshold, signed: > 0 meets the criterion (symlog)", fontsize=7)
    handles = [Line2D([], [], color=colours[v], marker="o", ms=3.2, lw=1.6, label=v) for v in VERDICTS]
    handles.append(
        Line2D([], [], color="0.4", marker="o", ms=3.2, mfc="white", lw=0, label="decided before adjustment")
    )
    fig.legend(handles=handles, loc="outside upper center", ncol=4, frameon=False)
    return fig


def main(argv: list[str] | None = None) -> int:
    return cli.main("claims", argv)


if __name__ == "__main__":
    sys.exit(main())
