"""The device check of study 002's GPU path: what the first minutes on a lent GPU should measure (issue 21).

    python benchmarks/gpu_check.py --out DIR [--device cuda|cpu] [--configfile config/gpu.yaml] \
        [--budget-s 420] [--steps 30] [--loss-steps 50]
    make gpu-check                      # --out benchmarks/results/gpu_check (cuda)

No network: the corpus is synthetic (random 8-token words drawn from a fixed list of 64: learnable, so a loss
curve means something), written under ``DIR``. Sections, each timed and recorded on its own (a failing
section is recorded with its error and the next one runs; ``check.json`` is rewritten after each):

1. ``env``: torch, CUDA, the device, its count, bf16 support, the SDPA backends enabled.
2. ``throughput``: the ``gpt124m`` and ``mid40m`` shapes of the config (baseline), bf16 autocast +
   ``torch.compile``, one optimiser step per micro-batch of the configured ``micro_batch_size`` windows:
   tokens/s and MFU over ``--steps`` steps after warm-up (compilation) steps, the compile time, and
   ``torch.cuda.max_memory_allocated`` of the steady steps against :func:`scaledyn.llm.memory.plan`'s state
   + eager activations (an upper bound for the compiled step). ``benchmarks/llm_throughput.py``'s worker.
3. ``loss``: ``--loss-steps`` steps of the mid40m shape through :func:`scaledyn.llm.train.train` (batch 16,
   one micro-batch; the synthetic corpus), compiled bf16 against eager float32 (``precision: fp32``, TF32
   matmuls on a GPU): agreement when every logged train loss is within :data:`LOSS_TOL` nats.
4. ``resume``: the compiled bf16 run of 3 through the CLI, killed with SIGKILL once its first checkpoint is
   written, run again: it must resume from that checkpoint, and its losses must match the uninterrupted run
   of 3 (bit for bit on the CPU; within :data:`RESUME_TOL` on a GPU, whose kernels need not be deterministic).
5. ``ddp``: 2 processes under torchrun (nccl, one GPU each) where two GPUs exist, gloo on the CPU, a few
   steps of the same run: the losses against one process (within :data:`DDP_TOL`); skipped on one GPU.

Sections after ``--budget-s`` seconds are skipped (recorded). On a GPU the whole check is sized for at most
8 minutes (H100: the two throughput compiles ~1 min each, the rest under ~4 min). ``--device cpu`` runs
everything at a reduced size (2 layers x 64, context 32, batch 4: the plumbing, not the numbers; the
default test run does so in ``tests/test_gpu_check.py``). Writes ``DIR/check.json`` and ``DIR/summary.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from llm_throughput import worker  # noqa: E402

from scaledyn import studies  # noqa: E402
from scaledyn.llm import memory, run_config  # noqa: E402
from scaledyn.llm import train as tr  # noqa: E402
from scaledyn.llm.checkpoint import CKPT_NAME  # noqa: E402
from scaledyn.llm.variants import VARIANTS  # noqa: E402

LOSS_TOL = 0.05  # nats: compiled bf16 vs eager float32, any logged train loss over the first 50 steps
RESUME_TOL = 1e-2  # nats: a resumed compiled run vs the uninterrupted one on a GPU (exact on the CPU)
DDP_TOL = 1e-2  # nats: 2 processes vs one (float32 sums in another order, bf16 rounding)
# --device cpu: every shape alike (one compile, then the inductor cache), 100 steps (the schedule's length)
REDUCED = {"n_layers": 2, "d_model": 64, "n_heads": 4, "context": 32, "batch_size": 4, "micro_batch_size": 4,
           "steps": 100}  # fmt: skip
VOCAB = 256
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def write_corpus(data: Path, n_train: int, n_val: int, seed: int = 0) -> Path:
    """Random 8-token words from a list of 64, as uint16 ``train.bin`` / ``val.bin`` with ``meta.json``."""
    rng = np.random.default_rng(seed)
    words = rng.integers(0, VOCAB, (64, 8), dtype=np.uint16)
    data.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("val", n_val)):
        words[rng.integers(0, 64, -(-n // 8))].ravel()[:n].tofile(data / f"{split}.bin")
    meta = {"vocab_size": VOCAB, "n_train_tokens": n_train, "n_val_tokens": n_val}
    (data / "meta.json").write_text(json.dumps(meta))
    return data


class Check:
    """The sections' results, ``check.json`` rewritten after each, within a time budget."""

    def __init__(self, out: Path, budget_s: float) -> None:
        self.out, self.budget_s, self.t0 = out, budget_s, time.perf_counter()
        self.results: dict[str, Any] = {"load_average_start": os.getloadavg(), "sections": {}}

    def run(self, name: str, fn, *args: Any) -> dict[str, Any] | None:
        elapsed = time.perf_counter() - self.t0
        if elapsed > self.budget_s:
            self.record(
                name, {"ok": None, "skipped": f"budget of {self.budget_s:.0f} s spent ({elapsed:.0f} s)"}
            )
            return None
        t = time.perf_counter()
        try:
            res = {"ok": True, **fn(*args)}
        except Exception as exc:  # a failing section is a finding: record it, go on with the next
            res = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        res["seconds"] = time.perf_counter() - t
        self.record(name, res)
        return res

    def record(self, name: str, res: dict[str, Any]) -> None:
        self.results["sections"][name] = res
        self.results["wall_s"] = time.perf_counter() - self.t0
        self.results["load_average_end"] = os.getloadavg()
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "check.json").write_text(json.dumps(self.results, indent=2, default=str) + "\n")
        print(f"[gpu_check] {name}: {summary_line(name, res)}", file=sys.stderr, flush=True)


