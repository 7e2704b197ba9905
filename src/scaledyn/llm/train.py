"""Train one (size, arch, variant, seed) language model of study 002 and write its tidy logs.

    python -m scaledyn.llm train --arch A --variant V --size S --seed N --global-seed G --params JSON \
        --data DIR --out DIR --ckpt DIR [--device auto|cpu|cuda] [--threads N] [--dist-timeout S]
    python -m torch.distributed.run --standalone --nproc_per_node N -m scaledyn.llm train ...  # N ranks

``--params`` is the ``llm`` config section (inline JSON, or a JSON / YAML file, a whole config with an ``llm``
key also works), completed by the defaults of ``workflow/schemas/llm.schema.yaml`` and validated by
:func:`scaledyn.config.read`. Exit status 0 on success *and* on divergence (the run is recorded as diverged),
2 with ``Error: ...`` on bad input (invalid params, unknown variant or size, missing data dir, unreadable
corpus, a variant its architecture cannot run, cuda requested but not available).

Module layout: :mod:`~scaledyn.llm.run_config` types the run's settings once, :mod:`~scaledyn.llm.optim`
builds AdamW and the schedule, :mod:`~scaledyn.llm.checkpoint` saves and resumes, :mod:`~scaledyn.llm.outputs`
holds the log rows, the summary and the writes; this module is the loop and the CLI.

CPU budget (``benchmarks/llm_throughput.py``, 2-vCPU AMD EPYC, AVX2, float32, medians of 3 interleaved
rounds, other work on the machine at the same time): ``tiny`` trains at ~7,200 tokens/s (baseline) and
~6,100 (unified, the slowest variant) with 1 thread, ~10,400 / ~9,500 with 2 threads (1.5x), and two
one-thread jobs side by side make ~15,100 tokens/s together, 1.5x one two-thread job. So the study runs as
one-thread jobs two at a time (``snakemake --cores 2``, ``threads: 1``). Real runs through this module
(data windows, logging, evaluation, start-up) side by side made ~6,600-6,900 tokens/s each for the fastest
variants, 135-142 s for 400 steps: 24 runs of 400 steps would take ~28-29 min, too close to the 30-minute
budget, hence 350 steps (716,800 tokens per run): ~21 min at the benchmark's rate, ~25 min at the real
runs' (as two-thread jobs one at a time: ~31 min). The default ``llm.arms`` (10 arms x 3 seeds = 30 runs)
with the whole-split final evaluation (620,800 tokens: 15-16 s per run at load ~1, 30-40 s at load 5-7,
one thread) measured: 9 tiny runs of 350 steps, two at a time at load ~1, in 6.6 min (~75 s per run, of which
~15 s the final evaluation), so ~22 min for the 30 runs on an idle 2-core machine, more under load.

Choices and formulas
--------------------
- Optimiser: ``torch.optim.AdamW`` with parameter groups: ``matrices`` (every linear map, the untied head
  included) with ``weight_decay``; ``embedding`` with none; ``scales`` (scale vectors a variant does not
  decay) with none; ``scales_decayed`` with ``gamma_weight_decay``. AdamW's decay is decoupled and scaled by
  the scheduled lr (``p <- p - lr_t * wd * p``). Both decays are ``optim.decay_timescales / sum_t lr_t``
  (default: 3 decay timescales ``1 / (lr wd)`` over the run, :func:`scaledyn.llm.optim.decay_lambda`), or the
  fixed ``weight_decay`` / ``gamma_weight_decay`` when it is null; ``summary.json`` records the lambdas,
  ``lr_sum`` and ``lambda * lr_sum`` (``decay_timescales``, ``gamma_decay_timescales``). Gradients are clipped
  to total norm ``grad_clip`` (``clip_grad_norm_``; the logged ``grad_norm`` is the norm before clipping).
- Schedule (``LambdaLR`` multiplier at step t, 0-based, ``W`` warmup steps, ``S`` steps, ``r`` min ratio):
  warmup ``(t+1)/W``; cosine ``r + (1-r) (1 + cos(pi p)) / 2`` with ``p = (t-W)/(S-1-W)``; wsd ``1`` until
  the last ``D = round(decay_frac S)`` steps, then ``1 - (1-r) (t - (S-D) + 1) / D``.
- Data: step t trains on ``batch_size`` random windows of ``context + 1`` tokens of the train tokens, at
  start offsets drawn by a generator seeded with ``derive_seed(global_seed, "llm", size, seed, *stream,
  "batch", t)``. The variant is deliberately *not* a key: every variant of a seed sees the same batches in
  the same order (paired comparison), and a resumed run draws the same batches without saved sampler state.
  ``stream`` is the variant's seed stream (:data:`scaledyn.llm.variants.STREAMS`): empty for every variant but
  the A/A arm ``baseline_aa`` (``("aa",)``), which so draws other batches and another init than baseline.
- Init: ``derive_seed(global_seed, "llm", size, seed, *stream, "init")``, then per-matrix seeds
  (:meth:`scaledyn.llm.model.Transformer.init_weights`): all variants of a seed (and stream) share every
  weight matrix. The architecture is not a key either: prenorm and sandwich arms of a seed share them too.
- Validation: ``eval_batches`` batches of ``micro_batch_size`` windows of the val tokens, start offsets drawn
  once by ``derive_seed(global_seed, "llm", "val", context)``: the same held-out windows for every variant
  and seed; evaluated every ``eval_every`` steps and at the last step (mean of the batch means): the
  ``val_loss`` of ``metrics.csv`` (the curves). The final validation loss (``summary.json``'s
  ``final_val_loss``, what the claims compare) is the whole split once the training is done
  (:func:`evaluate_split`): non-overlapping windows tiling it, every token but the first and a tail shorter
  than ``context`` predicted once, so it carries no window-sampling noise; ``final_val_se`` is the standard
  error of that mean over the windows (adjacent windows are correlated text: a rough within-run scale, not
  an interval for the comparisons, which are paired on the same tokens), ``final_val_tokens`` the tokens
  predicted, ``final_eval_s`` its wall time. A diverged run has none of them.
- Logged rows (``metrics.csv``) at step 1, every ``log_every`` and ``eval_every`` steps, and at the end;
  ``train_loss`` is the mean over the steps since the previous row, ``tokens_per_s`` the training throughput
  over those steps (evaluation and checkpoint time excluded), ``mfu = flop_per_token * tokens_per_s / peak``
  with ``flop_per_token = 6 N_matmul + 12 L d T`` (:meth:`Transformer.flop_per_token`) and ``peak`` =
  ``peak_flops.cuda`` on a GPU, ``peak_flops.cpu_per_thread * threads`` on the CPU.
  ``gammas.csv``: the effective vector (``g v / rms(v)`` for md) of every scale vector at each row: mean,
  rms, min, max with its norm, kind (input/output), side (in/out), branch and decayed flag.
  ``linear_grads.csv``: the Frobenius norm of the gradient of each linear map that reads a norm
  (q, k, v, gate, up per layer and the head) at each row, before clipping.
  ``tensor_snr.csv``: at each evaluation step, each tensor's GSNR and per-parameter SNR from
  ``llm.tensor_snr.draws`` extra gradient draws (:mod:`scaledyn.llm.tensor_snr`; empty when disabled).
- Devices: ``device: auto`` is cuda when available. On a GPU: bf16 autocast, ``torch.compile`` (``compile``),
  flash attention through SDPA, TF32 matmuls for the float32 rest. On the CPU: float32,
  ``torch.set_num_threads(threads)``, ``torch.use_deterministic_algorithms(True)``.
- Precision (``llm.precision``, :attr:`RunConfig.dtype`): ``auto`` is the above (bf16 autocast on cuda,
  float32 on the CPU); ``bf16`` puts the CPU's training, evaluation and whole-split passes under
  ``torch.autocast("cpu", bfloat16)`` too (the GPU path, on a CPU with AVX512-BF16 or AMX:
  :func:`scaledyn.llm.precision_problem`), ``fp32`` turns autocast off on a GPU. Weights, gradients, AdamW
  and the cross-entropy stay float32 in every mode; the tensor-SNR draws run in float32 with autocast off.
  With ``compile: true`` on the CPU this is the GPU's code path (bf16 + ``torch.compile``) at CPU speed:
  ``tests/test_llm_gpu_path.py`` checks it (losses, resume, divergence, graph breaks).
- Checkpoints: ``ckpt_dir/state.pt`` every ``ckpt_every`` steps and at the end, written atomically
  (``torch.save`` to a temporary file, then ``os.replace``): model, optimiser, scheduler, step, logs so far,
  wall time so far and the run's identity (a checkpoint of another configuration is ignored). A run started
  again resumes from it; on the CPU with the same thread count it reaches bit-identical losses, gammas and
  gradients (timings differ). Outputs are written atomically at the end, ``summary.json`` last; the
  checkpoint is then removed unless ``keep_checkpoint``.
- Data parallelism (``llm.nproc`` ranks under torchrun, :mod:`~scaledyn.llm.distributed`): each rank trains
  on its slice of every step's batch (the windows drawn as above), DDP averages the gradients, the logged
  ``train_loss`` is the mean over the ranks; rank 0 alone evaluates (the fixed windows, the tensor-SNR draws
  and the whole split, on the plain model: the same numbers as one process would compute from the same
  parameters), logs, checkpoints and writes; ``summary.json`` records ``nproc``. 2 ranks x 1 thread against
  one process on the CPU (``tests/test_llm_ddp.py``): the same losses up to float32 summation order.
- Divergence: a non-finite train loss or gradient norm (or a loss above ``diverge_loss``) stops the run
  before the optimiser step (on every rank: they test the same averaged loss and gradient norm);
  ``summary.json`` records ``diverged``, ``diverged_step``, ``diverged_reason`` (once, from rank 0), every
  output is still written and the CLI exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from scaledyn import config
from scaledyn.llm import checkpoint, data, distributed, outputs, tensor_snr
from scaledyn.llm.checkpoint import CKPT_NAME
from scaledyn.llm.model import build, init_seed_for
from scaledyn.llm.optim import make_optimizer
from scaledyn.llm.outputs import GAMMA_COLUMNS, GRAD_COLUMNS, METRIC_COLUMNS  # noqa: F401  (re-exported)
from scaledyn.llm.run_config import InputError, RunConfig, total_steps  # noqa: F401  (total_steps re-exported)
from scaledyn.llm.run_config import build as build_run
from scaledyn.llm.variants import ARCHS, VARIANTS
from scaledyn.seeding import generator

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SyncSkip = Callable[[], contextlib.AbstractContextManager]  # DDP's no_sync, or nullcontext with one rank

# -- data ---------------------------------------------------------------------------------------------------


def load_corpus(data_dir: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(train_tokens, val_tokens, meta)`` of a prepared corpus (:func:`scaledyn.llm.data.load`)."""
    if not data_dir.is_dir():
        raise InputError(f"data directory {data_dir} does not exist")
    try:
        return data.load(data_dir)
    except (OSError, ValueError) as exc:  # scaledyn.llm.data.CorpusError is a ValueError
        raise InputError(f"cannot load the corpus in {data_dir}: {exc}") from None


