"""Benchmark of study ``minimal_model``: the four default sweeps through the CLI, and a plain per-run loop.

    python benchmarks/minimal_model.py [--out-dir DIR] [--probe-steps 2000] [--reference-fraction 0.1] \
        [--params JSON]

1. Thread probe: each sweep shortened to ``--probe-steps`` steps, run with ``--threads 1`` and ``2``;
   the faster total is used below.
2. Sequential: the four sweeps at the default params, one CLI process after the other (wall, peak RSS).
3. Side by side: the same four processes two at a time with one thread each (longest first by the
   sequential times), as ``snakemake --cores 2`` schedules one-thread jobs.
4. Reference: a plain loop, one run at a time with its own ``torch.optim.AdamW(weight_decay=lambda)``,
   the same math (``model.moments`` / ``model.gradients``) and the same checkpoints and SNR draws. It runs
   one seed per sweep value for ``--reference-fraction`` of the steps and is extrapolated linearly to all
   seeds and all steps (the per-run checkpoint cost is then overcounted, so the ratio is slightly generous
   to the batched program).
5. Exact SNR cost: per sweep, the time of the exact per-parameter SNR (``model.exact_snr``, one batched call
   per block per checkpoint) against the whole checkpoint measurement (``simulate._measure``: norms, loss,
   exact SNR and the K-draw SNR), timed on the sweep's blocks at initialisation and scaled to its number of
   checkpoints (``--exact-cost-only`` runs just this section).

Peak memory is each process's ``ru_maxrss`` and CPU time its user + system time (from ``os.wait4``); the
reference is timed in CPU time (it runs in this process), so the speed-up compares CPU with CPU. The
machine has 2 vCPUs and may be shared: other work inflates every wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scaledyn import config, studies  # noqa: E402
from scaledyn.minimal_model import model as mm  # noqa: E402
from scaledyn.minimal_model import simulate as sim  # noqa: E402
from scaledyn.minimal_model.simulate import checkpoint_steps, run_specs  # noqa: E402

GLOBAL_SEED = studies.load({})["seed"]  # the pipeline's default config seed
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def launch(sweep: str, params: dict, threads: int, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "scaledyn.minimal_model", "simulate", "--sweep", sweep]
    cmd += ["--params", json.dumps(params), "--global-seed", str(GLOBAL_SEED), "--threads", str(threads)]
    cmd += ["--out", str(out)]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_schedule(
    sweeps: list[str], params: dict, threads: int, workers: int, out_dir: Path
) -> tuple[float, dict[str, float], dict[str, float], dict[str, float]]:
    """Run the sweeps as CLI processes, ``workers`` at a time in the given order.

    Returns (wall seconds, per-sweep wall seconds, per-sweep CPU seconds, per-sweep peak RSS MiB).
    """
    pending, running = list(sweeps), {}
    seconds, cpu, rss = {}, {}, {}
    t0 = time.perf_counter()
    while pending or running:
        while pending and len(running) < workers:
            sweep = pending.pop(0)
            running[sweep] = (launch(sweep, params, threads, out_dir / f"{sweep}.csv"), time.perf_counter())
        pid, status, usage = os.wait4(-1, 0)
        sweep = next(s for s, (p, _) in running.items() if p.pid == pid)
        proc, started = running.pop(sweep)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"sweep {sweep} failed with {proc.returncode}")
        seconds[sweep] = time.perf_counter() - started
        cpu[sweep] = usage.ru_utime + usage.ru_stime
        rss[sweep] = usage.ru_maxrss / 1024
    return time.perf_counter() - t0, seconds, cpu, rss


def reference_run(spec: mm.RunSpec, params: dict, steps: int) -> None:
    """One run alone: plain tensors W (d, d), gamma (d,), AdamW(weight_decay=lambda) per parameter."""
    model, optim, measure = params["model"], params["optim"], params["measure"]
    n, k, chunk = int(model["n_train"]), int(measure["snr_draws"]), int(params["compute"]["index_chunk"])
    x, y, _, w, gamma = mm.make_run(spec, model, GLOBAL_SEED, torch.float32)
    xy = torch.cat([x, y], dim=1)
    opt = torch.optim.AdamW(
        [
            {"params": [w], "weight_decay": spec.weight_decay_w},
            {"params": [gamma], "weight_decay": spec.weight_decay_gamma},
        ],
        lr=optim["lr"],
        betas=(optim["beta1"], optim["beta2"]),
        eps=optim["eps"],
        fused=True,
    )
    g_batch, g_snr = spec.generator(GLOBAL_SEED, "batches"), spec.generator(GLOBAL_SEED, "snr")
    checkpoints = set(checkpoint_steps(steps, measure)[0].tolist())

    def measure_snr() -> None:
        idx = torch.randint(n, (k, spec.batch_size), generator=g_snr)
        mm.snr(*mm.gradients(w, gamma, *mm.moments(xy[idx], spec.d)))

    with torch.no_grad():
        measure_snr()
        for start in range(0, steps, chunk):
            idx = torch.randint(n, (min(chunk, steps - start), spec.batch_size), generator=g_batch)
            for i, rows in enumerate(idx):
                w.grad, gamma.grad = mm.gradients(w, gamma, *mm.moments(xy[rows], spec.d))
                opt.step()
                if start + i + 1 in checkpoints:
                    measure_snr()


def reference(params: dict, fraction: float) -> tuple[float, int]:
    """Extrapolated seconds of the per-run loop over all four sweeps, and the number of runs timed."""
    total, timed = 0.0, 0
    for sweep, cfg in params["sweeps"].items():
        steps = max(int(cfg["steps"] * fraction), 1)
        specs = run_specs(params, sweep, seed_indices=[0])
        t0 = time.process_time()
        for spec in specs:
            reference_run(spec, params, steps)
        elapsed = time.process_time() - t0
        total += elapsed * (cfg["steps"] / steps) * cfg["seeds"]
        timed += len(specs)
    return total, timed


def exact_snr_cost(params: dict, repeats: int = 10) -> dict[str, tuple[float, float, int]]:
    """Per sweep: (exact-SNR CPU seconds, whole-measurement CPU seconds, checkpoints), scaled from
    ``repeats`` timed measurements of every block to the sweep's checkpoint count."""
    out = {}
    k, n = int(params["measure"]["snr_draws"]), int(params["model"]["n_train"])
    for sweep in params["sweeps"]:
        specs = run_specs(params, sweep)
        blocks = sim._build_blocks(specs, params, GLOBAL_SEED)
        n_ck = len(checkpoint_steps(int(params["sweeps"][sweep]["steps"]), params["measure"])[0])
        with torch.no_grad():
            for blk in blocks:  # warm-up
                sim._measure(blk, k, n)
            t0 = time.process_time()
            for _ in range(repeats):
                for blk in blocks:
                    mm.exact_snr(blk.w, blk.gamma, blk.xy[..., : blk.d], blk.xy[..., blk.d :], blk.batch)
            exact = (time.process_time() - t0) / repeats * n_ck
            t0 = time.process_time()
            for _ in range(repeats):
                for blk in blocks:
                    sim._measure(blk, k, n)
            whole = (time.process_time() - t0) / repeats * n_ck
        out[sweep] = (exact, whole, n_ck)
    return out


