"""The logs and summary of one training run: ``metrics.csv``, ``gammas.csv``, ``linear_grads.csv``,
``tensor_snr.csv`` and ``summary.json`` (columns and keys documented in :mod:`scaledyn.llm.train`)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from scaledyn.io import write_csv, write_json
from scaledyn.llm.model import Transformer, param_report
from scaledyn.llm.run_config import RunConfig
from scaledyn.llm.tensor_snr import COLUMNS as TENSOR_SNR_COLUMNS

METRIC_COLUMNS = ["step", "tokens", "lr", "train_loss", "val_loss", "tokens_per_s", "mfu", "grad_norm"]
GAMMA_COLUMNS = ["step", "norm", "scale", "kind", "side", "branch", "decayed", "mean", "rms", "min", "max"]
GRAD_COLUMNS = ["step", "layer", "grad_norm"]

Logs = dict[str, list[dict[str, Any]]]  # "metrics", "gammas", "linear_grads", "tensor_snr": rows


def new_logs() -> Logs:
    return {"metrics": [], "gammas": [], "linear_grads": [], "tensor_snr": []}


def metric_row(
    run: RunConfig,
    step: int,
    lr: float,
    interval: dict[str, Any],
    val_loss: float | None,
    grad_norm: float,
    flop_per_token: int,
) -> dict[str, Any]:
    """The ``metrics.csv`` row of ``step``; ``interval``: the losses, time and tokens since the last row."""
    tps = interval["tokens"] / interval["time"] if interval["time"] > 0 else float("nan")
    return {
        "step": step,
        "tokens": step * run.tokens_per_step,
        "lr": lr,
        "train_loss": sum(interval["losses"]) / len(interval["losses"]),
        "val_loss": val_loss,
        "tokens_per_s": tps,
        "mfu": flop_per_token * tps / run.peak_flops,
        "grad_norm": grad_norm,
    }


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
    """Gradient norms of the linear maps that read a norm (read after the step's clipping)."""
    rows = []
    for name, proj in model.follow_norm_maps().items():
        g = proj.weight.grad
        norm = float("nan") if g is None else torch.linalg.vector_norm(g.float()).item()
        rows.append({"step": step, "layer": name, "grad_norm": norm})
    return rows


def summary(
    run: RunConfig,
    model: Transformer,
    logs: Logs,
    *,
    step: int,
    diverged: dict[str, Any] | None,
    final: dict[str, float] | None,
    wall: float,
    resumed: list[int],
) -> dict[str, Any]:
    """``summary.json``: the run, its parameter counts, losses, divergence, throughput and config.

    ``final``: the whole-split evaluation (:func:`scaledyn.llm.step.evaluate_split`), ``None`` for a diverged
    run; ``final_val_loss_fixed`` is the last evaluation on the fixed windows (the curves' last point)."""
    report = param_report(run.model, run.flags)
    metrics = pd.DataFrame(logs["metrics"], columns=METRIC_COLUMNS)
    vals = metrics["val_loss"].dropna()
    vals = vals[np.isfinite(vals.astype(float))]
    tps_rows = metrics["tokens_per_s"].iloc[1:] if len(metrics) > 1 else metrics["tokens_per_s"]
    tps_median = float(statistics.median(tps_rows)) if len(tps_rows) else float("nan")
    fixed = None
    if diverged is None and len(metrics) and pd.notna(metrics["val_loss"].iloc[-1]):
        fixed = float(metrics["val_loss"].iloc[-1])
    final = final or {}
    flop_per_token = model.flop_per_token()
    dev = run.device
    return {
        "variant": run.variant,
        "size": run.size,
        "seed": run.seed,
        "global_seed": run.global_seed,
        "arch": run.model.arch,
        "flags": run.flags.as_dict(),
        "stream": list(run.stream),
        "n_params": report["n_params"],
        "n_scale_params": report["n_scale_params"],
        "n_matmul_params": report["n_matmul"],
        "overhead_params_vs_baseline": report["overhead_params_vs_baseline"],
        "overhead_fraction": report["overhead_fraction"],
        "final_val_loss": final.get("loss"),
        "final_val_se": final.get("se"),
        "final_val_tokens": final.get("tokens"),
        "final_eval_s": final.get("seconds"),
        "final_val_loss_fixed": fixed,
        "min_val_loss": float(vals.min()) if len(vals) else None,
        "final_train_loss": float(metrics["train_loss"].iloc[-1]) if len(metrics) else None,
        "diverged": diverged is not None,
        "diverged_step": diverged["step"] if diverged else None,
        "diverged_reason": diverged["reason"] if diverged else None,
        "tokens_per_s": tps_median,
        "mfu": flop_per_token * tps_median / run.peak_flops,
        "flop_per_token": flop_per_token,
        "peak_flops": run.peak_flops,
        "wall_s": wall,
        "steps": step,
        "steps_planned": run.steps,
        "tokens": step * run.tokens_per_step,
        "device": dev.type,
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "dtype": str(run.dtype).removeprefix("torch."),
        "precision": run.precision,
        "threads": run.threads,
        "compile": run.compile,
        "optimizer_impl": run.optim.impl,
        "lr": run.optim.lr,
        "lr_sum": run.optim.lr_sum,
        "weight_decay": run.optim.weight_decay,
        "gamma_weight_decay": run.optim.gamma_weight_decay,
        "decay_timescales": run.optim.weight_decay * run.optim.lr_sum,  # lambda * sum_t lr_t, matrices
        "gamma_decay_timescales": run.optim.gamma_weight_decay * run.optim.lr_sum,
        "vocab_size": run.model.vocab_size,
        "resumed_at": resumed,
        "config_hash": run.config_hash,
        "params": run.params,
    }


def write(out_dir: Path, logs: Logs, summary: dict[str, Any]) -> None:
    """The five outputs, each written atomically, ``summary.json`` last (its presence means all are done)."""
    write_csv(pd.DataFrame(logs["metrics"], columns=METRIC_COLUMNS), out_dir / "metrics.csv")
    write_csv(pd.DataFrame(logs["gammas"], columns=GAMMA_COLUMNS), out_dir / "gammas.csv")
    write_csv(pd.DataFrame(logs["linear_grads"], columns=GRAD_COLUMNS), out_dir / "linear_grads.csv")
    write_csv(pd.DataFrame(logs["tensor_snr"], columns=TENSOR_SNR_COLUMNS), out_dir / "tensor_snr.csv")
    write_json(summary, out_dir / "summary.json")
