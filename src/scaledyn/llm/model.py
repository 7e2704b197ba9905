"""Decoder-only transformer with configurable scale vectors (study 002).

Architecture (``arch: prenorm``; ``d`` = width, ``L`` = layers, ``H`` = heads, ``d_h = d / H``)::

    x_0 = E[tokens]                                              token embedding, no position embedding
    for l in 1..L:
        u   = N_attn(x)                                          Input-Norm, read by q, k, v
        a   = o( SDPA_causal( R(q(u)), R(k(u)), v(u) ) )         R = rotary position embedding
        x   = x + a                         (sandwich: x + N_attn_out(a), an Output-Norm)
        u   = N_mlp(x)                                           Input-Norm, read by gate, up
        m   = down( silu(gate(u)) * up(u) )                      SwiGLU
        x   = x + m                         (sandwich: x + N_mlp_out(m), an Output-Norm)
    logits = head( N_final(x) )                                  Input-Norm, untied LM head

Every linear map is a bias-free matrix. A norm is RMSNorm, ``N(x) = gamma * x / sqrt(mean(x^2) + eps)``
(``torch.nn.functional.rms_norm`` without weight, then the scale vector). Attention is
``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``, which dispatches to flash attention on a
GPU in bf16. Rotary embedding (GPT-NeoX half-split form): channel pair ``(i, i + d_h/2)`` at position ``t``
is rotated by the angle ``t * base^(-2i/d_h)``, so ``<R_m q, R_n k>`` depends on ``m - n`` only.
MLP hidden width: the size's ``mlp_hidden``, else ``8/3 * d`` rounded *up* to a multiple of
``mlp_multiple`` (LLaMA convention; 32 for ``tiny``: 352, 64 for ``gpt124m``: 2048).

Scale vectors (see :mod:`scaledyn.llm.variants` for the variants) are :class:`ScaleVector` modules, each
carrying a :class:`ScaleTag`: the norm it belongs to, its kind (``input``/``output``), its side (``in``: the
norm's gain that multiplies the normalised input of a linear map; ``out``: a placement vector that
multiplies the map's output), the linear map it serves (``branch``) and whether it is weight-decayed.

- plain: ``gamma`` (init 1);
- md: ``gamma = g * sqrt(d) * v / ||v||`` computed as ``g * v / rms(v)`` (the same number, and exactly 1 in
  floating point at init: ``v = 1`` gives ``rms(v) = 1``), ``g`` a scalar (init 1), ``v`` a vector (init 1);
  where the variant decays the vector, both ``g`` and ``v`` are decayed (decay on ``v`` only shrinks
  ``||v||``, leaving gamma as it is but raising v's effective step; decay on ``g`` pulls the magnitude to 0);
- placement: the map ``W`` reading a norm becomes ``diag(gamma_out) W diag(gamma_in)``; for q and k the
  output scale acts before the rotary rotation.

Initialisation (:meth:`Transformer.init_weights`): every weight matrix ``P`` is drawn from its own generator
seeded with ``derive_seed(init_seed, name_of_P)``; matrices have the same names in every variant, so all
variants of a seed start from *identical* matrices (embedding, q, k, v, o, gate, up, down, head) and from
scale vectors equal to 1. With ``gamma = 1`` the md, branch and placement variants compute exactly the same
function as baseline at init (multiplying by 1.0 is exact), and so does no_scale.
Stds: ``init_std`` (0.02) for q, k, v, gate, up, head; ``init_std / sqrt(2 L)`` for o and down (GPT-2);
``embed_std`` for the embedding (default 1.0: the rms of an Output-Norm'd branch at init, so that in the
sandwich arch the token embedding is not drowned by the first branch outputs; in Pre-Norm the first
Input-Norm removes the embedding's scale anyway). Measured once (baseline, sandwich, ``tiny``, 400 steps on
the Shakespeare bytes, seed 0): final val loss 1.857 with ``embed_std`` 1.0 against 2.024 with 0.02.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from scaledyn.llm import shape_problem
from scaledyn.llm.variants import VARIANTS, ScaleFlags, resolve_arch
from scaledyn.seeding import derive_seed, generator

ATTN_MAPS = ("q", "k", "v")
MLP_MAPS = ("gate", "up")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of one model; ``arch`` is ``prenorm`` or ``sandwich``. The values come from the config (a size
    entry of ``llm.sizes`` and ``llm.model``: :func:`scaledyn.llm.run_config.model_config`), whose schema
    holds their defaults."""

    vocab_size: int
    n_layers: int
    d_model: int
    n_heads: int
    context: int
    mlp_hidden: int | None
    mlp_multiple: int
    arch: str
    norm_eps: float
    rope_base: float
    init_std: float
    embed_std: float

    def __post_init__(self) -> None:
        if (problem := shape_problem(self.d_model, self.n_heads)) is not None:
            raise ValueError(problem)

    @property
    def hidden(self) -> int:
        """SwiGLU hidden width: ``mlp_hidden`` or ``ceil(8/3 d / mlp_multiple) * mlp_multiple``."""
        if self.mlp_hidden:
            return int(self.mlp_hidden)
        m = self.mlp_multiple
        return m * math.ceil(8 * self.d_model / 3 / m)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class ScaleTag:
    """Identity of one scale vector, for the optimiser's parameter groups and for logging.

    Attributes:
        name: the vector's id, e.g. ``layers.0.attn_in`` (shared gamma), ``layers.0.attn_in.q`` (branch
            gamma), ``layers.0.attn_in.q.out`` (placement vector after q).
        norm: the norm it belongs to, e.g. ``layers.0.attn_in``, ``layers.0.mlp_out``, ``final``.
        kind: ``input`` (Input-Norm: read by linear maps) or ``output`` (Output-Norm: before a residual add).
        side: ``in`` (multiplies the normalised input of a map) or ``out`` (placement, after the map).
        branch: the linear map it serves (``q``, ``k``, ``v``, ``gate``, ``up``, ``head``) or ``None`` for
            a gamma shared by all maps reading the norm (and for Output-Norms).
        dim: length of the vector.
        decayed: whether the optimiser applies weight decay to its parameters.
    """

    name: str
    norm: str
    kind: str
    side: str
    branch: str | None
    dim: int
    decayed: bool


