"""The GPU configs of study 002 without a GPU: the DAG they plan and the CPU path of the gpt124m shape."""

from __future__ import annotations

import json
import re

import numpy as np
import yaml
from snakemake.utils import update_config

import scaledyn.llm as llm_pkg
from scaledyn import config, studies
from scaledyn.llm import claims, seed_range
from scaledyn.llm import train as tr
from scaledyn.llm.run_config import total_steps
from tests.conftest import ROOT, snakemake

GPU = ("--configfile", "config/gpu.yaml", "config/gpu_quick.yaml")


def test_gpu_configs_plan_24_gpu_training_jobs(repo_copy):
    """gpu_quick: mid40m trains the default arms (7 Pre-Norm + 3 sandwich), gpt124m its own two, x 2 seeds."""
    out = snakemake(repo_copy, "-n", "-p", *GPU).stdout
    stats = out.split("Job stats:", 1)[1]
    jobs = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", stats, re.M)}
    assert jobs["llm_train"] == 24 and "gsnr_simulate" not in jobs  # llm only
    assert out.count("--size mid40m") == 20 and out.count("--size gpt124m") == 4
    assert (
        out.count("--device cuda") == 24 and out.count("processes, one GPU each (progress:") == 24
    )  # one GPU per job
    assert out.count("--arch prenorm") == 18 and out.count("--arch sandwich") == 6
    assert out.count("--variant unified --size gpt124m") == 2 and "--variant md --size gpt124m" not in out


def test_gpu_config_powered_and_quick_config_judges_nothing():
    """gpu.yaml has the seeds the blocked analysis needs for power; gpu_quick.yaml prints no verdict."""
    given = yaml.safe_load((ROOT / "config/gpu.yaml").read_text())
    full = studies.load(given)["llm"]
    assert full["seeds"] >= 4 and full["claims"]["judge"]
    mid = full["sizes"]["mid40m"]
    blocks = 12 * mid["d_model"] ** 2 * mid["n_layers"]
    assert 30e6 <= blocks <= 50e6 and 5e8 <= mid["token_budget"] <= 1e9
    update_config(given, yaml.safe_load((ROOT / "config/gpu_quick.yaml").read_text()))  # as --configfile
    quick = studies.load(given)["llm"]
    assert quick["claims"]["judge"] is False and quick["sizes"]["mid40m"]["steps"] == 30
    assert claims.check_all({}, quick, None) == []


def test_gpt124m_shape_trains_on_cpu(tmp_path):
    """The full-width, full-depth model (shorter context and batch) through the CPU path of train()."""
    cfg = yaml.safe_load((ROOT / "config/gpu.yaml").read_text())["llm"]
    size = {**cfg["sizes"]["gpt124m"], "context": 64, "batch_size": 2, "micro_batch_size": 1, "steps": 2}
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 5000), ("val", 1000)):
        rng.integers(0, 256, n, dtype=np.uint16).tofile(data / f"{split}.bin")
    meta = {"vocab_size": 256, "n_train_tokens": 5000, "n_val_tokens": 1000}
    (data / "meta.json").write_text(json.dumps(meta))
    params = {"sizes": {"gpt124m": size}, "eval_batches": 1, "eval_every": 2, "log_every": 1}
    params["tensor_snr"] = {"draws": 4, "sequences": 1}  # the measurement at full shape, at a CPU's cost
    params["optim"] = {"decay_timescales": None}  # 2 steps cannot span the default 3 decay timescales
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    s = tr.train(params, "unified", "gpt124m", 0, 1, data, out, ckpt, arch="prenorm", device="cpu")
    assert s["device"] == "cpu" and not s["compile"] and s["dtype"] == "float32"
    assert s["n_matmul_params"] == 12 * (4 * 768**2 + 3 * 768 * 2048) + 768 * 256  # blocks + untied head
    assert 0 < s["overhead_fraction"] < 0.01  # the unified variant's extra vectors at this width
    assert np.isfinite(s["final_val_loss"]) and not s["diverged"]
    assert s["flop_per_token"] == 6 * s["n_matmul_params"] + 12 * 12 * 768 * 64
    assert total_steps(cfg["sizes"]["gpt124m"]) == 4768


def test_a_sizes_own_arms_choose_runs_not_how_they_train():
    """llm.sizes.<name>.arms replaces llm.arms at that size; no training param (editing it reruns none)."""
    own = {"prenorm": ["baseline", "unified"]}
    llm = config.section("llm", {"sizes": {"tiny": {"arms": own}}})
    assert llm_pkg.arms_of(llm, "tiny") == own
    assert llm_pkg.arms_of(config.section("llm", {}), "tiny") == config.section("llm", {})["arms"]
    assert llm_pkg.job_params(llm, "tiny") == llm_pkg.job_params(config.section("llm", {}), "tiny")


def test_every_shipped_config_validates():
    """config/*.yaml load through the schema (gpu_quick.yaml on top of gpu.yaml, as documented)."""
    for path in sorted((ROOT / "config").glob("*.yaml")):
        base = ROOT / "config/gpu.yaml"
        given = yaml.safe_load(base.read_text()) if path.name == "gpu_quick.yaml" else {}
        update_config(given, yaml.safe_load(path.read_text()) or {})
        assert seed_range(studies.load(given)["llm"])[0] >= 1, path.name