def check_lengths(run: RunConfig, *splits: tuple[str, np.ndarray]) -> None:
    need = run.model.context + 2
    for name, toks in splits:
        if len(toks) < need:
            raise InputError(f"{name} split has {len(toks)} tokens, fewer than context + 2 = {need}")


def window_batch(tokens: np.ndarray, starts: torch.Tensor, context: int) -> torch.Tensor:
    """Windows ``tokens[s : s + context + 1]`` for each start ``s``: int64 (len(starts), context + 1)."""
    idx = starts.numpy()[:, None] + np.arange(context + 1)
    return torch.from_numpy(np.asarray(tokens[idx], dtype=np.int64))


def batch_starts(n_tokens: int, context: int, batch: int, keys: tuple[object, ...]) -> torch.Tensor:
    """``batch`` uniform window starts in ``[0, n_tokens - context - 1]`` from ``generator(*keys)``."""
    return torch.randint(0, n_tokens - context, (batch,), generator=generator(*keys))


def batch_keys(
    global_seed: int, size: str, seed: int, step: int, stream: tuple[str, ...] = ()
) -> tuple[object, ...]:
    """Seed keys of the batch of step ``step`` (0-based); no variant: all variants of a stream (``()`` for
    all but the A/A arm) share the data order."""
    return (global_seed, "llm", size, seed, *stream, "batch", step)


