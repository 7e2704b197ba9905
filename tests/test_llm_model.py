"""Study 002 model: shapes, causality, rotary, the eight scale-vector variants, their tags and counts."""

from __future__ import annotations

import math

import pytest
import torch

from scaledyn.llm.model import (
    ModelConfig,
    ScaleVector,
    Transformer,
    apply_rotary,
    build,
    param_report,
    rotary_tables,
)
from scaledyn.llm.variants import VARIANTS, ScaleFlags, get_variant, resolve_arch
from tests.conftest import model_config

L, D, H, V, T = 2, 32, 2, 64, 16
HID = 96  # 8/3 * 32 = 85.3 -> next multiple of 32


def cfg(arch: str = "sandwich", **kw: object) -> ModelConfig:
    return model_config(arch, V, n_layers=L, d_model=D, n_heads=H, context=T, mlp_multiple=32, **kw)


def tokens(batch: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (batch, T), generator=torch.Generator().manual_seed(seed))


def test_hidden_width_rounds_up_to_the_multiple():
    assert cfg().hidden == HID
    assert model_config(n_layers=4, d_model=128, n_heads=4, context=128, mlp_multiple=32).hidden == 352
    assert model_config(n_layers=12, d_model=768, n_heads=12, context=1024).hidden == 2048  # multiple 64
    assert cfg(mlp_hidden=50).hidden == 50


@pytest.mark.parametrize("arch", ["prenorm", "sandwich"])
def test_forward_shapes_and_loss(arch):
    model = build(cfg(arch), VARIANTS["baseline"], init_seed=1)
    x = tokens()
    logits = model(x)
    assert logits.shape == (3, T, V)
    loss = model(x[:, :-1], x[:, 1:])
    assert loss.ndim == 0 and math.isfinite(loss.item())
    assert abs(loss.item() - math.log(V)) < 1.0  # near uniform at init


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_causal_masking(variant):
    model = build(cfg(), VARIANTS[variant], init_seed=2)
    for vec in model.scale_vectors():  # non-trivial scales, so every path is exercised
        for p in vec[1].parameters():
            p.data.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(3))
    x = tokens(2)
    j = 9
    y = x.clone()
    y[:, j] = (y[:, j] + 1) % V
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :j], b[:, :j], rtol=0, atol=1e-6)
    assert not torch.allclose(a[:, j:], b[:, j:])


