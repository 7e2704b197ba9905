"""The DAG's behaviour on the smoke config in a temporary copy: outputs, caching, targets, reruns."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import BIN, SMOKE, copy_repo, snakemake

pytestmark = pytest.mark.slow
FIG2 = "results/figures/gsnr/fig2_noise_sweep.pdf"


def planned_jobs(workdir: Path, *args: str, smoke: bool = True) -> dict[str, int]:
    """{rule: count} of the jobs a dry run would execute (empty when nothing is to be done)."""
    out = snakemake(workdir, "-n", *args, *(SMOKE if smoke else ())).stdout
    if "Nothing to be done" in out:
        return {}
    stats = out.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", stats, re.M) if m[1] != "total"}


def test_console_is_one_short_line_per_job_with_progress(smoke):
    """A default run prints each job's message and "N of M steps", no line of inline JSON or file lists."""
    console = (smoke / "console.log").read_text().splitlines()
    assert max(map(len, console)) <= 300, max(console, key=len)[:400]
    assert any(re.fullmatch(r"\d+ of \d+ steps \(100%\) done", line) for line in console)
    assert any(
        line.startswith("Job ")
        and "llm: train tiny prenorm baseline seed 0 on 1 x 1 processes, on the CPU" in line
        for line in console
    )


def test_smoke_run_produces_figures_report_and_claims(smoke):
    for fig in ("fig1_gsnr_vs_adaptation", "fig2_noise_sweep", "fig3_threshold"):
        for ext in ("pdf", "png"):
            assert (smoke / f"results/figures/gsnr/{fig}.{ext}").stat().st_size > 1000
    context = json.loads((smoke / "results/report/context.json").read_text())
    claims = context["claims"]  # the claims table of every study (results/claims/claims.csv)
    # study 000: rho, Somers' D, LOSO accuracy, clean separation per (3 noise models x 2 optimisers) and the
    # matrix gap once per noise model (GSNR does not depend on the optimiser), on the exact GSNR and again on
    # the practitioner's plug-in estimate
    assert sum(c["paper"] == "000" for c in claims) == (4 * 6 + 3) * 2
    assert {c["paper"] for c in claims} == {"000", "001", "002"}
    verdicts = {"supported", "not supported", "inconclusive"}
    assert {c["verdict"] for c in claims} | {c["verdict_adjusted"] for c in claims} <= verdicts
    assert len(claims) == len(json.loads((smoke / "results/claims/claims.json").read_text()))
    # every row is rendered from its own context entry: test_report_verdicts_and_numbers_come_from_the_context
    for ext in ("pdf", "png"):
        assert (smoke / f"results/figures/claims/forest.{ext}").stat().st_size > 1000
    assert context["provenance"]["config_hash"] and context["provenance"]["rules"]
    rules = {r["rule"] for r in context["provenance"]["rules"]}
    assert rules == {
        "gsnr_simulate",
        "gsnr_analyse",
        "minimal_model_simulate",
        "minimal_model_analyse",
        "llm_train",
        "llm_analyse",
    }
    assert context["comparison"] and (smoke / "results/report/minimal_model.tex").exists()
    # study 002: 3 Pre-Norm arms x 2 seeds trained, their figures, section and claims (the A/A check, C4 and
    # its runner-up, C5 costs, the tensor-SNR claims)
    assert len(list((smoke / "results/llm/runs/tiny/prenorm").glob("*/seed*/summary.json"))) == 6
    for fig in ("fig1_val_loss", "fig2_delta_vs_baseline", "fig3_gamma_trajectories", "fig4_tensor_snr"):
        assert (smoke / f"results/figures/llm/{fig}.pdf").stat().st_size > 1000
    llm_claims = [c for c in claims if c["paper"] == "002"]
    # C6-C8: the per-tensor SNR claims (baseline arm; no wd_input in the smoke config)
    assert [c["claim"][:3] for c in llm_claims] == ["C0:", "C4:", "C4:", "C5:", "C5:", "C6:", "C7:", "C8:"]
    # the A/A arm is outside the blocked fit (Welch, unpaired) and not in the paper's family
    assert [c["method"] for c in llm_claims[:3]] == ["welch", "pooled-t", "pooled-t"]
    assert [c["role"] for c in llm_claims[:3]] == ["check", "claim", "claim"] and not llm_claims[0]["counted"]
    assert (
        llm_claims[0]["direction"] == "covers"
        and llm_claims[0]["verdict"] == llm_claims[0]["verdict_adjusted"]
    )
    assert "Study 002" in (smoke / "results/report/llm.tex").read_text()
    assert not list((smoke / "results/llm/checkpoints").rglob("*.pt")), "checkpoints are removed after a run"
    if shutil.which("latexmk"):
        assert (smoke / "results/report/report.pdf").read_bytes().startswith(b"%PDF")


