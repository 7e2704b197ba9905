"""Train one (variant, size, seed) language model of study 002 and write its tidy logs.

    python -m scaledyn.llm.train --variant V --size S --seed N --global-seed G --params JSON \
        --data DIR --out DIR --ckpt DIR [--device auto|cpu|cuda] [--threads N]

``--params`` is the ``llm`` config section (inline JSON, or a JSON / YAML file, a whole config with an ``llm``
key also works); missing keys take the defaults below. Exit status 0 on success *and* on divergence (the run
is recorded as diverged), 2 with ``Error: ...`` on bad input (unknown variant or size, missing data dir,
unreadable params, a variant its architecture cannot run).

Default ``llm`` parameters (``DEFAULT_PARAMS`` equals this block; a test checks it)::

    arch: sandwich            # prenorm | sandwich; shared by every variant (wd_output needs sandwich)
    variants: [baseline, no_scale, wd_input, wd_output, branch, placement, md, unified]
    run_sizes: [tiny]         # the sizes the DAG trains (named entries of `sizes`)
    seeds: 3                  # seed indices 0 .. seeds-1
    sizes:
      tiny:                   # ~0.8M non-embedding parameters; byte-level vocabulary
        n_layers: 4
        d_model: 128
        n_heads: 4
        context: 128
        batch_size: 16        # sequences per optimiser step
        micro_batch_size: null  # sequences per forward/backward (null: batch_size); gradient accumulation
        mlp_hidden: null      # null: 8/3 d rounded up to mlp_multiple (352)
        mlp_multiple: 32
        steps: 350            # CPU budget: 24 runs ~21-25 min as 2 one-thread jobs side by side (below)
        token_budget: null    # used when steps is null: steps = token_budget // (batch_size * context)
        lr: null              # null: optim.lr
      gpt124m:                # GPT-2 small shape (124M with a GPT-2 vocabulary); GPU
        n_layers: 12
        d_model: 768
        n_heads: 12
        context: 1024
        batch_size: 512       # 0.5M tokens per step
        micro_batch_size: 32
        mlp_hidden: null      # 2048
        mlp_multiple: 64
        steps: null
        token_budget: 2.5e+9  # ~20 tokens per parameter (Chinchilla): 4768 steps
        lr: 1.5e-3
    model:
      norm_eps: 1.0e-6
      rope_base: 10000.0
      init_std: 0.02
      embed_std: 1.0
      pad_vocab_to: 64        # the vocabulary is padded up to a multiple of this (unused rows never seen)
    optim:
      lr: 3.0e-3
      beta1: 0.9
      beta2: 0.95
      eps: 1.0e-8
      weight_decay: 0.1       # on weight matrices (never on the embedding)
      gamma_weight_decay: null  # on the scale vectors a variant decays; null: weight_decay
      grad_clip: 1.0
      impl: auto              # auto | fused | foreach (auto: fused; on this CPU fused = foreach +-3%)
    schedule:
      kind: cosine            # cosine | wsd
      warmup_frac: 0.05       # linear warmup over this fraction of the steps
      min_lr_ratio: 0.1       # final lr / peak lr
      decay_frac: 0.2         # wsd: linear decay over the last fraction of the steps
    eval_every: 50
    eval_batches: 8           # fixed held-out batches of micro_batch_size windows
    log_every: 10
    ckpt_every: 50
    keep_checkpoint: false
    diverge_loss: null        # also call a run diverged when the train loss exceeds this (null: off)
    peak_flops:
      cuda: 989.0e+12         # H100 SXM dense bf16
      cpu_per_thread: 7.8e+10 # one vCPU here: AVX2 2 FMA x 8 fp32 x 2.45 GHz (GEMM measures 77-79e9)
    compile: auto             # auto (on for cuda) | true | false
    threads: 1                # torch.set_num_threads on CPU; --threads overrides

CPU budget (``benchmarks/llm_throughput.py``, 2-vCPU AMD EPYC, AVX2, float32, medians of 3 interleaved
rounds, other work on the machine at the same time): ``tiny`` trains at ~7,200 tokens/s (baseline) and
~6,100 (unified, the slowest variant) with 1 thread, ~10,400 / ~9,500 with 2 threads (1.5x), and two
one-thread jobs side by side make ~15,100 tokens/s together, 1.5x one two-thread job. So the study runs as
one-thread jobs two at a time (``snakemake --cores 2``, ``threads: 1``). Real runs through this module
(data windows, logging, evaluation, start-up) side by side made ~6,600-6,900 tokens/s each for the fastest
variants, 135-142 s for 400 steps: 24 runs of 400 steps would take ~28-29 min, too close to the 30-minute
budget, hence 350 steps (716,800 tokens per run): ~21 min at the benchmark's rate, ~25 min at the real
runs' (as two-thread jobs one at a time: ~31 min).

Choices and formulas
--------------------
- Optimiser: ``torch.optim.AdamW`` with parameter groups: ``matrices`` (every linear map, the untied head
  included) with ``weight_decay``; ``embedding`` with none; ``scales`` (scale vectors a variant does not
  decay) with none; ``scales_decayed`` with ``gamma_weight_decay``. AdamW's decay is decoupled and scaled by
  the scheduled lr (``p <- p - lr_t * wd * p``). Gradients are clipped to total norm ``grad_clip``
  (``clip_grad_norm_``; the logged ``grad_norm`` is the norm before clipping).
- Schedule (``LambdaLR`` multiplier at step t, 0-based, ``W`` warmup steps, ``S`` steps, ``r`` min ratio):
  warmup ``(t+1)/W``; cosine ``r + (1-r) (1 + cos(pi p)) / 2`` with ``p = (t-W)/(S-1-W)``; wsd ``1`` until
  the last ``D = round(decay_frac S)`` steps, then ``1 - (1-r) (t - (S-D) + 1) / D``.
- Data: step t trains on ``batch_size`` random windows of ``context + 1`` tokens of the train tokens, at
  start offsets drawn by a generator seeded with ``derive_seed(global_seed, "llm", size, seed, "batch", t)``.
  The variant is deliberately *not* a key: every variant of a seed sees the same batches in the same order
  (paired comparison), and a resumed run draws the same batches without saved sampler state.
- Init: ``derive_seed(global_seed, "llm", size, seed, "init")``, then per-matrix seeds
  (:meth:`scaledyn.llm.model.Transformer.init_weights`): all variants of a seed share every weight matrix.
- Validation: ``eval_batches`` batches of ``micro_batch_size`` windows of the val tokens, start offsets drawn
  once by ``derive_seed(global_seed, "llm", "val", context)``: the same held-out windows for every variant
  and seed; evaluated every ``eval_every`` steps and at the last step (mean of the batch means).
- Logged rows (``metrics.csv``) at step 1, every ``log_every`` and ``eval_every`` steps, and at the end;
  ``train_loss`` is the mean over the steps since the previous row, ``tokens_per_s`` the training throughput
  over those steps (evaluation and checkpoint time excluded), ``mfu = flop_per_token * tokens_per_s / peak``
  with ``flop_per_token = 6 N_matmul + 12 L d T`` (:meth:`Transformer.flop_per_token`) and ``peak`` =
  ``peak_flops.cuda`` on a GPU, ``peak_flops.cpu_per_thread * threads`` on the CPU.
  ``gammas.csv``: the effective vector (``g v / rms(v)`` for md) of every scale vector at each row: mean,
  rms, min, max with its norm, kind (input/output), side (in/out), branch and decayed flag.
  ``linear_grads.csv``: the Frobenius norm of the gradient of each linear map that reads a norm
  (q, k, v, gate, up per layer and the head) at each row, before clipping.
- Devices: ``device: auto`` is cuda when available. On a GPU: bf16 autocast, ``torch.compile`` (``compile``),
  flash attention through SDPA, TF32 matmuls for the float32 rest. On the CPU: float32,
  ``torch.set_num_threads(threads)``, ``torch.use_deterministic_algorithms(True)``.
- Checkpoints: ``ckpt_dir/state.pt`` every ``ckpt_every`` steps and at the end, written atomically
  (``torch.save`` to a temporary file, then ``os.replace``): model, optimiser, scheduler, step, logs so far,
  RNG states, wall time so far and the run's identity (a checkpoint of another configuration is ignored). A
  run started again resumes from it; on the CPU with the same thread count it reaches bit-identical losses,
  gammas and gradients (timings differ). Outputs are written atomically at the end, ``summary.json`` last;
  the checkpoint is then removed unless ``keep_checkpoint``.
- Divergence: a non-finite train loss or gradient norm (or a loss above ``diverge_loss``) stops the run
  before the optimiser step; ``summary.json`` records ``diverged``, ``diverged_step``, ``diverged_reason``,
  every output is still written and the CLI exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from scaledyn.io import config_hash, write_csv, write_json
from scaledyn.llm.model import ModelConfig, Transformer, build, init_seed_for, param_report
from scaledyn.llm.variants import VARIANTS, get_variant, resolve_arch
from scaledyn.params import merge
from scaledyn.params import read as read_section
from scaledyn.seeding import generator

SIZE_KEYS: dict[str, Any] = {
    "n_layers": None,
    "d_model": None,
    "n_heads": None,
    "context": None,
    "batch_size": None,
    "micro_batch_size": None,
    "mlp_hidden": None,
    "mlp_multiple": 64,
    "steps": None,
    "token_budget": None,
    "lr": None,
}

DEFAULT_PARAMS: dict[str, Any] = {
    "arch": "sandwich",
    "variants": list(VARIANTS),
    "run_sizes": ["tiny"],
    "seeds": 3,
    "sizes": {
        "tiny": {
            "n_layers": 4,
            "d_model": 128,
            "n_heads": 4,
            "context": 128,
            "batch_size": 16,
            "micro_batch_size": None,
            "mlp_hidden": None,
            "mlp_multiple": 32,
            "steps": 350,
            "token_budget": None,
            "lr": None,
        },
        "gpt124m": {
            "n_layers": 12,
            "d_model": 768,
            "n_heads": 12,
            "context": 1024,
            "batch_size": 512,
            "micro_batch_size": 32,
            "mlp_hidden": None,
            "mlp_multiple": 64,
            "steps": None,
            "token_budget": 2.5e9,
            "lr": 1.5e-3,
        },
    },
    "model": {
        "norm_eps": 1.0e-6,
        "rope_base": 10000.0,
        "init_std": 0.02,
        "embed_std": 1.0,
        "pad_vocab_to": 64,
    },
    "optim": {
        "lr": 3.0e-3,
        "beta1": 0.9,
        "beta2": 0.95,
        "eps": 1.0e-8,
        "weight_decay": 0.1,
        "gamma_weight_decay": None,
        "grad_clip": 1.0,
        "impl": "auto",
    },
    "schedule": {"kind": "cosine", "warmup_frac": 0.05, "min_lr_ratio": 0.1, "decay_frac": 0.2},
    "eval_every": 50,
    "eval_batches": 8,
    "log_every": 10,
    "ckpt_every": 50,
    "keep_checkpoint": False,
    "diverge_loss": None,
    "peak_flops": {"cuda": 989.0e12, "cpu_per_thread": 7.8e10},
    "compile": "auto",
    "threads": 1,
}

CKPT_NAME = "state.pt"


class InputError(ValueError):
    """Bad input from the caller (unknown variant or size, missing data, bad params): CLI exit 2."""


# -- parameters ---------------------------------------------------------------------------------------------


def resolve(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults completed by ``params`` (a full or partial ``llm`` section)."""
    return merge(
        DEFAULT_PARAMS, params or {}, section="llm", error=InputError, open_maps={"sizes.": SIZE_KEYS}
    )