def test_rotary_scores_depend_on_relative_position_only():
    hd, base = 8, 10000.0
    cos, sin = rotary_tables(64, hd, base)
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(hd, generator=gen, dtype=torch.float32), torch.randn(hd, generator=gen)

    def at(vec: torch.Tensor, pos: int) -> torch.Tensor:
        seq = torch.zeros(1, 1, pos + 1, hd)
        seq[0, 0, pos] = vec
        return apply_rotary(seq, cos, sin)[0, 0, pos]

    for m, n, shift in [(5, 2, 7), (10, 10, 30), (3, 9, 20)]:
        s0 = at(q, m) @ at(k, n)
        s1 = at(q, m + shift) @ at(k, n + shift)
        torch.testing.assert_close(s0, s1, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(at(q, 5) @ at(k, 2), at(q, 5) @ at(k, 3))
    torch.testing.assert_close(at(q, 0), q)  # position 0 is the identity


# -- variants -----------------------------------------------------------------------------------------------


def n_vectors(flags: ScaleFlags, arch: str) -> dict[str, int]:
    """Expected numbers of scale vectors by (kind, side)."""
    if not flags.learnable:
        return {}
    n_in = L * (5 if flags.branch else 2) + 1
    out = {("input", "in"): n_in}
    if arch == "sandwich":
        out[("output", "in")] = 2 * L
    if flags.placement:
        out[("input", "out")] = 5 * L + 1
    return out


def expected_scale_params(flags: ScaleFlags, arch: str) -> int:
    if not flags.learnable:
        return 0
    md = 1 if flags.md else 0
    n_in = (L * (5 if flags.branch else 2) + 1) * (D + md)
    n_out = 2 * L * (D + md) if arch == "sandwich" else 0
    n_place = (L * (3 * (D + md) + 2 * (HID + md)) + V + md) if flags.placement else 0
    return n_in + n_out + n_place


@pytest.mark.parametrize("arch", ["prenorm", "sandwich"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_builds_with_expected_scale_vectors(variant, arch):
    flags = VARIANTS[variant]
    if flags.wd_output and arch == "prenorm":
        with pytest.raises(ValueError, match="sandwich"):
            build(cfg(arch), flags)
        return
    model = build(cfg(arch), flags, init_seed=0)
    vecs = [v for _, v in model.scale_vectors()]
    counts: dict[tuple[str, str], int] = {}
    for v in vecs:
        counts[(v.tag.kind, v.tag.side)] = counts.get((v.tag.kind, v.tag.side), 0) + 1
        assert v.tag.decayed == (flags.wd_input if v.tag.kind == "input" else flags.wd_output)
        assert v.md == flags.md
        assert v().shape == (v.tag.dim,)
        torch.testing.assert_close(v(), torch.ones(v.tag.dim), rtol=0, atol=0)
        if v.tag.side == "out" or (flags.branch and v.tag.kind == "input"):
            assert v.tag.branch in ("q", "k", "v", "gate", "up", "head")
    assert counts == n_vectors(flags, arch)
    tags = model.scale_param_tags()
    assert len(tags) == sum(2 if flags.md else 1 for _ in vecs)
    assert model.param_counts()["n_scale_params"] == expected_scale_params(flags, arch)
    # every norm name is one of the model's norms
    norms = {f"layers.{i}.{n}" for i in range(L) for n in ("attn_in", "mlp_in", "attn_out", "mlp_out")}
    assert {v.tag.norm for v in vecs} <= norms | {"final"}


def test_no_scale_has_no_gamma_parameters():
    model = build(cfg(), VARIANTS["no_scale"], init_seed=0)
    assert model.scale_param_tags() == {}
    assert not any(isinstance(m, ScaleVector) for m in model.modules())
    assert all(p.ndim == 2 for p in model.parameters())


def test_unified_decays_input_scales_only():
    model = build(cfg(), VARIANTS["unified"], init_seed=0)
    for tag in model.scale_param_tags().values():
        assert tag.decayed == (tag.kind == "input")
    kinds = {(t.kind, t.side) for t in model.scale_param_tags().values()}
    assert kinds == {("input", "in"), ("input", "out"), ("output", "in")}


@pytest.mark.parametrize("arch", ["prenorm", "sandwich"])
def test_variants_compute_the_baseline_function_at_init(arch):
    x = tokens(4, seed=5)
    base = build(cfg(arch), VARIANTS["baseline"], init_seed=11)
    with torch.no_grad():
        ref = base(x)
    for name, flags in VARIANTS.items():
        if flags.wd_output and arch == "prenorm":
            continue
        model = build(cfg(arch), flags, init_seed=11)
        for pname, p in model.matrices().items():  # identical matrices in every variant of a seed
            assert torch.equal(p, base.matrices()[pname]), (name, pname)
        with torch.no_grad():
            out = model(x)
        assert torch.equal(out, ref), name


def test_matrices_depend_on_the_seed():
    a = build(cfg(), VARIANTS["baseline"], init_seed=1).matrices()
    b = build(cfg(), VARIANTS["baseline"], init_seed=2).matrices()
    assert not torch.equal(a["layers.0.q.weight"], b["layers.0.q.weight"])
    std = a["layers.0.q.weight"].std().item()
    assert 0.015 < std < 0.025
    assert a["layers.0.o.weight"].std().item() < std / 1.5  # scaled by 1/sqrt(2L)


def test_md_is_magnitude_times_unit_direction():
    tag = Transformer(cfg(), VARIANTS["md"]).final_norm.scales["shared"].tag
    vec = ScaleVector(tag, md=True)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        vec.v.copy_(torch.randn(D, generator=gen))
        vec.g.fill_(0.7)
    expected = 0.7 * math.sqrt(D) * vec.v / torch.linalg.vector_norm(vec.v)
    torch.testing.assert_close(vec(), expected)
    torch.testing.assert_close(torch.linalg.vector_norm(vec()), torch.tensor(0.7 * math.sqrt(D)))


def test_placement_is_diag_out_times_w_times_diag_in():
    model = build(cfg(), VARIANTS["placement"], init_seed=0)
    block = model.layers[0]
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        block.attn_norm.scales["shared"].gamma.copy_(torch.rand(D, generator=gen) + 0.5)
        block.q.out_scale.gamma.copy_(torch.rand(D, generator=gen) + 0.5)
    x = torch.randn(2, 5, D, generator=gen)
    with torch.no_grad():
        got = block.q(block.attn_norm(x)[0])
        g_in, g_out, w = block.attn_norm.scales["shared"].gamma, block.q.out_scale.gamma, block.q.weight
        xhat = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        want = xhat @ (torch.diag(g_out) @ w @ torch.diag(g_in)).T
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_branch_gammas_act_on_their_own_map_only():
    model = build(cfg(), VARIANTS["branch"], init_seed=0)
    norm = model.layers[0].attn_norm
    x = torch.randn(2, 4, D)
    with torch.no_grad():
        norm.scales["k"].gamma.fill_(2.0)
        uq, uk, uv = norm(x)
    torch.testing.assert_close(uk, 2 * uq)
    torch.testing.assert_close(uv, uq)


def test_parameter_counts_and_overhead():
    c = cfg()
    emb = V * D
    per_layer = 4 * D * D + 3 * D * HID
    rep = param_report(c, VARIANTS["baseline"])
    assert rep["n_embedding"] == emb
    assert rep["n_matmul"] == L * per_layer + V * D
    assert rep["n_params"] == 2 * emb + L * per_layer + (4 * L + 1) * D
    assert rep["overhead_params_vs_baseline"] == 0
    assert param_report(c, VARIANTS["no_scale"])["overhead_params_vs_baseline"] == -(4 * L + 1) * D
    assert param_report(c, VARIANTS["md"])["overhead_params_vs_baseline"] == 4 * L + 1  # one g per vector
    assert param_report(c, VARIANTS["branch"])["overhead_params_vs_baseline"] == 3 * L * D
    over = param_report(c, VARIANTS["unified"])
    assert (
        over["overhead_params_vs_baseline"]
        == expected_scale_params(VARIANTS["unified"], "sandwich") - (4 * L + 1) * D
    )
    assert 0 < over["overhead_fraction"] < 0.2
    model = build(c, VARIANTS["baseline"])
    assert model.flop_per_token() == 6 * (L * per_layer + V * D) + 12 * L * D * T


def test_flags_validation_and_lookup():
    with pytest.raises(ValueError, match="learnable"):
        ScaleFlags(learnable=False, md=True)
    with pytest.raises(ValueError, match="arch"):
        ScaleFlags(arch="postnorm")
    with pytest.raises(ValueError, match="unknown variant"):
        get_variant("nope")
    assert resolve_arch(VARIANTS["wd_output"], "sandwich") == "sandwich"
    assert resolve_arch(ScaleFlags(arch="prenorm"), "sandwich") == "prenorm"
    with pytest.raises(ValueError, match="Output-Norm"):
        resolve_arch(VARIANTS["wd_output"], "prenorm")
    assert len(VARIANTS) == 9 and VARIANTS["baseline_aa"] == VARIANTS["baseline"]
    assert VARIANTS["unified"] == ScaleFlags(branch=True, placement=True, md=True, wd_input=True)