def test_report_verdicts_and_numbers_come_from_the_context(smoke, tmp_path):
    """Re-render from an altered context: every verdict and value in the claims table follows it."""
    context = json.loads((smoke / "results/report/context.json").read_text())
    for i, claim in enumerate(context["claims"]):
        claim["verdict"], claim["verdict_adjusted"], claim["estimate"] = (
            f"verdict{i}x",
            f"adjusted{i}x",
            1000.0 + i,
        )
    (tmp_path / "context.json").write_text(json.dumps(context))
    subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "scaledyn.report",
            "tex",
            "--context",
            str(tmp_path / "context.json"),
            "--templates",
            str(smoke / "paper"),
            "--out-dir",
            str(tmp_path),
        ],
        check=True,
    )
    tex = (tmp_path / "report.tex").read_text()
    for i in range(len(context["claims"])):
        assert f"verdict{i}x" in tex and f"adjusted{i}x" in tex and f"{1000 + i}" in tex


def test_second_run_executes_nothing(smoke):
    assert planned_jobs(smoke) == {}


def test_changing_one_noise_sweep_reruns_only_its_jobs(smoke):
    new = "gsnr={sigma: {entry: {min: 0.02, max: 100.0, num: 5}}}"
    jobs = planned_jobs(smoke, "--config", new)
    assert jobs.pop("gsnr_simulate") == 2  # entry x (sgd, adamw); total and minibatch untouched
    assert jobs == {
        "gsnr_analyse": 1,
        "gsnr_claims": 1,
        "gsnr_figure": 3,
        "claims_table": 1,
        "claims_figure": 1,
        "report_context": 1,
        "report_tex": 1,
        **({"report_pdf": 1} if shutil.which("latexmk") else {}),
        "all": 1,
    }
    # the same through a config file
    entry = smoke / "entry.yaml"
    entry.write_text("gsnr:\n  sigma:\n    entry: {min: 0.02, max: 100.0, num: 5}\n")
    try:
        jobs = planned_jobs(smoke, "--configfile", "config/smoke.yaml", entry.name, smoke=False)
    finally:
        entry.unlink()
    assert jobs["gsnr_simulate"] == 2


def test_changing_one_minimal_model_sweep_reruns_only_it(smoke):
    jobs = planned_jobs(smoke, "--config", "minimal_model={sweeps: {batch: {values: [4, 32]}}}")
    assert jobs["minimal_model_simulate"] == 1 and "gsnr_simulate" not in jobs
    assert jobs["minimal_model_analyse"] == 1 and jobs["minimal_model_claims"] == 1
    assert jobs["minimal_model_figure"] == 4 and not any(r.startswith(("gsnr", "llm")) for r in jobs)


def test_adding_an_llm_seed_trains_only_the_new_runs(smoke):
    jobs = planned_jobs(smoke, "--config", "llm={seeds: 3}")
    assert jobs.pop("llm_train") == 3  # seed 2 of the three arms; seeds 0 and 1 are kept
    assert jobs.pop("llm_analyse") == 1 and jobs.pop("llm_claims") == 1
    assert not any(r.startswith(("gsnr", "minimal_model")) for r in jobs), jobs


def test_an_internal_pilot_plans_the_seeds_then_trains_only_the_planned_runs(smoke, tmp_path):
    """llm.seeds {pilot: 2, max: 3} on the smoke run's results (its 2 seeds are the pilot): the checkpoint
    sizes the family from the pilot's residual variance (ceiling bound at smoke scale), the third seed's runs
    train, and the comparisons rest on the pilot's variance (Stein)."""
    repo = tmp_path / "repo"
    shutil.copytree(smoke, repo, symlinks=True)
    (repo / "pilot.yaml").write_text("llm:\n  seeds: {pilot: 2, max: 3}\n")
    # a folder made with a fixed count: Snakemake schedules no checkpoint whose downstream outputs exist, so
    # the DAG says how to plan (docs/statistics.md) and the plan runs once forced
    out = snakemake(repo, "-n", "--configfile", "config/smoke.yaml", "pilot.yaml").stdout
    assert "--forcerun llm_plan" in out
    force = ("--configfile", "config/smoke.yaml", "pilot.yaml", "--forcerun", "llm_plan")
    jobs = planned_jobs(repo, *force, smoke=False)
    assert jobs.pop("llm_plan") == 1 and "llm_train" not in jobs  # the pilot runs exist; the rest is planned
    snakemake(repo, "--cores", "2", *force, "--", "results/llm/claims.json")
    plan = json.loads((repo / "results/llm/plan.json").read_text())
    (family,) = plan["families"]
    assert (plan["pilot"], family["seeds"], family["ceiling_bound"]) == (2, 3, True)
    assert len(list((repo / "results/llm/runs/tiny/prenorm").glob("*/seed2/summary.json"))) == 3
    deltas = pd.read_csv(repo / "results/llm/deltas.csv")
    shared = deltas[deltas["family"] != "aa"]
    assert (shared["n_blocks"] == 3).all() and (shared["variance_seeds"] == 2).all()
    assert (shared["df"] == family["pilot_df"]).all()


