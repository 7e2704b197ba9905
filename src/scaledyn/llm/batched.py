"""Train several seeds of one (variant, size) of study 002 in one process, as one batched program.

    from scaledyn.llm.batched import train_batched
    result = train_batched(
        section, "unified", "tiny", [0, 1, 2, 3], global_seed, data_dir, arch="prenorm", ckpt_dir=ckpt
    )

Measured (``benchmarks/llm_throughput.py``, ``cpu.modes`` of ``benchmarks/results/llm_throughput.json``):
``tiny`` (4 x 128, context 128, batch 16), float32, one thread per process, tokens/s per core, medians of 3
interleaved rounds on the 2-vCPU AMD EPYC shared with two other jobs (1-minute load 1.3-3.9 during the
rounds; 4.5 at the start, 3.0 at the end)::

    mode                          baseline          unified         peak RSS (MiB, b / u)
    eager single (today)          12,655  1.00x     11,149  1.00x     520 /  568
    batched S = 2                 11,592  0.92x      9,311  0.84x     719 /  817
    batched S = 4                 11,240  0.89x      8,140  0.73x    1059 / 1282
    batched S = 8                 10,941  0.86x      8,386  0.75x    1752 / 2195
    compiled single               14,129  1.12x     12,749  1.14x     518 /  559
    compiled batched S = 4        14,249  1.13x     12,981  1.16x     834 /  992
    MKL AVX-512, eager single     22,066  1.74x     16,609  1.49x     518 /  571
    MKL AVX-512, compiled single  28,005  2.21x     23,207  2.08x     514 /  557

Compile (inductor): cold (fresh ``TORCHINDUCTOR_CACHE_DIR``) 28-33 s for the single run, 33-40 s for the
batched one (18-25 s in the later, less loaded AVX-512 processes); warm (a second process on that cache)
1.9-2.2 s single, 2.9-6.7 s batched. Seed 0's first 5 losses against the eager single run: batched
<= 4.8e-7, compiled <= 9.5e-7, compiled batched <= 7.6e-6, AVX-512 <= 4.8e-7 (compiled 1.4e-6).

Why batching does not pay here: in the eager single step ``aten::mm`` is 63% of the time and runs at ~105
GFLOP/s, the one-thread ceiling of the MKL kernels torch's MKL picks on this AMD CPU (AVX2: a 2048^3 sgemm
makes 112 GFLOP/s, 257 with its AVX-512 kernels). Batching S seeds leaves that time as it is (a batched
matmul of the same shapes), SDPA's CPU kernel has no vmap rule (one call per slice), and vmap's per-op
batching cost grows with the op count (unified's md, branch and placement vectors: 0.73-0.84x). At 2,048
tokens per step the per-op overhead that batching would amortise is small. ``torch.compile`` fuses the
elementwise work (1.12-1.16x, single or batched alike). The 1.5x target is reached only by the matmuls'
AVX-512 path (``LD_PRELOAD`` of a library defining ``mkl_serv_intel_cpu_true() { return 1; }``), 1.49-1.74x
eager and 2.1-2.2x compiled.

Recommendation for the ``tiny`` CPU study: keep one job per (variant, seed), one thread, two jobs at a time
(today's DAG); do not batch seeds on this CPU: 0.73-0.92x the tokens/s per core, S times the memory, and a
kill or a change then reruns S seeds. ``compile: auto`` stays off on the CPU: 1.13x saves ~6 s of a 57 s run
but a cold compile costs 30 s per process (it pays only with a ``TORCHINDUCTOR_CACHE_DIR`` shared by the
jobs, ~2 s warm). The real lever is the matmul kernel: the AVX-512 shim in the train rule's environment
(2.2x with compile) is a change of environment, not of this code, and a decision for the workflow: it rests
on an undocumented MKL symbol and changes float32 results at the 1e-6 level (another summation kernel; still
deterministic on one machine). Where this module should pay is a GPU (S tiny models in one launch stream);
not measured (no GPU for this task). If the DAG batches (on a GPU), one job per (variant, size, fixed chunk of
seeds, e.g. 0-3, 4-7): adding seeds then adds chunks, and running chunks keep their checkpoints (the
identity is the ordered list of the runs); S = 2-4 keeps the CPU RSS under 1.3 GiB. Its checkpoint holds the
S slices (~10 MB a seed at ``tiny``: parameters and two Adam moments); a kill loses at most ``ckpt_every``
steps of every seed of the chunk; resume is tested in-process (``stop_after``), not with SIGKILL (no CLI yet).

How a slice stays the run trained alone
---------------------------------------
- Models: ``S`` models built exactly as :func:`scaledyn.llm.train.train` builds one (``build(run.model,
  run.flags, init_seed_for(global_seed, size, seed))``), stacked with :func:`torch.func.stack_module_state`
  into one leaf tensor per parameter with a leading seed axis; the loss is
  ``vmap(functional_call(model, ...))`` over that axis (the model has no randomness: ``randomness="error"``).
- Data: seed ``s`` trains on :func:`scaledyn.llm.train.train_batch` of its own run, micro-batched as in
  :func:`scaledyn.llm.train.forward_backward`: ``(loss_s / n_micro)`` summed over seeds and micro-batches
  is back-propagated once per micro-batch, so each slice receives its own gradient.
- Clipping per seed: ``total_s = || (||g_p[s]||)_p ||_2`` and ``g[s] *= min(1, c / (total_s + 1e-6))``,
  the formula of :func:`torch.nn.utils.clip_grad_norm_` applied to slice ``s`` alone (:func:`clip_per_seed_`).
- Optimiser: one ``torch.optim.AdamW`` over the stacked tensors, with the parameter groups (names, weight
  decay) and constructor options of the single run's :func:`scaledyn.llm.optim.make_optimizer`; AdamW is
  elementwise (its step counter is shared, and equal, because every seed steps together), so each slice
  follows its own run. The schedule is the same ``LambdaLR``.
- Divergence: a seed whose loss or gradient norm diverges (:func:`scaledyn.llm.train.divergence`) stops
  being recorded at that step; its final state is its slice *before* that step's update (as the single run,
  which skips the update and stops). The others carry on; the job stops when every seed has diverged.
- Tolerance (``tests/test_llm_batched.py``, against :func:`scaledyn.llm.train.train` per seed): per-step
  losses, pre-clip gradient norms and validation losses to ``rtol 1e-5, atol 1e-6``, final parameters to
  float32 ``assert_close`` (``rtol 1.3e-6, atol 1e-5``). Measured: losses within 5e-7 (vmap's cross-entropy
  reduces in another order); parameters and gradient norms came out bit-equal, which is not promised.
- Checkpoint (``ckpt_dir/state.pt`` through :mod:`scaledyn.llm.checkpoint`, every ``ckpt_every`` steps): the
  stacked parameters, the optimiser and scheduler states, the per-seed histories, divergences and frozen
  states, and the identity (the identities of the ``S`` runs, in order). A call with the same arguments
  resumes from it and reaches the same numbers as an uninterrupted call (bit-identical on the CPU with the
  same thread count). The caller removes it (:func:`scaledyn.llm.checkpoint.remove`) once its outputs are
  written.
- Not done here: the per-row logs of :mod:`scaledyn.llm.outputs` (``gammas.csv``, ``linear_grads.csv``,
  ``tokens_per_s``) and a CLI; :func:`seed_model` gives the ``Transformer`` of a slice (with its
  gradients) for them.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call, stack_module_state, vmap

from scaledyn import config
from scaledyn.llm import checkpoint
from scaledyn.llm import train as tr
from scaledyn.llm.checkpoint import CKPT_NAME
from scaledyn.llm.model import Transformer, build, init_seed_for
from scaledyn.llm.optim import OptimConfig, make_optimizer
from scaledyn.llm.run_config import RunConfig
from scaledyn.llm.run_config import build as build_run

Params = dict[str, Tensor]


class SeedStack:
    """``S`` models of one variant and size as stacked parameters and a vmapped loss.

    ``params``: parameter name -> leaf tensor ``(S, *shape)``; ``base`` the module whose code runs (its own
    parameters are not used); ``loss(x, y)`` with ``x, y`` of shape ``(S, B, T)`` gives the ``S`` mean
    cross-entropies; ``loss(x, y, shared=True)`` evaluates every seed on the same ``(B, T)`` windows.
    """

    def __init__(self, models: list[Transformer], *, compile: bool = False) -> None:
        self.base = models[0]
        self.params, _ = stack_module_state(models)
        self.buffers = dict(self.base.named_buffers())  # rotary tables: the same for every seed

        def one(params: Params, x: Tensor, y: Tensor) -> Tensor:
            return functional_call(self.base, (params, self.buffers), (x, y))

        fns = {False: vmap(one, in_dims=(0, 0, 0)), True: vmap(one, in_dims=(0, None, None))}
        self._fns = {k: torch.compile(f) for k, f in fns.items()} if compile else fns

    def loss(self, x: Tensor, y: Tensor, *, shared: bool = False) -> Tensor:
        with warnings.catch_warnings():  # SDPA's CPU kernel has no vmap rule: it runs once per slice
            warnings.filterwarnings("ignore", message=".*batching rule for aten::_scaled_dot_product")
            return self._fns[shared](self.params, x, y)

    def grads(self) -> list[Tensor]:
        return [p.grad for p in self.params.values() if p.grad is not None]

    def seed_state(self, s: int) -> Params:
        """A copy of slice ``s``: the ``state_dict`` of the seed's model."""
        return {n: p[s].detach().clone() for n, p in self.params.items()}


