"""Study 002's part of the report's context (:func:`section`): what paper/llm.tex.j2 quotes, read
from the study's results and its config section (``scaledyn.report.context`` calls it through the study's
contract, ``Contract.report``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scaledyn import io


def section(results: Path, config: dict) -> dict:
    """Study 002: corpus, model sizes and parameter counts, per-variant table, blocked comparisons, the
    decay and final evaluation of each size, claims."""
    params = config["llm"]
    runs = pd.read_csv(results / "runs.csv")
    diverged = runs[runs["diverged"].astype(bool)]
    deltas = pd.read_csv(results / "deltas.csv", dtype={"seeds": str, "dropped_seeds": str})
    per_size = runs.groupby("size", as_index=False).agg(
        lr=("lr", "first"),
        lr_sum=("lr_sum", "first"),
        weight_decay=("weight_decay", "first"),
        decay_timescales=("decay_timescales", "first"),
        final_val_tokens=("final_val_tokens", "max"),
        final_val_se=("final_val_se", "median"),
        final_eval_s=("final_eval_s", "median"),
        wall_s=("wall_s", "median"),
    )
    return {
        "params": params,
        "corpus": io.read_json(results / "data" / "meta.json"),
        "sizes": {name: params["sizes"][name] for name in params["run_sizes"]},
        "n_runs": len(runs),
        "diverged": io.records(
            diverged[["size", "arch", "variant", "seed", "diverged_step", "diverged_reason"]]
        ),
        "steps": io.records(
            runs.groupby("size", as_index=False).agg(steps=("steps_planned", "max"), tokens=("tokens", "max"))
        ),
        "variants": io.records(pd.read_csv(results / "variants.csv")),
        "deltas": io.records(deltas),
        "designs": io.records(deltas[deltas["family"] == "reference"].drop_duplicates(["size", "arch"])),
        "per_size": io.records(per_size),
        "grads": io.records(pd.read_csv(results / "grads.csv")),
        "device": sorted(set(runs["device"].astype(str))),
        "claims": io.read_json(results / "claims.json"),
        "plan": io.read_json(results / "plan.json") if (results / "plan.json").exists() else None,
    }
