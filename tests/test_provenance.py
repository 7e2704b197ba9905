"""Provenance per output: the ``<name>.prov.json`` sidecars (scaledyn.provenance) and the report's links."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scaledyn import io, provenance
from tests.conftest import SMOKE, snakemake


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def job(tmp_path: Path) -> dict[str, list[Path]]:
    """The files of one figure job: an input table, two code files, a PDF and a PNG of one name."""
    return {
        "inputs": [write(tmp_path / "results/gsnr/summary.csv", "a,b\n1,2\n")],
        "code": [write(tmp_path / "src/plots/gsnr.py", "x = 1\n"), write(tmp_path / "src/io.py", "y = 2\n")],
        "outputs": [write(tmp_path / "figs/fig2.pdf", "%PDF"), write(tmp_path / "figs/fig2.png", "PNG")],
    }


def run(job: dict[str, list[Path]], *section: str, rule: str = "gsnr_figure") -> dict:
    """Run the CLI as a rule does (inputs include the code) and return the figure's sidecar."""
    outputs = [*job["outputs"], provenance.sidecar(job["outputs"][0])]
    args = ["--rule", rule, *(a for s in section for a in ("--section", s))]
    args += ["--inputs", *map(str, job["inputs"] + job["code"]), "--code", *map(str, job["code"])]
    assert provenance.main([*args, "--outputs", *map(str, outputs)]) == 0
    return json.loads(outputs[-1].read_text())


def test_sidecar_is_named_after_the_output():
    assert provenance.sidecar("results/figures/gsnr/fig1.pdf") == Path("results/figures/gsnr/fig1.prov.json")
    assert provenance.sidecar("results/claims/claims.csv") == provenance.sidecar("results/claims/claims.json")
    assert provenance.sidecar("runs/{noise}_{optimizer}.csv") == Path("runs/{noise}_{optimizer}.prov.json")


def test_sidecar_fields_and_sha256(job):
    record = run(job, 'estimate="exact"', "seed=7")
    assert set(record) == {
        "rule", "commit", "config", "config_hash", "inputs", "code", "outputs", "versions", "created"
    }  # fmt: skip
    assert record["rule"] == "gsnr_figure" and record["config"] == {"estimate": "exact", "seed": 7}
    assert record["commit"] == io.git_commit(Path(provenance.__file__).parent)
    assert record["versions"] == io.package_versions()
    for kind in ("inputs", "code", "outputs"):  # each file once, code not among the inputs, PDF and PNG both
        assert record[kind] == {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in job[kind]}


def test_config_hash_changes_with_the_section_and_nothing_else(job):
    stats = {"ci_level": 0.95, "ci_method": "t"}
    base = run(job, f"stats={json.dumps(stats)}")["config_hash"]
    reordered = json.dumps(dict(reversed(stats.items())))
    assert run(job, f"stats={reordered}")["config_hash"] == base  # canonical JSON: key order is no change
    job["inputs"][0].write_text("a,b\n3,4\n")  # other input bytes: the same config hash
    assert run(job, f"stats={json.dumps(stats)}")["config_hash"] == base
    assert run(job, f"stats={json.dumps({**stats, 'ci_level': 0.9})}")["config_hash"] != base
    assert run(job, f"stats={json.dumps(stats)}", "seed=7")["config_hash"] != base  # another key passed
    assert run(job)["config_hash"] == io.config_hash({})


