"""Study 002 batched training: each seed's slice is the run trained alone; divergence and resume per job.

The reference is :func:`scaledyn.llm.train.train` itself (``log_every: 1`` makes every step a logged row,
``keep_checkpoint`` keeps its final model). Tolerance: losses, gradient norms and validation losses to
``rtol 1e-5, atol 1e-6``; final parameters to float32 ``assert_close`` defaults (``rtol 1.3e-6, atol 1e-5``).
Measured: losses differ by at most 5e-7 (vmap's cross-entropy reduces in another order), parameters and
gradient norms were bit-equal.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scaledyn import config
from scaledyn.llm import batched, run_config
from scaledyn.llm import train as tr
from scaledyn.llm.model import build, init_seed_for
from tests.test_llm_train import VOCAB, data_dir  # noqa: F401  (the toy corpus fixture)

SIZE = {"n_layers": 2, "d_model": 32, "n_heads": 2, "context": 16, "batch_size": 8, "micro_batch_size": 4}
PARAMS = {
    "sizes": {"micro": {**SIZE, "mlp_multiple": 32, "steps": 8}},
    "optim": {"lr": 1e-2, "grad_clip": 1.71},  # between seed 0's (1.722) and seed 1's (1.698) step-1 norm
    "log_every": 1,
    "eval_every": 4,
    "eval_batches": 2,
    "ckpt_every": 0,
    "keep_checkpoint": True,
    "device": "cpu",
    "threads": 1,
}
ARCH = "sandwich"  # the architecture the clip threshold below was set in (both run every variant tested)
SEEDS, GLOBAL_SEED = [0, 1], 7
CLOSE = {"rtol": 1e-5, "atol": 1e-6}


def alone(tmp: Path, data: Path, variant: str, seed: int, params: dict) -> dict:
    """The single run of ``seed``: its per-step metrics rows, summary and final model state."""
    summary = tr.train(
        params, variant, "micro", seed, GLOBAL_SEED, data, tmp / "out", tmp / "ckpt", arch=ARCH
    )
    state = torch.load(tmp / "ckpt" / "state.pt", weights_only=True) if not summary["diverged"] else None
    rows = state["logs"]["metrics"] if state else None
    return {"summary": summary, "rows": rows, "model": state["model"] if state else None}


def init_state(params: dict, variant: str, seed: int) -> dict:
    run = run_config.build(
        config.section("llm", params),
        variant,
        "micro",
        seed,
        GLOBAL_SEED,
        arch=ARCH,
        vocab_size=VOCAB,
        device=torch.device("cpu"),
    )
    return build(run.model, run.flags, init_seed_for(GLOBAL_SEED, "micro", seed)).state_dict()


@pytest.mark.parametrize("variant", ["baseline", "unified"])
def test_each_slice_equals_the_run_trained_alone(tmp_path, data_dir, variant):  # noqa: F811  (the fixture imported above)
    got = batched.train_batched(PARAMS, variant, "micro", SEEDS, GLOBAL_SEED, data_dir, arch=ARCH)
    assert got["step"] == 8 and len(got["lr"]) == 8
    norms = [run["grad_norms"][0] for run in got["runs"]]
    assert norms[0] > PARAMS["optim"]["grad_clip"] > norms[1]  # step 1: seed 0 clipped, seed 1 not
    for seed, run in zip(SEEDS, got["runs"], strict=True):
        ref = alone(tmp_path / f"s{seed}", data_dir, variant, seed, PARAMS)
        rows = ref["rows"]
        assert run["seed"] == seed and run["diverged"] is None
        torch.testing.assert_close(run["losses"], [r["train_loss"] for r in rows], **CLOSE)
        torch.testing.assert_close(run["grad_norms"], [r["grad_norm"] for r in rows], **CLOSE)
        assert got["lr"] == [r["lr"] for r in rows]
        want_val = [(r["step"], r["val_loss"]) for r in rows if r["val_loss"] is not None]
        assert [s for s, _ in run["val"]] == [s for s, _ in want_val] == [4, 8]
        torch.testing.assert_close([v for _, v in run["val"]], [v for _, v in want_val], **CLOSE)
        assert run["state"].keys() == ref["model"].keys()
        for name, p in ref["model"].items():
            torch.testing.assert_close(run["state"][name], p, msg=name)
    # the seeds really differ (a test of slices that were all the same model could not fail)
    assert got["runs"][0]["losses"] != got["runs"][1]["losses"]


def test_per_seed_clip_is_clip_grad_norm_of_the_slice():
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 4, 5), (3, 5), (3,)]
    grads = [
        torch.randn(s, generator=gen) * torch.tensor([0.01, 1.0, 10.0]).view(-1, *[1] * (len(s) - 1))
        for s in shapes
    ]
    want = []
    for s in range(3):
        ps = [torch.nn.Parameter(torch.zeros(g.shape[1:])) for g in grads]
        for p, g in zip(ps, grads, strict=True):
            p.grad = g[s].clone()
        norm = torch.nn.utils.clip_grad_norm_(ps, 1.0)
        want.append((norm, [p.grad for p in ps]))
    norms = batched.clip_per_seed_(grads, 1.0)
    for s, (norm, clipped) in enumerate(want):
        torch.testing.assert_close(norms[s], norm)
        for g, c in zip(grads, clipped, strict=True):
            torch.testing.assert_close(g[s], c)
    assert norms[0] < 1.0 < norms[1]  # one slice left as it is, the others scaled down


def test_a_diverging_seed_stops_alone(tmp_path, data_dir):  # noqa: F811  (the fixture imported above)
    """``diverge_loss`` between the seeds' step-1 losses: the higher diverges there, the other trains on."""
    first = batched.train_batched(PARAMS, "baseline", "micro", SEEDS, GLOBAL_SEED, data_dir, arch=ARCH)
    l0, l1 = (run["losses"][0] for run in first["runs"])  # step 1: before any update
    bad = 0 if l0 > l1 else 1
    params = {**PARAMS, "diverge_loss": (l0 + l1) / 2}
    got = batched.train_batched(params, "baseline", "micro", SEEDS, GLOBAL_SEED, data_dir, arch=ARCH)
    div, ok = got["runs"][bad], got["runs"][1 - bad]
    assert div["diverged"]["step"] == 1 and "above diverge_loss" in div["diverged"]["reason"]
    assert len(div["losses"]) == 1 and ok["diverged"] is None and len(ok["losses"]) == 8
    ref = alone(tmp_path / "bad", data_dir, "baseline", SEEDS[bad], params)["summary"]
    assert ref["diverged"] and ref["diverged_step"] == 1
    init = init_state(params, "baseline", SEEDS[bad])
    assert div["state"].keys() == init.keys()
    for name, p in init.items():  # frozen before the update it did not get: its initial weights
        assert torch.equal(div["state"][name], p), name