def read_params(text_or_path: str | None) -> dict[str, Any]:
    """A CLI ``--params``: inline JSON (starts with ``{``) or a JSON / YAML file; ``llm`` key unwrapped."""
    if not text_or_path:
        return {}
    try:
        raw = read_section(text_or_path, "llm")
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read --params: {exc}") from None
    if not isinstance(raw, dict):
        raise InputError("--params must be a mapping (the llm config section)")
    return raw


def run_params(params: dict[str, Any], size: str) -> dict[str, Any]:
    """The part of ``params`` one run depends on: everything but the DAG's lists and the other sizes.

    Its hash identifies checkpoints (and is ``summary.json``'s ``config_hash``), so adding a variant or a
    seed to the study does not invalidate the checkpoints of runs already under way.
    """
    out = {k: v for k, v in params.items() if k not in ("variants", "run_sizes", "seeds", "sizes", "threads")}
    return {**out, "size": params["sizes"][size]}


def check_params(params: dict[str, Any]) -> None:
    """``InputError`` for values the training loop cannot use."""
    for key in ("log_every", "eval_every", "eval_batches"):
        if not isinstance(params[key], int) or params[key] < 1:
            raise InputError(f"llm.{key} must be a positive integer, not {params[key]!r}")
    if params["ckpt_every"] is not None and (
        not isinstance(params["ckpt_every"], int) or params["ckpt_every"] < 0
    ):
        raise InputError(
            f"llm.ckpt_every must be a non-negative integer or null, not {params['ckpt_every']!r}"
        )
    if params["compile"] not in ("auto", True, False):
        raise InputError(f"llm.compile must be auto, true or false, not {params['compile']!r}")


