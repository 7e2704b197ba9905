"""Gradient signal-to-noise of every parameter tensor of the language model at its evaluation steps.

Papers 000 and 001 disagree on which tensors are noise-dominated (000: matrices keep a higher GSNR than
vectors; 001: matrix entries have a lower per-parameter SNR than scale vectors); this module measures both
quantities on the LM of study 002, per tensor, while it trains. :mod:`scaledyn.llm.tensor_snr_analysis`
turns the per-run rows into tables and claims.

Measurement (:class:`Meter`, built by :func:`meter` when ``llm.tensor_snr.enabled``): at every evaluation
step (``eval_every`` steps and the last, after the optimiser step: the parameters the validation loss sees)
``K = llm.tensor_snr.draws`` gradients, draw ``k`` the gradient of the mean train loss over its own
micro-batch of ``S = llm.tensor_snr.sequences`` training windows whose starts come from
``generator(global_seed, "llm", size, seed, "snr", step, k)``. No variant in the keys: every variant of a
seed is measured on the same windows. The training batches have their own generators (keyed ``"batch"``),
the gradients come from ``torch.autograd.grad`` (nothing is accumulated into ``.grad``) and the optimiser
state is only read, so the measurement does not change training (tested bit-equal on the CPU). The draws
run on the uncompiled model in float32 (on a GPU too, with the training's TF32 matmuls: autocast is turned
off around them, so the SNRs carry no bf16 rounding noise whatever ``llm.precision`` is).

Per-draw gradients are K forward/backward passes in a loop rather than one
``torch.func.vmap(grad(functional_call))`` call: vmap has no batching rule for
``scaled_dot_product_attention`` and falls back to a per-draw loop inside it, so on the CPU it is no faster
(``benchmarks/llm_tensor_snr.py``, ``tiny``, 1 thread, load ~2-3: vmap's gradients alone 0.93 s baseline,
1.34 s unified per evaluation against 0.74 s and 1.22 s for this loop *and* the estimators; its first call
in a process 1.2-4 s).

``tensor_snr.csv`` (one row per step and parameter tensor, :data:`COLUMNS`):

- ``tensor``: the parameter name; ``class``: its tensor class (:func:`tensor_class`); ``n``: entries;
  ``n_active``: entries whose K draws are not all equal (``s_j > 0``; e.g. an embedding row of a byte that
  no draw contains has an identically zero gradient); the per-parameter SNRs are means over these
  (``estimators.moment_estimates``: every estimate of a tensor from its per-entry moments, accumulated
  draw by draw by ``estimators.RunningMoments`` in float64, so memory is 16 bytes per parameter, not 4 K).
- ``norm``: Frobenius norm of the tensor (``|g|`` for an md magnitude).
- ``gsnr``: paper 000's GSNR, bias-corrected (``estimators.gsnr_bias_corrected``: no floor, can be < 0);
  ``gsnr_plugin``: the plug-in ``||mean g||^2 / sum s^2``, a practitioner column with a floor of about
  ``1/K`` at zero signal.
- ``snr2``: paper 001's per-parameter SNR in squared form, ``mean_j mu_j^2 / sigma_j^2`` estimated without
  bias for Gaussian draws (``estimators.snr2_unbiased``: no floor, can be < 0); ``snr``: the plug-in
  ``mean_j |mean_j| / s_j`` (``estimators.snr_per_parameter``), a practitioner column with the floor
  ``sqrt(2/pi) / sqrt(K)`` (``estimators.snr_floor``). Only the bias-corrected columns decide the claims.
- ``lr``, ``weight_decay``: of the tensor's AdamW group at this step; ``decayed``: ``weight_decay > 0``.
- ``update_rms``: RMS of AdamW's normalised update ``u = m_hat / (sqrt(v_hat) + eps)`` from the optimiser
  state (the direction of the next step).
- ``eq_norm``: the AdamW weight-decay equilibrium norm ``sqrt(lr ||u||^2 / (2 weight_decay))``. AdamW
  shrinks ``||p||^2`` by ``(1 - lr wd)^2 ~ 1 - 2 lr wd`` per step and an update orthogonal to ``p`` (the
  noise-dominated regime) adds ``lr^2 ||u||^2``; the two balance at this norm (Kosson et al. 2024,
  "Rotational equilibrium", with the measured ``||u||`` in place of ``sqrt(n)``). Not defined (NaN) for an
  undecayed tensor (the embedding, and every scale vector a variant does not decay), whose norm has no
  equilibrium. A tensor approaches it on the time scale ``1 / (2 lr wd)`` steps.
- ``draws``, ``sequences``: K and S; ``seconds``: wall time of this step's measurement (all tensors).

Tensor classes (:data:`CLASSES`) come from the model's own tags: a parameter of a scale vector
(``Transformer.scale_param_tags``) is an ``md_magnitude`` (md's scalar ``g``), an ``md_direction`` (md's
``v``), a ``placement`` vector (tag side ``out``) or an ``input_gamma`` / ``output_gamma`` (tag kind); the
other parameters are the ``embedding``, the LM ``head`` and the ``attn_matrix`` (q, k, v, o) and
``mlp_matrix`` (gate, up, down) linear maps.

Defaults (``llm.tensor_snr``, chosen on principle): K = 16, S = 4. The cost is K S = 64 sequences of
forward and backward per evaluation, 4 training steps' worth at ``tiny`` (batch 16); measured 4.2 (baseline,
0.74 s) to 4.6 (unified, 1.2 s) steps' worth, so the 7 evaluations of the 350-step run add ~5-9 s, 8-9% of
its training time (S = 2: ~7%). The LM's values sit at the
plug-in floors at this K (``tiny``, baseline, 3 seeds, mean over the second half of training of the
matrices' and the vectors' means: ``gsnr`` 0.07-0.15 against the plug-in floor 1/16 = 0.0625, ``snr2``
0.05-0.12 against 0.072, ``snr`` 0.28-0.36 against 0.20; single classes at the last step down to 0.01);
a floor 10x below them would take K ~ 300-1000 (20-60x the cost), so only the bias-corrected
estimates (``gsnr``, ``snr2``) decide and the plug-in columns are for practitioners. K >= 4 is required by
``snr2_unbiased``; K = 16 keeps its per-entry noise (about ``sqrt(2)/K``) small against class means over
thousands of entries. S sets the micro-batch both SNRs refer to (GSNR and SNR^2 grow about linearly with S
for independent windows); the matrix-vs-vector comparison does not depend on it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

from scaledyn import estimators
from scaledyn.llm.model import ScaleTag, Transformer
from scaledyn.llm.run_config import RunConfig

Windows = Callable[[tuple[object, ...], int], torch.Tensor]  # (seed keys, n) -> n windows on the device
ATTN_MATRICES = ("q", "k", "v", "o")
MLP_MATRICES = ("gate", "up", "down")
CLASSES = (
    "attn_matrix",
    "mlp_matrix",
    "embedding",
    "head",
    "input_gamma",
    "output_gamma",
    "placement",
    "md_magnitude",
    "md_direction",
)
COLUMNS = ["step", "tensor", "class", "n", "n_active", "decayed", "norm", "gsnr", "gsnr_plugin", "snr2",
           "snr", "lr", "weight_decay", "update_rms", "eq_norm", "draws", "sequences", "seconds"]  # fmt: skip


def tensor_class(name: str, tag: ScaleTag | None) -> str:
    """The class (of :data:`CLASSES`) of parameter ``name``; ``tag``: its scale vector's tag or ``None``."""
    leaf = name.rsplit(".", 1)[-1]
    if tag is not None:
        if tag.side == "out" and leaf == "gamma":
            return "placement"
        if leaf in ("g", "v"):
            return "md_magnitude" if leaf == "g" else "md_direction"
        return "input_gamma" if tag.kind == "input" else "output_gamma"
    if name == "embed.weight":
        return "embedding"
    if name == "head.weight":
        return "head"
    owner = name.split(".")[-2] if "." in name else ""
    if owner in ATTN_MATRICES:
        return "attn_matrix"
    if owner in MLP_MATRICES:
        return "mlp_matrix"
    raise ValueError(f"parameter {name} belongs to no tensor class")