# -- sections -----------------------------------------------------------------------------------------------


def env_section(dev: torch.device) -> dict[str, Any]:
    out: dict[str, Any] = {"torch": torch.__version__, "device": dev.type, "cpu_count": os.cpu_count()}
    if dev.type == "cuda":
        out |= {"cuda": torch.version.cuda, "name": torch.cuda.get_device_name(dev),
                "device_count": torch.cuda.device_count(), "bf16": torch.cuda.is_bf16_supported(),
                "memory_gib": torch.cuda.get_device_properties(dev).total_memory / 2**30,
                "flash_sdp": torch.backends.cuda.flash_sdp_enabled(),
                "mem_efficient_sdp": torch.backends.cuda.mem_efficient_sdp_enabled()}  # fmt: skip
    else:
        out |= {"capability": torch.backends.cpu.get_cpu_capability(),
                "avx512_bf16": torch.cpu._is_avx512_bf16_supported(),
                "amx": torch.cpu._is_amx_tile_supported()}  # fmt: skip
    return out


def throughput_section(llm: dict, dev: torch.device, steps: int, warmup: int) -> dict[str, Any]:
    """Tokens/s, MFU, compile time and peak memory of both shapes, bf16 + compile, baseline."""
    shapes, gib80 = {}, 80 * 2**30
    capacity = torch.cuda.get_device_properties(dev).total_memory if dev.type == "cuda" else gib80
    for size in ("gpt124m", "mid40m"):
        entry = llm["sizes"][size]
        torch._dynamo.reset()
        spec = {"device": dev.type, "size": size, "entry": entry, "arch": "prenorm", "variant": "baseline",
                "vocab": VOCAB, "steps": steps, "warmup": warmup, "threads": llm["threads"], "compile": True,
                "precision": "bf16"}  # fmt: skip
        res = worker(spec)
        micro = entry["micro_batch_size"] or entry["batch_size"]
        cfg = run_config.model_config(llm, size, VOCAB, "prenorm")
        plan = memory.plan(cfg, VARIANTS["baseline"], micro, capacity)
        keys = (
            "tokens_per_s",
            "mfu",
            "s_per_step",
            "compile_s",
            "first_step_s",
            "gpu_max_memory_mib",
            "device_name",
            "n_params",
            "batch",
            "context",
            "flop_per_token",
            "peak",
        )
        shapes[size] = {k: res.get(k) for k in keys}
        shapes[size]["predicted_eager_mib"] = plan["total_bytes"] / 2**20
        shapes[size]["max_micro_batch_eager"] = plan["max_micro_batch"]  # in the device's whole memory
        if res.get("gpu_max_memory_mib"):
            shapes[size]["measured_over_predicted"] = res["gpu_max_memory_mib"] * 2**20 / plan["total_bytes"]
        shapes[size]["losses_finite"] = all(math.isfinite(x) for x in res["losses"])
        if not shapes[size]["losses_finite"]:
            raise RuntimeError(f"{size}: non-finite loss in the throughput steps")
    return {"shapes": shapes}