def size_entry(params: dict[str, Any], size: str) -> dict[str, Any]:
    if size not in params["sizes"]:
        raise InputError(f"unknown size {size!r}; allowed: {', '.join(params['sizes'])}")
    entry = params["sizes"][size]
    missing = [k for k in ("n_layers", "d_model", "n_heads", "context", "batch_size") if entry.get(k) is None]
    if missing:
        raise InputError(f"llm.sizes.{size} lacks {', '.join(missing)}")
    return entry


def total_steps(entry: dict[str, Any]) -> int:
    """``steps``, else ``token_budget // (batch_size * context)``."""
    if entry["steps"] is not None:
        return int(entry["steps"])
    if entry["token_budget"] is None:
        raise InputError("a size needs steps or token_budget")
    return int(float(entry["token_budget"]) // (entry["batch_size"] * entry["context"]))


def model_config(params: dict[str, Any], size: str, vocab_size: int, arch: str) -> ModelConfig:
    """The model shape of ``size`` for a vocabulary of ``vocab_size`` (padded to ``model.pad_vocab_to``)."""
    e, m = size_entry(params, size), params["model"]
    pad = int(m["pad_vocab_to"] or 1)
    return ModelConfig(
        vocab_size=pad * math.ceil(vocab_size / pad),
        n_layers=int(e["n_layers"]),
        d_model=int(e["d_model"]),
        n_heads=int(e["n_heads"]),
        context=int(e["context"]),
        mlp_hidden=e["mlp_hidden"],
        mlp_multiple=int(e["mlp_multiple"]),
        arch=arch,
        norm_eps=float(m["norm_eps"]),
        rope_base=float(m["rope_base"]),
        init_std=float(m["init_std"]),
        embed_std=float(m["embed_std"]),
    )


# -- data ---------------------------------------------------------------------------------------------------


def load_data(data_dir: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(train_tokens, val_tokens, meta)`` from ``scaledyn.llm.data.load``.

    Where that module is absent, the nanoGPT layout is read directly: ``train.bin`` and ``val.bin`` (uint16)
    and ``meta.json`` with ``vocab_size``.
    """
    try:
        from scaledyn.llm import data as llm_data
    except ModuleNotFoundError as exc:
        if exc.name != "scaledyn.llm.data":
            raise
        meta = json.loads((data_dir / "meta.json").read_text())
        train_tokens = np.memmap(data_dir / "train.bin", dtype=np.uint16, mode="r")
        val_tokens = np.memmap(data_dir / "val.bin", dtype=np.uint16, mode="r")
        return train_tokens, val_tokens, meta
    return llm_data.load(data_dir)


def window_batch(tokens: np.ndarray, starts: torch.Tensor, context: int) -> torch.Tensor:
    """Windows ``tokens[s : s + context + 1]`` for each start ``s``: int64 (len(starts), context + 1)."""
    idx = starts.numpy()[:, None] + np.arange(context + 1)
    return torch.from_numpy(np.asarray(tokens[idx], dtype=np.int64))


def batch_starts(n_tokens: int, context: int, batch: int, keys: tuple[object, ...]) -> torch.Tensor:
    """``batch`` uniform window starts in ``[0, n_tokens - context - 1]`` from ``generator(*keys)``."""
    return torch.randint(0, n_tokens - context, (batch,), generator=generator(*keys))


def batch_keys(global_seed: int, size: str, seed: int, step: int) -> tuple[object, ...]:
    """Seed keys of the batch of step ``step`` (0-based); no variant: all variants share the data order."""
    return (global_seed, "llm", size, seed, "batch", step)


def val_starts(n_tokens: int, context: int, n: int, global_seed: int) -> torch.Tensor:
    """The fixed held-out windows: the same for every variant and seed of a context length."""
    return batch_starts(n_tokens, context, n, (global_seed, "llm", "val", context))


# -- optimiser and schedule ---------------------------------------------------------------------------------


def param_groups(model: Transformer, params: dict[str, Any]) -> list[dict[str, Any]]:
    """AdamW groups: matrices (decay), embedding (none), scales (none), scales_decayed (gamma decay).

    Every group has a ``name``; empty groups are left out.
    """
    o = params["optim"]
    wd = float(o["weight_decay"])
    gamma_wd = wd if o["gamma_weight_decay"] is None else float(o["gamma_weight_decay"])
    tags = model.scale_param_tags()
    groups: dict[str, dict[str, Any]] = {
        "matrices": {"params": [], "weight_decay": wd},
        "embedding": {"params": [], "weight_decay": 0.0},
        "scales": {"params": [], "weight_decay": 0.0},
        "scales_decayed": {"params": [], "weight_decay": gamma_wd},
    }
    for name, p in model.named_parameters():
        if name in tags:
            groups["scales_decayed" if tags[name].decayed else "scales"]["params"].append(p)
        elif name == "embed.weight":
            groups["embedding"]["params"].append(p)
        elif p.ndim == 2:
            groups["matrices"]["params"].append(p)
        else:
            raise RuntimeError(f"parameter {name} belongs to no group")
    return [{"name": k, **g} for k, g in groups.items() if g["params"]]


def adamw_impl(params: dict[str, Any], device: torch.device) -> str:
    """``fused`` or ``foreach``: ``optim.impl``; ``auto`` is fused (CUDA; measured faster on this CPU)."""
    impl = params["optim"]["impl"]
    if impl not in ("auto", "fused", "foreach"):
        raise InputError(f"optim.impl must be auto, fused or foreach, not {impl!r}")
    return "fused" if impl == "auto" else impl


def make_optimizer(model: Transformer, params: dict[str, Any], lr: float, impl: str) -> torch.optim.AdamW:
    o = params["optim"]
    kwargs = {"fused": True} if impl == "fused" else {"foreach": True}
    return torch.optim.AdamW(
        param_groups(model, params),
        lr=lr,
        betas=(float(o["beta1"]), float(o["beta2"])),
        eps=float(o["eps"]),
        **kwargs,
    )


@dataclass
class LRSchedule:
    """The ``LambdaLR`` multiplier: linear warmup, then cosine to ``min_ratio`` or WSD (see module doc)."""

    kind: str
    steps: int
    warmup: int
    min_ratio: float
    decay: int

    def __call__(self, t: int) -> float:
        if t < self.warmup:
            return (t + 1) / self.warmup
        r = self.min_ratio
        if self.kind == "cosine":
            p = min(1.0, (t - self.warmup) / max(1, self.steps - 1 - self.warmup))
            return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p))
        start = self.steps - self.decay
        if t < start:
            return 1.0
        return 1.0 - (1 - r) * min(1.0, (t - start + 1) / max(1, self.decay))


def make_schedule(params: dict[str, Any], steps: int) -> LRSchedule:
    s = params["schedule"]
    if s["kind"] not in ("cosine", "wsd"):
        raise InputError(f"schedule.kind must be cosine or wsd, not {s['kind']!r}")
    return LRSchedule(
        kind=s["kind"],
        steps=steps,
        warmup=round(float(s["warmup_frac"]) * steps),
        min_ratio=float(s["min_lr_ratio"]),
        decay=round(float(s["decay_frac"]) * steps),
    )


# -- device -------------------------------------------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise InputError(f"device must be auto, cpu or cuda, not {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda requested but torch.cuda.is_available() is False")
    return torch.device(device)


def setup_device(dev: torch.device, threads: int) -> None:
    """Threads and determinism on the CPU; TF32 for float32 matmuls on a GPU."""
    torch.set_num_threads(threads)
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(dev: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on a GPU, nothing (float32) on the CPU."""
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# -- checkpoint ---------------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """Every global RNG (none is drawn from in training: batches and init use derived generators)."""
    name, key, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (name, key.tolist(), pos, has_gauss, gauss),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.asarray(key, dtype=np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then ``os.replace`` (atomic on one filesystem)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it exists and belongs to this run (same identity), else ``None``."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt file cannot happen with os.replace, but never crash on it
        print(f"[llm] ignoring unreadable checkpoint {path}: {exc}", file=sys.stderr)
        return None
    if state.get("identity") != identity:
        print(f"[llm] ignoring checkpoint {path} of another configuration", file=sys.stderr)
        return None
    return state


# -- logging ------------------------------------------------------------------------------------------------


def gamma_rows(model: Transformer, step: int) -> list[dict[str, Any]]:
    """Statistics of every effective scale vector."""
    rows = []
    with torch.no_grad():
        for _, vec in model.scale_vectors():
            g = vec().detach().float().cpu()
            t = vec.tag
            rows.append(
                {
                    "step": step,
                    "norm": t.norm,
                    "scale": t.name,
                    "kind": t.kind,
                    "side": t.side,
                    "branch": t.branch or "",
                    "decayed": t.decayed,
                    "mean": g.mean().item(),
                    "rms": g.pow(2).mean().sqrt().item(),
                    "min": g.min().item(),
                    "max": g.max().item(),
                }
            )
    return rows


def linear_grad_rows(model: Transformer, step: int) -> list[dict[str, Any]]:
    """Gradient norms of the linear maps that read a norm (before clipping)."""
    rows = []
    for name, proj in model.follow_norm_maps().items():
        g = proj.weight.grad
        norm = float("nan") if g is None else torch.linalg.vector_norm(g.float()).item()
        rows.append({"step": step, "layer": name, "grad_norm": norm})
    return rows


def fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


METRIC_COLUMNS = ["step", "tokens", "lr", "train_loss", "val_loss", "tokens_per_s", "mfu", "grad_norm"]
GAMMA_COLUMNS = ["step", "norm", "scale", "kind", "side", "branch", "decayed", "mean", "rms", "min", "max"]
GRAD_COLUMNS = ["step", "layer", "grad_norm"]


# -- training -----------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    val_tokens: np.ndarray,
    starts: torch.Tensor,
    context: int,
    micro: int,
    dev: torch.device,
) -> float:
    """Mean loss over the fixed held-out windows (batches of ``micro`` windows)."""
    losses = []
    for i in range(0, len(starts), micro):
        xy = window_batch(val_tokens, starts[i : i + micro], context).to(dev, non_blocking=True)
        with autocast(dev):
            losses.append(loss_fn(xy[:, :-1], xy[:, 1:]).float())
    return torch.stack(losses).mean().item()


def train(
    params: dict[str, Any],
    variant: str,
    size: str,
    seed: int,
    global_seed: int,
    data_dir: Path,
    out_dir: Path,
    ckpt_dir: Path,
    *,
    device: str = "auto",
    threads: int | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train one model and write ``metrics.csv``, ``gammas.csv``, ``linear_grads.csv``, ``summary.json``.

    Resumes from ``ckpt_dir/state.pt`` when it holds a checkpoint of this run. ``stop_after`` (for tests)
    returns after that many steps of *this* call, as if the process had been killed: no outputs, the
    checkpoint left as it is; the returned dict then has ``stopped_early`` set. Otherwise returns the summary.
    Raises :class:`InputError` on bad input.
    """
    params = resolve(params)
    check_params(params)
    try:
        flags = get_variant(variant)
        arch = resolve_arch(flags, params["arch"])
    except ValueError as exc:
        raise InputError(str(exc)) from None
    entry = size_entry(params, size)
    data_dir, out_dir, ckpt_dir = Path(data_dir), Path(out_dir), Path(ckpt_dir)
    if not data_dir.is_dir():
        raise InputError(f"data directory {data_dir} does not exist")
    dev = resolve_device(device)
    n_threads = int(threads if threads is not None else params["threads"])
    setup_device(dev, n_threads)

    try:
        train_tokens, val_tokens, meta = load_data(data_dir)
    except (OSError, ValueError) as exc:  # scaledyn.llm.data.CorpusError is a ValueError
        raise InputError(f"cannot load the corpus in {data_dir}: {exc}") from None
    cfg = model_config(params, size, int(meta["vocab_size"]), arch)
    steps = total_steps(entry)
    batch, context = int(entry["batch_size"]), cfg.context
    micro = int(entry["micro_batch_size"] or batch)
    if batch % micro:
        raise InputError(f"batch_size {batch} is not a multiple of micro_batch_size {micro}")
    for name, toks in (("train", train_tokens), ("val", val_tokens)):
        if len(toks) < context + 2:
            raise InputError(f"{name} split has {len(toks)} tokens, fewer than context + 2 = {context + 2}")
    lr = float(entry["lr"] if entry["lr"] is not None else params["optim"]["lr"])

    model = build(cfg, flags, init_seed_for(global_seed, size, seed)).to(dev)
    report = param_report(cfg, flags)
    flop_per_token = model.flop_per_token()
    impl = adamw_impl(params, dev)
    optimizer = make_optimizer(model, params, lr, impl)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, make_schedule(params, steps))
    use_compile = params["compile"] is True or (params["compile"] == "auto" and dev.type == "cuda")
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = (
        torch.compile(model) if use_compile else model  # type: ignore[assignment]
    )
    peak = float(
        params["peak_flops"]["cuda"] if dev.type == "cuda" else params["peak_flops"]["cpu_per_thread"]
    )
    if dev.type == "cpu":
        peak *= n_threads
    v_starts = val_starts(len(val_tokens), context, int(params["eval_batches"]) * micro, global_seed)

    identity = {
        "variant": variant,
        "size": size,
        "seed": seed,
        "global_seed": global_seed,
        "params": config_hash(run_params(params, size)),
        "vocab_size": cfg.vocab_size,
        "device": dev.type,
    }
    ckpt_path = ckpt_dir / CKPT_NAME
    logs: dict[str, list[dict[str, Any]]] = {"metrics": [], "gammas": [], "linear_grads": []}
    start, wall_before, resumed = 0, 0.0, []
    # the steps since the last logged row (a row's train_loss and tokens_per_s cover them): checkpointed too
    interval: dict[str, Any] = {"losses": [], "time": 0.0, "tokens": 0}
    diverged: dict[str, Any] | None = None
    state = load_checkpoint(ckpt_path, identity)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        start, logs, wall_before = state["step"], state["logs"], state["wall_s"]
        interval = state["interval"]
        resumed = [*state["resumed"], start]
    tag = f"[llm {variant} {size} s{seed}]"
    print(
        f"{tag} {report['n_params']:,} params ({report['n_scale_params']:,} scale), {steps} steps on "
        f"{dev.type} ({n_threads} threads), {'resuming at step ' + str(start) if start else 'from scratch'}",
        file=sys.stderr,
    )

    t_wall = time.perf_counter()
    step_times: list[float] = []
    log_every, eval_every, ckpt_every = (
        int(params["log_every"]),
        int(params["eval_every"]),
        params["ckpt_every"],
    )
    diverge_loss = params["diverge_loss"]
    step = start
    n_micro = batch // micro
    while step < steps and diverged is None:
        t0 = time.perf_counter()
        lr_now = optimizer.param_groups[0]["lr"]
        xy = window_batch(
            train_tokens,
            batch_starts(len(train_tokens), context, batch, batch_keys(global_seed, size, seed, step)),
            context,
        )
        if dev.type == "cuda":
            xy = xy.pin_memory().to(dev, non_blocking=True)
        loss_sum = torch.zeros((), device=dev)
        for i in range(n_micro):
            mb = xy[i * micro : (i + 1) * micro]
            with autocast(dev):
                loss = loss_fn(mb[:, :-1], mb[:, 1:])
            (loss / n_micro).backward()
            loss_sum += loss.detach().float()
        loss_val = (loss_sum / n_micro).item()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            model.parameters(), float(params["optim"]["grad_clip"])
        ).item()
        step += 1
        row_step = step == 1 or step % log_every == 0 or step % eval_every == 0 or step == steps
        reason = None
        if not math.isfinite(loss_val):
            reason = f"non-finite train loss ({loss_val})"
        elif not math.isfinite(grad_norm):
            reason = f"non-finite gradient norm ({grad_norm})"
        elif diverge_loss is not None and loss_val > float(diverge_loss):
            reason = f"train loss {loss_val:.4g} above diverge_loss {diverge_loss}"
        if reason is not None:
            diverged = {"step": step, "reason": reason}
            row_step = True
        if row_step:
            logs["linear_grads"].extend(linear_grad_rows(model, step))
        if diverged is None:
            optimizer.step()
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        interval["time"] += dt
        interval["tokens"] += batch * context
        interval["losses"].append(loss_val)
        step_times.append(dt)

        if row_step:
            val = None
            if diverged is None and (step % eval_every == 0 or step == steps):
                val = evaluate(loss_fn, val_tokens, v_starts, context, micro, dev)
            tps = interval["tokens"] / interval["time"] if interval["time"] > 0 else float("nan")
            logs["metrics"].append(
                {
                    "step": step,
                    "tokens": step * batch * context,
                    "lr": lr_now,
                    "train_loss": sum(interval["losses"]) / len(interval["losses"]),
                    "val_loss": val,
                    "tokens_per_s": tps,
                    "mfu": flop_per_token * tps / peak,
                    "grad_norm": grad_norm,
                }
            )
            logs["gammas"].extend(gamma_rows(model, step))
            recent = step_times[-50:]
            eta = (steps - step) * sum(recent) / len(recent)
            val_txt = f" val {val:.4f}" if val is not None else ""
            print(
                f"{tag} step {step}/{steps} loss {loss_val:.4f}{val_txt} tok/s {tps:,.0f} "
                f"eta {fmt_time(eta)}",
                file=sys.stderr,
                flush=True,
            )
            interval = {"losses": [], "time": 0.0, "tokens": 0}
        if diverged is not None:
            print(f"{tag} diverged at step {step}: {diverged['reason']}", file=sys.stderr, flush=True)
            break
        if (ckpt_every and step % int(ckpt_every) == 0) or step == steps:
            save_checkpoint(
                ckpt_path,
                {
                    "identity": identity,
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": rng_state(),
                    "logs": logs,
                    "wall_s": wall_before + time.perf_counter() - t_wall,
                    "resumed": resumed,
                    "interval": interval,
                },
            )
        if stop_after is not None and step - start >= stop_after:
            return {"stopped_early": True, "step": step}

    wall = wall_before + time.perf_counter() - t_wall
    metrics = pd.DataFrame(logs["metrics"], columns=METRIC_COLUMNS)
    vals = metrics["val_loss"].dropna()
    vals = vals[np.isfinite(vals.astype(float))]
    tps_rows = metrics["tokens_per_s"].iloc[1:] if len(metrics) > 1 else metrics["tokens_per_s"]
    tps_median = float(statistics.median(tps_rows)) if len(tps_rows) else float("nan")
    final_val = None
    if diverged is None and len(metrics) and pd.notna(metrics["val_loss"].iloc[-1]):
        final_val = float(metrics["val_loss"].iloc[-1])
    summary = {
        "variant": variant,
        "size": size,
        "seed": seed,
        "global_seed": global_seed,
        "arch": arch,
        "flags": flags.as_dict(),
        "n_params": report["n_params"],
        "n_scale_params": report["n_scale_params"],
        "n_matmul_params": report["n_matmul"],
        "overhead_params_vs_baseline": report["overhead_params_vs_baseline"],
        "overhead_fraction": report["overhead_fraction"],
        "final_val_loss": final_val,
        "min_val_loss": float(vals.min()) if len(vals) else None,
        "final_train_loss": float(metrics["train_loss"].iloc[-1]) if len(metrics) else None,
        "diverged": diverged is not None,
        "diverged_step": diverged["step"] if diverged else None,
        "diverged_reason": diverged["reason"] if diverged else None,
        "tokens_per_s": tps_median,
        "mfu": flop_per_token * tps_median / peak,
        "flop_per_token": flop_per_token,
        "peak_flops": peak,
        "wall_s": wall,
        "steps": step,
        "steps_planned": steps,
        "tokens": step * batch * context,
        "device": dev.type,
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "dtype": "bfloat16" if dev.type == "cuda" else "float32",
        "threads": n_threads,
        "compile": use_compile,
        "optimizer_impl": impl,
        "vocab_size": cfg.vocab_size,
        "resumed_at": resumed,
        "config_hash": identity["params"],
        "params": run_params(params, size),
    }
    write_csv(metrics, out_dir / "metrics.csv")
    write_csv(pd.DataFrame(logs["gammas"], columns=GAMMA_COLUMNS), out_dir / "gammas.csv")
    write_csv(pd.DataFrame(logs["linear_grads"], columns=GRAD_COLUMNS), out_dir / "linear_grads.csv")
    write_json(summary, out_dir / "summary.json")
    if not params["keep_checkpoint"] and ckpt_path.exists():
        ckpt_path.unlink()
        with contextlib.suppress(OSError):
            ckpt_dir.rmdir()
    print(
        f"{tag} done: {step} steps, final val {final_val}, {tps_median:,.0f} tok/s, {fmt_time(wall)}",
        file=sys.stderr,
    )
    return summary


# -- CLI ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.llm.train", description=__doc__.split("\n")[0])
    parser.add_argument("--variant", required=True, help=f"one of {', '.join(VARIANTS)}")
    parser.add_argument("--size", required=True, help="a named entry of llm.sizes (tiny, gpt124m, ...)")
    parser.add_argument("--seed", type=int, required=True, help="seed index of this run")
    parser.add_argument("--global-seed", type=int, default=0)
    parser.add_argument("--params", default=None, help="llm section: inline JSON or a JSON/YAML file")
    parser.add_argument("--data", required=True, help="directory with the tokenised corpus")
    parser.add_argument("--out", required=True, help="output directory (the declared outputs)")
    parser.add_argument("--ckpt", required=True, help="checkpoint directory, outside the outputs")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default llm.threads)")
    args = parser.parse_args(argv)
    try:
        summary = train(
            read_params(args.params),
            args.variant,
            args.size,
            args.seed,
            args.global_seed,
            Path(args.data),
            Path(args.out),
            Path(args.ckpt),
            device=args.device,
            threads=args.threads,
        )
    except (InputError, FileNotFoundError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    if summary["diverged"]:
        print(f"run diverged at step {summary['diverged_step']}; outputs written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
