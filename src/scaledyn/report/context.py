"""Build the report's JSON context from result files.

Every number the report quotes is read from a results file of the DAG (claims, benchmark files) or from the
validated config, here or, for a study's own section, in its package (``scaledyn.<study>.report.section``,
named by its contract); the template only formats what it is given.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from scaledyn import io
from scaledyn.config import section as config_section
from scaledyn.minimal_model import claims as mm_claims
from scaledyn.plots import FIGURES
from scaledyn.provenance import sidecar
from scaledyn.report import claims_table
from scaledyn.studies import CONTRACTS


def comparison(study_dirs: dict[str, Path], config: dict) -> list[dict] | None:
    """Which shapes are noise-dominated, as each study measures it (when at least two studies ran).

    Study 000: median log10 GSNR (the claims' estimate) of matrices minus that of the non-matrix shapes, over
    the moderate noise levels, per noise model (the rows of any optimiser, not the practitioner rows; the
    note holds the closed-form expectation: the gap follows from the noise model). Study 001: late-phase
    per-parameter SNR of gamma over that of W at the headline point, on the estimate its claims are decided on
    (``minimal_model.claims.snr_estimate``: by default the exact SNR, not the K-draw estimate, whose floor
    pulls the ratio towards 1). Study 002 (the LM, where both papers' measures are taken on the same runs):
    the late log10 ratio of the group means, matrices over scale vectors, of the bias-corrected GSNR (paper
    000's measure, claim C6) and of the unbiased per-parameter SNR^2 (paper 001's, claim C7) on the reference
    arm. Only the rows that decide (role ``claim``), never practitioner rows. Every row is read from its
    study's own results files; ``matrix_higher`` / ``matrix_lower``: the whole interval on one side of no
    difference.
    """
    rows = []
    if "gsnr" in study_dirs:
        for c in io.read_json(study_dirs["gsnr"] / "claims.json"):
            decides = c.get("role", "claim") == "claim"
            if decides and c["measure"] == "min log10 GSNR gap" and c["scope"].endswith("any optimiser"):
                rows.append(
                    _gap_row("000", f"matrix minus vector/scalar log10 GSNR, {c['scope']} ({c['note']})", c)
                )
    if "minimal_model" in study_dirs:
        eq = pd.read_csv(study_dirs["minimal_model"] / "equilibrium.csv")
        estimate = config_section("minimal_model", config.get("minimal_model", {}))["claims"]["snr_estimate"]
        metric = (mm_claims.EXACT if estimate == "exact" else mm_claims.SAMPLED)["snr_ratio"]
        ratio = eq[(eq["sweep"] == "dynamics") & (eq["metric"] == metric)].iloc[0]
        rows.append(
            {
                "study": "001",
                "what": f"late-phase SNR(gamma) / SNR(W) per parameter ({estimate} SNR), headline",
                "value": ratio["mean"],
                "ci_low": ratio["ci_low"],
                "ci_high": ratio["ci_high"],
                "matrix_higher": ratio["ci_high"] < 1,
                "matrix_lower": ratio["ci_low"] > 1,
            }
        )
    if "llm" in study_dirs:
        for c in io.read_json(study_dirs["llm"] / "claims.json"):
            if c["claim"].startswith(("C6:", "C7:")) and c.get("role", "claim") == "claim":
                paper = "000" if c["claim"].startswith("C6:") else "001"
                rows.append(_gap_row("002", f"{c['measure']} (paper {paper}'s measure), {c['scope']}", c))
    return rows if len({r["study"] for r in rows}) >= 2 else None


def _gap_row(study: str, what: str, c: dict) -> dict:
    """A comparison row from a claims row whose estimate is a log10 gap (or log10 ratio), matrices against
    the others."""
    return {
        "study": study,
        "what": what,
        "value": c["value"],
        "ci_low": c["ci_low"],
        "ci_high": c["ci_high"],
        "matrix_higher": c["ci_low"] > 0,
        "matrix_lower": c["ci_high"] < 0,
    }


def study_section(name: str, results: Path, config: dict) -> dict:
    """Study ``name``'s part of the context: ``section(results, config)`` of the module its contract names
    (``Contract.report``), imported here only."""
    module = importlib.import_module(f"scaledyn.{name}.{CONTRACTS[name].report}")
    return module.section(results, config)


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


def figures_of(study: str, figure_files: Iterable[str | Path]) -> dict[str, str]:
    """The study's figures (``results/figures/<study>/<name>.pdf``) by name, relative to results/report."""
    pdfs = [Path(f) for f in figure_files if Path(f).suffix == ".pdf" and Path(f).parent.name == study]
    return {f.stem: f"../figures/{study}/{f.name}" for f in pdfs}


def claims_of(claims_file: str | Path | None, sections: dict[str, dict], config: dict) -> dict:
    """The claims table of every study (``results/claims/claims.csv``, :mod:`scaledyn.report.claims_table`),
    its verdict counts over the rows that count and the multiplicity rule per paper (its family size m);
    without the file, the table of the sections' claims."""
    if claims_file is not None:
        text = ("paper", "direction", "method", "note", "criterion", "scope", "measure", "claim", "label")
        text += ("role", "test", "scale")
        df = pd.read_csv(claims_file, dtype=dict.fromkeys(text, str), keep_default_na=False, na_values=[""])
        df[list(text)] = df[list(text)].fillna("")
    else:
        df = claims_table.table([c for s in sections.values() for c in s["claims"]], config["stats"])
    stats = config_section("stats", config["stats"])
    counts = claims_table.summary(df)
    counted = df[df["counted"].astype(bool)]
    sized = counted[(counted["verdict_adjusted"] == claims_table.INCONCLUSIVE) & counted["effect"].notna()]
    return {
        "claims": io.records(df),
        "claims_glance": claims_table.glance(df),
        "claims_summary": {
            "rows": len(df),
            "counted": len(counted),
            "not_counted": {
                r: int((df["role"] == r).sum()) for r in ("check", "practitioner", "descriptive")
            },
            "raw": counts["verdict"],
            "adjusted": counts["verdict_adjusted"],
            "downgraded": int((counted["verdict"] != counted["verdict_adjusted"]).sum()),
            "inconclusive_sized": len(sized),
            "family_size": {str(p): int(g["family_size"].iloc[0]) for p, g in df.groupby("paper")},
            "sizing": io.records(sizing(counted)),
        },
        "multiplicity": {
            "adjust": stats["adjust"],
            "level": stats["ci_level"],
            "alpha": round(1.0 - stats["ci_level"], 12),
            "power": stats["power"],
        },
    }


def sizing(counted: pd.DataFrame) -> pd.DataFrame:
    """Per (paper, scope, effect) of the claim rows that declare a smallest effect of interest: how many, the
    largest MDE (at ``stats.power``) and the most seeds any of them needs for its MDE to reach the effect."""
    sized = counted[counted["effect"].notna()]
    return sized.groupby(["paper", "scope", "effect"], as_index=False, sort=True).agg(
        rows=("mde", "size"),
        mde_max=("mde", "max"),
        seeds_max=("seeds_needed", "max"),
        seeds=("seeds", "max"),
    )


REPORT_DIR = Path("results/report")  # where report.tex is compiled: the report's links are relative to it


def _link(path: str | Path, name: str | None = None) -> dict[str, str]:
    """A file as ``{"name", "href"}``, ``href`` relative to :data:`REPORT_DIR` (``name``: the path)."""
    return {"name": str(path) if name is None else name, "href": os.path.relpath(path, REPORT_DIR)}


def _rule(source: Mapping) -> dict:
    """A rule (``{"rule", "snakefile", "code"}`` from the workflow) as links to its file and its code."""
    code = [_link(c, str(Path(c).relative_to("src/scaledyn"))) for c in source["code"]]
    return {"name": source["rule"], "file": _link(source["snakefile"]), "code": code}


def _results(path: str | Path, source: Mapping) -> dict:
    """A results file, its sidecar (:func:`scaledyn.provenance.sidecar`) and the rule that made it."""
    return {"results": _link(path), "prov": _link(sidecar(path)), "rule": _rule(source)}


def links_of(
    sources: Mapping,
    figure_files: Iterable[str | Path],
    study_dirs: dict[str, Path],
    sections: dict[str, dict],
    claims_file: str | Path,
) -> dict:
    """Where each figure and claims row comes from, as links relative to results/report (showyourwork style).

    ``sources``: from the workflow (workflow/rules/report.smk), the rule that draws each study's figures
    (``figures``, ``claims`` for the report's own) and checks its claims (``claims``), and the claims-table
    rule (``table``), each ``{"rule", "snakefile", "code"}``. Returns ``figures[study][figure]``: its tables
    (:data:`scaledyn.plots.FIGURES`), sidecar and rule; ``claims[paper]``: the paper's ``claims.json``, its
    sidecar and rule; ``table``: the claims table of every study, its sidecar and rule.
    """
    dirs = {**study_dirs, "claims": Path(claims_file).parent}
    figures: dict[str, dict] = {}
    for pdf in (Path(f) for f in figure_files if Path(f).suffix == ".pdf"):  # results/figures/<study>/
        study = pdf.parent.name
        figures.setdefault(study, {})[pdf.stem] = {
            "tables": [_link(dirs[study] / f"{t}.csv", f"{t}.csv") for t in FIGURES[study][pdf.stem].tables],
            "prov": _link(sidecar(pdf)),
            "rule": _rule(sources["figures"][study]),
        }
    papers = {c["study"]: study for study, s in sections.items() for c in s["claims"]}
    claims = {p: _results(dirs[s] / "claims.json", sources["claims"][s]) for p, s in papers.items()}
    return {"figures": figures, "claims": claims, "table": _results(claims_file, sources["table"])}


def build(
    config: dict,
    study_dirs: dict[str, Path],
    benchmark_files: Iterable[str | Path],
    figure_files: Iterable[str | Path] = (),
    claims_file: str | Path | None = None,
    calibration_file: str | Path | None = None,
    sources: Mapping | None = None,
) -> dict:
    walls = wall_times(benchmark_files)
    per_rule = pd.DataFrame(walls or [{"rule": "", "job": "", "seconds": 0.0}])
    rule_totals = per_rule.groupby("rule", as_index=False).agg(
        jobs=("job", "size"), seconds=("seconds", "sum")
    )
    figure_files = list(figure_files)
    sections = {
        name: {**study_section(name, d, config), "figures": figures_of(name, figure_files)}
        for name, d in study_dirs.items()
    }
    return {
        "title": config["report"]["title"],
        "studies": list(study_dirs),
        "sections": sections,
        "comparison": comparison(study_dirs, config),
        **claims_of(claims_file, sections, config),
        "claims_figures": figures_of("claims", figure_files),
        "links": links_of(sources, figure_files, study_dirs, sections, claims_file) if sources else None,
        "stats": config["stats"],
        "calibration": io.records(pd.read_csv(calibration_file)) if calibration_file else [],
        "seed": config["seed"],
        "provenance": {
            "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": io.git_commit(),
            "config_hash": io.config_hash(config),
            "versions": io.package_versions(),
            "machine": io.machine(),
            "rules": io.records(rule_totals[rule_totals["rule"] != ""]),
            "jobs": walls,
        },
    }
