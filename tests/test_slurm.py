"""The DAG on a real single-node Slurm (tests/slurm/local-slurm.sh), through the Slurm executor plugin.

Runs only as root on Debian/Ubuntu (the script installs slurm-wlm with apt and starts munged, slurmctld and
slurmd without systemd); skipped with the reason elsewhere. The daemons are stopped by PID afterwards,
whatever the outcome. Every snakemake run is bounded with `timeout -s INT` (SIGINT makes Snakemake cancel its
Slurm jobs; a plain SIGTERM is ignored while jobs run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import BIN, ROOT, copy_repo, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
SCRIPT = ROOT / "tests/slurm/local-slurm.sh"
PROFILE = ROOT / "tests/slurm/profile"
SMOKE = ("--configfile", "config/smoke.yaml")

if os.geteuid() != 0 or shutil.which("apt-get") is None:
    pytest.skip("a local Slurm needs root on Debian/Ubuntu (apt-get); skipped", allow_module_level=True)


@pytest.fixture(scope="module")
def slurm_env():
    """Start the cluster; yield the environment for its clients; stop it by PID afterwards."""
    env = {**os.environ, "SCALEDYN_SLURM_DIR": f"/tmp/scaledyn-slurm-{os.getpid()}"}
    started = subprocess.run(
        ["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, timeout=120)
        pytest.fail(f"local Slurm did not start:\n{started.stderr[-3000:]}")
    for line in started.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value
    try:
        yield env
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, timeout=120)
        status = subprocess.run(["bash", str(SCRIPT), "status"], env=env, capture_output=True, text=True)
        assert status.returncode == 3, f"Slurm daemons still running after stop:\n{status.stdout}"


def run_slurm(workdir: Path, env: dict, *args: str, limit: int = 420) -> subprocess.CompletedProcess:
    cmd = ["timeout", "-s", "INT", "-k", "20", str(limit), str(BIN / "snakemake"),
           "--workflow-profile", str(PROFILE), "--cores", "2", "--jobs", "4", *args]  # fmt: skip
    return subprocess.run(
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_smoke_dag_through_slurm_equals_local_run(slurm_env, tmp_path):
    repo = copy_repo(tmp_path / "slurm")
    proc = run_slurm(repo, slurm_env, *SMOKE)
    assert proc.returncode == 0, proc.stdout[-5000:]
    # the simulation jobs (6 gsnr, 4 minimal-model) went through sbatch; analysis, figures, report are local
    assert proc.stdout.count("has been submitted with SLURM jobid") == 10, proc.stdout[-5000:]
    for rule, n in (("gsnr_simulate", 6), ("minimal_model_simulate", 4)):
        assert len(list((repo / f".snakemake/slurm_logs/rule_{rule}").rglob("*.log"))) == n
    # outputs equal a local run's
    local = copy_repo(tmp_path / "local")
    sims = [
        *(repo / "results/gsnr/runs").glob("*.csv"),
        *(repo / "results/minimal_model/sweeps").glob("*.csv"),
    ]
    targets = [str(p.relative_to(repo)) for p in sims]
    snakemake(local, "--cores", "2", *targets, *SMOKE)
    for t in targets:
        pd.testing.assert_frame_equal(pd.read_csv(repo / t), pd.read_csv(local / t))


TOY = """
rule all:
    input: "done.txt"

rule flaky:  # fails on its first attempt, succeeds on the second (attempts counted in a file)
    output: "done.txt"
    resources: runtime=2, mem_mb=100
    shell: "echo try >> attempts.txt; test $(wc -l < attempts.txt) -gt 1 && touch {output}"
"""

SLOW = """
rule all:
    input: "slow.txt"

rule slow:
    output: "slow.txt"
    resources: runtime=5, mem_mb=100
    shell: "sleep 30 && touch {output}"
"""


def test_failing_job_is_reported_and_retried(slurm_env, tmp_path):
    (tmp_path / "Snakefile").write_text(TOY)
    failed = run_slurm(tmp_path, slurm_env)
    assert failed.returncode != 0 and "SLURM status is: 'FAILED'" in failed.stdout, failed.stdout[-3000:]
    (tmp_path / "attempts.txt").unlink()
    retried = run_slurm(tmp_path, slurm_env, "--retries", "1")
    assert retried.returncode == 0, retried.stdout[-3000:]
    assert "Trying to restart job" in retried.stdout
    assert (tmp_path / "attempts.txt").read_text().split() == ["try", "try"]


def test_cancelled_job_stops_the_run_and_a_rerun_completes(slurm_env, tmp_path):
    (tmp_path / "Snakefile").write_text(SLOW)
    cmd = ["timeout", "-s", "INT", "-k", "20", "300", str(BIN / "snakemake"),
           "--workflow-profile", str(PROFILE), "--cores", "2", "--jobs", "4"]  # fmt: skip
    out = subprocess.PIPE
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=slurm_env, stdout=out, stderr=subprocess.STDOUT, text=True)
    job_id = ""
    deadline = time.time() + 120
    while not job_id and time.time() < deadline:
        time.sleep(1)
        q = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i"], env=slurm_env, capture_output=True,
                           text=True)  # fmt: skip
        job_id = q.stdout.strip().split("\n")[0]
    assert job_id, "the job never started running"
    subprocess.run(["scancel", job_id], env=slurm_env, check=True)
    out, _ = proc.communicate(timeout=320)
    assert proc.returncode != 0 and "CANCELLED" in out, out[-3000:]
    rerun = run_slurm(tmp_path, slurm_env)
    assert rerun.returncode == 0 and (tmp_path / "slow.txt").exists(), rerun.stdout[-3000:]
