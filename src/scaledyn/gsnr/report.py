"""Study 000's part of the report's context (:func:`section`): what paper/gsnr.tex.j2 quotes, read
from the study's results and its config section (``scaledyn.report.context`` calls it through the study's
contract, ``Contract.report``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scaledyn import estimators, io
from scaledyn.gsnr.simulate import sigma_grid


def section(results: Path, config: dict) -> dict:
    """Study 000: parameters, classifier tables, claims."""
    params = config["gsnr"]
    classifier = pd.read_csv(results / "classifier.csv")
    pooled = classifier[classifier["scope"] == "pooled"].sort_values(["noise_model", "optimizer", "estimate"])
    per_shape = classifier[
        (classifier["scope"] != "pooled") & (classifier["estimate"] == params["claims"]["estimate"])
    ].sort_values(["noise_model", "optimizer", "scope"])
    runs = pd.read_csv(results / "runs.csv", usecols=["noise_model", "optimizer", "adapts"])
    sigmas = {name: sigma_grid(params["sigma"][name]) for name in params["noise_models"]}
    return {
        "params": params,
        "sigma_ranges": {
            k: {"min": float(v.min()), "max": float(v.max()), "num": len(v)} for k, v in sigmas.items()
        },
        "n_runs": len(runs),
        "adapts_fraction": io.records(
            runs.groupby(["noise_model", "optimizer"], as_index=False)["adapts"].mean()
        ),
        "classifier_pooled": io.records(pooled),
        "classifier_per_shape": io.records(per_shape),
        "claims": io.read_json(results / "claims.json"),
        "plugin_floor": float(estimators.gsnr_plugin_floor(params["gsnr_draws"])),
    }
