"""Shared figure style and saving (PDF for the report, PNG beside it)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from scaledyn.io import atomic_path  # noqa: E402

PALETTE = "colorblind"


def setup() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.0)
    plt.rcParams.update({"figure.dpi": 150, "savefig.bbox": "tight", "pdf.fonttype": 42})


def save(fig: plt.Figure, pdf_path: str | os.PathLike) -> None:
    """Write ``pdf_path`` and the PNG with the same stem, each atomically."""
    pdf_path = Path(pdf_path)
    for path in (pdf_path, pdf_path.with_suffix(".png")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:])
    plt.close(fig)
