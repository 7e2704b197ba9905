"""Study 002 training: learning, exact resume (in-process and after SIGKILL), divergence, param groups, CLI.

The corpus is the toy Markov chain of ``tests/conftest.py`` (``data_dir``) in the prepared-corpus layout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from scaledyn import config, studies
from scaledyn.llm import NOT_RUN_KEYS, batches, optim, outputs, run_config
from scaledyn.llm import train as tr
from scaledyn.llm.checkpoint import CKPT_NAME
from scaledyn.llm.model import build, init_seed_for
from scaledyn.llm.variants import VARIANTS, stream_of
from scaledyn.seeding import derive_seed
from tests.conftest import (
    MICRO,
    MICRO_PARAMS,
    ROOT,
    VOCAB,
    assert_same_science,
    model_config,
    train_argv,
    train_micro,
)

# -- learning and outputs -----------------------------------------------------------------------------------


def test_a_few_steps_reduce_the_loss_and_write_every_output(tmp_path, data_dir, capsys):
    summary = train_micro(tmp_path, data_dir, "unified")
    err = capsys.readouterr().err
    assert "from scratch" in err and "step 1/40 loss " in err
    assert re.search(r"step 40/40 loss \d+\.\d{4} val \d+\.\d{4} tok/s [\d,]+ eta 0m00s", err)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "gammas.csv",
        "linear_grads.csv",
        "metrics.csv",
        "summary.json",
        "tensor_snr.csv",
    ]
    m = pd.read_csv(out / "metrics.csv")
    assert list(m.columns) == outputs.METRIC_COLUMNS
    assert m["step"].tolist() == [1, 5, 10, 15, 20, 25, 30, 35, 40]
    assert m["val_loss"].notna().tolist() == [s % 10 == 0 for s in m["step"]]
    assert m["train_loss"].iloc[-1] < m["train_loss"].iloc[0] - 1.0
    assert m["val_loss"].dropna().iloc[-1] < np.log(VOCAB) - 1.0
    assert (m["tokens"] == m["step"] * 8 * 16).all()
    g = pd.read_csv(out / "gammas.csv")
    assert set(g["kind"]) == {"input", "output"} and set(g["side"]) == {"in", "out"}
    assert g.loc[g["kind"] == "input", "decayed"].all() and not g.loc[g["kind"] == "output", "decayed"].any()
    lg = pd.read_csv(out / "linear_grads.csv")
    assert set(lg["layer"]) == {
        f"layers.{i}.{m}" for i in range(2) for m in ("attn.q", "attn.k", "attn.v", "mlp.gate", "mlp.up")
    } | {"head"}
    assert (lg["grad_norm"] > 0).all()
    s = json.loads((out / "summary.json").read_text())
    assert s == json.loads(json.dumps(summary))
    for key in (
        "variant size seed arch n_params n_scale_params overhead_params_vs_baseline final_val_loss "
        "min_val_loss diverged diverged_step tokens_per_s mfu flop_per_token wall_s steps device dtype "
        "threads final_val_se final_val_tokens final_eval_s final_val_loss_fixed stream lr_sum weight_decay "
        "gamma_weight_decay decay_timescales gamma_decay_timescales"
    ).split():
        assert key in s, key
    assert s["steps"] == 40 and not s["diverged"] and s["device"] == "cpu" and s["dtype"] == "float32"
    assert s["overhead_params_vs_baseline"] > 0 and s["tokens_per_s"] > 0 and 0 < s["mfu"] < 1
    assert not (tmp_path / "ckpt").exists()  # removed after the outputs were written


@pytest.mark.parametrize(("n", "context"), [(100, 16), (97, 16), (33, 32), (4000, 16)])
def test_whole_split_windows_predict_every_token_once(n, context):
    starts = batches.tile_starts(n, context)
    targets = (starts[:, None] + 1 + torch.arange(context)).flatten()
    assert torch.equal(targets, torch.arange(1, len(targets) + 1))  # consecutive, none twice
    assert int(starts[-1]) + context + 1 <= n and n - 1 - len(targets) < context  # a tail < context left out


@pytest.mark.parametrize(
    ("n_windows", "fraction", "kept"), [(100, 0.5, 50), (100, 0.33, 33), (7, 0.01, 1), (9, 1.0, 9)]
)
def test_a_fraction_of_the_split_keeps_evenly_spread_windows(n_windows, fraction, kept):
    whole = batches.tile_starts(n_windows * 16 + 1, 16)
    part = batches.tile_starts(n_windows * 16 + 1, 16, fraction)
    assert len(whole) == n_windows and len(part) == kept and len(set(part.tolist())) == kept
    assert set(part.tolist()) <= set(whole.tolist()) and int(part[0]) == 0
    if kept > 1:  # spread over the split: first and last window, gaps within one window of each other
        gaps = part.diff() // 16
        assert int(part[-1]) == int(whole[-1]) and int(gaps.max() - gaps.min()) <= 1


def test_final_loss_is_the_whole_split_with_its_standard_error(tmp_path, data_dir):
    params = {
        **MICRO_PARAMS,
        "sizes": {"micro": {**MICRO, "steps": 3}},
        "keep_checkpoint": True,
        "eval_batches": 1,
        "final_eval_fraction": 1,  # every window of the split
    }
    s = train_micro(tmp_path, data_dir, "md", params=params)
    _, val, _ = batches.load_corpus(data_dir)
    assert s["final_val_tokens"] == (len(val) - 1) // 16 * 16 == 3984
    # the trained model from its checkpoint, the model's own mean cross-entropy window by window
    section = config.section("llm", params)
    r = run_config.build(
        section, "md", "micro", 0, 7, arch="sandwich", vocab_size=VOCAB, device=torch.device("cpu")
    )
    model = build(r.model, r.flags)
    model.load_state_dict(torch.load(tmp_path / "ckpt" / CKPT_NAME, weights_only=True)["model"])
    xy = batches.window_batch(val, batches.tile_starts(len(val), 16), 16)
    with torch.no_grad():
        per_window = torch.stack([model(w[None, :-1], w[None, 1:]) for w in xy]).double()
    assert s["final_val_loss"] == pytest.approx(per_window.mean().item(), rel=1e-6)
    assert s["final_val_se"] == pytest.approx((per_window.std() / np.sqrt(len(xy))).item(), rel=1e-5)
    assert s["final_val_loss_fixed"] != s["final_val_loss"] and s["final_eval_s"] > 0
    m = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert m["val_loss"].iloc[-1] == pytest.approx(s["final_val_loss_fixed"])  # the curve keeps fixed windows


def test_all_variants_share_batches_and_val_windows():
    a = batches.batch_starts(10000, 16, 8, batches.batch_keys(1, "micro", 0, 5))
    b = batches.batch_starts(10000, 16, 8, batches.batch_keys(1, "micro", 0, 5))
    c = batches.batch_starts(10000, 16, 8, batches.batch_keys(1, "micro", 1, 5))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert int(a.max()) <= 10000 - 17
    assert torch.equal(batches.val_starts(5000, 16, 20, 3), batches.val_starts(5000, 16, 20, 3))


def test_the_aa_arm_is_baseline_on_another_seed_stream(tmp_path, data_dir):
    """baseline_aa: baseline's flags, other init and batches; every other variant keeps the shared stream."""
    assert VARIANTS["baseline_aa"] == VARIANTS["baseline"] and stream_of("baseline_aa") == ("aa",)
    assert {stream_of(v) for v in VARIANTS if v != "baseline_aa"} == {()}
    assert batches.batch_keys(1, "micro", 0, 5) == (1, "llm", "micro", 0, "batch", 5)  # the shared stream
    shared = batches.batch_starts(10000, 16, 8, batches.batch_keys(1, "micro", 0, 5))
    other = batches.batch_starts(10000, 16, 8, batches.batch_keys(1, "micro", 0, 5, ("aa",)))
    assert not torch.equal(shared, other)
    assert init_seed_for(1, "micro", 0) == derive_seed(1, "llm", "micro", 0, "init")
    assert init_seed_for(1, "micro", 0, ("aa",)) != init_seed_for(1, "micro", 0)
    params = {**MICRO_PARAMS, "sizes": {"micro": {**MICRO, "steps": 2}}, "eval_batches": 1}
    base, aa = (train_micro(tmp_path / v, data_dir, v, params=params) for v in ("baseline", "baseline_aa"))
    assert aa["flags"] == base["flags"] and aa["n_params"] == base["n_params"]
    assert (aa["stream"], base["stream"]) == (["aa"], [])
    assert aa["final_train_loss"] != base["final_train_loss"]