def val_starts(n_tokens: int, context: int, n: int, global_seed: int) -> torch.Tensor:
    """The fixed held-out windows: the same for every variant and seed of a context length."""
    return batch_starts(n_tokens, context, n, (global_seed, "llm", "val", context))


def tile_starts(n_tokens: int, context: int, fraction: float = 1.0) -> torch.Tensor:
    """Starts ``0, context, 2 context, ...`` of the windows that tile a split: a window's targets (its tokens
    1..context) follow the previous window's, so every token but the first is predicted exactly once; a
    tail of fewer than ``context`` tokens is left out (every start has ``s + context + 1 <= n_tokens``).
    ``fraction`` < 1 keeps ``ceil(fraction * n)`` of the ``n`` windows, evenly spread over the split."""
    starts = torch.arange(0, n_tokens - context, context)
    keep = math.ceil(fraction * len(starts))
    return starts if keep >= len(starts) else starts[torch.linspace(0, len(starts) - 1, keep).round().long()]


def train_batch(run: RunConfig, tokens: np.ndarray, step: int) -> torch.Tensor:
    """The ``batch_size`` windows of step ``step`` (0-based), on the run's device."""
    keys = batch_keys(run.global_seed, run.size, run.seed, step, run.stream)
    xy = window_batch(
        tokens, batch_starts(len(tokens), run.model.context, run.batch_size, keys), run.model.context
    )
    return xy.pin_memory().to(run.device, non_blocking=True) if run.device.type == "cuda" else xy