def train_params(llm: dict, loss_steps: int, **over: Any) -> dict[str, Any]:
    """The llm section of the loss, resume and ddp runs: the mid40m shape, one micro-batch of 16 windows (at
    most its batch: 4 at the CPU's reduced size)."""
    batch = min(16, llm["sizes"]["mid40m"]["batch_size"])
    entry = {**llm["sizes"]["mid40m"], "batch_size": batch, "micro_batch_size": batch, "steps": loss_steps,
             "token_budget": None, "arms": None}  # fmt: skip
    return {**{k: v for k, v in llm.items() if k not in ("sizes", "run_sizes", "arms")},
            "sizes": {"mid40m": entry}, "log_every": 1, "eval_every": loss_steps, "eval_batches": 2,
            "ckpt_every": 10, "tensor_snr": {"enabled": False},
            "optim": {**llm["optim"], "decay_timescales": None},
            **over}  # fmt: skip


def train_once(params: dict, data: Path, out: Path, dev: torch.device) -> pd.DataFrame:
    torch._dynamo.reset()
    tr.train(params, "baseline", "mid40m", 0, 0, data, out / "out", out / "ckpt", arch="prenorm",
             device=dev.type)  # fmt: skip
    return pd.read_csv(out / "out" / "metrics.csv")


def loss_section(llm: dict, dev: torch.device, data: Path, out: Path, loss_steps: int) -> dict[str, Any]:
    """Compiled bf16 against eager float32 on the same init, batches and schedule."""
    fast = train_once(train_params(llm, loss_steps, compile=True, precision="bf16"), data, out / "bf16", dev)
    ref = train_once(train_params(llm, loss_steps, compile=False, precision="fp32"), data, out / "fp32", dev)
    gap = (fast["train_loss"] - ref["train_loss"]).abs()
    return {"steps": loss_steps, "max_abs_gap": float(gap.max()), "final_gap": float(gap.iloc[-1]),
            "tolerance": LOSS_TOL, "agree": bool(gap.max() <= LOSS_TOL),
            "first_loss": float(ref["train_loss"].iloc[0]),
            "last_loss_fp32": float(ref["train_loss"].iloc[-1]),
            "last_loss_bf16": float(fast["train_loss"].iloc[-1])}  # fmt: skip


def cli(params: dict, data: Path, out: Path, dev: torch.device, nproc: int = 1) -> list[str]:
    launch = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc > 1 else []
    return [sys.executable, *launch, "-m", "scaledyn.llm", "train", "--arch", "prenorm", "--variant",
            "baseline", "--size", "mid40m", "--seed", "0", "--global-seed", "0", "--params",
            json.dumps(params), "--data", str(data), "--out", str(out / "out"), "--ckpt", str(out / "ckpt"),
            "--device", dev.type]  # fmt: skip


def resume_section(llm: dict, dev: torch.device, data: Path, out: Path, loss_steps: int) -> dict[str, Any]:
    """The compiled bf16 run killed (SIGKILL) after its first checkpoint, then run again to the end."""
    params = train_params(llm, loss_steps, compile=True, precision="bf16")
    cmd, ckpt = cli(params, data, out / "resume", dev), out / "resume" / "ckpt" / CKPT_NAME
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    if not ckpt.exists():
        raise RuntimeError(f"no checkpoint before the kill (exit {proc.returncode})")
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"the rerun failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads((out / "resume" / "out" / "summary.json").read_text())
    resumed = pd.read_csv(out / "resume" / "out" / "metrics.csv")
    whole = pd.read_csv(out / "bf16" / "out" / "metrics.csv")
    gap = float((resumed["train_loss"] - whole["train_loss"]).abs().max())
    tol = 0.0 if dev.type == "cpu" else RESUME_TOL
    return {"killed_at": killed_at, "resumed_at": summary["resumed_at"], "max_abs_gap_vs_uninterrupted": gap,
            "tolerance": tol, "agree": bool(summary["resumed_at"] == [killed_at] and gap <= tol)}  # fmt: skip


def ddp_section(llm: dict, dev: torch.device, data: Path, out: Path) -> dict[str, Any]:
    """2 processes (nccl on 2 GPUs, gloo on the CPU) against one, a few steps of the same run."""
    if dev.type == "cuda" and torch.cuda.device_count() < 2:
        return {"skipped": f"{torch.cuda.device_count()} GPU: the 2-process nccl step needs two"}
    params = train_params(llm, 4, ckpt_every=None, eval_every=4)
    one = train_once(params, data, out / "ddp1", dev)
    cmd = cli(params, data, out / "ddp2", dev, nproc=2)
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"torchrun failed ({done.returncode}): {done.stderr[-2000:]}")
    two = pd.read_csv(out / "ddp2" / "out" / "metrics.csv")
    nproc = json.loads((out / "ddp2" / "out" / "summary.json").read_text())["nproc"]
    gap = float((two["train_loss"] - one["train_loss"]).abs().max())
    backend = "nccl" if dev.type == "cuda" else "gloo"
    return {"backend": backend, "nproc": nproc, "max_abs_gap_vs_one_process": gap, "tolerance": DDP_TOL,
            "agree": bool(nproc == 2 and gap <= DDP_TOL)}  # fmt: skip