class ScaleVector(nn.Module):
    """One scale vector: a plain ``gamma`` or, with ``md``, ``gamma = g v / rms(v)`` (= g sqrt(d) v/||v||)."""

    def __init__(self, tag: ScaleTag, md: bool) -> None:
        super().__init__()
        self.tag = tag
        self.md = md
        if md:
            self.g = nn.Parameter(torch.ones(()))
            self.v = nn.Parameter(torch.ones(tag.dim))
        else:
            self.gamma = nn.Parameter(torch.ones(tag.dim))

    def forward(self) -> Tensor:
        if self.md:
            return self.g * self.v / self.v.pow(2).mean().sqrt()
        return self.gamma

    def reset(self) -> None:
        for p in self.parameters():
            nn.init.ones_(p)


def _decayed(kind: str, flags: ScaleFlags) -> bool:
    return flags.wd_input if kind == "input" else flags.wd_output


class ScaledNorm(nn.Module):
    """RMSNorm with its scale vector(s); returns one tensor per consumer (linear map) reading it.

    ``consumers`` are the maps reading an Input-Norm (e.g. ``("q", "k", "v")``) or ``()`` for an Output-Norm.
    Without learnable scales the output is the bare ``x / rms(x)``; with ``branch`` an Input-Norm has one
    gamma per consumer; otherwise one shared gamma (computed once, the same tensor for every consumer).
    """

    def __init__(
        self, name: str, dim: int, kind: str, consumers: tuple[str, ...], flags: ScaleFlags, eps: float
    ) -> None:
        super().__init__()
        self.name, self.dim, self.kind, self.eps = name, dim, kind, eps
        self.n_out = max(1, len(consumers))
        self.scales = nn.ModuleDict()
        self.branched = bool(flags.learnable and flags.branch and consumers)
        if not flags.learnable:
            return
        decayed = _decayed(kind, flags)
        if self.branched:
            for c in consumers:
                tag = ScaleTag(f"{name}.{c}", name, kind, "in", c, dim, decayed)
                self.scales[c] = ScaleVector(tag, flags.md)
        else:
            branch = consumers[0] if len(consumers) == 1 else None
            self.scales["shared"] = ScaleVector(
                ScaleTag(name, name, kind, "in", branch, dim, decayed), flags.md
            )

    def forward(self, x: Tensor) -> list[Tensor]:
        xhat = F.rms_norm(x, (self.dim,), eps=self.eps)
        if not self.scales:
            return [xhat] * self.n_out
        if self.branched:
            return [xhat * s() for s in self.scales.values()]
        return [xhat * self.scales["shared"]()] * self.n_out


class Projection(nn.Module):
    """Bias-free linear map ``y = W x``; with placement an output-side vector: ``y = gamma_out * (W x)``."""

    def __init__(self, d_in: int, d_out: int, out_tag: ScaleTag | None = None, md: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_out, d_in))
        self.out_scale = ScaleVector(out_tag, md) if out_tag is not None else None

    def forward(self, x: Tensor) -> Tensor:
        y = F.linear(x, self.weight)
        if self.out_scale is not None:
            y = y * self.out_scale().to(y.dtype)  # keeps bf16 under autocast
        return y