def seed_model(stack: SeedStack, s: int, *, grads: bool = False) -> Transformer:
    """The ``Transformer`` of slice ``s`` (a copy), with the slice's gradients when ``grads``."""
    model = build(stack.base.cfg, stack.base.flags)
    model.load_state_dict(stack.seed_state(s))
    if grads:
        for n, p in model.named_parameters():
            g = stack.params[n].grad
            p.grad = None if g is None else g[s].detach().clone()
    return model


def stacked_optimizer(stack: SeedStack, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW over the stacked tensors with the single run's parameter groups and constructor options."""
    single = make_optimizer(stack.base, optim)
    name_of = {p: n for n, p in stack.base.named_parameters()}
    groups = [
        {
            "name": g["name"],
            "weight_decay": g["weight_decay"],
            "params": [stack.params[name_of[p]] for p in g["params"]],
        }
        for g in single.param_groups
    ]
    options = ("lr", "betas", "eps", "foreach", "fused")
    return torch.optim.AdamW(groups, **{k: single.defaults[k] for k in options})


@torch.no_grad()
def clip_per_seed_(grads: list[Tensor], max_norm: float) -> Tensor:
    """Clip each seed's gradient to total norm ``max_norm`` as ``clip_grad_norm_`` does; norms ``(S,)``."""
    per_param = torch.stack([torch.linalg.vector_norm(g.reshape(len(g), -1), dim=1) for g in grads], dim=1)
    total = torch.linalg.vector_norm(per_param, dim=1)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *[1] * (g.ndim - 1)))
    return total