def classes(model: Transformer) -> dict[str, str]:
    """Parameter name -> tensor class, for every parameter of ``model``."""
    tags = model.scale_param_tags()
    return {name: tensor_class(name, tags.get(name)) for name, _ in model.named_parameters()}


def draw_keys(run: RunConfig, step: int, k: int) -> tuple[object, ...]:
    """Seed keys of draw ``k`` at ``step``: ``(global_seed, "llm", size, seed, "snr", step, k)``."""
    return (run.global_seed, "llm", run.size, run.seed, "snr", step, k)


class Meter:
    """The per-tensor measurement of one run (see the module docstring); :meth:`rows` at a step."""

    def __init__(
        self,
        model: Transformer,
        optimizer: torch.optim.Optimizer,
        windows: Windows,
        run: RunConfig,
        draws: int,
        sequences: int,
    ) -> None:
        self.model, self.optimizer, self.windows, self.run = model, optimizer, windows, run
        self.draws, self.sequences = draws, sequences
        self.named = list(model.named_parameters())
        self.classes = classes(model)

    def groups(self) -> dict[int, dict[str, Any]]:
        """Parameter id -> its optimiser group, looked up now (loading a checkpoint replaces the groups)."""
        return {id(p): g for g in self.optimizer.param_groups for p in g["params"]}

    def draws_at(self, step: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """Draw by draw, the gradient of every parameter (model order) on the draw's own windows."""
        params = [p for _, p in self.named]
        for k in range(self.draws):
            xy = self.windows(draw_keys(self.run, step, k), self.sequences)
            with torch.autocast(xy.device.type, enabled=False):  # float32 under any caller's autocast
                loss = self.model(xy[:, :-1], xy[:, 1:])
                grads = torch.autograd.grad(loss, params, materialize_grads=True)  # backward too
            yield grads

    def moments(self, step: int) -> list[estimators.RunningMoments]:
        """Per parameter, the moments of its K draws, accumulated draw by draw (no K copies are kept)."""
        out = [estimators.RunningMoments() for _ in self.named]
        for grads in self.draws_at(step):
            for acc, g in zip(out, grads, strict=True):
                acc.add(g)
        return out

    def update(self, p: torch.Tensor, group: dict[str, Any]) -> tuple[float, float]:
        """``(update_rms, eq_norm)`` of ``p`` from AdamW's state and its ``group`` (NaN where undefined)."""
        state = self.optimizer.state.get(p, {})
        if "exp_avg" not in state:
            return float("nan"), float("nan")
        t = float(state["step"])
        b1, b2 = group["betas"]
        v_hat = state["exp_avg_sq"].float() / (1 - b2**t)
        u = state["exp_avg"].float() / (1 - b1**t) / (v_hat.sqrt() + group["eps"])
        sq = float(u.double().square().sum())
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        return math.sqrt(sq / u.numel()), math.sqrt(lr * sq / (2 * wd)) if wd > 0 else float("nan")

    def rows(self, step: int) -> list[dict[str, Any]]:
        """One row per parameter tensor at ``step`` (:data:`COLUMNS`)."""
        t0 = time.perf_counter()
        moments, groups = self.moments(step), self.groups()
        rows = []
        for (name, p), acc in zip(self.named, moments, strict=True):
            est = estimators.moment_estimates(*acc.moments())
            group = groups[id(p)]
            update_rms, eq_norm = self.update(p, group)
            rows.append(
                {
                    "step": step,
                    "tensor": name,
                    "class": self.classes[name],
                    "n": p.numel(),
                    "n_active": est["n_active"],
                    "decayed": float(group["weight_decay"]) > 0,
                    "norm": float(torch.linalg.vector_norm(p.detach().double())),
                    **{m: est[m] for m in ("gsnr", "gsnr_plugin", "snr2", "snr")},
                    "lr": float(group["lr"]),
                    "weight_decay": float(group["weight_decay"]),
                    "update_rms": update_rms,
                    "eq_norm": eq_norm,
                    "draws": self.draws,
                    "sequences": self.sequences,
                }
            )
        seconds = time.perf_counter() - t0
        return [{**r, "seconds": seconds} for r in rows]


def meter(
    section: dict[str, Any],
    run: RunConfig,
    model: Transformer,
    optimizer: torch.optim.Optimizer,
    windows: Windows,
) -> Meter | None:
    """The run's :class:`Meter` from the validated ``llm`` section, or ``None`` when it is disabled.

    ``windows(keys, n)``: ``n`` training windows of ``context + 1`` tokens on the run's device, their starts
    drawn from ``generator(*keys)`` (the training module's sampler, handed in: it imports this module)."""
    cfg = section["tensor_snr"]
    if not cfg["enabled"]:
        return None
    return Meter(model, optimizer, windows, run, int(cfg["draws"]), int(cfg["sequences"]))
