"""Data-parallel training of study 002 (``llm.nproc``): 2 gloo ranks x 1 thread against one process, the
resume after a rank is SIGKILLed, divergence on every rank, start-up failures that end in one ``Error:`` line
instead of a hang, and the arguments of a 2-node job.

Every run is the real CLI (``python -m scaledyn.llm train``), the two-rank ones under torchrun
(``python -m torch.distributed.run --standalone --nproc_per_node 2``), on the toy corpus of
``tests/conftest.py``. Tolerance of 2 ranks vs 1 (:data:`RTOL`): the ranks' gradients are averaged
in another float32 summation order than one process's micro-batch accumulation, so the runs agree to float
rounding and drift apart slowly: measured at most 4e-7 relative over the 40 steps (losses, gradient norms,
gammas, tensor norms; the test prints it), tested at 1e-5. Two-rank runs are bit-identical to each other
(gloo sums two ranks in a fixed order). Wall time on 2 busy vCPUs: ~15-40 s per test.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from scaledyn import config
from scaledyn.llm import distributed, run_config
from tests.conftest import (
    MICRO,
    MICRO_PARAMS,
    ROOT,
    VOCAB,
    assert_same_science,
    copy_repo,
    snakemake,
    train_argv,
)

RTOL = 1e-5
# 8 windows per step in micro-batches of 2: each of 2 ranks accumulates 2 micro-batches (DDP's no_sync)
DDP_PARAMS = {**MICRO_PARAMS, "sizes": {"micro": {**MICRO, "micro_batch_size": 2}}}
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def command(nproc: int, tmp: Path, data: Path, params: dict, **options: object) -> list[str]:
    """The CLI of a unified micro run on ``nproc`` ranks (torchrun for more than one)."""
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd = [*(launch if nproc > 1 else [sys.executable]), "-m", "scaledyn.llm", "train"]
    return [*cmd, *train_argv(data, tmp, variant="unified", params=params, **options)]


def train_cli(nproc: int, tmp: Path, data: Path, params: dict = DDP_PARAMS) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command(nproc, tmp, data, params), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_ranks_share_each_batch_in_whole_micro_batches():
    section = config.section("llm", DDP_PARAMS)
    cpu = torch.device("cpu")
    one, two = (
        run_config.build(
            section, "baseline", "micro", 0, 7, arch="sandwich", vocab_size=VOCAB, device=cpu, world_size=n
        )
        for n in (1, 2)
    )
    assert (one.rank_batch, one.rank_micro, one.n_micro) == (8, 2, 4)
    assert (two.rank_batch, two.rank_micro, two.n_micro) == (4, 2, 2)
    assert two.tokens_per_step == one.tokens_per_step and two.peak_flops == 2 * one.peak_flops
    assert two.identity == one.identity  # a checkpoint resumes on any number of ranks
    xy = torch.arange(8)[:, None]
    parts = [distributed.shard(xy, distributed.World(r, 2)) for r in range(2)]
    assert torch.equal(torch.cat(parts), xy)  # the two slices are the batch of one process
    # micro_batch_size null: each rank's slice in one pass
    r = run_config.build(
        config.section("llm", MICRO_PARAMS), "baseline", "micro", 0, 7, arch="sandwich", vocab_size=VOCAB,
        device=cpu, world_size=4,
    )  # fmt: skip
    assert (r.rank_batch, r.rank_micro, r.n_micro, r.micro_batch_size) == (2, 2, 1, 8)
    with pytest.raises(run_config.InputError, match="llm.nproc 3"):
        run_config.build(section, "baseline", "micro", 0, 7, arch="sandwich", vocab_size=VOCAB, device=cpu,
                         world_size=3)  # fmt: skip


def test_two_gloo_ranks_reach_the_losses_of_one_process(tmp_path, data_dir):
    train_cli(1, tmp_path / "one", data_dir)
    two = train_cli(2, tmp_path / "two", data_dir)
    assert two.stderr.count("] done: ") == 1 and "rank 1 of 2 done: 40 steps" in two.stderr  # rank 0 reports
    a, b = (pd.read_csv(tmp_path / d / "out/metrics.csv") for d in ("one", "two"))
    assert a["step"].tolist() == b["step"].tolist() and a["tokens"].tolist() == b["tokens"].tolist()
    rel = {}
    for col in ("train_loss", "val_loss", "grad_norm", "lr"):
        np.testing.assert_allclose(b[col], a[col], rtol=RTOL, err_msg=col)
        rel[col] = float(((b[col] - a[col]).abs() / a[col].abs()).max())
    print("largest relative difference, 2 ranks vs 1:", {k: f"{v:.1e}" for k, v in rel.items()})
    sa, sb = (json.loads((tmp_path / d / "out/summary.json").read_text()) for d in ("one", "two"))
    assert (sa["nproc"], sb["nproc"]) == (1, 2) and sb["steps"] == sa["steps"] == 40
    for key in ("final_val_loss", "final_val_loss_fixed", "min_val_loss", "final_train_loss"):
        assert sb[key] == pytest.approx(sa[key], rel=RTOL), key
    assert sb["final_val_tokens"] == sa["final_val_tokens"] and sb["config_hash"] == sa["config_hash"]
    ga, gb = (pd.read_csv(tmp_path / d / "out/gammas.csv") for d in ("one", "two"))
    np.testing.assert_allclose(gb["mean"], ga["mean"], rtol=RTOL)
    sa_, sb_ = (pd.read_csv(tmp_path / d / "out/tensor_snr.csv") for d in ("one", "two"))
    assert len(sa_) == len(sb_) > 0
    np.testing.assert_allclose(sb_["norm"], sa_["norm"], rtol=RTOL)


def rank_pid(launcher: subprocess.Popen, rank: int) -> int | None:
    """The pid of torchrun's worker process with ``RANK=rank`` (a child of the launcher), if it runs."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if ppid == launcher.pid and f"RANK={rank}".encode() in env:
            return int(proc.name)
    return None