def test_adding_an_arm_trains_only_its_runs(smoke):
    jobs = planned_jobs(
        smoke, "--config", "llm={arms: {prenorm: [baseline, baseline_aa, unified], sandwich: [baseline]}}"
    )
    assert jobs.pop("llm_train") == 2  # sandwich/baseline x 2 seeds; the Pre-Norm runs are kept
    assert jobs.pop("llm_analyse") == 1 and jobs.pop("llm_claims") == 1


def test_changing_an_llm_claim_criterion_retrains_nothing(smoke):
    jobs = planned_jobs(smoke, "--config", "llm={claims: {min_throughput_ratio: 0.5}}")
    assert "llm_train" not in jobs and jobs["llm_claims"] == 1


def dry_run_after_edit(repo: Path, rel: str) -> str:
    """A dry run's output after a real edit of ``rel`` (Snakemake compares checksums, not only mtimes)."""
    path = repo / rel
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        return snakemake(repo, "-n", *SMOKE).stdout
    finally:
        path.write_text(original)


def rerun_for_the_edit_itself(out: str) -> set[str]:
    """The rules of a dry run's summary under "updated input files" (jobs also downstream of a rerun job are
    listed under "input files updated by another job" instead)."""
    found = re.search(r"^\s*updated input files:\s*\n\s*(.+)$", out, re.M)
    return set(found[1].split(", ")) if found else set()


def planned(out: str) -> set[str]:
    """Every rule with a job in a dry run's job stats."""
    stats = out.split("Job stats:", 1)[1] if "Job stats:" in out else ""
    return {m[1] for m in re.finditer(r"^(\w+)\s+\d+\s*$", stats, re.M) if m[1] not in ("total", "all")}


def rules_with_input(repo: Path, rel: str) -> set[str]:
    """The rules whose jobs declared ``rel`` an input when they ran (Snakemake's own records)."""
    records = (json.loads(f.read_text()) for f in (repo / ".snakemake" / "metadata").iterdir())
    return {r["rule"] for r in records if rel in r.get("input", ())}


@pytest.mark.parametrize(
    ("module", "reruns", "keeps"),
    [
        ("llm/__init__.py", {"llm_data", "llm_train", "llm_analyse", "llm_claims", "llm_figure"}, set()),
        ("llm/analysis.py", {"llm_analyse"}, {"llm_train"}),
        ("gsnr/classify.py", {"gsnr_analyse", "gsnr_claims"}, {"gsnr_simulate"}),
        ("plots/gsnr.py", {"gsnr_figure"}, {"gsnr_simulate", "gsnr_analyse", "report_context"}),
        ("gsnr/report.py", {"report_context"}, {"gsnr_simulate", "gsnr_analyse", "gsnr_claims"}),
    ],
)
def test_editing_a_module_reruns_the_jobs_that_import_it_and_no_other(smoke, module, reruns, keeps):
    """A rule's code inputs are the import closure of what its job runs (scaledyn.imports): editing a module
    reruns every rule whose jobs declared it, nothing reruns for the edit itself that did not, and what
    neither imports it nor reads a rerun job's outputs stays."""
    rel = f"src/scaledyn/{module}"
    out = dry_run_after_edit(smoke, rel)
    importers = rules_with_input(smoke, rel)
    assert rerun_for_the_edit_itself(out) <= importers <= planned(out)
    assert reruns <= planned(out) and not keeps & planned(out)


def test_restored_code_needs_no_rerun(smoke):
    assert planned_jobs(smoke) == {}


def test_snakemake_html_report(smoke):
    snakemake(smoke, *SMOKE, "--report", "results/report/report.html")
    html = (smoke / "results/report/report.html").read_text(errors="ignore")
    assert "fig1_gsnr_vs_adaptation" in html and "Study 000" in html


def report_data(html: str, name: str) -> dict:
    """A ``var <name> = {...};`` object of Snakemake's HTML report (``results``, ``categories``)."""
    start = html.index(f'var {name} = {{"') + len(f"var {name} = ")  # the data, not a variable of the JS
    return json.JSONDecoder().raw_decode(html, start)[0]


