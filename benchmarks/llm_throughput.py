"""Benchmark of study ``llm``: training throughput of the language model (tokens/s, MFU, peak memory).

    python benchmarks/llm_throughput.py [--steps 40] [--variants baseline unified] [--vocab 256] \
        [--seeds 2 4 8] [--compiled-seeds 4] [--repeats 3] [--quick] [--gpu-steps 30] \
        [--gpu-micro-batch 32] [--out-dir benchmarks/results]

The committed ``results/llm_throughput.json`` comes from ``python benchmarks/llm_throughput.py`` (the
defaults); ``--quick`` (6 steps, 1 round, baseline, S = 2) checks that every mode runs and writes
``llm_throughput.quick.json`` instead.

CPU (always), at the ``tiny`` size of the default ``llm`` params, float32, one process per measurement:

1. threads: each variant with ``torch.set_num_threads(1)`` and ``(2)``, alone;
2. AdamW: ``fused=True`` vs ``foreach=True`` at one thread (the ``optim.impl: auto`` choice);
3. side by side: two one-thread processes at once (how ``snakemake --cores 2`` runs one-thread jobs);
   their summed tokens/s against one two-thread process;
4. projection of the study's DAG (``arms x seeds`` runs of ``tiny``) for both schedules: per run
   ``steps * batch * context / tokens_per_s`` plus the evaluations (``(steps / eval_every + 1) *
   eval_batches`` forward passes, costed at 1/3 of a training step each) plus the measured start-up of a
   process (imports, model build);
5. training programs at one thread (``cpu.modes``: tokens/s per core, the ratio to the eager single run,
   peak RSS, compile times, loss gaps), per variant: ``eager`` (the single run of today, measurement 1);
   ``batchedS``: the batched program of ``llm_batched.py`` over S seeds (``vmap`` of ``functional_call``
   over stacked parameters, per-seed clipping, one AdamW), ``S * batch`` sequences per step;
   ``compiled``: the single run with ``torch.compile`` (inductor, C++ code built by gcc);
   ``compiled_batchedS``: the vmapped loss compiled; ``mkl_avx512`` and ``mkl_avx512_compiled``: eager
   and compiled single runs with ``LD_PRELOAD`` of a one-function library defining
   ``mkl_serv_intel_cpu_true() = 1`` (built here with gcc; skipped without it), which makes the MKL bundled
   with torch take its AVX-512 kernels on this AMD CPU instead of its AVX2 ones (an experiment: not used by
   the pipeline). Compile time: ``compile_s`` = first step - steady step; *cold* from one process with a
   fresh ``TORCHINDUCTOR_CACHE_DIR`` before the rounds, *warm* the median over the rounds' processes, which
   reuse that cache. Loss gap: seed 0 of every mode starts from the same init (seed 0), tokens and AdamW as
   the eager single run; the largest absolute difference of its first 5 step losses from eager's.

A step is what ``scaledyn.llm.train`` does: forward, backward, ``clip_grad_norm_``, ``AdamW.step`` on the
model, param groups and optimiser the training module builds (lr 1e-4, constant). Tokens are random
(throughput does not depend on them). Peak memory is each process's ``ru_maxrss`` (from ``os.wait4``).
tokens/s is measured over ``--steps`` steps after 3 warm-up steps (a batched program of S seeds: over
``max(5, ceil(2 steps / S))`` steps). All measurements run in interleaved rounds (one of each per round,
``--repeats`` rounds); medians are reported.

Data parallel (``ddp``, ``--ddp-only`` measures only this and replaces the ``ddp`` entry of the committed
json): real training runs through the CLI (``python -m scaledyn.llm train``, ``tiny`` baseline, random tokens,
``--ddp-steps`` steps, no tensor-SNR, one evaluation) with 1 process x 1 thread, 2 processes x 1 thread under
torchrun (``llm.nproc: 2``, gloo) and 1 process x 2 threads, in interleaved rounds; tokens/s is the run's
``summary.json`` figure (median over its logged intervals, evaluation and checkpoints excluded: rank 0's
clock, so the global batch's tokens over the step time of the slowest rank). On a GPU machine the same
runs on ``cuda`` for 1 .. ``torch.cuda.device_count()`` processes (one GPU each) show the scaling.

Precision (``--precision-only``, writes ``llm_throughput_precision.json``): the single ``tiny`` run at one
thread in four programs, ``eager``/``compiled`` x ``fp32``/``bf16`` (``llm.precision``: bf16 autocast on
the CPU, AVX512-BF16), interleaved rounds, medians, each compiled program with its own warm inductor cache
(a cold compile first, as above), and the largest gap of its first 5 losses from eager fp32's.

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
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import llm_batched as batched  # noqa: E402  (beside this script)

from scaledyn import config  # noqa: E402
from scaledyn.llm import run_config  # noqa: E402
from scaledyn.llm.device import autocast, setup_device  # noqa: E402
from scaledyn.llm.model import build  # noqa: E402
from scaledyn.llm.optim import make_optimizer  # noqa: E402
from scaledyn.llm.variants import VARIANTS  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def worker(spec: dict) -> dict:
    """One measurement in this process: build, warm up, time ``steps`` training steps.

    ``precision`` (``llm.precision``, default auto) and ``entry`` (the size's whole entry) are optional.

    ``seeds`` > 0: the batched program of ``llm_batched.py`` over that many seeds (one model per
    seed, ``seeds * batch`` sequences per step); ``compile``: ``torch.compile`` the (vmapped) loss.
    """
    t_start = time.perf_counter()
    dev = torch.device(spec["device"])
    section: dict = {"optim": {"impl": spec.get("impl", "auto")}, "threads": int(spec["threads"])}
    section["precision"] = spec.get("precision", "auto")  # auto: bf16 autocast on cuda, float32 on the CPU
    if spec.get("entry"):  # a whole size entry (a size the schema does not define, e.g. gpu.yaml's mid40m)
        section["sizes"] = {spec["size"]: spec["entry"]}
    elif spec.get("micro_batch"):
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
    setup_device(dev, run.threads)
    cfg, n_seeds = run.model, int(spec.get("seeds", 0))
    models = [build(cfg, VARIANTS[spec["variant"]], init_seed=s).to(dev) for s in range(max(1, n_seeds))]
    model, optim = models[0], replace(run.optim, lr=1e-4)
    batch, context = run.micro_batch_size, cfg.context
    # seed s: init seed s, tokens from generator s; slice 0 of a batched program is the single run
    gens = [torch.Generator().manual_seed(s) for s in range(max(1, n_seeds))]
    draws = [torch.randint(0, cfg.vocab_size, (batch, context + 1), generator=g) for g in gens]
    xy = (torch.stack(draws) if n_seeds else draws[0]).to(dev)
    losses: list = []
    if n_seeds:
        stack = batched.SeedStack(models, compile=bool(spec.get("compile")))
        opt = batched.stacked_optimizer(stack, optim)

        def step() -> None:
            loss = batched.forward_backward(stack, xy, run)
            batched.clip_per_seed_(stack.grads(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.tolist())

    else:
        opt = make_optimizer(model, optim)
        fwd = torch.compile(model) if spec.get("compile") else model

        def step() -> None:
            with autocast(dev, run.dtype):
                loss = fwd(xy[:, :-1], xy[:, 1:])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.detach().float().item())

    t_first = time.perf_counter()
    step()
    first_step_s = time.perf_counter() - t_first
    for _ in range(int(spec["warmup"]) - 1):
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
    tps = spec["steps"] * batch * context * max(1, n_seeds) / dt
    out = {
        **spec,
        "tokens_per_s": tps,
        "s_per_step": dt / spec["steps"],
        "first_step_s": first_step_s,
        "compile_s": first_step_s - dt / spec["steps"] if spec.get("compile") else 0.0,
        "startup_s": startup,
        "flop_per_token": model.flop_per_token(),
        "n_params": model.param_counts()["n_params"],
        "batch": batch,
        "context": context,
        "losses": losses,
    }
    out["peak"] = run.peak_flops
    if dev.type == "cuda":
        out["gpu_max_memory_mib"] = torch.cuda.max_memory_allocated() / 2**20
        out["device_name"] = torch.cuda.get_device_name(dev)
    out["mfu"] = out["flop_per_token"] * tps / out["peak"]
    return out


def launch(spec: dict) -> subprocess.Popen:
    """A worker process; ``spec["env"]`` adds environment variables (the worker ignores the key)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    return subprocess.Popen(cmd, env={**ENV, **spec.get("env", {})}, stdout=subprocess.PIPE, text=True)


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


MKL_SHIM = "int mkl_serv_intel_cpu_true(void) { return 1; }\n"


def mkl_shim(tmp: Path) -> Path | None:
    """A one-function library that makes MKL take its Intel (AVX-512) code path; ``None`` without gcc."""
    src, lib = tmp / "mkl_shim.c", tmp / "libmkl_shim.so"
    src.write_text(MKL_SHIM)
    try:
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return lib


def mode_specs(base: dict, seeds: list[int], compiled_seeds: int, tmp: Path) -> dict[str, dict]:
    """The one-thread training programs compared side by side: name -> spec overrides."""

    def n_steps(s: int) -> int:  # about as many seed-steps as the single run, at least 5 steps
        return max(5, -(-2 * base["steps"] // s))

    modes: dict[str, dict] = {"eager": {}}
    modes |= {f"batched{s}": {"seeds": s, "steps": n_steps(s)} for s in seeds}
    modes["compiled"] = {"compile": True}
    modes[f"compiled_batched{compiled_seeds}"] = {
        "compile": True, "seeds": compiled_seeds, "steps": n_steps(compiled_seeds)}  # fmt: skip
    if (lib := mkl_shim(tmp)) is not None:
        modes["mkl_avx512"] = {"env": {"LD_PRELOAD": str(lib)}}
        modes["mkl_avx512_compiled"] = {"compile": True, "env": {"LD_PRELOAD": str(lib)}}
    return modes


def with_cache(spec: dict, cache: Path) -> dict:
    return {**spec, "env": {**spec.get("env", {}), "TORCHINDUCTOR_CACHE_DIR": str(cache)}}


def loss_gap(a: list, b: list, n: int = 5) -> float:
    """Largest absolute difference of the first ``n`` step losses of seed 0 of two measurements."""
    ta, tb = (torch.tensor(x[:n], dtype=torch.float64) for x in (a, b))
    ta, tb = (t[:, 0] if t.ndim == 2 else t for t in (ta, tb))
    return float((ta - tb).abs().max())


def cpu_benchmark(params: dict, base: dict, variants: list[str], repeats: int, seeds: list[int],
                  compiled_seeds: int, tmp: Path) -> dict:  # fmt: skip
    """Interleaved rounds of every CPU measurement; the median tokens/s of each over the rounds."""
    pair_variants = (variants * 2)[:2]
    modes = mode_specs(base, seeds, compiled_seeds, tmp)
    caches = {(m, v): tmp / f"inductor-{m}-{v}" for m in modes for v in variants}
    specs: dict[str, list[dict]] = {}
    for v in variants:
        specs[f"alone/{v}/1"] = [{**base, "variant": v, "threads": 1}]
        specs[f"alone/{v}/2"] = [{**base, "variant": v, "threads": 2}]
        for m, over in modes.items():
            if m != "eager":
                specs[f"{m}/{v}/1"] = [with_cache({**base, **over, "variant": v, "threads": 1}, caches[m, v])]
    for impl in ("fused", "foreach"):
        specs[f"adamw/{impl}/1"] = [{**base, "variant": "baseline", "threads": 1, "impl": impl}]
    specs[f"pair/{'+'.join(pair_variants)}/1"] = [{**base, "variant": v, "threads": 1} for v in pair_variants]

    cold: dict[str, dict] = {}
    for key, (spec,) in [(k, v) for k, v in specs.items() if v[0].get("compile")]:
        (res,) = run_together([spec])  # a fresh TORCHINDUCTOR_CACHE_DIR: compiles from scratch
        cold[key] = {"compile_s": res["compile_s"], "first_step_s": res["first_step_s"],
                     "peak_rss_mib": res["peak_rss_mib"], "load_before": os.getloadavg()[0]}  # fmt: skip
        print(f"cold compile {key}: {res['compile_s']:.1f} s (first step {res['first_step_s']:.1f} s)")
    raw: dict[str, list[dict]] = {k: [] for k in specs}
    for r in range(repeats):
        for key, group in specs.items():
            load = os.getloadavg()[0]
            res = run_together(group)
            tps = sum(x["tokens_per_s"] for x in res)
            raw[key].append({"tokens_per_s": tps, "load_before": load, "runs": res})
            rss = max(x["peak_rss_mib"] for x in res)
            print(f"round {r + 1} {key:34s}: {tps:8,.0f} tok/s (peak RSS {rss:.0f} MiB, load {load:.1f})")
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
    table = modes_table(raw, med, cold, modes, variants)
    for run in (run for v in raw.values() for x in v for run in x["runs"]):
        del run["losses"]  # compared in the table (loss gaps); the per-step lists would swamp the file
    return {"medians": med, "summary": summary, "projection": proj, "modes": table, "rounds": raw}


def modes_table(raw: dict, med: dict, cold: dict, modes: dict, variants: list[str]) -> dict:
    """Per variant and mode: tokens/s per core (one thread each), ratio to eager, compile times, loss gaps."""

    def key(m: str, v: str) -> str:
        return f"alone/{v}/1" if m == "eager" else f"{m}/{v}/1"

    # seed 0's first losses of every mode against the eager single run (the same init, tokens and AdamW)
    table: dict = {}
    print(f"\ntokens/s per core, tiny, 1 thread, medians of {len(next(iter(raw.values())))} rounds")
    print(f"{'mode':24s}" + "".join(f"{v:>22s}" for v in variants))
    for m in modes:
        row = {}
        for v in variants:
            k, eager = key(m, v), med[key("eager", v)]
            runs = [run for x in raw[k] for run in x["runs"]]
            compare, ref = m != "eager", raw[key("eager", v)][0]["runs"][0]["losses"]
            row[v] = {
                "tokens_per_s_per_core": med[k],
                "ratio_vs_eager_single": med[k] / eager,
                "peak_rss_mib": max(run["peak_rss_mib"] for run in runs),
                "compile_cold_s": cold[k]["compile_s"] if k in cold else None,
                "compile_warm_s": median([run["compile_s"] for run in runs]) if k in cold else None,
                "max_abs_loss_gap_first_5_steps": loss_gap(runs[0]["losses"], ref) if compare else None,
            }
        table[m] = row
        cells = "".join(f"{row[v]['tokens_per_s_per_core']:>12,.0f} ({row[v]['ratio_vs_eager_single']:.2f}x)"
                        for v in variants)  # fmt: skip
        print(f"{m:24s}{cells}")
    for m, row in table.items():
        for v, cell in row.items():
            if cell["compile_cold_s"] is not None:
                cold_s, warm_s = cell["compile_cold_s"], cell["compile_warm_s"]
                print(f"compile {m} {v}: cold {cold_s:.1f} s, warm {warm_s:.1f} s")
            if cell["max_abs_loss_gap_first_5_steps"] is not None:
                gap = cell["max_abs_loss_gap_first_5_steps"]
                print(f"loss gap {m} {v} vs eager (seed 0, first 5 steps): {gap:.2e}")
    return table


def ddp_run(data: Path, out: Path, nproc: int, threads: int, steps: int, device: str) -> dict:
    """One training run through the CLI (torchrun for ``nproc > 1``): its summary's throughput."""
    params = {"sizes": {"tiny": {"steps": steps}}, "eval_every": steps, "log_every": 10, "ckpt_every": None,
              "tensor_snr": {"enabled": False}}  # fmt: skip
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd = [*(launch if nproc > 1 else [sys.executable]), "-m", "scaledyn.llm", "train", "--arch", "prenorm",
           "--variant", "baseline", "--size", "tiny", "--seed", "0", "--global-seed", "0", "--params",
           json.dumps(params), "--data", str(data), "--out", str(out / "out"), "--ckpt", str(out / "ckpt"),
           "--device", device, "--threads", str(threads)]  # fmt: skip
    env = {**ENV, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    summary = json.loads((out / "out" / "summary.json").read_text())
    return {"tokens_per_s": summary["tokens_per_s"], "wall_s": summary["wall_s"], "nproc": summary["nproc"]}


def ddp_benchmark(steps: int, repeats: int, tmp: Path) -> dict:
    """Tokens/s of real runs at 1 and 2 processes (and 1 x 2 threads) on the CPU, 1..N GPUs on a GPU host."""
    data = tmp / "corpus"
    data.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 400_000), ("val", 40_000)):
        rng.integers(0, 256, n, dtype=np.uint16).tofile(data / f"{split}.bin")
    (data / "meta.json").write_text(json.dumps({"vocab_size": 256, "n_train_tokens": 400_000,
                                                "n_val_tokens": 40_000}))  # fmt: skip
    modes = {"cpu/1proc_x1thread": ("cpu", 1, 1), "cpu/2proc_x1thread": ("cpu", 2, 1),
             "cpu/1proc_x2threads": ("cpu", 1, 2)}  # fmt: skip
    if torch.cuda.is_available():
        modes |= {f"cuda/{n}proc": ("cuda", n, 8) for n in range(1, torch.cuda.device_count() + 1)}
    raw: dict[str, list[dict]] = {m: [] for m in modes}
    for r in range(repeats):
        for m, (device, nproc, threads) in modes.items():
            raw[m].append(ddp_run(data, tmp / f"{m.replace('/', '_')}_{r}", nproc, threads, steps, device))
            print(f"ddp round {r} {m:22s} {raw[m][-1]['tokens_per_s']:10,.0f} tok/s", flush=True)
    med = {m: median([x["tokens_per_s"] for x in runs]) for m, runs in raw.items()}
    one = med["cpu/1proc_x1thread"]
    report = {"steps": steps, "rounds": repeats, "tokens_per_s": med, "raw": raw,
              "speedup_2proc_vs_1proc": med["cpu/2proc_x1thread"] / one,
              "speedup_2threads_vs_1thread": med["cpu/1proc_x2threads"] / one}  # fmt: skip
    for m, v in med.items():
        print(f"ddp {m:22s} {v:10,.0f} tok/s (median of {repeats})")
    print(f"2 processes x 1 thread vs 1 x 1: {report['speedup_2proc_vs_1proc']:.2f}x; "
          f"1 process x 2 threads: {report['speedup_2threads_vs_1thread']:.2f}x")  # fmt: skip
    return report


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
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 4, 8], help="batched program sizes")
    parser.add_argument("--compiled-seeds", type=int, default=4, help="seeds of the compiled batched program")
    parser.add_argument("--quick", action="store_true", help="a fast check: 1 round, few steps, baseline")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--ddp-steps", type=int, default=60, help="steps of each data-parallel run")
    parser.add_argument("--ddp-only", action="store_true", help="only the data-parallel runs (see above)")
    parser.add_argument("--precision-only", action="store_true", help="only fp32/bf16 x eager/compiled")
    parser.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    if args.quick:
        args.steps, args.repeats, args.variants, args.seeds, args.compiled_seeds = 6, 1, ["baseline"], [2], 2
    params = config.section("llm")
    report: dict = {
        "load_average_start": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
    }
    if args.ddp_only:
        return ddp_main(args)
    if args.precision_only:
        return precision_main(args)
    base = {"device": "cpu", "size": "tiny", "arch": args.arch, "vocab": args.vocab, "steps": args.steps}
    base["warmup"] = 3
    if not args.skip_cpu:
        with tempfile.TemporaryDirectory() as tmp:
            report["cpu"] = cpu_benchmark(
                params, base, args.variants, args.repeats, args.seeds, args.compiled_seeds, Path(tmp)
            )
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
    with tempfile.TemporaryDirectory() as tmp:
        report["ddp"] = ddp_benchmark(args.ddp_steps, args.repeats, Path(tmp))
    report["load_average_end"] = os.getloadavg()
    out = Path(args.out_dir) / ("llm_throughput.quick.json" if args.quick else "llm_throughput.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {out}")
    return 0