def _out_tag(norm: ScaledNorm, branch: str, dim: int, flags: ScaleFlags) -> ScaleTag | None:
    """The placement vector's tag for a map reading ``norm`` (``None`` when the variant has no placement)."""
    if not flags.placement:
        return None
    decayed = _decayed(norm.kind, flags)
    return ScaleTag(f"{norm.name}.{branch}.out", norm.name, norm.kind, "out", branch, dim, decayed)


def rotary_tables(context: int, head_dim: int, base: float) -> tuple[Tensor, Tensor]:
    """``cos``, ``sin`` of shape (context, head_dim/2): angle ``t * base^(-2i/head_dim)``."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)
    return angles.cos().float(), angles.sin().float()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate channel pairs ``(i, i + d_h/2)`` of ``x`` (B, H, T, d_h) by the position's angles."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos, sin = cos[: x.shape[-2]].to(x.dtype), sin[: x.shape[-2]].to(x.dtype)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class Block(nn.Module):
    """One transformer block (Pre-Norm, or sandwich with Output-Norms on both branches)."""

    def __init__(self, idx: int, cfg: ModelConfig, flags: ScaleFlags) -> None:
        super().__init__()
        d, h, eps = cfg.d_model, cfg.hidden, cfg.norm_eps
        p = f"layers.{idx}"
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        self.attn_norm = ScaledNorm(f"{p}.attn_in", d, "input", ATTN_MAPS, flags, eps)
        self.q = Projection(d, d, _out_tag(self.attn_norm, "q", d, flags), flags.md)
        self.k = Projection(d, d, _out_tag(self.attn_norm, "k", d, flags), flags.md)
        self.v = Projection(d, d, _out_tag(self.attn_norm, "v", d, flags), flags.md)
        self.o = Projection(d, d)
        self.mlp_norm = ScaledNorm(f"{p}.mlp_in", d, "input", MLP_MAPS, flags, eps)
        self.gate = Projection(d, h, _out_tag(self.mlp_norm, "gate", h, flags), flags.md)
        self.up = Projection(d, h, _out_tag(self.mlp_norm, "up", h, flags), flags.md)
        self.down = Projection(h, d)
        sandwich = cfg.arch == "sandwich"
        self.attn_out_norm = ScaledNorm(f"{p}.attn_out", d, "output", (), flags, eps) if sandwich else None
        self.mlp_out_norm = ScaledNorm(f"{p}.mlp_out", d, "output", (), flags, eps) if sandwich else None

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        b, t, d = x.shape
        uq, uk, uv = self.attn_norm(x)
        q = self.q(uq).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k(uk).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.v(uv).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        a = self.o(a.transpose(1, 2).reshape(b, t, d))
        if self.attn_out_norm is not None:
            a = self.attn_out_norm(a)[0]
        x = x + a
        ug, uu = self.mlp_norm(x)
        m = self.down(F.silu(self.gate(ug)) * self.up(uu))
        if self.mlp_out_norm is not None:
            m = self.mlp_out_norm(m)[0]
        return x + m


class Transformer(nn.Module):
    """The language model; ``forward(idx)`` gives logits, ``forward(idx, targets)`` the mean cross-entropy."""

    def __init__(self, cfg: ModelConfig, flags: ScaleFlags) -> None:
        super().__init__()
        arch = resolve_arch(flags, cfg.arch)
        if arch != cfg.arch:
            cfg = dataclasses.replace(cfg, arch=arch)
        self.cfg, self.flags = cfg, flags
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(i, cfg, flags) for i in range(cfg.n_layers))
        self.final_norm = ScaledNorm("final", cfg.d_model, "input", ("head",), flags, cfg.norm_eps)
        self.head = Projection(
            cfg.d_model, cfg.vocab_size, _out_tag(self.final_norm, "head", cfg.vocab_size, flags), flags.md
        )
        cos, sin = rotary_tables(cfg.context, cfg.head_dim, cfg.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> Tensor:
        x = self.embed(idx)
        for block in self.layers:
            x = block(x, self.rope_cos, self.rope_sin)
        logits = self.head(self.final_norm(x)[0])
        if targets is None:
            return logits
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1))

    # -- parameters ---------------------------------------------------------------------------------------

    def scale_vectors(self) -> Iterator[tuple[str, ScaleVector]]:
        """(module name, vector) for every scale vector, in module order."""
        for name, mod in self.named_modules():
            if isinstance(mod, ScaleVector):
                yield name, mod

    def scale_param_tags(self) -> dict[str, ScaleTag]:
        """Parameter name -> tag of the scale vector it belongs to (``gamma``, or ``g`` and ``v`` for md)."""
        out: dict[str, ScaleTag] = {}
        for mname, mod in self.scale_vectors():
            for pname, _ in mod.named_parameters():
                out[f"{mname}.{pname}"] = mod.tag
        return out

    def follow_norm_maps(self) -> dict[str, Projection]:
        """The linear maps that read a norm, by display name (``layers.0.attn.q`` ... ``head``)."""
        out: dict[str, Projection] = {}
        for i, block in enumerate(self.layers):
            for m in ATTN_MAPS:
                out[f"layers.{i}.attn.{m}"] = getattr(block, m)
            for m in MLP_MAPS:
                out[f"layers.{i}.mlp.{m}"] = getattr(block, m)
        out["head"] = self.head
        return out

    def matrices(self) -> dict[str, nn.Parameter]:
        """Every weight matrix (2-D parameter): the embedding and the linear maps."""
        return {n: p for n, p in self.named_parameters() if p.ndim == 2}

    @torch.no_grad()
    def init_weights(self, init_seed: int) -> None:
        """Matrices from per-name generators seeded by ``derive_seed(init_seed, name)``; scales to 1."""
        n_layers = self.cfg.n_layers
        for name, p in self.matrices().items():
            if name == "embed.weight":
                std = self.cfg.embed_std
            elif name.endswith((".o.weight", ".down.weight")):
                std = self.cfg.init_std / math.sqrt(2 * n_layers)
            else:
                std = self.cfg.init_std
            draw = torch.empty(p.shape, dtype=torch.float32).normal_(
                0.0, std, generator=generator(init_seed, name)
            )
            p.copy_(draw)
        for _, vec in self.scale_vectors():
            vec.reset()

    def param_counts(self) -> dict[str, int]:
        """``n_params`` (all), ``n_scale_params``, ``n_embedding`` (input table), ``n_matmul`` (maps)."""
        n_all = sum(p.numel() for p in self.parameters())
        n_scale = sum(p.numel() for n, p in self.named_parameters() if n in self.scale_param_tags())
        n_embed = self.embed.weight.numel()
        n_matmul = sum(p.numel() for n, p in self.matrices().items() if n != "embed.weight")
        return {"n_params": n_all, "n_scale_params": n_scale, "n_embedding": n_embed, "n_matmul": n_matmul}

    def flop_per_token(self) -> int:
        """Training FLOPs per token: ``6 N_matmul + 12 L d T`` (PaLM appendix B / nanoGPT).

        ``N_matmul`` counts every linear map (q, k, v, o, gate, up, down, untied head) but not the
        embedding table (a lookup); ``12 L d T`` is attention's ``QK^T`` and ``AV`` (2 matmuls x 2 FLOP x 3
        for forward + backward) over the full context ``T``, without halving for the causal mask.
        Elementwise work (norms, scale vectors, rotary, softmax) is not counted.
        """
        c = self.cfg
        return 6 * self.param_counts()["n_matmul"] + 12 * c.n_layers * c.d_model * c.context


def build(cfg: ModelConfig, flags: ScaleFlags, init_seed: int | None = None) -> Transformer:
    """A model on the CPU, initialised from ``init_seed`` when given."""
    model = Transformer(cfg, flags)
    if init_seed is not None:
        model.init_weights(init_seed)
    return model


def param_report(cfg: ModelConfig, flags: ScaleFlags) -> dict[str, float]:
    """Parameter counts of a variant and its overhead over baseline (same config; built on the meta device).

    ``overhead_params_vs_baseline = n_params(variant) - n_params(baseline)`` (negative for no_scale) and
    ``overhead_fraction`` = that over ``n_params(baseline)``.
    """
    with torch.device("meta"):
        counts = Transformer(cfg, flags).param_counts()
        base_flags = VARIANTS["baseline"]
        if flags.arch is not None:
            base_flags = ScaleFlags(arch=flags.arch)
        base = Transformer(cfg, base_flags).param_counts()
    over = counts["n_params"] - base["n_params"]
    return {**counts, "overhead_params_vs_baseline": over, "overhead_fraction": over / base["n_params"]}


def init_seed_for(global_seed: int, size: str, seed: int, stream: tuple[str, ...] = ()) -> int:
    """Seed of the weight initialisation: ``derive_seed(global_seed, "llm", size, seed, *stream, "init")``
    (``stream``: the variant's seed stream, :func:`scaledyn.llm.variants.stream_of`; empty for all but the
    A/A arm)."""
    return derive_seed(global_seed, "llm", size, seed, *stream, "init")