# -- device -------------------------------------------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    """``auto`` is cuda when available (the schema allows auto, cpu, cuda)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
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


def autocast(dev: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``dev`` (cuda or cpu) for ``dtype`` bfloat16 (:attr:`RunConfig.dtype`, from
    ``llm.precision``), nothing (float32) for float32."""
    if dtype == torch.bfloat16:
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


# -- steps --------------------------------------------------------------------------------------------------


def forward_backward(
    loss_fn: LossFn, xy: torch.Tensor, run: RunConfig, skip_sync: SyncSkip = contextlib.nullcontext
) -> float:
    """Accumulate the gradient of this rank's slice ``xy`` of the batch over its micro-batches; the mean
    train loss of the slice. With several ranks ``skip_sync`` (DDP's ``no_sync``) keeps every micro-batch
    but the last local, the last one averages the gradient over the ranks."""
    micro, n_micro = run.rank_micro, run.n_micro
    loss_sum = torch.zeros((), device=run.device)
    for i in range(n_micro):
        mb = xy[i * micro : (i + 1) * micro]
        with skip_sync() if i < n_micro - 1 else contextlib.nullcontext():
            with autocast(run.device, run.dtype):
                loss = loss_fn(mb[:, :-1], mb[:, 1:])
            (loss / n_micro).backward()
        loss_sum += loss.detach().float()
    return (loss_sum / n_micro).item()


@torch.no_grad()
def evaluate(loss_fn: LossFn, val_tokens: np.ndarray, starts: torch.Tensor, run: RunConfig) -> float:
    """Mean loss over the fixed held-out windows (batches of ``micro_batch_size`` windows)."""
    losses, micro, dev = [], run.micro_batch_size, run.device
    for i in range(0, len(starts), micro):
        xy = window_batch(val_tokens, starts[i : i + micro], run.model.context).to(dev, non_blocking=True)
        with autocast(dev, run.dtype):
            losses.append(loss_fn(xy[:, :-1], xy[:, 1:]).float())
    return torch.stack(losses).mean().item()


@torch.no_grad()
def evaluate_split(loss_fn: LossFn, tokens: np.ndarray, run: RunConfig) -> dict[str, float]:
    """The loss over the whole split (or ``final_eval_fraction`` of its windows): every window of
    :func:`tile_starts` once (batches of
    ``micro_batch_size`` windows). ``loss``: the mean over windows (= over tokens: equal windows), ``se``:
    its standard error over windows (``sd / sqrt(n_windows)``, ``sd`` with ``n - 1``), ``tokens``: the
    tokens predicted, ``seconds``: the wall time."""
    t0, context, micro, dev = time.perf_counter(), run.model.context, run.micro_batch_size, run.device
    starts, per_window = tile_starts(len(tokens), context, run.final_eval_fraction), []
    for i in range(0, len(starts), micro):
        xy = window_batch(tokens, starts[i : i + micro], context).to(dev, non_blocking=True)
        with autocast(dev, run.dtype):
            logits = loss_fn(xy[:, :-1])  # the model without targets: (windows, context, vocab) logits
        ce = F.cross_entropy(logits.float().flatten(0, 1), xy[:, 1:].flatten(), reduction="none")
        per_window.append(ce.view(len(xy), context).mean(1).double())
    losses = torch.cat(per_window).cpu()
    se = losses.std() / math.sqrt(len(losses)) if len(losses) > 1 else torch.tensor(float("nan"))
    return {
        "loss": losses.mean().item(),
        "se": se.item(),
        "tokens": len(losses) * context,
        "seconds": time.perf_counter() - t0,
    }


def is_row_step(run: RunConfig, step: int) -> bool:
    """A logged row at step 1, every ``log_every`` and ``eval_every`` steps and at the last step (1-based)."""
    return step == 1 or step % run.log_every == 0 or step % run.eval_every == 0 or step == run.steps


def divergence(loss: float, grad_norm: float, limit: float | None) -> str | None:
    """Why the run diverged at this step, or ``None``."""
    if not math.isfinite(loss):
        return f"non-finite train loss ({loss})"
    if not math.isfinite(grad_norm):
        return f"non-finite gradient norm ({grad_norm})"
    if limit is not None and loss > float(limit):
        return f"train loss {loss:.4g} above diverge_loss {limit}"
    return None


def fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


# -- training -----------------------------------------------------------------------------------------------


def train(
    section: dict[str, Any],
    variant: str,
    size: str,
    seed: int,
    global_seed: int,
    data_dir: Path,
    out_dir: Path,
    ckpt_dir: Path,
    *,
    arch: str,
    device: str | None = None,
    threads: int | None = None,
    dist_timeout_s: float | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train one model of ``variant`` in ``arch`` and write ``metrics.csv``, ``gammas.csv``,
    ``linear_grads.csv``, ``summary.json``.

    ``section`` is an ``llm`` config section, partial is fine (completed by :func:`scaledyn.config.section`);
    ``device``, ``threads`` and ``dist_timeout_s`` (when given) replace its keys. Under torchrun
    (``WORLD_SIZE > 1``, :mod:`scaledyn.llm.distributed`) this process is one rank of a data-parallel run:
    rank 0 writes and returns the summary, the others return ``{"rank", "steps", "diverged"}``. Resumes from
    ``ckpt_dir/state.pt`` when it holds a checkpoint of this run. ``stop_after`` (for tests) returns after
    that many steps of *this* call, as if the process had been killed: no outputs, the checkpoint left as
    it is; the returned dict then has ``stopped_early`` set. Otherwise returns the summary. Raises
    :class:`scaledyn.config.ConfigError` or :class:`InputError` on bad input.
    """
    llm = config.section(
        "llm",
        {
            **section,
            **({} if device is None else {"device": device}),
            **({} if threads is None else {"threads": threads}),
            **({} if dist_timeout_s is None else {"dist_timeout_s": dist_timeout_s}),
        },
    )
    world = distributed.from_env()
    dev = distributed.device_of(world, resolve_device(llm["device"]))
    distributed.init(world, dev, float(llm["dist_timeout_s"]))
    try:
        with distributed.fail_together(world):  # every rank stops on one rank's bad input, reported once
            train_tokens, val_tokens, meta = load_corpus(Path(data_dir))
            vocab, ws = int(meta["vocab_size"]), world.size
            run = build_run(llm, variant, size, seed, global_seed, arch=arch, vocab_size=vocab, device=dev,
                            world_size=ws)  # fmt: skip
            check_lengths(run, ("train", train_tokens), ("val", val_tokens))
        setup_device(dev, run.threads)
        return _train(llm, run, world, train_tokens, val_tokens, Path(out_dir), Path(ckpt_dir), stop_after)
    finally:
        distributed.close(world)


def _train(
    llm: dict[str, Any],
    run: RunConfig,
    world: distributed.World,
    train_tokens: np.ndarray,
    val_tokens: np.ndarray,
    out_dir: Path,
    ckpt_dir: Path,
    stop_after: int | None,
) -> dict[str, Any]:
    """The loop of :func:`train` on this rank; rank 0 logs, evaluates, checkpoints and writes."""
    dev, size, seed, variant, global_seed = run.device, run.size, run.seed, run.variant, run.global_seed
    model = build(run.model, run.flags, init_seed_for(global_seed, size, seed, run.stream)).to(dev)
    optimizer = make_optimizer(model, run.optim)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, run.schedule)
    flop_per_token, context = model.flop_per_token(), run.model.context

    def snr_windows(keys: tuple[object, ...], n: int) -> torch.Tensor:  # drawn like a training batch
        return window_batch(train_tokens, batch_starts(len(train_tokens), context, n, keys), context).to(dev)

    meter = tensor_snr.meter(llm, run, model, optimizer, snr_windows)  # None when disabled
    v_starts = val_starts(len(val_tokens), context, run.eval_batches * run.micro_batch_size, global_seed)

    ckpt_path = ckpt_dir / CKPT_NAME
    logs, start, wall_before, resumed = outputs.new_logs(), 0, 0.0, []
    # the steps since the last logged row (a row's train_loss and tokens_per_s cover them): checkpointed too
    interval: dict[str, Any] = {"losses": [], "time": 0.0, "tokens": 0}
    if (state := checkpoint.load(ckpt_path, run.identity, quiet=not world.main)) is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, logs, wall_before, interval = state["step"], state["logs"], state["wall_s"], state["interval"]
        resumed = [*state["resumed"], start]
    # every rank steps through DDP (gradients averaged); evaluation and the SNR draws use the plain model
    ddp = distributed.wrap(model, world, dev)
    skip_sync: SyncSkip = ddp.no_sync if world.parallel else contextlib.nullcontext  # type: ignore[assignment]
    loss_fn: LossFn = torch.compile(ddp) if run.compile else ddp  # type: ignore[assignment]
    eval_fn: LossFn = loss_fn if not world.parallel else (torch.compile(model) if run.compile else model)  # type: ignore[assignment]
    tag, counts = f"[llm {size} {run.model.arch} {variant} s{seed}]", model.param_counts()
    on_ranks = f" x {world.size} processes" if world.parallel else ""
    say = print if world.main else (lambda *a, **k: None)
    say(
        f"{tag} {counts['n_params']:,} params ({counts['n_scale_params']:,} scale), {run.steps} steps on "
        f"{dev.type} ({run.threads} threads{on_ranks}), "
        + (f"resuming at step {start}" if start else "from scratch"),
        file=sys.stderr,
    )

    t_wall, step_times, diverged, step = time.perf_counter(), [], None, start
    while step < run.steps:
        t0 = time.perf_counter()
        lr_now = optimizer.param_groups[0]["lr"]
        xy = distributed.shard(train_batch(run, train_tokens, step), world)
        loss_val = distributed.mean(forward_backward(loss_fn, xy, run, skip_sync), world, dev)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), run.optim.grad_clip).item()
        step += 1
        # every rank decides from the same averaged loss and gradient norm: all stop at the same step
        reason = divergence(loss_val, grad_norm, run.diverge_loss)
        diverged = None if reason is None else {"step": step, "reason": reason}
        row_step = world.main and (diverged is not None or is_row_step(run, step))
        if row_step:
            logs["linear_grads"].extend(outputs.linear_grad_rows(model, step))
        if diverged is None:
            optimizer.step()
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        interval["time"] += dt
        interval["tokens"] += run.tokens_per_step
        interval["losses"].append(loss_val)
        step_times.append(dt)

        if row_step:
            val = None
            if diverged is None and (step % run.eval_every == 0 or step == run.steps):
                val = evaluate(eval_fn, val_tokens, v_starts, run)
                if meter is not None:  # per-tensor gradient SNR (reads the state, changes nothing)
                    logs["tensor_snr"].extend(meter.rows(step))
            row = outputs.metric_row(run, step, lr_now, interval, val, grad_norm, flop_per_token)
            logs["metrics"].append(row)
            logs["gammas"].extend(outputs.gamma_rows(model, step))
            tps = row["tokens_per_s"]
            eta = (run.steps - step) * sum(step_times[-50:]) / len(step_times[-50:])
            val_txt = f" val {val:.4f}" if val is not None else ""
            print(
                f"{tag} step {step}/{run.steps} loss {loss_val:.4f}{val_txt} tok/s {tps:,.0f} "
                f"eta {fmt_time(eta)}",
                file=sys.stderr,
                flush=True,
            )
            interval = {"losses": [], "time": 0.0, "tokens": 0}
        if diverged is not None:
            say(f"{tag} diverged at step {step}: {diverged['reason']}", file=sys.stderr, flush=True)
            break
        if world.main and ((run.ckpt_every and step % run.ckpt_every == 0) or step == run.steps):
            state = {
                "identity": run.identity,
                "step": step,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "logs": logs,
                "wall_s": wall_before + time.perf_counter() - t_wall,
                "resumed": resumed,
                "interval": interval,
            }
            checkpoint.save(ckpt_path, state)
        if stop_after is not None and step - start >= stop_after:
            return {"stopped_early": True, "step": step}
    if not world.main:  # rank 0 evaluates and writes alone (the numbers of one process)
        print(f"{tag} rank {world.rank} of {world.size} done: {step} steps", file=sys.stderr)
        return {"rank": world.rank, "steps": step, "diverged": diverged is not None}

    final = None if diverged is not None else evaluate_split(eval_fn, val_tokens, run)
    wall = wall_before + time.perf_counter() - t_wall
    summary = outputs.summary(
        run, model, logs, step=step, diverged=diverged, final=final, wall=wall, resumed=resumed
    )
    summary["nproc"] = world.size
    outputs.write(out_dir, logs, summary)
    if not run.keep_checkpoint:
        checkpoint.remove(ckpt_path)
    val = (
        "diverged"
        if final is None
        else (
            f"final val {final['loss']:.4f} +- {final['se']:.4f} over the split "
            f"({final['tokens']:,} tokens, {final['seconds']:.1f} s)"
        )
    )
    print(
        f"{tag} done: {step} steps, {val}, {summary['tokens_per_s']:,.0f} tok/s, {fmt_time(wall)}",
        file=sys.stderr,
    )
    return summary