# -- report -------------------------------------------------------------------------------------------------


def summary_line(name: str, res: dict[str, Any]) -> str:
    if res.get("ok") is None:
        return f"skipped ({res['skipped']})"
    if not res["ok"]:
        return f"FAILED {res['error']}"
    if res.get("skipped"):
        return f"skipped ({res['skipped']})"
    if name == "throughput":
        parts = []
        for size, s in res["shapes"].items():
            mem = f", peak {s['gpu_max_memory_mib']:,.0f} MiB" if s.get("gpu_max_memory_mib") else ""
            parts.append(f"{size} {s['tokens_per_s']:,.0f} tok/s MFU {s['mfu']:.3f}, compile "
                         f"{s['compile_s']:.0f} s{mem} (eager bound "
                         f"{s['predicted_eager_mib']:,.0f} MiB)")  # fmt: skip
        return "; ".join(parts)
    if name in ("loss", "resume", "ddp"):
        gap = next(v for k, v in res.items() if k.startswith("max_abs_gap"))
        verdict = "agree" if res["agree"] else "DISAGREE"
        return f"{verdict}: max |loss gap| {gap:.2e} (tolerance {res['tolerance']:g})" + (
            f", killed at {res['killed_at']}, resumed at {res['resumed_at']}" if name == "resume" else ""
        )
    if name == "env":
        return ", ".join(f"{k} {v}" for k, v in res.items() if k not in ("ok", "seconds"))
    return "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (check.json, summary.txt, the runs)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--configfile", default=str(ROOT / "config/gpu.yaml"))
    parser.add_argument("--budget-s", type=float, default=420.0, help="skip sections that start after this")
    parser.add_argument("--steps", type=int, default=30, help="timed throughput steps per shape")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up (compilation) steps per shape")
    parser.add_argument("--loss-steps", type=int, default=50, help="steps of the loss agreement run")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "Error: --device cuda but torch.cuda.is_available() is False (use --device cpu)", file=sys.stderr
        )
        return 2
    out, dev = Path(args.out), torch.device(args.device)
    given = yaml.safe_load(Path(args.configfile).read_text())
    if dev.type == "cpu":  # the plumbing at a reduced size: 2 layers, short context, tiny batches
        sizes = given["llm"]["sizes"]
        given["llm"]["sizes"] = {k: {**v, **REDUCED} for k, v in sizes.items()}
        given["llm"]["threads"] = 1
    llm = studies.load(given)["llm"]
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str((out / "inductor_cache").resolve()))
    ENV["TORCHINDUCTOR_CACHE_DIR"] = os.environ["TORCHINDUCTOR_CACHE_DIR"]
    data = write_corpus(
        out / "corpus", 2_000_000 if dev.type == "cuda" else 40_000, 200_000 if dev.type == "cuda" else 8_000
    )
    check = Check(out, args.budget_s)
    check.results |= {"device": dev.type, "config": Path(args.configfile).name, "reduced": dev.type == "cpu"}
    check.run("env", env_section, dev)
    check.run("throughput", throughput_section, llm, dev, args.steps, args.warmup)
    check.run("loss", loss_section, llm, dev, data, out / "runs", args.loss_steps)
    check.run("resume", resume_section, llm, dev, data, out / "runs", args.loss_steps)
    check.run("ddp", ddp_section, llm, dev, data, out / "runs")
    lines = [f"gpu_check on {dev.type} ({'reduced size' if dev.type == 'cpu' else 'config sizes'}), "
             f"{check.results['wall_s']:.0f} s, load {check.results['load_average_start'][0]:.1f} -> "
             f"{check.results['load_average_end'][0]:.1f}"]  # fmt: skip
    lines += [f"{name}: {summary_line(name, res)}" for name, res in check.results["sections"].items()]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    failed = [
        n for n, r in check.results["sections"].items() if r.get("ok") is False or r.get("agree") is False
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