def test_a_killed_job_resumes_to_the_same_numbers(tmp_path, data_dir):  # noqa: F811  (the fixture imported above)
    params = {**PARAMS, "ckpt_every": 2}
    whole = batched.train_batched(params, "unified", "micro", SEEDS, GLOBAL_SEED, data_dir, arch=ARCH)
    ckpt = tmp_path / "ckpt"
    stopped = batched.train_batched(
        params, "unified", "micro", SEEDS, GLOBAL_SEED, data_dir, arch=ARCH, ckpt_dir=ckpt, stop_after=3
    )
    assert stopped == {"stopped_early": True, "step": 3}
    resumed = batched.train_batched(
        params, "unified", "micro", SEEDS, GLOBAL_SEED, data_dir, arch=ARCH, ckpt_dir=ckpt
    )
    assert resumed["resumed"] == [2] and resumed["lr"] == whole["lr"]
    for a, b in zip(whole["runs"], resumed["runs"], strict=True):
        assert a["losses"] == b["losses"] and a["grad_norms"] == b["grad_norms"] and a["val"] == b["val"]
        for name, p in a["state"].items():
            assert torch.equal(p, b["state"][name]), name
    # another seed list is another job: its checkpoint is not resumed
    other = batched.train_batched(
        params, "unified", "micro", [1, 0], GLOBAL_SEED, data_dir, arch=ARCH, ckpt_dir=ckpt, steps=8
    )
    assert other["resumed"] == []
    torch.testing.assert_close(other["runs"][0]["losses"], whole["runs"][1]["losses"], **CLOSE)


def test_a_slice_of_the_stack_is_its_model_with_its_gradient():
    params = config.section("llm", PARAMS)
    run = run_config.build(
        params, "unified", "micro", 0, GLOBAL_SEED, arch=ARCH, vocab_size=VOCAB, device=torch.device("cpu")
    )
    models = [build(run.model, run.flags, init_seed_for(GLOBAL_SEED, "micro", s)) for s in (0, 1, 2)]
    stack = batched.SeedStack(models)
    xy = torch.randint(0, VOCAB, (3, 4, 17), generator=torch.Generator().manual_seed(0))
    stack.loss(xy[..., :-1], xy[..., 1:]).sum().backward()
    for s, model in enumerate(models):
        model(xy[s, :, :-1], xy[s, :, 1:]).backward()
        got = batched.seed_model(stack, s, grads=True)
        for (name, p), (_, q) in zip(model.named_parameters(), got.named_parameters(), strict=True):
            assert torch.equal(p, q), name
            torch.testing.assert_close(q.grad, p.grad, msg=name)
