"""A lab's shared cache: two clones with one $SNAKEMAKE_OUTPUT_CACHE; the second simulates and trains nothing.
And the timing the cached rules write instead of Snakemake's benchmark files (python -m scaledyn.timed).

The simulation and training rules (gsnr_simulate, minimal_model_simulate, llm_train) are `cache: True`;
with `--cache` Snakemake stores their outputs under the cache directory by a hash of code, params and inputs,
and a second clone fetches them (symlinks) instead of running the jobs. The claims and the report's numbers
are the same. The first clone is the session's smoke run (tests/conftest.py), which runs with `--cache`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from scaledyn import timed
from tests.conftest import CACHED, SMOKE, cached_outputs, copy_repo, lab_env, snakemake

CACHED_RULES = ("gsnr_simulate", "minimal_model_simulate", "llm_train")
RUN = ("results/claims/claims.csv", "results/report/report.tex", *SMOKE, *CACHED)


def job_logs(repo: Path) -> list[Path]:
    """The logs of the cached jobs (simulations and training runs)."""
    logs = repo / "results/logs"
    return sorted([*logs.rglob("simulate/*.log"), *logs.glob("llm/train/*/*/*/seed*.log")])


def simulation_jobs(context: dict) -> list[dict]:
    return [j for j in context["provenance"]["jobs"] if j["rule"] in CACHED_RULES]


def test_timed_writes_wall_time_and_peak_memory_of_the_command(tmp_path):
    out = tmp_path / "bench" / "job.tsv"
    grow = "import time; x = bytearray(200 * 2**20); time.sleep(0.3)"  # 200 MB for 0.3 s
    assert timed.main(["--out", str(out), "--", sys.executable, "-c", grow]) == 0
    bench = pd.read_csv(out, sep="\t")
    assert list(bench.columns) == ["s", "h:m:s", "max_rss", "cpu_time"] and len(bench) == 1
    assert 0.3 <= bench["s"].iloc[0] < 60 and 200 <= bench["max_rss"].iloc[0] < 2000


def test_timed_passes_a_failure_on_and_writes_nothing(tmp_path):
    out = tmp_path / "job.tsv"
    assert timed.main(["--out", str(out), "--", sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def clones(smoke, tmp_path_factory) -> tuple[Path, Path, Path]:
    """Clone A (the smoke run) ran and filled the cache; clone B (another directory) runs against it."""
    env = lab_env(smoke)
    b = copy_repo(tmp_path_factory.mktemp("lab") / "b")
    (b / "dry.log").write_text(snakemake(b, "-n", *RUN, env=env).stdout)
    snakemake(b, "--cores", "2", *RUN, env=env)
    return smoke, b, Path(env["SNAKEMAKE_OUTPUT_CACHE"])


@pytest.mark.slow
def test_first_clone_stores_every_simulation_in_the_cache(clones):
    a, _, cache = clones
    jobs = cached_outputs(a)
    # smoke: 3 noise models x 2 optimisers, 4 minimal-model sweeps, 3 arms x 2 seeds of the LM
    assert len(jobs) == 6 + 4 + 6
    # one cache entry per output and job: a simulation's result, timing and provenance; a training run's 5
    # files, their 5 sidecars and its timing. No two jobs share a hash (the wildcards are hashed too).
    assert len(list(cache.iterdir())) == 3 * 10 + 11 * 6
    assert {p.resolve().parent for p in jobs} == {cache.resolve()}
    logs = job_logs(a)
    assert len(logs) == len(jobs) and all(f.stat().st_size > 0 for f in logs)  # the jobs ran here


@pytest.mark.slow
def test_second_clone_runs_no_simulation(clones):
    a, b, cache = clones
    dry = (b / "dry.log").read_text()
    fetched = re.findall(r"^Output file (\S+) will be obtained from global between-workflow cache", dry, re.M)
    assert sorted(fetched) == sorted(str(p.relative_to(a)) for p in cached_outputs(a))
    assert "written to global between-workflow cache" not in dry
    for out in cached_outputs(b):
        assert out.is_symlink() and out.resolve().parent == cache.resolve(), out
        assert out.resolve() == (a / out.relative_to(b)).resolve()  # the very result clone A computed
    logs = job_logs(b)
    assert len(logs) == 16 and all(f.stat().st_size == 0 for f in logs)  # touched, never written: no run


@pytest.mark.slow
def test_second_clone_has_the_same_claims_and_report_numbers(clones):
    a, b, _ = clones
    assert (b / "results/claims/claims.csv").read_bytes() == (a / "results/claims/claims.csv").read_bytes()
    ctx_a, ctx_b = (json.loads((r / "results/report/context.json").read_text()) for r in (a, b))
    assert ctx_b["claims"] == ctx_a["claims"] and ctx_b["sections"] == ctx_a["sections"]
    # the wall times of the simulations are those of the runs that computed them (kept in the cache)
    assert simulation_jobs(ctx_b) == simulation_jobs(ctx_a) and len(simulation_jobs(ctx_a)) == 16
    assert snakemake(b, "-n", *RUN, env=lab_env(a)).stdout.count("Nothing to be done") == 1
