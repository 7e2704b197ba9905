"""One training run's settings, typed once from the validated ``llm`` section (``scaledyn.config.section``).

The schema (``workflow/schemas/llm.schema.yaml``) holds every default and range; this module only picks the
run's size, resolves the ``null`` defaults (``steps``, ``micro_batch_size``, ``lr``, ``gamma_weight_decay``,
``compile: auto``, ``precision: auto``, ``optim.impl: auto``), the weight decay of ``optim.decay_timescales``
and names what identifies the run's checkpoints.

Data parallelism (``world_size`` ranks, :mod:`scaledyn.llm.distributed`): ``batch_size`` stays the global
batch; each rank trains on ``rank_batch = batch_size / world_size`` windows in micro-batches of
``rank_micro = min(micro_batch_size, rank_batch)`` (so ``micro_batch_size: null``, the whole batch in one
pass, is the whole slice of a rank). ``micro_batch_size`` itself keeps sizing the evaluation batches, which
are the same as with one process. The world is no part of the identity: a checkpoint resumes on any number
of ranks (bit-identical continuation only on the same ranks and threads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from scaledyn.io import config_hash
from scaledyn.llm import autocast_bf16, job_params, precision_problem, split_problem
from scaledyn.llm.model import ModelConfig
from scaledyn.llm.optim import LRSchedule, OptimConfig, decay_lambda, lr_sum, make_schedule
from scaledyn.llm.variants import ScaleFlags, get_variant, resolve_arch, stream_of


class InputError(ValueError):
    """Bad input from the caller (unknown variant or size, missing data, no GPU): CLI exit 2."""


def run_params(section: dict[str, Any], size: str) -> dict[str, Any]:
    """The part of the ``llm`` section one run depends on, with its size entry under ``size``.

    Its hash identifies checkpoints (and is ``summary.json``'s ``config_hash``), so adding an arm or a seed
    to the study does not invalidate the checkpoints of runs already under way.
    """
    out = job_params(section, size)  # what the DAG hands the run's job, its size entry under "size"
    return {**{k: v for k, v in out.items() if k != "sizes"}, "size": out["sizes"][size]}


def total_steps(entry: dict[str, Any]) -> int:
    """``steps``, else ``token_budget // (batch_size * context)`` (the schema requires one of them)."""
    if entry["steps"] is not None:
        return int(entry["steps"])
    return int(float(entry["token_budget"]) // (entry["batch_size"] * entry["context"]))


@dataclass(frozen=True)
class RunConfig:
    """Everything one (size, arch, variant, seed) run uses, typed (the arch: ``model.arch``)."""

    variant: str
    size: str
    seed: int
    global_seed: int
    flags: ScaleFlags
    stream: tuple[str, ...]  # the variant's seed stream (variants.STREAMS): extra init and batch seed keys
    model: ModelConfig
    steps: int
    batch_size: int
    micro_batch_size: int
    optim: OptimConfig
    schedule: LRSchedule
    eval_every: int
    eval_batches: int
    final_eval_fraction: float
    log_every: int
    ckpt_every: int  # 0: no periodic checkpoint (the last step still writes one)
    keep_checkpoint: bool
    diverge_loss: float | None
    peak_flops: float
    compile: bool
    precision: str  # llm.precision as configured (auto, bf16, fp32)
    dtype: torch.dtype  # what it resolved to on the device: bfloat16 (autocast) or float32
    device: torch.device
    threads: int
    params: dict[str, Any]  # run_params(section, size): summary.json's "params"
    config_hash: str
    world_size: int = 1  # data-parallel ranks (torchrun processes) sharing each step's batch

    @property
    def rank_batch(self) -> int:
        """Windows of a step's batch one rank trains on."""
        return self.batch_size // self.world_size

    @property
    def rank_micro(self) -> int:
        """Windows per forward/backward on one rank."""
        return min(self.micro_batch_size, self.rank_batch)

    @property
    def n_micro(self) -> int:
        """Micro-batches per step on one rank (all of them with one process)."""
        return self.rank_batch // self.rank_micro

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.model.context

    @property
    def identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed from."""
        return {
            "variant": self.variant,
            "arch": self.model.arch,
            "size": self.size,
            "seed": self.seed,
            "global_seed": self.global_seed,
            "params": self.config_hash,
            "vocab_size": self.model.vocab_size,
            "device": self.device.type,
        }


def model_config(section: dict[str, Any], size: str, vocab_size: int, arch: str) -> ModelConfig:
    """The model shape of ``size`` for a vocabulary of ``vocab_size`` (padded to ``model.pad_vocab_to``)."""
    e, m = section["sizes"][size], section["model"]
    pad = m["pad_vocab_to"]
    return ModelConfig(
        vocab_size=pad * math.ceil(vocab_size / pad),
        n_layers=e["n_layers"],
        d_model=e["d_model"],
        n_heads=e["n_heads"],
        context=e["context"],
        mlp_hidden=e["mlp_hidden"],
        mlp_multiple=e["mlp_multiple"],
        arch=arch,
        norm_eps=float(m["norm_eps"]),
        rope_base=float(m["rope_base"]),
        init_std=float(m["init_std"]),
        embed_std=float(m["embed_std"]),
    )


def optim_config(section: dict[str, Any], size: str, schedule: LRSchedule) -> OptimConfig:
    """AdamW of ``size``: its lr, and the decay of every decayed group from ``optim.decay_timescales`` over
    ``schedule`` (:func:`~scaledyn.llm.optim.decay_lambda`), else the fixed ``weight_decay`` /
    ``gamma_weight_decay``. :class:`InputError` when a run is too short for its timescales (one step would
    decay by ``lr_t * lambda >= 1``)."""
    o, lr = section["optim"], section["sizes"][size]["lr"]
    lr = float(lr if lr is not None else o["lr"])
    total, wd = lr_sum(schedule, lr), float(o["weight_decay"])
    gwd = wd if o["gamma_weight_decay"] is None else float(o["gamma_weight_decay"])
    peak = lr * max(schedule(t) for t in range(schedule.steps))
    if o["decay_timescales"] is not None and peak * decay_lambda(o["decay_timescales"], total, wd) >= 1:
        raise InputError(
            f"llm.optim.decay_timescales {o['decay_timescales']} over the {schedule.steps} steps of size "
            f"{size!r} would decay a weight by lr * lambda >= 1 in one step (too few steps); use fewer "
            "timescales, more steps or decay_timescales: null"
        )
    return OptimConfig(
        lr=lr,
        beta1=float(o["beta1"]),
        beta2=float(o["beta2"]),
        eps=float(o["eps"]),
        weight_decay=decay_lambda(o["decay_timescales"], total, wd),
        gamma_weight_decay=decay_lambda(o["decay_timescales"], total, gwd),
        grad_clip=float(o["grad_clip"]),
        impl="fused" if o["impl"] == "auto" else o["impl"],  # auto: fused (on this CPU fused = foreach +-3%)
        lr_sum=total,
    )


def build(
    section: dict[str, Any],
    variant: str,
    size: str,
    seed: int,
    global_seed: int,
    *,
    arch: str,
    vocab_size: int,
    device: torch.device,
    world_size: int = 1,
) -> RunConfig:
    """The run of ``variant`` in ``arch`` at ``size`` from a validated ``llm`` section, trained by
    ``world_size`` ranks; :class:`InputError` for an unknown size, variant or architecture, a variant the
    architecture cannot run, or a batch the ranks cannot share in whole micro-batches."""
    if size not in section["sizes"]:
        raise InputError(f"unknown size {size!r}; allowed: {', '.join(section['sizes'])}")
    try:
        flags = get_variant(variant)
        arch = resolve_arch(flags, arch)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    entry, steps = section["sizes"][size], total_steps(section["sizes"][size])
    peak, schedule = section["peak_flops"], make_schedule(section["schedule"], steps)
    on_gpu = device.type == "cuda"
    params = run_params(section, size)
    check_split(entry, size, world_size)
    if (problem := precision_problem(section["precision"], device.type)) is not None:
        raise InputError(f"llm.precision {section['precision']}: {problem}")
    return RunConfig(
        variant=variant,
        size=size,
        seed=seed,
        global_seed=global_seed,
        flags=flags,
        stream=stream_of(variant),
        model=model_config(section, size, vocab_size, arch),
        steps=steps,
        batch_size=entry["batch_size"],
        micro_batch_size=entry["micro_batch_size"] or entry["batch_size"],
        optim=optim_config(section, size, schedule),
        schedule=schedule,
        eval_every=section["eval_every"],
        eval_batches=section["eval_batches"],
        final_eval_fraction=float(section["final_eval_fraction"]),
        log_every=section["log_every"],
        ckpt_every=section["ckpt_every"] or 0,
        keep_checkpoint=section["keep_checkpoint"],
        diverge_loss=section["diverge_loss"],
        peak_flops=world_size
        * (float(peak["cuda"]) if on_gpu else float(peak["cpu_per_thread"]) * section["threads"]),
        compile=section["compile"] is True or (section["compile"] == "auto" and on_gpu),
        precision=section["precision"],
        dtype=torch.bfloat16 if autocast_bf16(section["precision"], device.type) else torch.float32,
        device=device,
        threads=section["threads"],
        params=params,
        config_hash=config_hash(params),
        world_size=world_size,
    )


def check_split(entry: dict[str, Any], size: str, world_size: int) -> None:
    """:class:`InputError` unless ``world_size`` ranks share ``entry``'s batch in whole micro-batches."""
    if (problem := split_problem(entry, size, world_size)) is not None:
        raise InputError(f"llm.nproc {world_size}: {problem}")
