"""An experiment of ``llm_throughput.py``: several seeds of one (variant, size) as one batched program.

The pipeline trains one model per job (:mod:`scaledyn.llm.train`); this program trains ``S`` seeds in one
process from the training module's pieces, to measure whether batching seeds pays (``cpu.modes`` of
``results/llm_throughput.json``; the measurements and the conclusion: ``results/llm_throughput_notes.md``).

How a slice stays the run trained alone:

- Models: ``S`` models built as the training run builds one, stacked with
  :func:`torch.func.stack_module_state` into one leaf tensor per parameter with a leading seed axis; the loss
  is ``vmap(functional_call(model, ...))`` over that axis.
- Micro-batches as :func:`scaledyn.llm.step.forward_backward`: ``(loss_s / n_micro)`` summed over seeds is
  back-propagated once per micro-batch, so each slice receives its own gradient.
- Clipping per seed (:func:`clip_per_seed_`): the formula of :func:`torch.nn.utils.clip_grad_norm_` applied
  to each slice alone.
- Optimiser (:func:`stacked_optimizer`): one ``torch.optim.AdamW`` over the stacked tensors with the single
  run's parameter groups and options; AdamW is elementwise, so each slice follows its own run.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch.func import functional_call, stack_module_state, vmap

from scaledyn.llm.device import autocast
from scaledyn.llm.model import Transformer
from scaledyn.llm.optim import OptimConfig, make_optimizer
from scaledyn.llm.run_config import RunConfig

Params = dict[str, Tensor]


class SeedStack:
    """``S`` models of one variant and size as stacked parameters and a vmapped loss.

    ``params``: parameter name -> leaf tensor ``(S, *shape)``; ``base`` the module whose code runs (its own
    parameters are not used); ``loss(x, y)`` with ``x, y`` of shape ``(S, B, T)`` gives the ``S`` mean
    cross-entropies.
    """

    def __init__(self, models: list[Transformer], *, compile: bool = False) -> None:
        self.base = models[0]
        self.params, _ = stack_module_state(models)
        self.buffers = dict(self.base.named_buffers())  # rotary tables: the same for every seed

        def one(params: Params, x: Tensor, y: Tensor) -> Tensor:
            return functional_call(self.base, (params, self.buffers), (x, y))

        fn = vmap(one, in_dims=(0, 0, 0))
        self._fn = torch.compile(fn) if compile else fn

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        with warnings.catch_warnings():  # SDPA's CPU kernel has no vmap rule: it runs once per slice
            warnings.filterwarnings("ignore", message=".*batching rule for aten::_scaled_dot_product")
            return self._fn(self.params, x, y)

    def grads(self) -> list[Tensor]:
        return [p.grad for p in self.params.values() if p.grad is not None]


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
        with autocast(run.device, run.dtype):
            loss = stack.loss(mb[..., :-1], mb[..., 1:])
        (loss / n_micro).sum().backward()
        loss_sum += loss.detach().float()
    return loss_sum / n_micro