def precision_main(args: argparse.Namespace) -> int:
    """``--precision-only``: tiny baseline, one thread, eager/compiled x fp32/bf16 in interleaved rounds."""
    base = {"device": "cpu", "size": "tiny", "arch": args.arch, "vocab": args.vocab, "steps": args.steps,
            "warmup": 3, "variant": "baseline", "threads": 1}  # fmt: skip
    report: dict = {"load_average_start": os.getloadavg(), "cpu_count": os.cpu_count(),
                    "torch": torch.__version__,
                    "capability": torch.backends.cpu.get_cpu_capability(), "steps": args.steps,
                    "rounds": args.repeats}  # fmt: skip
    modes = {f"{c}_{p}": {"compile": c == "compiled", "precision": p} for c in ("eager", "compiled")
             for p in ("fp32", "bf16")}  # fmt: skip
    raw: dict[str, list[dict]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        specs = {m: with_cache({**base, **over}, Path(tmp) / m) for m, over in modes.items()}
        cold = {m: run_together([spec])[0]["compile_s"] for m, spec in specs.items() if spec["compile"]}
        for r in range(args.repeats):
            for m, spec in specs.items():
                load = os.getloadavg()[0]
                (res,) = run_together([spec])
                keep = ("tokens_per_s", "losses", "compile_s", "peak_rss_mib")
                raw[m].append({"load_before": load, **{k: res[k] for k in keep}})
                print(
                    f"round {r + 1} {m:14s} {res['tokens_per_s']:9,.0f} tok/s (load {load:.1f})", flush=True
                )
    ref = median([x["tokens_per_s"] for x in raw["eager_fp32"]])
    table = {}
    for m, runs in raw.items():
        tps = median([x["tokens_per_s"] for x in runs])
        table[m] = {"tokens_per_s": tps, "ratio_vs_eager_fp32": tps / ref, "compile_cold_s": cold.get(m),
                    "compile_warm_s": median([x["compile_s"] for x in runs]) if m in cold else None,
                    "max_abs_loss_gap_first_5_steps": loss_gap(runs[0]["losses"],
                                                               raw["eager_fp32"][0]["losses"]),
                    "peak_rss_mib": max(x["peak_rss_mib"] for x in runs)}  # fmt: skip
        print(f"{m:14s} {tps:9,.0f} tok/s ({tps / ref:.2f}x eager fp32), loss gap "
              f"{table[m]['max_abs_loss_gap_first_5_steps']:.1e}")  # fmt: skip
    for runs in raw.values():
        for x in runs:
            del x["losses"]
    report |= {"modes": table, "rounds_raw": raw, "load_average_end": os.getloadavg()}
    out = Path(args.out_dir) / "llm_throughput_precision.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {out}")
    return 0


def ddp_main(args: argparse.Namespace) -> int:
    """``--ddp-only``: measure the data-parallel runs, replace the ``ddp`` entry of the results json."""
    out = Path(args.out_dir) / "llm_throughput.json"
    report = json.loads(out.read_text()) if out.exists() else {}
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        report["ddp"] = ddp_benchmark(args.ddp_steps, args.repeats, Path(tmp))
    report["ddp"] |= {"load_average_start": load_start, "load_average_end": os.getloadavg()}
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {out} (ddp)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