def forward_backward(stack: SeedStack, xy: Tensor, run: RunConfig) -> Tensor:
    """Accumulate each seed's gradient over its micro-batches (``xy``: ``(S, B, T + 1)``); the mean losses."""
    micro, n_micro = run.micro_batch_size, run.n_micro
    loss_sum = torch.zeros(xy.shape[0], device=run.device)
    for i in range(n_micro):
        mb = xy[:, i * micro : (i + 1) * micro]
        with tr.autocast(run.device, run.dtype):
            loss = stack.loss(mb[..., :-1], mb[..., 1:])
        (loss / n_micro).sum().backward()
        loss_sum += loss.detach().float()
    return loss_sum / n_micro


@torch.no_grad()
def evaluate(stack: SeedStack, val_tokens: Any, starts: Tensor, run: RunConfig) -> list[float]:
    """Each seed's mean loss over the fixed held-out windows, as :func:`scaledyn.llm.train.evaluate`."""
    losses, micro = [], run.micro_batch_size
    for i in range(0, len(starts), micro):
        xy = tr.window_batch(val_tokens, starts[i : i + micro], run.model.context).to(run.device)
        with tr.autocast(run.device, run.dtype):
            losses.append(stack.loss(xy[:, :-1], xy[:, 1:], shared=True).float())
    return torch.stack(losses).mean(dim=0).tolist()


def new_history(seeds: list[int]) -> list[dict[str, Any]]:
    return [{"seed": s, "losses": [], "grad_norms": [], "val": [], "diverged": None} for s in seeds]