# -- resume -------------------------------------------------------------------------------------------------


def test_stopped_run_resumes_to_identical_results(tmp_path, data_dir):
    train_micro(tmp_path / "full", data_dir, "md")
    partial = train_micro(tmp_path / "part", data_dir, "md", stop_after=17)  # checkpoint at 10, killed at 17
    assert partial == {"stopped_early": True, "step": 17}
    assert not (tmp_path / "part" / "out").exists()
    assert (tmp_path / "part" / "ckpt" / CKPT_NAME).exists()
    again = train_micro(tmp_path / "part", data_dir, "md", stop_after=15)  # resumes at 10, checkpoint at 20
    assert again["step"] == 25
    summary = train_micro(tmp_path / "part", data_dir, "md")
    assert summary["resumed_at"] == [10, 20]
    assert_same_science(tmp_path / "full" / "out", tmp_path / "part" / "out")


def test_checkpoint_of_another_configuration_is_ignored(tmp_path, data_dir):
    train_micro(tmp_path, data_dir, "baseline", stop_after=10)
    other = {**MICRO_PARAMS, "optim": {"lr": 5e-3}}
    summary = train_micro(tmp_path, data_dir, "baseline", params=other)
    assert summary["resumed_at"] == [] and summary["steps"] == 40


def test_sigkilled_cli_resumes_to_identical_results(tmp_path, data_dir):
    params = {**MICRO_PARAMS, "sizes": {"micro": {**MICRO, "steps": 300}}, "log_every": 20, "eval_every": 50}
    train_micro(tmp_path / "full", data_dir, params=params)
    cmd = [sys.executable, "-m", "scaledyn.llm", "train", *train_argv(data_dir, tmp_path, params=params)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ckpt = tmp_path / "ckpt" / CKPT_NAME
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert ckpt.exists() and not (tmp_path / "out" / "summary.json").exists()
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < killed_at < 300
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming at step {killed_at}" in done.stderr
    assert_same_science(tmp_path / "full" / "out", tmp_path / "out")
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["resumed_at"] == [killed_at]


# -- divergence ---------------------------------------------------------------------------------------------


def test_divergence_is_recorded_and_outputs_written(tmp_path, data_dir, capsys):
    params = {**MICRO_PARAMS, "optim": {"lr": 1e12}, "schedule": {"warmup_frac": 0.0}}
    assert tr.main(train_argv(data_dir, tmp_path, params=params, global_seed=0)) == 0
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["diverged"] and 1 < s["diverged_step"] <= 40 and "non-finite" in s["diverged_reason"]
    assert s["steps"] == s["diverged_step"] and s["final_val_loss"] is None
    m = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert m["step"].iloc[-1] == s["diverged_step"]
    for name in ("gammas.csv", "linear_grads.csv"):
        assert (tmp_path / "out" / name).exists()
    assert "diverged" in capsys.readouterr().err


# -- optimiser ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_param_groups_decay_only_where_the_variant_says(variant):
    cfg = model_config("sandwich", VOCAB, n_layers=2, d_model=32, n_heads=2, context=16)
    model = build(cfg, VARIANTS[variant], init_seed=0)
    fixed = {"decay_timescales": None, "weight_decay": 0.1, "gamma_weight_decay": 0.05}
    section = config.section("llm", {"optim": fixed})
    cpu = torch.device("cpu")
    run = run_config.build(section, variant, "tiny", 0, 0, arch="sandwich", vocab_size=VOCAB, device=cpu)
    groups = optim.param_groups(model, run.optim.weight_decay, run.optim.gamma_weight_decay)
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert len(decay_of) == len(list(model.parameters()))  # every parameter in exactly one group
    tags = model.scale_param_tags()
    flags = VARIANTS[variant]
    for name, p in model.named_parameters():
        if name in tags:
            want = 0.05 if (flags.wd_input if tags[name].kind == "input" else flags.wd_output) else 0.0
            assert tags[name].decayed == (want > 0)
        elif name == "embed.weight":
            want = 0.0
        else:
            want = 0.1
        assert decay_of[id(p)] == want, name
    names = {g["name"] for g in groups}
    assert ("scales_decayed" in names) == (flags.wd_input or flags.wd_output)
    opt = optim.make_optimizer(model, run.optim)
    assert [g["weight_decay"] for g in opt.param_groups] == [g["weight_decay"] for g in groups]


def test_too_few_steps_for_the_decay_timescales_is_an_input_error():
    section = config.section("llm", {"sizes": {"micro": {**MICRO, "steps": 2}}})  # default: 3 timescales
    with pytest.raises(run_config.InputError, match="decay_timescales 3 over the 2 steps"):
        run_config.build(
            section, "baseline", "micro", 0, 0, arch="prenorm", vocab_size=VOCAB, device=torch.device("cpu")
        )


@pytest.mark.parametrize("timescales", [1.0, 3.0])
def test_decay_timescales_set_lambda_from_the_schedule(timescales):
    """lambda = timescales / sum_t lr_t; a tensor with no gradient then shrinks by ~exp(-timescales)."""
    flat = {"warmup_frac": 0.0, "min_lr_ratio": 1.0}  # constant lr: sum_t lr_t = lr * steps
    sec = config.section("llm", {"schedule": flat, "optim": {"decay_timescales": timescales}})
    r = run_config.build(
        sec, "wd_input", "tiny", 0, 0, arch="sandwich", vocab_size=VOCAB, device=torch.device("cpu")
    )
    assert r.optim.lr_sum == pytest.approx(r.optim.lr * 350)
    lam = timescales / (r.optim.lr * 350)
    assert r.optim.weight_decay == r.optim.gamma_weight_decay == pytest.approx(lam)
    # the default cosine schedule: a parameter without gradient under the run's AdamW and LambdaLR
    r = run_config.build(
        config.section("llm", {"optim": {"decay_timescales": timescales}}), "wd_input", "tiny", 0, 0,
        arch="sandwich", vocab_size=VOCAB, device=torch.device("cpu"),
    )  # fmt: skip
    p = torch.nn.Parameter(torch.ones(4))
    opt = torch.optim.AdamW([p], lr=r.optim.lr, weight_decay=r.optim.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, r.schedule)
    for _ in range(r.steps):
        p.grad = torch.zeros(4)
        opt.step()
        sched.step()
    assert p.detach()[0].item() == pytest.approx(
        np.exp(-timescales), rel=0.02
    )  # prod (1 - lr_t lambda) ~ exp(-3)
    fixed = config.section("llm", {"optim": {"decay_timescales": None, "weight_decay": 0.2}})
    r = run_config.build(
        fixed, "wd_input", "tiny", 0, 0, arch="sandwich", vocab_size=VOCAB, device=torch.device("cpu")
    )
    assert (r.optim.weight_decay, r.optim.gamma_weight_decay) == (0.2, 0.2)


def test_schedules():
    cos = optim.LRSchedule("cosine", steps=100, warmup=10, min_ratio=0.1, decay=0)
    assert cos(0) == pytest.approx(0.1) and cos(9) == pytest.approx(1.0) and cos(10) == pytest.approx(1.0)
    assert cos(99) == pytest.approx(0.1) and cos(55) == pytest.approx(0.55, abs=0.02)
    wsd = optim.LRSchedule("wsd", steps=100, warmup=10, min_ratio=0.0, decay=20)
    assert (
        wsd(50) == 1.0 and wsd(79) == 1.0 and wsd(80) == pytest.approx(0.95) and wsd(99) == pytest.approx(0.0)
    )
    assert (
        optim.make_schedule(config.section("llm", {"schedule": {"kind": "wsd"}})["schedule"], 1000).decay
        == 200
    )


def test_a_partial_section_gets_the_schema_defaults(tmp_path, data_dir):
    no_steps = {k: v for k, v in MICRO.items() if k != "steps"}
    with pytest.raises(config.ConfigError, match="llm.sizes.micro.*set steps or token_budget"):
        studies.section("llm", {"sizes": {"micro": no_steps}})
    size = {k: v for k, v in no_steps.items() if k != "mlp_multiple"}  # schema default 64
    section = config.section("llm", {"sizes": {"micro": {**size, "token_budget": 5e3}}})
    r = run_config.build(
        section, "md", "micro", 0, 7, arch="sandwich", vocab_size=VOCAB, device=torch.device("cpu")
    )
    assert r.steps == 5000 // (8 * 16) and r.micro_batch_size == 8 and r.schedule.warmup == 2
    assert r.optim.lr == section["optim"]["lr"] and r.optim.impl == "fused"
    assert (
        r.optim.weight_decay * r.optim.lr_sum
        == r.optim.gamma_weight_decay * r.optim.lr_sum
        == pytest.approx(3)
    )
    assert r.model.vocab_size == 64 and r.model.arch == "sandwich" and r.model.hidden == 128
    assert (r.eval_every, r.eval_batches, r.log_every, r.ckpt_every) == (50, 8, 10, 50)
    assert r.peak_flops == 7.8e10 and r.diverge_loss is None and not r.compile and r.threads == 1
    assert set(r.params) == set(section) - set(NOT_RUN_KEYS) | {"size"}
    assert r.params["size"]["mlp_multiple"] == 64 and r.params["size"]["lr"] is None
    default = config.section("llm")
    assert run_config.total_steps(default["sizes"]["gpt124m"]) == 4768
    # train() completes a partial section the same way: summary.json's params are the filled ones
    partial = {
        "sizes": {"micro": {**MICRO, "steps": 2}},
        "eval_batches": 1,
        "optim": {"decay_timescales": 0.5},
    }
    s = train_micro(tmp_path, data_dir, params=partial)
    assert s["params"] == run_config.run_params(config.section("llm", partial), "micro")
    assert s["params"]["optim"]["beta2"] == 0.95 and s["optimizer_impl"] == "fused" and s["steps"] == 2


# -- CLI errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"variant": "nope"}, "unknown variant 'nope'"),
        ({"size": "huge"}, "unknown size 'huge'"),
        ({"data": "/nonexistent/corpus"}, "does not exist"),
        ({"arch": "prenorm", "variant": "wd_output"}, "needs arch 'sandwich'"),
        ({"arch": "postnorm"}, "unknown arch 'postnorm'"),
        ({"params": '{"arch": "prenorm"}'}, "'arch' was unexpected"),
        ({"params": '{"optim": {"nope": 1}}'}, "Invalid config at 'llm.optim'"),
        ({"params": '{"sizes": {"tiny": {"n_heads": 3}}}'}, "must be a multiple of n_heads"),
        ({"params": "{not json"}, "cannot read the llm section"),
        ({"params": "/nonexistent/params.yaml"}, "cannot read the llm section"),
        ({"device": "tpu"}, "Invalid config at 'llm.device'"),
        ({"threads": "0"}, "Invalid config at 'llm.threads'"),
        ({"data": str(ROOT / "tests")}, "cannot load the corpus"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path, data_dir, capsys, change, message):
    options = {"size": "tiny", "global_seed": 0, "params": None, "threads": None, **change}
    assert tr.main(train_argv(data_dir, tmp_path, **options)) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_cli_cuda_requested_without_a_gpu_exits_2(tmp_path, data_dir, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = train_argv(data_dir, tmp_path, arch="prenorm", global_seed=0, device="cuda", threads=None)
    assert tr.main(argv) == 2
    assert capsys.readouterr().err == "Error: device cuda requested but torch.cuda.is_available() is False\n"


def test_cli_subprocess_error_has_no_traceback(tmp_path):
    defaults = {"params": None, "device": None, "threads": None}
    argv = train_argv(tmp_path / "missing", tmp_path, arch="prenorm", size="tiny", global_seed=0, **defaults)
    proc = subprocess.run(
        [sys.executable, "-m", "scaledyn.llm", "train", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: data directory") and "Traceback" not in proc.stderr