def test_a_sigkilled_rank_resumes_to_the_numbers_of_an_uninterrupted_run(tmp_path, data_dir):
    params = {**DDP_PARAMS, "sizes": {"micro": {**DDP_PARAMS["sizes"]["micro"], "steps": 200}}}
    params = {**params, "ckpt_every": 5, "log_every": 10, "eval_every": 50, "tensor_snr": {"enabled": False}}
    train_cli(2, tmp_path / "full", data_dir, params)
    cmd = command(2, tmp_path, data_dir, params)
    ckpt = tmp_path / "ckpt" / "state.pt"
    launcher = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ckpt.exists() and launcher.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # a few more steps past the first checkpoint
    pid = rank_pid(launcher, 1)
    assert pid is not None and launcher.poll() is None, "the run ended before rank 1 could be killed"
    os.kill(pid, signal.SIGKILL)
    _, err = launcher.communicate(timeout=120)
    assert launcher.returncode != 0, err[-3000:]  # torchrun stops rank 0 and fails the job
    assert ckpt.exists() and not (tmp_path / "out" / "summary.json").exists()
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < killed_at < 200
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming at step {killed_at}" in done.stderr
    assert_same_science(tmp_path / "full" / "out", tmp_path / "out")
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["resumed_at"] == [killed_at]


