"""benchmarks/gpu_check.py, the device check of study 002's GPU path, runs its plumbing on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scaledyn.llm import precision_problem

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


@pytest.mark.skipif(precision_problem("bf16", "cpu") is not None, reason="this CPU has no AVX512-BF16 / AMX")
def test_gpu_check_runs_every_section_on_the_cpu(tmp_path):
    """Reduced size, few steps: every section runs and agrees; check.json and summary.txt are written."""
    args = ["--device", "cpu", "--out", str(tmp_path), "--steps", "2", "--warmup", "1", "--loss-steps", "20"]
    proc = subprocess.run([*SCRIPT, *args], env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check = json.loads((tmp_path / "check.json").read_text())
    sections = check["sections"]
    assert list(sections) == ["env", "throughput", "loss", "resume", "ddp"]
    assert all(s["ok"] for s in sections.values()), {k: s.get("error") for k, s in sections.items()}
    assert check["device"] == "cpu" and check["reduced"] and sections["env"]["avx512_bf16"] is not None
    for size in ("gpt124m", "mid40m"):
        shape = sections["throughput"]["shapes"][size]
        assert shape["tokens_per_s"] > 0 and 0 < shape["mfu"] and shape["losses_finite"]
        assert shape["predicted_eager_mib"] > 0 and shape["gpu_max_memory_mib"] is None  # cuda only
    loss = sections["loss"]
    assert loss["agree"] and 0 < loss["max_abs_gap"] <= loss["tolerance"]  # > 0: bf16 really ran
    assert loss["last_loss_fp32"] < loss["first_loss"]  # the synthetic corpus is learnt
    resume = sections["resume"]
    assert resume["killed_at"] == 10 and resume["resumed_at"] == [10]
    assert resume["max_abs_gap_vs_uninterrupted"] == 0.0  # bit for bit on the CPU
    ddp = sections["ddp"]
    assert ddp["agree"] and ddp["backend"] == "gloo" and ddp["nproc"] == 2
    summary = (tmp_path / "summary.txt").read_text()
    assert summary.startswith("gpu_check on cpu") and all(f"\n{name}: " in summary for name in sections)


def test_gpu_check_on_cuda_without_a_gpu_is_one_error_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    proc = subprocess.run(
        [*SCRIPT, "--out", str(tmp_path)], env=ENV, capture_output=True, text=True, timeout=120
    )
    assert (
        proc.returncode == 2
        and proc.stderr.startswith("Error: --device cuda")
        and proc.stderr.count("\n") == 1
    )
    assert not (tmp_path / "check.json").exists()