def test_bad_section_or_a_sidecar_of_nothing_is_one_error_line(job, tmp_path, capsys):
    out = ["--outputs", *map(str, job["outputs"])]
    assert provenance.main(["--rule", "r", "--section", "seed", *out, f"{tmp_path}/figs/fig2.prov.json"]) == 2
    assert provenance.main(["--rule", "r", *out, f"{tmp_path}/figs/other.prov.json"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("Error: ") for line in lines)
    assert "--section 'seed'" in lines[0] and "describes no output" in lines[1]


def results_tables(results: Path) -> list[Path]:
    """Every figure and results table of the smoke run (not study 002's per-run logs or corpus)."""
    tables = [p for d in ("gsnr", "minimal_model", "llm", "claims") for p in (results / d).glob("*.*")]
    tables += [*results.glob("gsnr/runs/*.csv"), *results.glob("minimal_model/sweeps/*.csv")]
    return sorted([*tables, *results.glob("figures/*/*.*")])


@pytest.mark.slow
def test_smoke_run_writes_a_true_sidecar_for_every_figure_and_table(smoke):
    outputs = [p for p in results_tables(smoke / "results") if not p.name.endswith(provenance.SUFFIX)]
    assert len(outputs) > 40
    for path in outputs:
        record = json.loads(provenance.sidecar(path).read_text())
        assert str(path.relative_to(smoke)) in record["outputs"], path
        assert record["code"] and record["rule"]
        for rel, digest in {**record["inputs"], **record["code"], **record["outputs"]}.items():
            assert hashlib.sha256((smoke / rel).read_bytes()).hexdigest() == digest, (path, rel)
    # each sidecar names the rule Snakemake records for its outputs (each rule types its name for it)
    summary = snakemake(smoke, "--summary", *SMOKE).stdout.splitlines()
    made_by = dict(line.split("\t")[:3:2] for line in summary if line.startswith("results/"))
    for path in outputs:
        assert (
            json.loads(provenance.sidecar(path).read_text())["rule"] == made_by[str(path.relative_to(smoke))]
        )
    fig = json.loads((smoke / "results/figures/gsnr/fig2_noise_sweep.prov.json").read_text())
    assert fig["rule"] == "gsnr_figure" and list(fig["inputs"]) == ["results/gsnr/summary.csv"]
    assert sorted(fig["outputs"]) == [f"results/figures/gsnr/fig2_noise_sweep.{e}" for e in ("pdf", "png")]
    assert "src/scaledyn/plots/gsnr.py" in fig["code"] and fig["config"] == {"estimate": "exact"}
    sim = json.loads((smoke / "results/gsnr/runs/entry_sgd.prov.json").read_text())
    assert set(sim["config"]) == {"job", "seed"} and sim["config"]["seed"] == 7 and not sim["inputs"]


@pytest.mark.slow
def test_a_new_commit_reruns_nothing(smoke):
    """The commit is recorded in the sidecars, not a param: committing the copy leaves the DAG up to date."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    try:
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "c"]):
            subprocess.run([*git, *cmd], cwd=smoke, check=True)
        out = snakemake(smoke, "-n", *SMOKE).stdout
    finally:
        shutil.rmtree(smoke / ".git", ignore_errors=True)  # the shared copy as it was
    assert "Nothing to be done" in out, out[-2000:]


@pytest.mark.slow
def test_report_links_every_figure_and_claims_row_to_files_that_exist(smoke):
    report = smoke / "results/report"
    tex = {p.name: p.read_text() for p in report.glob("*.tex")}
    hrefs = {m for text in tex.values() for m in re.findall(r"\\href\{([^}]*)\}", text)}
    missing = [h for h in hrefs if not (report / h).is_file()]
    assert not missing, missing  # every link resolves relative to results/report
    for name in ("fig1_gsnr_vs_adaptation", "fig2_noise_sweep", "fig3_threshold"):
        assert rf"\href{{../figures/gsnr/{name}.prov.json}}{{provenance}}" in tex["gsnr.tex"]
    assert r"\href{../gsnr/summary.csv}{\texttt{summary.csv}}" in tex["gsnr.tex"]
    assert r"\href{../../workflow/rules/study.smk}{\texttt{gsnr\_figure}}" in tex["gsnr.tex"]
    assert r"\href{../../src/scaledyn/plots/gsnr.py}" in tex["gsnr.tex"]
    assert tex["minimal_model.tex"].count("{provenance}") == 4 and tex["llm.tex"].count("{provenance}") >= 3
    main = tex["report.tex"]
    rows = len(json.loads((smoke / "results/claims/claims.json").read_text()))
    for paper, study in (("000", "gsnr"), ("001", "minimal_model"), ("002", "llm")):
        prov = rf"\newline{{\tiny\href{{../{study}/claims.prov.json}}{{prov}}}}"
        row = rf"\href{{../{study}/claims.json}}{{{paper}}}{prov}"
        assert len(re.findall(rf"^{re.escape(row)} & ", main, re.M)) > 0  # the row's paper cell
    assert main.count(r"\newline{\tiny\href{") == rows  # every claims row links to its file and its sidecar
    assert r"\href{../figures/claims/forest.prov.json}{provenance}" in main
