"""Figures: one module per study, a shared style; every figure is drawn from tidy result tables.

:data:`FIGURES` is the one list of every study's figures: the figure rules, the DAG's targets and the report
context take the names from it (``workflow/rules/<study>.smk`` reads it; this module imports no matplotlib).
Each entry names the drawing function of ``scaledyn.plots.<study>``, the result tables
(``results/<study>/<table>.csv``) it is given in that order, and the config values it takes as keywords.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    draw: str  # the drawing function of scaledyn.plots.<study>
    tables: tuple[str, ...]  # file stems under results/<study>/, in the order of the function's arguments
    options: tuple[str, ...] = ()  # config values the function takes as keywords (--option NAME=VALUE)


FIGURES: dict[str, dict[str, Figure]] = {
    "gsnr": {
        "fig1_gsnr_vs_adaptation": Figure("fig1", ("gsnr_points", "classifier"), ("estimate",)),
        "fig2_noise_sweep": Figure("fig2", ("summary",), ("estimate",)),
        "fig3_threshold": Figure("fig3", ("curves", "confusion", "classifier"), ("estimate",)),
    },
    "minimal_model": {
        "fig1_dynamics": Figure("fig1", ("dynamics_bands", "figure_guides", "equilibrium")),
        "fig2_batch": Figure("fig2", ("sweep_bands", "figure_guides")),
        "fig3_weight_decay": Figure("fig3", ("sweep_bands", "equilibrium")),
        "fig4_dimension": Figure("fig4", ("sweep_bands", "slopes", "figure_guides")),
    },
    "llm": {
        "fig1_val_loss": Figure("fig1", ("curve_bands", "paired_curve_bands", "runs")),
        "fig2_delta_vs_baseline": Figure("fig2", ("deltas", "runs")),
        "fig3_gamma_trajectories": Figure("fig3", ("gamma_bands",)),
        "fig4_tensor_snr": Figure("tensor_snr", ("tensor_snr",)),
    },
    # every study's claims: results/claims/claims.csv (scaledyn.report.claims_table), figures/claims/
    "claims": {
        "forest": Figure("forest", ("claims",)),
    },
}
