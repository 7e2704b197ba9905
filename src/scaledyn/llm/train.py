"""Train one (size, arch, variant, seed) language model of study 002 and write its tidy logs.

    python -m scaledyn.llm train --arch A --variant V --size S --seed N --global-seed G --params JSON \
        --data DIR --out DIR --ckpt DIR [--device auto|cpu|cuda] [--threads N] [--dist-timeout S]
    python -m torch.distributed.run --standalone --nproc_per_node N -m scaledyn.llm train ...  # N ranks

``--params`` is the ``llm`` config section (inline JSON, or a JSON / YAML file, a whole config with an ``llm``
key also works), completed by the defaults of ``workflow/schemas/llm.schema.yaml`` and validated by
:func:`scaledyn.config.read`. Exit status 0 on success *and* on divergence (the run is recorded as diverged),
2 with ``Error: ...`` on bad input (invalid params, unknown variant or size, missing data dir, unreadable
corpus, a variant its architecture cannot run, cuda requested but not available).

Module layout: :mod:`~scaledyn.llm.run_config` types the run's settings once, :mod:`~scaledyn.llm.batches`
draws the windows (training batches, validation windows, the whole split), :mod:`~scaledyn.llm.device` sets
up the device and precision, :mod:`~scaledyn.llm.step` computes a step's gradient and the evaluations,
:mod:`~scaledyn.llm.optim` builds AdamW and the schedule, :mod:`~scaledyn.llm.checkpoint` saves and resumes,
:mod:`~scaledyn.llm.outputs` holds the log rows, the summary and the writes; this module is the loop and the
CLI.

Choices and formulas
--------------------
- Optimiser: ``torch.optim.AdamW`` with parameter groups: ``matrices`` (every linear map, the untied head
  included) with ``weight_decay``; ``embedding`` with none; ``scales`` (scale vectors a variant does not
  decay) with none; ``scales_decayed`` with ``gamma_weight_decay``. AdamW's decay is decoupled and scaled by
  the scheduled lr (``p <- p - lr_t * wd * p``). Both decays are ``optim.decay_timescales / sum_t lr_t``
  (default: 3 decay timescales ``1 / (lr wd)`` over the run, :func:`scaledyn.llm.optim.decay_lambda`), or the
  fixed ``weight_decay`` / ``gamma_weight_decay`` when it is null; ``summary.json`` records the lambdas,
  ``lr_sum`` and ``lambda * lr_sum`` (``decay_timescales``, ``gamma_decay_timescales``). Gradients are clipped
  to total norm ``grad_clip`` (:func:`scaledyn.llm.step.gradient`).
- Schedule (``LambdaLR`` multiplier at step t, 0-based, ``W`` warmup steps, ``S`` steps, ``r`` min ratio):
  warmup ``(t+1)/W``; cosine ``r + (1-r) (1 + cos(pi p)) / 2`` with ``p = (t-W)/(S-1-W)``; wsd ``1`` until
  the last ``D = round(decay_frac S)`` steps, then ``1 - (1-r) (t - (S-D) + 1) / D``.
- Data: step t trains on the batch :func:`scaledyn.llm.batches.train_batch` draws for it (the same for every
  variant of a seed and stream); validation on fixed held-out windows and, at the end, the whole split
  (:mod:`~scaledyn.llm.batches`, :mod:`~scaledyn.llm.step`).
- Init: ``derive_seed(global_seed, "llm", size, seed, *stream, "init")``, then per-matrix seeds
  (:meth:`scaledyn.llm.model.Transformer.init_weights`): all variants of a seed (and stream) share every
  weight matrix. The architecture is not a key either: prenorm and sandwich arms of a seed share them too.
- Validation: every ``eval_every`` steps and at the last step on the fixed windows (``val_loss`` of
  ``metrics.csv``); once the training is done on the whole split (``final_val_loss`` of ``summary.json``,
  with ``final_val_se``, ``final_val_tokens``, ``final_eval_s``). A diverged run has no final evaluation.
- Logged rows (``metrics.csv``) at step 1, every ``log_every`` and ``eval_every`` steps, and at the end;
  ``train_loss`` is the mean over the steps since the previous row, ``tokens_per_s`` the training throughput
  over those steps (evaluation and checkpoint time excluded), ``mfu = flop_per_token * tokens_per_s / peak``
  with ``flop_per_token = 6 N_matmul + 12 L d T`` (:meth:`Transformer.flop_per_token`) and ``peak`` =
  ``peak_flops.cuda`` on a GPU, ``peak_flops.cpu_per_thread * threads`` on the CPU.
  ``gammas.csv``: the effective vector (``g v / rms(v)`` for md) of every scale vector at each row: mean,
  rms, min, max with its norm, kind (input/output), side (in/out), branch and decayed flag.
  ``linear_grads.csv``: the Frobenius norm of the gradient of each linear map that reads a norm
  (q, k, v, gate, up per layer and the head) at each row, after clipping (the gradient the step applies;
  clipping scales every map of a step alike).
  ``tensor_snr.csv``: at each evaluation step, each tensor's GSNR and per-parameter SNR from
  ``llm.tensor_snr.draws`` extra gradient draws (:mod:`scaledyn.llm.tensor_snr`; empty when disabled).
- Devices and precision: :mod:`scaledyn.llm.device`.
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
- Divergence (:func:`scaledyn.llm.step.divergence`) stops the run before the optimiser step (on every rank:
  they test the same averaged loss and gradient norm); ``summary.json`` records ``diverged``,
  ``diverged_step``, ``diverged_reason`` (once, from rank 0), every output is still written and the CLI
  exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scaledyn import config
from scaledyn.llm import batches, check, checkpoint, distributed, outputs, tensor_snr
from scaledyn.llm.checkpoint import CKPT_NAME
from scaledyn.llm.device import resolve_device, setup_device
from scaledyn.llm.model import build, init_seed_for
from scaledyn.llm.optim import make_optimizer
from scaledyn.llm.run_config import InputError, RunConfig
from scaledyn.llm.run_config import build as build_run
from scaledyn.llm.step import ModelFn, SyncSkip, divergence, evaluate, evaluate_split, gradient
from scaledyn.llm.variants import ARCHS, VARIANTS


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
    ``linear_grads.csv``, ``tensor_snr.csv``, ``summary.json``.

    ``section`` is an ``llm`` config section, partial is fine (completed by :func:`scaledyn.config.section`
    and checked by :func:`scaledyn.llm.check`);
    ``device``, ``threads`` and ``dist_timeout_s`` (when given) replace its keys. Under torchrun
    (``WORLD_SIZE > 1``, :mod:`scaledyn.llm.distributed`) this process is one rank of a data-parallel run:
    rank 0 writes and returns the summary, the others return ``{"rank", "steps", "diverged"}``. Resumes from
    ``ckpt_dir/state.pt`` when it holds a checkpoint of this run. ``stop_after`` (for tests) returns after
    that many steps of *this* call, as if the process had been killed: no outputs, the checkpoint left as
    it is; the returned dict then has ``stopped_early`` set. Otherwise returns the summary. Raises
    :class:`scaledyn.config.ConfigError` or :class:`InputError` on bad input.
    """
    over = {"device": device, "threads": threads, "dist_timeout_s": dist_timeout_s}
    llm = config.section("llm", {**section, **{k: v for k, v in over.items() if v is not None}}, check)
    world = distributed.from_env()
    dev = distributed.device_of(world, resolve_device(llm["device"]))
    distributed.init(world, dev, float(llm["dist_timeout_s"]))
    try:
        with distributed.fail_together(world):  # every rank stops on one rank's bad input, reported once
            train_tokens, val_tokens, meta = batches.load_corpus(Path(data_dir))
            vocab, ws = int(meta["vocab_size"]), world.size
            run = build_run(llm, variant, size, seed, global_seed, arch=arch, vocab_size=vocab, device=dev,
                            world_size=ws)  # fmt: skip
            batches.check_lengths(run, ("train", train_tokens), ("val", val_tokens))
        setup_device(dev, run.threads)
        training = Training(llm, run, world, train_tokens, val_tokens, Path(ckpt_dir) / CKPT_NAME)
        return training.run_to_end(Path(out_dir), stop_after)
    finally:
        distributed.close(world)


