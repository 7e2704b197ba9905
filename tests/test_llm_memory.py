"""The memory of a training step on paper (:mod:`scaledyn.llm.memory`) against what a CPU forward saves."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from scaledyn.llm import memory
from scaledyn.llm.model import ModelConfig, build
from scaledyn.llm.variants import VARIANTS
from tests.conftest import model_config

ROOT = Path(__file__).resolve().parents[1]

SHAPES = [  # (layers, width, heads, context, windows): reduced sizes, each axis of the formula varied
    (2, 64, 4, 32, 3),
    (3, 96, 6, 48, 2),
    (2, 64, 8, 64, 5),
]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def shape(layers: int, d: int, heads: int, context: int, arch: str = "prenorm") -> ModelConfig:
    return model_config(arch, n_layers=layers, d_model=d, n_heads=heads, context=context)


@pytest.mark.parametrize(("layers", "d", "heads", "context", "windows"), SHAPES)
def test_closed_form_is_the_counted_and_the_real_forwards_saved_bytes(layers, d, heads, context, windows):
    """Pre-Norm baseline in bf16: the closed form = the fake-tensor count = what a real CPU forward saves."""
    cfg = shape(layers, d, heads, context)
    xy = torch.randint(0, 256, (windows, context + 1), generator=torch.Generator().manual_seed(0))
    real = memory.saved_bytes(build(cfg, VARIANTS["baseline"], init_seed=0), xy)
    assert memory.closed_form_activation_bytes(cfg, windows) == memory.activation_bytes(
        cfg, VARIANTS["baseline"], windows
    ) == real  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "arch"), [("unified", "prenorm"), ("md", "prenorm"), ("wd_output", "sandwich")]
)
def test_every_variant_is_counted_as_its_real_forward_saves(variant, arch):
    cfg = shape(2, 64, 4, 32, arch)
    xy = torch.randint(0, 256, (3, 33), generator=torch.Generator().manual_seed(0))
    flags = VARIANTS[variant]
    real = memory.saved_bytes(build(cfg, flags, init_seed=0), xy)
    assert memory.activation_bytes(cfg, flags, 3) == real
    assert real > memory.closed_form_activation_bytes(cfg, 3)  # extra vectors save extra products


def test_plan_is_affine_in_the_micro_batch_and_its_largest_micro_batch_fits():
    cfg, flags = shape(2, 64, 4, 32), VARIANTS["baseline"]
    p = memory.plan(cfg, flags, 4, capacity_bytes=50e6)
    assert p["activation_bytes"] == memory.activation_bytes(cfg, flags, 4)
    assert (
        p["state_bytes"] == 16 * p["n_params"]
        and p["total_bytes"] == p["state_bytes"] + p["activation_bytes"]
    )
    fits = memory.plan(cfg, flags, p["max_micro_batch"], 50e6)["total_bytes"]
    over = memory.plan(cfg, flags, p["max_micro_batch"] + 1, 50e6)["total_bytes"]
    assert fits <= 50e6 < over


def test_gpu_configs_computed_block_is_the_plans_output():
    """config/gpu.yaml's memory and time comments are benchmarks/gpu_plan.py's output, never typed."""
    spec = importlib.util.spec_from_file_location("gpu_plan", ROOT / "benchmarks" / "gpu_plan.py")
    gpu_plan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_plan)
    args = gpu_plan.parser().parse_args([])
    plan = gpu_plan.plan_of(args)
    text = (ROOT / "config" / "gpu.yaml").read_text()
    assert gpu_plan.comment_block(plan) in text, "run: python benchmarks/gpu_plan.py --write-config"
    for arm in plan["arms"]:  # every configured micro-batch fits the GPU with the reserve
        assert 0 < arm["micro_batch_size"] <= arm["max_micro_batch"], arm
