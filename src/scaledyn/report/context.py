"""Build the report's JSON context from result files.

Every number the report quotes is read here from a results file of the DAG (claims, classifier tables,
benchmark files) or from the validated config; the template only formats what it is given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from scaledyn import io
from scaledyn.gsnr.simulate import sigma_grid


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in df.to_dict("records")]


def gsnr_section(results: Path, config: dict) -> dict:
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
        "adapts_fraction": _records(
            runs.groupby(["noise_model", "optimizer"], as_index=False)["adapts"].mean()
        ),
        "classifier_pooled": _records(pooled),
        "classifier_per_shape": _records(per_shape),
        "claims": io.read_json(results / "claims.json"),
        "figures": {
            name: f"../figures/gsnr/{name}.pdf"
            for name in ("fig1_gsnr_vs_adaptation", "fig2_noise_sweep", "fig3_threshold")
        },
    }


SECTIONS: dict[str, Callable[[Path, dict], dict]] = {"gsnr": gsnr_section}


def wall_times(benchmark_files: Iterable[str | Path]) -> list[dict]:
    """Wall time per job from Snakemake ``benchmark:`` files (results/benchmarks/<rule>/<job>.tsv)."""
    rows = []
    for f in sorted(map(Path, benchmark_files)):
        bench = pd.read_csv(f, sep="\t")
        rows.append(
            {
                "rule": f.parent.name,
                "job": f.stem,
                "seconds": float(bench["s"].iloc[0]),
                "max_rss_mb": float(bench["max_rss"].iloc[0]) if "max_rss" in bench else None,
            }
        )
    return rows


def build(config: dict, study_dirs: dict[str, Path], benchmark_files: Iterable[str | Path]) -> dict:
    walls = wall_times(benchmark_files)
    per_rule = pd.DataFrame(walls or [{"rule": "", "job": "", "seconds": 0.0}])
    rule_totals = per_rule.groupby("rule", as_index=False).agg(
        jobs=("job", "size"), seconds=("seconds", "sum")
    )
    claims = [c for name in study_dirs for c in SECTIONS[name](study_dirs[name], config)["claims"]]
    return {
        "title": config["report"]["title"],
        "studies": list(study_dirs),
        "sections": {name: SECTIONS[name](d, config) for name, d in study_dirs.items()},
        "claims": claims,
        "stats": config["stats"],
        "seed": config["seed"],
        "provenance": {
            "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": io.git_commit(),
            "config_hash": io.config_hash(config),
            "versions": io.package_versions(),
            "machine": io.machine(),
            "rules": _records(rule_totals[rule_totals["rule"] != ""]),
            "jobs": walls,
        },
    }
