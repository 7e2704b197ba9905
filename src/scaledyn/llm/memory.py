"""Memory of one training step of study 002's model on paper: state, saved activations, largest micro-batch.

A step's memory is the *state* (float32 weights, their gradients and AdamW's two moments: ``16 N`` bytes for
``N`` parameters) plus the tensors autograd *saves* in the forward for the backward of one micro-batch, plus
transients (the backward's activation gradients, workspaces, allocator slack) that a reserve covers.

Saved activations are counted, not estimated: :func:`saved_bytes` runs the forward under
``torch.autograd.graph.saved_tensors_hooks`` and sums the storages it saves (each storage once, parameters
excluded: the state holds them). Under ``FakeTensorMode`` the same forward allocates nothing, so
:func:`activation_bytes` counts any size (``gpt124m`` at micro-batch 32 in under a second) for any variant,
in the eager program the CPU and a GPU share (bf16 autocast; SDPA's flash kernels save ``q, k, v``, the
output and a float32 log-sum-exp on both). A compiled (inductor) step saves less (it recomputes cheap
pointwise ops in the backward), so for ``compile: true`` this is an upper bound; ``benchmarks/gpu_check.py``
measures the peak.

Closed form (:func:`closed_form_activation_bytes`, Pre-Norm baseline under bf16 autocast; ``n = B T`` tokens
of a micro-batch of ``B`` windows, ``d`` width, ``h`` SwiGLU width, ``H`` heads, ``d_h = d / H``, ``L``
layers, ``V`` vocabulary, ``N_mm`` parameters of the linear maps), in bytes::

    n (L (36 d + 8 h + 4 H + 8) + 10 d + 4 V + 12) + 2 N_mm + 8 B (T + 1) + 4 L T d_h + 4

per layer and token: each RMSNorm's float32 input, normalised output and 1/rms (2 x (8 d + 4)); the bf16 copy
of the normalised input each linear map casts for itself (q, k, v: 6 d; gate, up: 4 d); rotated q and k, v and
the attention output (8 d) with its log-sum-exp (4 H); o's input (2 d); gate's and up's outputs, silu(gate)
and their product (8 h). Once: the final norm (8 d + 4), the head's bf16 input (2 d), the float32
log-softmax (4 V), the flattened targets (8); the bf16 copies autocast caches of every linear map's weight
(2 N_mm); the token windows (int64, 8 B (T + 1)); per layer the bf16 rotary tables of q and k (4 T d_h); the
loss's scalar (with one window the targets are contiguous and need no copy: ``8 n`` less).
``tests/test_llm_memory.py`` checks it against the counted bytes, and the count against the tensors a real
CPU forward saves.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from scaledyn.llm.model import ModelConfig, Transformer
from scaledyn.llm.variants import ScaleFlags

STATE_BYTES_PER_PARAM = 16  # float32 weight, gradient, AdamW exp_avg and exp_avg_sq


def saved_bytes(model: Transformer, xy: torch.Tensor, dtype: torch.dtype = torch.bfloat16) -> int:
    """Bytes of every storage autograd saves in ``model``'s forward on windows ``xy`` (``(B, T + 1)``) under
    autocast to ``dtype`` (float32: none), parameters excluded; real or fake tensors alike."""
    params = {p.untyped_storage()._cdata for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage._cdata not in params:
            saved[storage._cdata] = storage.nbytes()
        return t

    bf16 = dtype == torch.bfloat16
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast(xy.device.type, dtype=torch.bfloat16, enabled=bf16):
            model(xy[:, :-1], xy[:, 1:])
    return sum(saved.values())


def activation_bytes(
    cfg: ModelConfig, flags: ScaleFlags, micro: int, dtype: torch.dtype = torch.bfloat16
) -> int:
    """Saved-activation bytes of one micro-batch of ``micro`` windows, counted on fake tensors (no memory)."""
    with FakeTensorMode():
        model = Transformer(cfg, flags)
        return saved_bytes(model, torch.empty(micro, cfg.context + 1, dtype=torch.long), dtype)


def closed_form_activation_bytes(cfg: ModelConfig, micro: int) -> int:
    """The module docstring's closed form (Pre-Norm baseline, bf16 autocast)."""
    d, h, n_heads, layers, vocab, t = (
        cfg.d_model,
        cfg.hidden,
        cfg.n_heads,
        cfg.n_layers,
        cfg.vocab_size,
        cfg.context,
    )
    n, n_mm = micro * t, layers * (4 * d * d + 3 * d * h) + d * vocab
    per_token = layers * (36 * d + 8 * h + 4 * n_heads + 8) + 10 * d + 4 * vocab + 12
    return n * per_token + 2 * n_mm + 8 * micro * (t + 1) + 4 * layers * t * cfg.head_dim + 4


def plan(cfg: ModelConfig, flags: ScaleFlags, micro: int, capacity_bytes: float) -> dict[str, Any]:
    """State and activation memory of ``micro`` windows per forward, and the largest micro-batch whose state
    plus saved activations fit ``capacity_bytes`` (the device's memory less the reserve for transients).

    Activations are affine in the micro-batch from 2 windows on (counted at 2 and 3): ``fixed + per_window
    B``."""
    with torch.device("meta"):
        n_params = sum(p.numel() for p in Transformer(cfg, flags).parameters())
    two, three = activation_bytes(cfg, flags, 2), activation_bytes(cfg, flags, 3)
    per_window = three - two
    fixed = two - 2 * per_window
    state = STATE_BYTES_PER_PARAM * n_params
    at_micro = fixed + per_window * micro
    return {
        "n_params": n_params,
        "state_bytes": state,
        "activation_bytes_per_window": per_window,
        "activation_bytes_fixed": fixed,
        "activation_bytes": at_micro,
        "total_bytes": state + at_micro,
        "max_micro_batch": max(0, math.floor((capacity_bytes - state - fixed) / per_window)),
    }
