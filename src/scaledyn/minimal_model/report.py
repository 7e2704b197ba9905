"""Study 001's part of the report's context (:func:`section`): what paper/minimal_model.tex.j2 quotes, read
from the study's results and its config section (``scaledyn.report.context`` calls it through the study's
contract, ``Contract.report``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scaledyn import estimators, io


def section(results: Path, config: dict) -> dict:
    """Study 001: parameters, headline equilibrium values, fitted exponents, claims."""
    params = config["minimal_model"]
    eq = pd.read_csv(results / "equilibrium.csv")
    headline = eq[eq["sweep"] == "dynamics"]
    slopes = pd.read_csv(results / "slopes.csv")
    snrs = ["snr_exact_w", "snr_exact_gamma", "snr_exact_ratio", "snr_w", "snr_gamma", "snr_ratio"]
    slopes = slopes[slopes["metric"].isin([*snrs, "w_norm", "gamma_norm"])]
    k = params["measure"]["snr_draws"]
    return {
        "params": params,
        "snr_floor": estimators.snr_floor(k),
        "snr2_floor": estimators.snr_floor(k, squared=True),
        "equilibrium_reference": float(headline.loc[headline["metric"] == "w_rms", "reference"].iloc[0]),
        "headline": io.records(headline),
        "slopes": io.records(slopes),
        "claims": io.read_json(results / "claims.json"),
    }
