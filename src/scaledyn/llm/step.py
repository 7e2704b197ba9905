"""One training step's gradient, the divergence test, and the evaluations of a training run.

- Gradient (:func:`gradient`): this rank's slice of the step's batch in ``n_micro`` micro-batches, each
  loss divided by ``n_micro`` and back-propagated (with several ranks DDP's ``no_sync`` keeps every
  micro-batch but the last local; the last averages the gradient over the ranks); the logged train loss is
  the mean over the micro-batches and the ranks. Gradients are clipped to total norm ``grad_clip``
  (``clip_grad_norm_``; the returned norm is the one before clipping).
- Divergence (:func:`divergence`): a non-finite train loss or gradient norm, or a loss above
  ``diverge_loss``.
- Fixed-window evaluation (:func:`evaluate`): the mean of the batch means over the validation windows of
  :func:`scaledyn.llm.batches.val_starts` (the ``val_loss`` of ``metrics.csv``, the curves).
- Whole-split evaluation (:func:`evaluate_split`): the final validation loss (``summary.json``'s
  ``final_val_loss``, what the claims compare) over the windows of :func:`scaledyn.llm.batches.tile_starts`,
  so it carries no window-sampling noise; ``final_val_se`` is the standard error of that mean over the
  windows (adjacent windows are correlated text: a rough within-run scale, not an interval for the
  comparisons, which are paired on the same tokens), ``final_val_tokens`` the tokens predicted,
  ``final_eval_s`` its wall time.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from scaledyn.llm import distributed
from scaledyn.llm.batches import tile_starts, window_batch
from scaledyn.llm.device import autocast
from scaledyn.llm.run_config import RunConfig

# the model, or its DDP / compiled wrapper: (inputs, targets) -> the mean loss; (inputs) -> the logits
ModelFn = Callable[..., torch.Tensor]
SyncSkip = Callable[[], contextlib.AbstractContextManager]  # DDP's no_sync, or nullcontext with one rank


def forward_backward(
    loss_fn: ModelFn, xy: torch.Tensor, run: RunConfig, skip_sync: SyncSkip = contextlib.nullcontext
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


def gradient(
    loss_fn: ModelFn,
    model: torch.nn.Module,
    xy: torch.Tensor,
    run: RunConfig,
    world: distributed.World,
    skip_sync: SyncSkip,
) -> tuple[float, float]:
    """The step's clipped gradient from the whole batch ``xy`` (this rank trains on its slice);
    ``(train loss, gradient norm before clipping)``, both the same on every rank."""
    loss = distributed.mean(
        forward_backward(loss_fn, distributed.shard(xy, world), run, skip_sync), world, run.device
    )
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), run.optim.grad_clip).item()
    return loss, grad_norm


def divergence(loss: float, grad_norm: float, limit: float | None) -> str | None:
    """Why the run diverged at this step, or ``None``."""
    if not math.isfinite(loss):
        return f"non-finite train loss ({loss})"
    if not math.isfinite(grad_norm):
        return f"non-finite gradient norm ({grad_norm})"
    if limit is not None and loss > float(limit):
        return f"train loss {loss:.4g} above diverge_loss {limit}"
    return None


@torch.no_grad()
def evaluate(loss_fn: ModelFn, val_tokens: np.ndarray, starts: torch.Tensor, run: RunConfig) -> float:
    """Mean loss over the fixed held-out windows (batches of ``micro_batch_size`` windows)."""
    losses, micro, dev = [], run.micro_batch_size, run.device
    for i in range(0, len(starts), micro):
        xy = window_batch(val_tokens, starts[i : i + micro], run.model.context).to(dev, non_blocking=True)
        with autocast(dev, run.dtype):
            losses.append(loss_fn(xy[:, :-1], xy[:, 1:]).float())
    return torch.stack(losses).mean().item()


@torch.no_grad()
def evaluate_split(model_fn: ModelFn, tokens: np.ndarray, run: RunConfig) -> dict[str, float]:
    """The loss over the whole split (or ``final_eval_fraction`` of its windows): every window of
    :func:`~scaledyn.llm.batches.tile_starts` once (batches of ``micro_batch_size`` windows). ``loss``: the
    mean over windows (= over tokens: equal windows), ``se``: its standard error over windows
    (``sd / sqrt(n_windows)``, ``sd`` with ``n - 1``), ``tokens``: the tokens predicted, ``seconds``: the
    wall time."""
    t0, context, micro, dev = time.perf_counter(), run.model.context, run.micro_batch_size, run.device
    starts, per_window = tile_starts(len(tokens), context, run.final_eval_fraction), []
    for i in range(0, len(starts), micro):
        xy = window_batch(tokens, starts[i : i + micro], context).to(dev, non_blocking=True)
        with autocast(dev, run.dtype):
            logits = model_fn(xy[:, :-1])  # without targets: (windows, context, vocab) logits
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
