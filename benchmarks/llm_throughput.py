"""Benchmark of study ``llm``: training throughput of the language model (tokens/s, MFU, peak memory).

    python benchmarks/llm_throughput.py [--steps 40] [--variants baseline unified] [--vocab 256] \
        [--gpu-steps 30] [--gpu-micro-batch 32] [--out-dir benchmarks/results]

CPU (always), at the ``tiny`` size of the default ``llm`` params, float32, one process per measurement:

1. threads: each variant with ``torch.set_num_threads(1)`` and ``(2)``, alone;
2. AdamW: ``fused=True`` vs ``foreach=True`` at one thread (the ``optim.impl: auto`` choice);
3. side by side: two one-thread processes at once (how ``snakemake --cores 2`` runs one-thread jobs);
   their summed tokens/s against one two-thread process;
4. projection of the study's DAG (``arms x seeds`` runs of ``tiny``) for both schedules: per run
   ``steps * batch * context / tokens_per_s`` plus the evaluations (``(steps / eval_every + 1) *
   eval_batches`` forward passes, costed at 1/3 of a training step each) plus the measured start-up of a
   process (imports, model build).

A step is what ``scaledyn.llm.train`` does: forward, backward, ``clip_grad_norm_``, ``AdamW.step`` on the
model, param groups and optimiser the training module builds. Tokens are random (throughput does not
depend on them). Peak memory is each process's ``ru_maxrss`` (from ``os.wait4``). tokens/s is measured over
``--steps`` steps after 3 warm-up steps.

GPU (when ``torch.cuda.is_available()``): the ``gpt124m`` shape with a GPT-2-sized vocabulary (``--gpu-vocab``
50304), bf16 autocast and ``torch.compile``, ``--gpu-micro-batch`` sequences of 1024 tokens per step, tokens/s
over ``--gpu-steps`` steps after 10 warm-up (compilation) steps, MFU against ``peak_flops.cuda`` (989 TFLOP/s,
H100 dense bf16) with ``flop_per_token = 6 N_matmul + 12 L d T``, and ``torch.cuda.max_memory_allocated``.

Results are printed and written to ``--out-dir/llm_throughput.json``. The machine may be shared: other work
lowers every CPU figure (the load average at start and end is recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scaledyn import config  # noqa: E402
from scaledyn.llm import run_config  # noqa: E402
from scaledyn.llm import train as tr  # noqa: E402
from scaledyn.llm.model import build  # noqa: E402
from scaledyn.llm.optim import make_optimizer  # noqa: E402
from scaledyn.llm.variants import VARIANTS  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def worker(spec: dict) -> dict:
    """One measurement in this process: build, warm up, time ``steps`` training steps."""
    t_start = time.perf_counter()
    dev = torch.device(spec["device"])
    section: dict = {"optim": {"impl": spec.get("impl", "auto")}, "threads": int(spec["threads"])}
    if spec.get("micro_batch"):
        section["sizes"] = {
            spec["size"]: {"batch_size": spec["micro_batch"], "micro_batch_size": spec["micro_batch"]}
        }
    params = config.section("llm", section)
    run = run_config.build(
        params,
        spec["variant"],
        spec["size"],
        0,
        0,
        arch=spec["arch"],
        vocab_size=int(spec["vocab"]),
        device=dev,
    )
    tr.setup_device(dev, run.threads)
    cfg = run.model
    model = build(cfg, VARIANTS[spec["variant"]], init_seed=0).to(dev)
    opt = make_optimizer(model, replace(run.optim, lr=1e-4))
    fwd = torch.compile(model) if spec.get("compile") else model
    batch, context = run.micro_batch_size, cfg.context
    gen = torch.Generator().manual_seed(0)
    xy = torch.randint(0, cfg.vocab_size, (batch, context + 1), generator=gen).to(dev)

    def step() -> None:
        with tr.autocast(dev):
            loss = fwd(xy[:, :-1], xy[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(int(spec["warmup"])):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    startup = time.perf_counter() - t_start
    t0 = time.perf_counter()
    for _ in range(int(spec["steps"])):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    tps = spec["steps"] * batch * context / dt
    out = {
        **spec,
        "tokens_per_s": tps,
        "s_per_step": dt / spec["steps"],
        "startup_s": startup,
        "flop_per_token": model.flop_per_token(),
        "n_params": model.param_counts()["n_params"],
        "batch": batch,
        "context": context,
    }
    out["peak"] = run.peak_flops
    if dev.type == "cuda":
        out["gpu_max_memory_mib"] = torch.cuda.max_memory_allocated() / 2**20
        out["device_name"] = torch.cuda.get_device_name(dev)
    out["mfu"] = out["flop_per_token"] * tps / out["peak"]
    return out


def launch(spec: dict) -> subprocess.Popen:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, text=True)


def run_together(specs: list[dict]) -> list[dict]:
    """Start every spec as its own process at once; results with ``peak_rss_mib`` and wall time."""
    t0 = time.perf_counter()
    procs = {p.pid: (p, s) for s in specs for p in [launch(s)]}
    results: dict[int, dict] = {}
    while len(results) < len(procs):
        pid, status, usage = os.wait4(-1, 0)
        if pid not in procs:
            continue
        proc, spec = procs[pid]
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"worker {spec} failed")
        res = json.loads(proc.stdout.read().strip().splitlines()[-1])
        res["peak_rss_mib"] = usage.ru_maxrss / 1024
        res["process_wall_s"] = time.perf_counter() - t0
        results[pid] = res
    return [results[pid] for pid in procs]


def projection(params: dict, tps: float, startup_s: float, n_runs: int, parallel: int) -> dict:
    """Projected wall time of ``n_runs`` tiny runs, ``parallel`` at a time, each at ``tps`` tokens/s."""
    e = params["sizes"]["tiny"]
    steps, tokens_per_step = int(e["steps"]), e["batch_size"] * e["context"]
    train_s = steps * tokens_per_step / tps
    n_evals = steps // params["eval_every"] + 1
    eval_tokens = n_evals * params["eval_batches"] * (e["micro_batch_size"] or e["batch_size"]) * e["context"]
    eval_s = eval_tokens / tps / 3
    per_run = train_s + eval_s + startup_s
    waves = -(-n_runs // parallel)
    return {"per_run_s": per_run, "train_s": train_s, "eval_s": eval_s, "startup_s": startup_s,
            "runs": n_runs, "parallel": parallel, "total_s": waves * per_run}  # fmt: skip


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def cpu_benchmark(params: dict, base: dict, variants: list[str], repeats: int) -> dict:
    """Interleaved rounds of every CPU measurement; the median tokens/s of each over the rounds."""
    pair_variants = (variants * 2)[:2]
    keys = [("alone", v, t) for v in variants for t in (1, 2)]
    keys += [("adamw", impl, 1) for impl in ("fused", "foreach")]
    keys += [("pair", "+".join(pair_variants), 1)]
    raw: dict[str, list[dict]] = {"/".join(map(str, k)): [] for k in keys}
    for r in range(repeats):
        for key in keys:
            kind, what, threads = key
            load = os.getloadavg()[0]
            if kind == "alone":
                res = run_together([{**base, "variant": what, "threads": threads}])
            elif kind == "adamw":
                res = run_together([{**base, "variant": "baseline", "threads": 1, "impl": what}])
            else:
                res = run_together([{**base, "variant": v, "threads": 1} for v in pair_variants])
            tps = sum(x["tokens_per_s"] for x in res)
            raw["/".join(map(str, key))].append({"tokens_per_s": tps, "load_before": load, "runs": res})
            rss = max(x["peak_rss_mib"] for x in res)
            print(f"round {r + 1} {kind:5s} {what:16s} threads={threads}: {tps:8,.0f} tok/s "
                  f"(peak RSS {rss:.0f} MiB, load {load:.1f})")  # fmt: skip
    med = {k: median([x["tokens_per_s"] for x in v]) for k, v in raw.items()}
    one = [med[f"alone/{v}/1"] for v in variants]
    two = [med[f"alone/{v}/2"] for v in variants]
    pair = med[f"pair/{'+'.join(pair_variants)}/1"]
    startup = median([run["startup_s"] for v in raw.values() for x in v for run in x["runs"]])
    n_runs = sum(map(len, params["arms"].values())) * int(params["seeds"])
    summary = {
        "tokens_per_s_1_thread": dict(zip(variants, one, strict=True)),
        "tokens_per_s_2_threads": dict(zip(variants, two, strict=True)),
        "tokens_per_s_2x1_side_by_side_total": pair,
        "speedup_2_threads_vs_1": statistics.mean(two) / statistics.mean(one),
        "side_by_side_total_vs_2_threads": pair / statistics.mean(two),
        "adamw_fused_vs_foreach": med["adamw/fused/1"] / med["adamw/foreach/1"],
        "peak_rss_mib": {k: max(run["peak_rss_mib"] for x in v for run in x["runs"]) for k, v in raw.items()},
        "startup_s": startup,
    }
    proj = {
        "two_jobs_one_thread": projection(params, pair / 2, startup, n_runs, 2),
        "one_job_two_threads": projection(params, statistics.mean(two), startup, n_runs, 1),
    }
    for k, v in summary.items():
        print(f"{k}: {v}")
    for name, p in proj.items():
        print(f"projected DAG ({n_runs} tiny runs of {params['sizes']['tiny']['steps']} steps, {name}): "
              f"{p['total_s'] / 60:.1f} min ({p['per_run_s']:.0f} s per run)")  # fmt: skip
    return {"medians": med, "summary": summary, "projection": proj, "rounds": raw}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--variants", nargs="+", default=["baseline", "unified"])
    parser.add_argument(
        "--arch", default="prenorm", help="prenorm or sandwich (the unified arm trains in prenorm)"
    )
    parser.add_argument("--vocab", type=int, default=256, help="byte-level corpus: 256")
    parser.add_argument("--gpu-steps", type=int, default=30)
    parser.add_argument("--gpu-micro-batch", type=int, default=32)
    parser.add_argument("--gpu-vocab", type=int, default=50304)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    params = config.section("llm")
    report: dict = {
        "load_average_start": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
    }
    base = {"device": "cpu", "size": "tiny", "arch": args.arch, "vocab": args.vocab, "steps": args.steps}
    base["warmup"] = 3
    if not args.skip_cpu:
        report["cpu"] = cpu_benchmark(params, base, args.variants, args.repeats)
    if torch.cuda.is_available():
        spec = {"device": "cuda", "size": "gpt124m", "vocab": args.gpu_vocab, "steps": args.gpu_steps,
                "warmup": 10, "threads": 8, "arch": args.arch, "variant": "baseline", "compile": True,
                "micro_batch": args.gpu_micro_batch}  # fmt: skip
        gpu = []
        for variant in args.variants:
            (res,) = run_together([{**spec, "variant": variant}])
            gpu.append(res)
            print(
                f"gpu gpt124m {variant:9s} bf16+compile: {res['tokens_per_s']:10,.0f} tok/s "
                f"mfu {res['mfu']:.3f} max mem {res['gpu_max_memory_mib']:.0f} MiB ({res['device_name']})"
            )
        report["gpu"] = gpu
    else:
        print("no GPU: the 124M bf16 + compile measurement is skipped")
    report["load_average_end"] = os.getloadavg()
    out = Path(args.out_dir) / "llm_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