def test_divergence_stops_every_rank_at_one_step_and_is_recorded_once(tmp_path, data_dir):
    params = {**DDP_PARAMS, "optim": {"lr": 1e12}, "schedule": {"warmup_frac": 0.0}}
    done = train_cli(2, tmp_path, data_dir, params)
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["diverged"] and "non-finite" in s["diverged_reason"] and s["nproc"] == 2
    assert done.stderr.count("] diverged at step") == 1  # rank 0 records it; rank 1 stopped at the same step
    assert f"rank 1 of 2 done: {s['diverged_step']} steps" in done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_rank_whose_peers_never_join_fails_with_one_error_line(tmp_path, data_dir):
    """Rank 0 of 2 started alone (as when the other rank died before joining, outside torchrun's watch):
    the process group does not form within llm.dist_timeout_s, the job exits 2 with one line."""
    env = {**ENV, "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    env["MASTER_PORT"] = str(free_port())
    t0 = time.time()
    cmd = command(1, tmp_path, data_dir, DDP_PARAMS, dist_timeout=3)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr[-3000:]
    assert "rank 0 of 2" in errors[0] and "llm.dist_timeout_s = 3 s" in errors[0], errors
    assert time.time() - t0 < 60


def test_a_batch_the_ranks_cannot_share_stops_every_rank_with_one_error_line(tmp_path, data_dir):
    """Both ranks find the bad input; rank 0 alone reports it, after which both exit (torchrun fails)."""
    params = {**MICRO_PARAMS, "sizes": {"micro": {**MICRO, "batch_size": 6, "micro_batch_size": 2}}}
    done = subprocess.run(command(2, tmp_path, data_dir, params), env=ENV, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode != 0 and len(errors) == 1, done.stderr[-3000:]
    assert errors[0].startswith("Error: llm.nproc 2: the batch_size 6 of size 'micro' does not split"), errors
    assert not (tmp_path / "out").exists()


class JobResources(dict):
    """A job's evaluated resources as the Slurm plugin reads them (``.get`` and attribute access)."""

    __getattr__ = dict.__getitem__


def test_a_two_node_job_asks_for_both_nodes_and_starts_one_torchrun_per_node(tmp_path):
    """The 2-node x 8-GPU request of workflow/profiles/slurm-multinode through the plugin's own sbatch
    builder, and the rule's launch command for llm.nnodes 2 x llm.nproc 8 (a dry run)."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm-multinode/config.yaml").read_text())
    res = JobResources(profile["set-resources"]["llm_train"])
    res["slurm_partition"] = res["slurm_partition"].replace("$SCALEDYN_SLURM_GPU_PARTITION", "gpu")
    job = SimpleNamespace(resources=res, threads=64)
    params = {"run_uuid": "u", "slurm_logfile": "log", "comment_str": "c", "account": "", "workdir": ""}
    call = get_submit_command(job, {**params, "partition": f"-p {res['slurm_partition']}"})
    args = shlex.split(call + set_gres_string(job))
    for arg in ("--nodes=2", "--ntasks=2", "--cpus-per-task=64", "--gpus-per-node=8"):
        assert arg in args, (arg, args)
    assert args[args.index("-p") + 1] == "gpu" and args[args.index("--mem") + 1] == "256000"
    assert not any(a.startswith(("--gpus=", "--ntasks-per-gpu", "--cpus-per-gpu")) for a in args), args
    repo = copy_repo(tmp_path / "repo")
    target = "results/llm/runs/tiny/prenorm/baseline/seed0/summary.json"
    two_nodes = "llm={nnodes: 2, nproc: 8, sizes: {tiny: {batch_size: 16}}}"  # 16 ranks: 1 sequence each
    config = ["--configfile", "config/smoke.yaml", "--config", two_nodes]
    out = snakemake(repo, "-n", "-p", target, *config).stdout
    launch = shlex.split(next(line for line in out.splitlines() if "-m scaledyn.llm train" in line))
    i = launch.index("srun")
    assert launch[i : i + 5] == ["srun", "--ntasks-per-node=1", "python", "-m", "torch.distributed.run"]
    flags = dict(zip(launch[i + 5 : i + 15 : 2], launch[i + 6 : i + 16 : 2], strict=True))
    assert flags["--nnodes"] == "2" and flags["--nproc_per_node"] == "8" and flags["--rdzv_backend"] == "c10d"
    assert flags["--rdzv_endpoint"].endswith(":29500") and "SLURM_JOB_NODELIST" in flags["--rdzv_endpoint"]
    assert flags["--rdzv_id"] == "$SLURM_JOB_ID"