def new_interval() -> dict[str, Any]:
    """The steps since the last logged row, which a row's ``train_loss`` and ``tokens_per_s`` cover."""
    return {"losses": [], "time": 0.0, "tokens": 0}


@dataclass
class Progress:
    """Where a run stands: what its checkpoint holds besides the model, optimiser and scheduler states."""

    step: int = 0
    logs: outputs.Logs = field(default_factory=outputs.new_logs)
    wall_s: float = 0.0  # the wall time of the earlier calls that trained the run so far
    resumed: list[int] = field(default_factory=list)  # the steps the run was resumed at
    interval: dict[str, Any] = field(default_factory=new_interval)


class Training:
    """One run on this rank: its model, optimiser, schedule and progress. Every rank steps through DDP
    (gradients averaged); rank 0 alone logs, evaluates (on the plain model), checkpoints and writes."""

    def __init__(
        self,
        llm: dict[str, Any],
        run: RunConfig,
        world: distributed.World,
        train_tokens: np.ndarray,
        val_tokens: np.ndarray,
        ckpt_path: Path,
    ) -> None:
        self.run, self.world, self.ckpt_path = run, world, ckpt_path
        self.train_tokens, self.val_tokens = train_tokens, val_tokens
        dev, context = run.device, run.model.context
        init_seed = init_seed_for(run.global_seed, run.size, run.seed, run.stream)
        self.model = build(run.model, run.flags, init_seed).to(dev)
        self.optimizer = make_optimizer(self.model, run.optim)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, run.schedule)
        self.meter = tensor_snr.meter(  # None when disabled; its windows are drawn like a training batch
            llm, run, self.model, self.optimizer,
            lambda keys, n: batches.draw_windows(train_tokens, context, keys, n).to(dev),
        )  # fmt: skip
        n_val = run.eval_batches * run.micro_batch_size
        self.val_starts = batches.val_starts(len(val_tokens), context, n_val, run.global_seed)
        self.progress = self.resume()
        ddp = distributed.wrap(self.model, world, dev)
        self.skip_sync: SyncSkip = ddp.no_sync if world.parallel else contextlib.nullcontext  # type: ignore[assignment]
        self.loss_fn: ModelFn = torch.compile(ddp) if run.compile else ddp  # type: ignore[assignment]
        self.eval_fn: ModelFn = self.loss_fn
        if world.parallel:  # rank 0 evaluates alone: the plain model, not DDP
            self.eval_fn = torch.compile(self.model) if run.compile else self.model  # type: ignore[assignment]
        self.flop_per_token = self.model.flop_per_token()
        self.tag = f"[llm {run.size} {run.model.arch} {run.variant} s{run.seed}]"
        self.diverged: dict[str, Any] | None = None
        self.t_wall = 0.0  # when this call's training started (run_to_end)
        self.step_times: list[float] = []  # the wall time of each step of this call

    def say(self, message: str) -> None:
        """A line on stderr from rank 0."""
        if self.world.main:
            print(message, file=sys.stderr, flush=True)

    def resume(self) -> Progress:
        """The progress of this run's checkpoint, its states loaded; a fresh start without one."""
        state = checkpoint.load(self.ckpt_path, self.run.identity, quiet=not self.world.main)
        if state is None:
            return Progress()
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        resumed = [*state["resumed"], state["step"]]
        return Progress(state["step"], state["logs"], state["wall_s"], resumed, state["interval"])

    def run_to_end(self, out_dir: Path, stop_after: int | None) -> dict[str, Any]:
        """Train, then (rank 0) evaluate the split and write the outputs: see :func:`train`."""
        run, world, counts, start = self.run, self.world, self.model.param_counts(), self.progress.step
        on_ranks = f" x {world.size} processes" if world.parallel else ""
        self.say(
            f"{self.tag} {counts['n_params']:,} params ({counts['n_scale_params']:,} scale), "
            f"{run.steps} steps on {run.device.type} ({run.threads} threads{on_ranks}), "
            + (f"resuming at step {start}" if start else "from scratch")
        )
        self.t_wall = time.perf_counter()
        while self.progress.step < run.steps and self.diverged is None:
            self.train_step()
            if self.diverged is None and stop_after is not None and self.progress.step - start >= stop_after:
                return {"stopped_early": True, "step": self.progress.step}  # as if killed here
        if not world.main:  # rank 0 evaluates and writes alone (the numbers of one process)
            print(
                f"{self.tag} rank {world.rank} of {world.size} done: {self.progress.step} steps",
                file=sys.stderr,
            )
            return {"rank": world.rank, "steps": self.progress.step, "diverged": self.diverged is not None}
        return self.finish(out_dir)

    def train_step(self) -> None:
        """One optimiser step (none when the step diverges), its logged row and checkpoint when due."""
        run, p, t0 = self.run, self.progress, time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]
        xy = batches.train_batch(run, self.train_tokens, p.step)
        loss, grad_norm = gradient(self.loss_fn, self.model, xy, run, self.world, self.skip_sync)
        p.step += 1
        # every rank decides from the same averaged loss and gradient norm: all stop at the same step
        reason = divergence(loss, grad_norm, run.diverge_loss)
        self.diverged = None if reason is None else {"step": p.step, "reason": reason}
        row = self.world.main and (self.diverged is not None or is_row_step(run, p.step))
        if row:
            p.logs["linear_grads"].extend(outputs.linear_grad_rows(self.model, p.step))
        if self.diverged is None:
            self.optimizer.step()
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if run.device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        p.interval["time"] += dt
        p.interval["tokens"] += run.tokens_per_step
        p.interval["losses"].append(loss)
        self.step_times.append(dt)
        if row:
            self.log_row(lr, loss, grad_norm)
        if self.diverged is not None:
            self.say(f"{self.tag} diverged at step {p.step}: {self.diverged['reason']}")
        elif self.world.main and ((run.ckpt_every and p.step % run.ckpt_every == 0) or p.step == run.steps):
            self.save()

    def log_row(self, lr: float, loss: float, grad_norm: float) -> None:
        """The logged row of this step (with the validation loss and the tensor SNR when due) and its
        progress line; starts the next interval."""
        run, p = self.run, self.progress
        val = None
        if self.diverged is None and (p.step % run.eval_every == 0 or p.step == run.steps):
            val = evaluate(self.eval_fn, self.val_tokens, self.val_starts, run)
            if self.meter is not None:  # per-tensor gradient SNR (reads the state, changes nothing)
                p.logs["tensor_snr"].extend(self.meter.rows(p.step))
        row = outputs.metric_row(run, p.step, lr, p.interval, val, grad_norm, self.flop_per_token)
        p.logs["metrics"].append(row)
        p.logs["gammas"].extend(outputs.gamma_rows(self.model, p.step))
        recent = self.step_times[-50:]
        eta = (run.steps - p.step) * sum(recent) / len(recent)
        val_txt = f" val {val:.4f}" if val is not None else ""
        self.say(
            f"{self.tag} step {p.step}/{run.steps} loss {loss:.4f}{val_txt} tok/s {row['tokens_per_s']:,.0f} "
            f"eta {fmt_time(eta)}"
        )
        p.interval = new_interval()

    def wall(self) -> float:
        """The run's wall time so far, over every call that trained it."""
        return self.progress.wall_s + time.perf_counter() - self.t_wall

    def save(self) -> None:
        """The checkpoint of this step (atomic)."""
        p = self.progress
        state = {
            "identity": self.run.identity,
            "step": p.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "logs": p.logs,
            "wall_s": self.wall(),
            "resumed": p.resumed,
            "interval": p.interval,
        }
        checkpoint.save(self.ckpt_path, state)

    def finish(self, out_dir: Path) -> dict[str, Any]:
        """Rank 0: the whole-split evaluation (none for a diverged run), the outputs, the summary."""
        run, p = self.run, self.progress
        final = None if self.diverged is not None else evaluate_split(self.eval_fn, self.val_tokens, run)
        wall = self.wall()
        summary = outputs.summary(
            run,
            self.model,
            p.logs,
            step=p.step,
            diverged=self.diverged,
            final=final,
            wall=wall,
            resumed=p.resumed,
        )
        summary["nproc"] = self.world.size
        outputs.write(out_dir, p.logs, summary)
        if not run.keep_checkpoint:
            checkpoint.remove(self.ckpt_path)
        val = (
            "diverged"
            if final is None
            else (
                f"final val {final['loss']:.4f} +- {final['se']:.4f} over the split "
                f"({final['tokens']:,} tokens, {final['seconds']:.1f} s)"
            )
        )
        self.say(
            f"{self.tag} done: {p.step} steps, {val}, {summary['tokens_per_s']:,.0f} tok/s, {fmt_time(wall)}"
        )
        return summary


def is_row_step(run: RunConfig, step: int) -> bool:
    """A logged row at step 1, every ``log_every`` and ``eval_every`` steps and at the last step (1-based)."""
    return step == 1 or step % run.log_every == 0 or step % run.eval_every == 0 or step == run.steps


def fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


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
        section = config.read(args.params, "llm", check)
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