# -- CLI ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.llm train", description=__doc__.split("\n")[0])
    parser.add_argument("--arch", required=True, help=f"one of {', '.join(ARCHS)} (a key of llm.arms)")
    parser.add_argument("--variant", required=True, help=f"one of {', '.join(VARIANTS)}")
    parser.add_argument("--size", required=True, help="a named entry of llm.sizes (tiny, gpt124m, ...)")
    parser.add_argument("--seed", type=int, required=True, help="seed index of this run")
    parser.add_argument("--global-seed", type=int, required=True, help="the config's seed")
    parser.add_argument("--params", default=None, help="llm section: inline JSON or a JSON/YAML file")
    parser.add_argument("--data", required=True, help="directory with the tokenised corpus")
    parser.add_argument("--out", required=True, help="output directory (the declared outputs)")
    parser.add_argument("--ckpt", required=True, help="checkpoint directory, outside the outputs")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda (default llm.device)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default llm.threads)")
    parser.add_argument(
        "--dist-timeout", type=float, default=None, help="seconds (default llm.dist_timeout_s; torchrun runs)"
    )
    args = parser.parse_args(argv)
    rank = distributed.from_env()
    try:
        section = config.read(args.params, "llm")
        summary = train(
            section,
            args.variant,
            args.size,
            args.seed,
            args.global_seed,
            Path(args.data),
            Path(args.out),
            Path(args.ckpt),
            arch=args.arch,
            device=args.device,
            threads=args.threads,
            dist_timeout_s=args.dist_timeout,
        )
    except distributed.ReportedError:
        return 2
    except (config.ConfigError, InputError) as exc:
        where = f"rank {rank.rank} of {rank.size}: " if rank.parallel and "rank " not in str(exc) else ""
        print(f"Error: {where}{exc}", file=sys.stderr)
        return 2
    if summary["diverged"] and rank.main:
        print(f"run diverged at step {summary['diverged_step']}; outputs written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
