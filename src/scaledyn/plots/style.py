"""Shared figure style and saving (PDF for the report, PNG beside it).

Figures are drawn at the size they are printed: :data:`TEXT_WIDTH` is the report's text width
(``paper/report.tex.j2``: letter paper, 2.2 cm margins), and the report includes every figure at
``width=\\linewidth``, so the font sizes set here are the printed ones (8 pt labels, 7 pt ticks and legends).

One palette for every figure (:data:`COLORS`): a tensor class has the same colour wherever it appears, e.g.
study 000's matrix / vector / scalar shapes and study 001's W (a matrix) and gamma (a vector); so has a
verdict. :data:`MARKERS` and :data:`LINESTYLES` tell the shape classes apart where their points coincide.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from scaledyn.io import atomic_path  # noqa: E402

PALETTE = "colorblind"
_PAL = sns.color_palette(PALETTE)
TEXT_WIDTH = 6.75  # inches: the report's \linewidth (8.5 in letter paper minus two 2.2 cm margins)
PAGE_HEIGHT = 8.3  # inches: the tallest figure printed unscaled (0.9 \textheight: room for a caption)

COLORS: dict[str, tuple] = {
    # tensor classes (study 000's shapes; study 001: W is a matrix, gamma a vector)
    "matrix": _PAL[0],
    "vector": _PAL[1],
    "scalar": _PAL[4],
    "ratio": _PAL[2],  # study 001: SNR_gamma / SNR_W
    "loss": (0.15, 0.15, 0.15),
    # study 002's tensor classes (scaledyn.llm.tensor_snr.CLASSES): matrices in the matrix blues, the norm
    # gains in the vector oranges, md's scalar magnitude in the scalar purple
    "attn_matrix": _PAL[0],
    "mlp_matrix": _PAL[9],
    "embedding": _PAL[5],
    "head": _PAL[7],
    "input_gamma": _PAL[1],
    "output_gamma": _PAL[8],
    "placement": _PAL[6],
    "md_magnitude": _PAL[4],
    "md_direction": _PAL[3],
    # verdicts of the claims table
    "supported": _PAL[2],
    "not supported": _PAL[3],
    "inconclusive": _PAL[7],
}
SHAPES = ("matrix", "vector", "scalar")
MARKERS = {"matrix": "o", "vector": "s", "scalar": "^"}
LINESTYLES = {"matrix": "-", "vector": "--", "scalar": ":"}
GUIDE = "0.25"  # reference lines: thresholds, floors, equilibria


def shape_order(names: Iterable[str]) -> list[str]:
    """The shape classes present, in :data:`SHAPES` order, then any other name sorted."""
    names = set(names)
    return [s for s in SHAPES if s in names] + sorted(names - set(SHAPES))


def colors(names: Iterable[str]) -> dict[str, tuple]:
    """``{name: colour}``: :data:`COLORS` where named there, else the palette's unused colours in turn."""
    spare = itertools.cycle([c for c in _PAL if c not in COLORS.values()] or sns.color_palette("dark"))
    return {n: COLORS[n] if n in COLORS else next(spare) for n in names}


def setup() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE)
    plt.rcParams.update(
        {
            "figure.dpi": 150,
            "savefig.bbox": "tight",
            "savefig.pad_inches": 0.02,
            "pdf.fonttype": 42,
            "font.size": 8,
            "axes.labelsize": 8,
            "axes.titlesize": 8,
            "figure.titlesize": 8.5,
            "xtick.labelsize": 7,
            "ytick.labelsize": 7,
            "legend.fontsize": 7,
            "legend.title_fontsize": 7,
            "axes.linewidth": 0.6,
            "grid.linewidth": 0.5,
            "lines.linewidth": 1.2,
            "lines.markersize": 4,
            "xtick.major.pad": 2,
            "ytick.major.pad": 2,
            "axes.labelpad": 2,
            "axes.titlepad": 3,
        }
    )


def figure(height: float, **kw) -> tuple[plt.Figure, object]:
    """``plt.subplots`` at the report's text width and ``height`` inches, laid out by constrained layout."""
    return plt.subplots(figsize=(TEXT_WIDTH, height), layout="constrained", **kw)


def save(fig: plt.Figure, pdf_path: str | os.PathLike) -> None:
    """Write ``pdf_path`` and the PNG with the same stem, each atomically."""
    pdf_path = Path(pdf_path)
    for path in (pdf_path, pdf_path.with_suffix(".png")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:])
    plt.close(fig)
