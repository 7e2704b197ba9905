"""AdamW with the study's parameter groups, and the learning-rate schedule (see :mod:`scaledyn.llm.train`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from scaledyn.llm.model import Transformer


@dataclass(frozen=True)
class OptimConfig:
    """AdamW settings, resolved: ``lr`` is the size's or ``optim.lr``; ``impl`` is fused or foreach;
    ``weight_decay`` / ``gamma_weight_decay`` the lambdas of the decayed groups (:func:`decay_lambda`);
    ``lr_sum`` = sum of the scheduled lr over the run (:func:`lr_sum`)."""

    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    gamma_weight_decay: float
    grad_clip: float
    impl: str
    lr_sum: float


@dataclass(frozen=True)
class LRSchedule:
    """The ``LambdaLR`` multiplier: linear warmup, then cosine to ``min_ratio`` or WSD (see the train doc)."""

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


def make_schedule(schedule: dict[str, Any], steps: int) -> LRSchedule:
    """The schedule of the validated ``llm.schedule`` section over ``steps`` steps."""
    return LRSchedule(
        kind=schedule["kind"],
        steps=steps,
        warmup=round(float(schedule["warmup_frac"]) * steps),
        min_ratio=float(schedule["min_lr_ratio"]),
        decay=round(float(schedule["decay_frac"]) * steps),
    )


def lr_sum(schedule: LRSchedule, lr: float) -> float:
    """``sum_t lr_t`` over the run: step t (0-based) trains at ``lr * schedule(t)`` (``LambdaLR``)."""
    return lr * math.fsum(schedule(t) for t in range(schedule.steps))


def decay_lambda(timescales: float | None, total_lr: float, fixed: float) -> float:
    """The weight decay of a decayed group: ``timescales / total_lr`` (so that ``lambda * sum_t lr_t`` =
    ``timescales``), or ``fixed`` when ``timescales`` is ``None``.

    AdamW decays ``p <- (1 - lr_t lambda) p`` each step, ``prod_t (1 - lr_t lambda) ~ exp(-lambda sum_t
    lr_t)``: the decay timescale is ``1 / (lr lambda)`` steps, and a run of ``timescales`` of them brings a
    decayed tensor within ``exp(-timescales)`` of its equilibrium (the norm where decay and updates balance).
    """
    return fixed if timescales is None else float(timescales) / total_lr


def param_groups(model: Transformer, weight_decay: float, gamma_weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: matrices (decay), embedding (none), scales (none), scales_decayed (gamma decay).

    Every group has a ``name``; empty groups are left out.
    """
    tags = model.scale_param_tags()
    groups: dict[str, dict[str, Any]] = {
        "matrices": {"params": [], "weight_decay": weight_decay},
        "embedding": {"params": [], "weight_decay": 0.0},
        "scales": {"params": [], "weight_decay": 0.0},
        "scales_decayed": {"params": [], "weight_decay": gamma_weight_decay},
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


def make_optimizer(model: Transformer, optim: OptimConfig) -> torch.optim.AdamW:
    kwargs = {"fused": True} if optim.impl == "fused" else {"foreach": True}
    return torch.optim.AdamW(
        param_groups(model, optim.weight_decay, optim.gamma_weight_decay),
        lr=optim.lr,
        betas=(optim.beta1, optim.beta2),
        eps=optim.eps,
        **kwargs,
    )
