"""Benchmark of study 000's default sweep: wall time, peak memory, and the speed-up over a per-run loop.

    python benchmarks/gsnr.py [--config config/config.yaml] [--workers 2] [--loop-seeds 1]

1. The batched sweep as the DAG runs it: one process per (noise model, optimiser) job, ``--workers`` at a
   time, one torch thread each (wall time of the whole sweep, peak RSS of the largest job).
2. Per shape, the batched job against the reference: a plain Python loop that runs every run of the job
   (main runs, noise-free and zero-target controls) one at a time with its own tensor and optimiser, the
   same math. The loop runs ``--loop-seeds`` seeds of the job and is extrapolated linearly to all seeds
   (the runs are independent and identical in cost); the output says so.
Targets on the 2-vCPU machine: the sweep in at most 60 s; the batched job at least 20x faster than the
loop for the vector and scalar shapes.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scaledyn import studies  # noqa: E402
from scaledyn.gsnr import simulate  # noqa: E402
from scaledyn.seeding import generator  # noqa: E402


def load_params(path: Path) -> tuple[dict, int]:
    """The gsnr section and global seed of a config file, with the schema's defaults filled in."""
    cfg = studies.load(yaml.safe_load(path.read_text()) or {})
    return cfg["gsnr"], cfg["seed"]


def run_job(args: tuple[dict, str, str, int]) -> tuple[str, str, float, float]:
    params, noise, opt, seed = args
    torch.set_num_threads(1)
    start = time.perf_counter()
    for shape in params["shapes"]:
        simulate.simulate(params, shape, noise, opt, seed)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return noise, opt, time.perf_counter() - start, peak_mb


def loop_job(params: dict, shape: str, noise: str, opt: str, global_seed: int, seeds: list[int]) -> float:
    """Reference: each run alone, one small tensor and one optimiser per run, a Python loop over runs."""
    dims = tuple(params["shape_dims"][shape])
    n = math.prod(dims)
    sigmas = simulate.sigma_grid(params["sigma"][noise])
    c, steps, batch = params["target_factor"], params["steps"], params["minibatch_size"]
    start = time.perf_counter()
    for s in seeds:
        theta0 = simulate.make_theta0(dims, simulate.init_scale(dims, params["init"]), generator(0, s))
        runs = [(0.0, c, True)] + [(sig, c, False) for sig in sigmas] + [(sig, 0.0, False) for sig in sigmas]
        for sigma, factor, exact in runs:
            gen = generator(global_seed, "loop", shape, noise, s, sigma, factor)
            theta = theta0.clone()
            optim = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[opt](
                [theta], lr=params["lr"], weight_decay=params["weight_decay"]
            )
            target = factor * theta0
            with torch.no_grad():
                for _ in range(steps):
                    grad = theta - target
                    if not exact and noise == "minibatch":
                        x = torch.randn(batch, dims[1], generator=gen)
                        eps = torch.randn(batch, dims[0], generator=gen)
                        grad = (grad @ x.T - sigma * eps.T) @ x / batch
                    elif not exact:
                        scale = sigma if noise == "entry" else sigma / math.sqrt(n)
                        grad = grad + scale * torch.randn(dims, generator=gen)
                    theta.grad = grad
                    optim.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config/config.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--loop-seeds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/gsnr.json")
    args = parser.parse_args()
    params, seed = load_params(args.config)
    jobs = [(params, noise, opt, seed) for noise in params["noise_models"] for opt in params["optimizers"]]

    print(
        f"machine: {platform.platform()}, {torch.get_num_threads()} cores visible, torch {torch.__version__}"
    )
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_job, jobs))
    sweep_wall = time.perf_counter() - start
    print(f"\n1. default sweep, {len(jobs)} jobs on {args.workers} workers x 1 thread")
    for noise, opt, wall, peak in results:
        print(f"   {noise:9s} {opt:5s}  {wall:6.1f} s   peak RSS {peak:6.0f} MB")
    peak_all = max(r[3] for r in results)
    print(f"   sweep wall time {sweep_wall:.1f} s (target <= 60 s); largest job peak RSS {peak_all:.0f} MB")

    torch.set_num_threads(1)
    print(
        f"\n2. batched job vs per-run loop "
        f"(loop over {args.loop_seeds} of {params['seeds']} seeds, extrapolated)"
    )
    ratios = []
    for shape in params["shapes"]:
        for noise in params["noise_models"]:
            for opt in params["optimizers"]:
                t0 = time.perf_counter()
                simulate.simulate(params, shape, noise, opt, seed)
                batched = time.perf_counter() - t0
                if shape == "matrix" and noise == "minibatch":  # the slowest loop; skip to bound the run time
                    continue
                looped = loop_job(params, shape, noise, opt, seed, list(range(args.loop_seeds)))
                looped *= params["seeds"] / args.loop_seeds
                ratios.append(
                    {
                        "shape": shape,
                        "noise": noise,
                        "optimizer": opt,
                        "batched_s": batched,
                        "loop_s_extrapolated": looped,
                        "speedup": looped / batched,
                    }
                )
                print(
                    f"   {shape:6s} {noise:9s} {opt:5s} batched {batched:6.2f} s  loop {looped:7.1f} s"
                    f"  speed-up {looped / batched:6.1f}x"
                )
    for shape in params["shapes"]:
        sub = [r["speedup"] for r in ratios if r["shape"] == shape]
        if sub:
            print(
                f"   {shape}: speed-up min {min(sub):.1f}x, geometric mean "
                f"{math.exp(sum(map(math.log, sub)) / len(sub)):.1f}x"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "command": "python benchmarks/gsnr.py " + " ".join(sys.argv[1:]),
                "machine": platform.platform(),
                "cpus": torch.get_num_threads(),
                "torch": torch.__version__,
                "sweep_wall_s": sweep_wall,
                "workers": args.workers,
                "peak_rss_mb": peak_all,
                "jobs": [
                    dict(zip(["noise", "optimizer", "wall_s", "peak_rss_mb"], r, strict=True))
                    for r in results
                ],
                "loop_seeds": args.loop_seeds,
                "speedups": ratios,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