def report_exact_cost(params: dict) -> None:
    for sweep, (exact, whole, n_ck) in exact_snr_cost(params).items():
        print(
            f"exact SNR, {sweep:13s}: {exact:5.2f}s CPU over {n_ck} checkpoints "
            f"(whole checkpoint measurement {whole:5.2f}s CPU, "
            f"the K-draw SNR and the rest {whole - exact:5.2f}s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", default=None, help="keep the sweep CSVs here (default: a temp dir)")
    parser.add_argument("--probe-steps", type=int, default=2000)
    parser.add_argument("--reference-fraction", type=float, default=0.1)
    parser.add_argument(
        "--params", default="{}", help="overrides of the default params as JSON (smoke tests)"
    )
    parser.add_argument("--exact-cost-only", action="store_true", help="only section 5 (exact SNR cost)")
    args = parser.parse_args()
    params = config.section("minimal_model", json.loads(args.params))
    if args.exact_cost_only:
        torch.set_num_threads(1)
        report_exact_cost(params)
        return
    sweeps = list(params["sweeps"])
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="minimal_model_bench_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}; outputs in {out_dir}")
    print("load average at start (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    short = config.section("minimal_model", json.loads(args.params))
    for sweep in sweeps:
        short["sweeps"][sweep]["steps"] = args.probe_steps
    probe = {}
    for threads in (1, 2):
        wall, secs, cpu, _ = run_schedule(sweeps, short, threads, 1, out_dir / "probe")
        probe[threads] = wall
        per = ", ".join(f"{s} {t:.1f}s" for s, t in secs.items())
        print(
            f"probe ({args.probe_steps} steps/sweep), threads={threads}: {wall:.1f}s wall, "
            f"{sum(cpu.values()):.1f}s CPU ({per})"
        )
    threads = min(probe, key=probe.get)
    print(f"-> using torch.set_num_threads({threads})")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import scaledyn.minimal_model.__main__"], check=True, env=ENV)
    print(f"start-up of one CLI process (imports, mostly torch): {time.perf_counter() - t0:.1f}s")

    wall, secs, cpu, rss = run_schedule(sweeps, params, threads, 1, out_dir)
    for s in sweeps:
        print(
            f"  {s:13s} {secs[s]:6.1f}s wall {cpu[s]:6.1f}s CPU  peak RSS {rss[s]:4.0f} MiB  "
            f"({len(run_specs(params, s))} runs x {params['sweeps'][s]['steps']} steps)"
        )
    print(
        f"all four sweeps, sequential, threads={threads}: {wall:.1f}s wall, {sum(cpu.values()):.1f}s CPU, "
        f"peak RSS {max(rss.values()):.0f} MiB"
    )

    longest_first = sorted(sweeps, key=lambda s: -secs[s])
    par_wall, _, par_cpu, par_rss = run_schedule(longest_first, params, 1, 2, out_dir / "parallel")
    print(
        f"all four sweeps, 2 processes side by side (1 thread each): {par_wall:.1f}s wall, "
        f"{sum(par_cpu.values()):.1f}s CPU, peak RSS {max(par_rss.values()):.0f} MiB per process"
    )

    torch.set_num_threads(threads)
    ref, timed = reference(params, args.reference_fraction)
    n_runs = sum(len(run_specs(params, s)) for s in sweeps)
    print(
        f"reference per-run loop: {ref:.0f}s CPU extrapolated ({timed} runs timed at "
        f"{args.reference_fraction:g} of their steps, scaled to {n_runs} runs x full steps)"
    )
    print(
        f"speed-up of the batched program: {ref / sum(cpu.values()):.1f}x in CPU time "
        f"({ref / wall:.1f}x reference CPU over sequential wall)"
    )
    report_exact_cost(params)
    print("load average at end (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    target = "met" if min(wall, par_wall) <= 60 else "missed"
    print(f"60 s target {target} (best {min(wall, par_wall):.1f}s)")


if __name__ == "__main__":
    main()