def test_snakemake_html_report_shows_the_claims_table_and_forest_plot(smoke):
    """The claims table (a table, with its caption) and the forest plot make the report's Claims category."""
    snakemake(smoke, *SMOKE, "--report", "results/report/claims_report.html")
    html = (smoke / "results/report/claims_report.html").read_text(errors="ignore")
    claims, forest = "results/claims/claims.csv", "results/figures/claims/forest.pdf"
    assert sorted(report_data(html, "categories")["Claims"]["Other"]) == [claims, forest]
    results = report_data(html, "results")
    table = results[claims]
    assert table["mime_type"] == "text/csv" and table["job_properties"]["rule"] == "claims_table"
    assert "All claims" in table["caption"] and "holm multiplicity adjustment" in table["caption"]
    embedded = base64.b64decode(table["data_uri"].split("base64,", 1)[1])
    assert embedded == (smoke / claims).read_bytes()
    assert "All claims, Figure 1" in results[forest]["caption"]


def test_single_figure_target_runs_only_its_chain(repo_copy):
    small = ("--config", "gsnr={noise_models: [entry], optimizers: [sgd]}")
    assert planned_jobs(repo_copy, FIG2, *SMOKE, *small, smoke=False) == {
        "gsnr_simulate": 1,
        "gsnr_analyse": 1,
        "gsnr_figure": 1,
    }
    snakemake(repo_copy, "--cores", "2", FIG2, *SMOKE, *small)
    figs = sorted(p.name for p in (repo_copy / "results/figures/gsnr").iterdir())
    assert figs == ["fig2_noise_sweep.pdf", "fig2_noise_sweep.png", "fig2_noise_sweep.prov.json"]
    assert not (repo_copy / "results/report").exists()


def test_without_tex_the_dag_stops_at_the_tex(repo_copy, tmp_path, monkeypatch):
    nobin = tmp_path / "bin"  # every command of PATH except latexmk
    nobin.mkdir()
    for d in os.environ["PATH"].split(os.pathsep):
        for exe in Path(d).glob("*") if Path(d).is_dir() else []:
            if exe.name != "latexmk" and not (nobin / exe.name).exists():
                (nobin / exe.name).symlink_to(exe)
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{nobin}")
    jobs = planned_jobs(repo_copy)
    assert "report_tex" in jobs and "report_pdf" not in jobs


def test_killed_run_resumes_to_the_same_results(smoke, tmp_path):
    """SIGKILL the whole DAG mid-run; the rerun completes and equals an uninterrupted run."""
    repo = copy_repo(tmp_path / "killed")
    # studies 000 and 002 (the results compared below) up to the claims table: the kill and resume are the
    # point here, not the figures
    fast = ("results/claims/claims.csv", *SMOKE, "--config", "studies=[gsnr,llm]")
    cmd = [str(BIN / "snakemake"), "--cores", "2", *fast]
    proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    runs = repo / "results/gsnr/runs"
    deadline = time.time() + 120
    while time.time() < deadline and not (runs.exists() and any(runs.glob("*.csv"))):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (repo / "results/claims/claims.csv").exists()  # killed before the end
    snakemake(repo, "--unlock", *SMOKE)  # a SIGKILL leaves Snakemake's lock behind
    snakemake(repo, "--cores", "2", *fast)  # the default profile reruns incomplete jobs
    assert not list((repo / "results").rglob(".*.csv")), "a temporary file survived"
    for f in sorted((smoke / "results/gsnr/runs").glob("*.csv")) + [smoke / "results/gsnr/classifier.csv"]:
        rel = f.relative_to(smoke)
        assert (repo / rel).read_bytes() == f.read_bytes(), rel
    for f in sorted((smoke / "results/llm/runs").rglob("gammas.csv")):  # CPU training is deterministic
        rel = f.relative_to(smoke)
        assert (repo / rel).read_bytes() == f.read_bytes(), rel
        mine, ref = (json.loads((r / rel.parent / "summary.json").read_text()) for r in (repo, smoke))
        assert mine["final_val_loss"] == ref["final_val_loss"], rel


def test_diverged_llm_runs_are_recorded_and_the_dag_goes_on(repo_copy):
    """Every run 'diverges' at step 1 (train loss above llm.diverge_loss); figures and report still come."""
    targets = ["results/report/report.tex", *(f"results/figures/llm/{f}.pdf" for f in ("fig1_val_loss",
               "fig2_delta_vs_baseline", "fig3_gamma_trajectories"))]  # fmt: skip
    snakemake(
        repo_copy, "--cores", "2", *targets, *SMOKE, "--config", "studies=[llm]", "llm={diverge_loss: 4.4}"
    )
    runs = (repo_copy / "results/llm/runs.csv").read_text().splitlines()
    assert len(runs) == 7 and all(",True,1,train loss" in r for r in runs[1:])
    tex = (repo_copy / "results/report/llm.tex").read_text()
    assert "Diverged runs" in tex and tex.count("at step 1") == 6
    claims = json.loads((repo_copy / "results/llm/claims.json").read_text())
    assert all(c["verdict"] == "inconclusive" for c in claims if "val loss" in c["measure"])
