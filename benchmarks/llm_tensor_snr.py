"""Benchmark of the per-tensor SNR measurement of study ``llm`` (``scaledyn.llm.tensor_snr``): its cost per
evaluation against a training step, and per-draw gradients by a loop against one ``torch.func.vmap`` call.

    python benchmarks/llm_tensor_snr.py [--variants baseline unified] [--rounds 3] [--draws K]
        [--sequences S] [--out-dir benchmarks/results]

CPU, one thread, float32, the ``tiny`` size of the default ``llm`` params, random tokens (the cost does not
depend on them), one process. Per variant, after 3 training steps (so AdamW has state), ``--rounds``
interleaved rounds of: 4 training steps (forward, backward, clip, AdamW step on the full batch), one
``Meter.rows`` (the measurement as training runs it: K draws by ``torch.autograd.grad`` in a loop, then the
estimators), and one ``vmap(grad(functional_call))`` over the same K draws (gradients only; its first call
in the process is reported apart: a one-off set-up). Medians over rounds. The projection: evaluations of
the default run (every ``eval_every`` steps and the last) times the seconds per evaluation, over the run's
steps times the seconds per step. The machine may be shared: the load average at start and end is recorded.
Results are printed and written to ``--out-dir/llm_tensor_snr.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scaledyn import config  # noqa: E402
from scaledyn.llm import batches, run_config, tensor_snr  # noqa: E402
from scaledyn.llm.device import setup_device  # noqa: E402
from scaledyn.llm.model import build  # noqa: E402
from scaledyn.llm.optim import make_optimizer  # noqa: E402
from scaledyn.llm.step import forward_backward  # noqa: E402


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(variant: str, rounds: int, draws: int | None, sequences: int | None) -> dict:
    section = config.section(
        "llm", {"tensor_snr": {k: v for k, v in (("draws", draws), ("sequences", sequences)) if v}}
    )
    dev = torch.device("cpu")
    run = run_config.build(section, variant, "tiny", 0, 0, arch="prenorm", vocab_size=256, device=dev)
    setup_device(dev, 1)
    model = build(run.model, run.flags, init_seed=0)
    opt = make_optimizer(model, run.optim)
    tokens = np.random.default_rng(0).integers(0, 256, 200_000).astype(np.uint16)
    windows = partial(batches.draw_windows, tokens, run.model.context)
    meter = tensor_snr.meter(section, run, model, opt, windows)
    k, s = meter.draws, meter.sequences

    def step(i: int) -> None:
        forward_backward(model, batches.train_batch(run, tokens, i), run)
        torch.nn.utils.clip_grad_norm_(model.parameters(), run.optim.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)

    params = {n: p.detach() for n, p in model.named_parameters()}
    per_draw = vmap(grad(lambda p, b: functional_call(model, p, (b[:, :-1], b[:, 1:]))), in_dims=(None, 0))
    xy = torch.from_numpy(tokens[: k * s * (run.model.context + 1)].astype(np.int64))
    xy = xy.view(k, s, run.model.context + 1)
    for i in range(3):
        step(i)
    with warnings.catch_warnings():  # vmap warns that SDPA has no batching rule (it loops over draws)
        warnings.simplefilter("ignore", UserWarning)
        vmap_first = timed(lambda: per_draw(params, xy))
        steps, rows, vmaps = [], [], []
        for r in range(rounds):
            steps.append(timed(lambda r=r: [step(10 + 4 * r + i) for i in range(4)]) / 4)
            rows.append(timed(lambda r=r: meter.rows(100 + r)))
            vmaps.append(timed(lambda: per_draw(params, xy)))
    s_step, s_eval = statistics.median(steps), statistics.median(rows)
    n_steps, every = run.steps, run.eval_every
    n_evals = n_steps // every + (n_steps % every != 0)
    return {
        "variant": variant,
        "draws": k,
        "sequences": s,
        "s_per_step": s_step,
        "s_per_eval": s_eval,
        "eval_in_steps": s_eval / s_step,
        "vmap_s_per_eval_gradients_only": statistics.median(vmaps),
        "vmap_first_call_s": vmap_first,
        "run_steps": n_steps,
        "run_evals": n_evals,
        "projected_overhead": n_evals * s_eval / (n_steps * s_step),
        "projected_extra_s": n_evals * s_eval,
        "rounds": rounds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=["baseline", "unified"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--draws", type=int, default=None, help="K (default: the schema's)")
    parser.add_argument("--sequences", type=int, default=None, help="S (default: the schema's)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    load_start = os.getloadavg()
    results = [measure(v, args.rounds, args.draws, args.sequences) for v in args.variants]
    out = {"results": results, "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "threads": 1}
    for r in results:
        print(
            f"{r['variant']:9s} K={r['draws']} S={r['sequences']}: {r['s_per_eval']:.2f} s per evaluation "
            f"= {r['eval_in_steps']:.1f} training steps ({r['s_per_step']:.3f} s); vmap gradients "
            f"{r['vmap_s_per_eval_gradients_only']:.2f} s (first call {r['vmap_first_call_s']:.2f} s); "
            f"{r['run_evals']} evaluations of a {r['run_steps']}-step run: +{r['projected_extra_s']:.1f} s "
            f"({100 * r['projected_overhead']:.1f}%)"
        )
    print(f"load average {out['loadavg_start']} -> {out['loadavg_end']}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "llm_tensor_snr.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