def train_batched(
    section: dict[str, Any],
    variant: str,
    size: str,
    seeds: list[int],
    global_seed: int,
    data_dir: Path,
    *,
    arch: str,
    steps: int | None = None,
    ckpt_dir: Path | None = None,
    device: str | None = None,
    threads: int | None = None,
    compile: bool = False,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train ``seeds`` of ``variant`` at ``size`` together; each seed as :func:`scaledyn.llm.train.train`.

    ``section`` is an ``llm`` config section (partial is fine); ``arch`` the architecture (a key of
    ``llm.arms``); ``steps``, ``device`` and ``threads`` replace
    its keys when given (``steps``: the size's, so the schedule is the one of a single run of that length).
    ``compile``: ``torch.compile`` the vmapped loss. Resumes from ``ckpt_dir/state.pt`` when it holds this
    job's checkpoint; ``stop_after`` returns after that many steps of this call (``stopped_early``), as if
    killed. Returns ``{"step", "lr": [per step], "wall_s", "resumed", "runs": [per seed: "seed", "losses",
    "grad_norms" (before clipping), "val": [(step, loss)], "diverged": None or {"step", "reason"},
    "state": the final ``state_dict``]}``. Raises :class:`scaledyn.config.ConfigError` or
    :class:`scaledyn.llm.run_config.InputError` on bad input.
    """
    over = {"device": device, "threads": threads}
    llm = config.section("llm", {**section, **{k: v for k, v in over.items() if v is not None}})
    if steps is not None:
        llm["sizes"][size] = {**llm["sizes"][size], "steps": int(steps)}
    dev = tr.resolve_device(llm["device"])
    train_tokens, val_tokens, meta = tr.load_corpus(Path(data_dir))
    vocab = int(meta["vocab_size"])
    runs = [
        build_run(llm, variant, size, s, global_seed, arch=arch, vocab_size=vocab, device=dev) for s in seeds
    ]
    run = runs[0]  # everything but the seed is shared
    tr.check_lengths(run, ("train", train_tokens), ("val", val_tokens))
    tr.setup_device(dev, run.threads)

    models = [
        build(r.model, r.flags, init_seed_for(global_seed, size, r.seed, r.stream)).to(dev) for r in runs
    ]
    stack = SeedStack(models, compile=compile)
    optimizer = stacked_optimizer(stack, run.optim)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, run.schedule)
    v_starts = tr.val_starts(
        len(val_tokens), run.model.context, run.eval_batches * run.micro_batch_size, global_seed
    )

    identity = {"batched": [r.identity for r in runs]}
    ckpt_path = None if ckpt_dir is None else Path(ckpt_dir) / CKPT_NAME
    job: dict[str, Any] = {
        "step": 0,
        "lr": [],
        "wall_s": 0.0,
        "resumed": [],
        "runs": new_history(seeds),
        "frozen": {},
    }
    if ckpt_path is not None and (state := checkpoint.load(ckpt_path, identity)) is not None:
        with torch.no_grad():
            for n, p in stack.params.items():
                p.copy_(state["params"][n])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        job = {**state["job"], "resumed": [*state["job"]["resumed"], state["job"]["step"]]}

    t_wall, start = time.perf_counter(), job["step"]
    live = [h["diverged"] is None for h in job["runs"]]
    while job["step"] < run.steps and any(live):
        lr_now = optimizer.param_groups[0]["lr"]
        xy = torch.stack([tr.train_batch(r, train_tokens, job["step"]) for r in runs])
        losses = forward_backward(stack, xy, run).tolist()
        norms = clip_per_seed_(stack.grads(), run.optim.grad_clip).tolist()
        job["step"] += 1
        step = job["step"]
        job["lr"].append(lr_now)
        for s, hist in enumerate(job["runs"]):
            if not live[s]:
                continue
            hist["losses"].append(losses[s])
            hist["grad_norms"].append(norms[s])
            if (reason := tr.divergence(losses[s], norms[s], run.diverge_loss)) is not None:
                hist["diverged"] = {"step": step, "reason": reason}
                job["frozen"][s] = stack.seed_state(s)  # the single run stops before this update
                live[s] = False
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if step % run.eval_every == 0 or step == run.steps:
            vals = evaluate(stack, val_tokens, v_starts, run)
            for s, hist in enumerate(job["runs"]):
                if live[s]:
                    hist["val"].append((step, vals[s]))
        if ckpt_path is not None and ((run.ckpt_every and step % run.ckpt_every == 0) or step == run.steps):
            params = {n: p.detach() for n, p in stack.params.items()}
            job_now = {**job, "wall_s": job["wall_s"] + time.perf_counter() - t_wall}
            state = {"identity": identity, "params": params, "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "job": job_now}  # fmt: skip
            checkpoint.save(ckpt_path, state)
        if stop_after is not None and step - start >= stop_after:
            return {"stopped_early": True, "step": step}

    job["wall_s"] += time.perf_counter() - t_wall
    for s, hist in enumerate(job["runs"]):
        hist["state"] = job["frozen"].get(s) or stack.seed_state(s)
    return {k: v for k, v in job.items() if k != "frozen"}
