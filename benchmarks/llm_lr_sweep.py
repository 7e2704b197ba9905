"""The learning rate of study 002, fixed from the reference arm alone: a small sweep of the Pre-Norm baseline.

    python benchmarks/llm_lr_sweep.py [--lrs 1.5e-3 3e-3 6e-3 1.2e-2] [--seeds 2] [--arch prenorm] \
        [--jobs 2] [--out-dir benchmarks/results] [--configfile config/gpu.yaml --size mid40m --device cuda]

Trains ``--arch``'s reference variant (``llm.claims.reference``) at ``--size`` (default ``tiny``) with the
``llm`` section of ``--configfile`` (default: the schema's defaults) except the peak learning rate
(``llm.optim.lr``, and the size's own ``lr``: the grid ``--lrs``), ``--seeds`` seeds each, through
``python -m scaledyn.llm train`` (``--threads`` threads, ``--jobs`` processes side by side, as the DAG runs
them; on a GPU use ``--device cuda --jobs 1``). The tiny CPU result is ``llm_lr_sweep.json``, another size's
``llm_lr_sweep_<size>.json``: the GPU study fixes its sizes' ``lr`` from it before it trains any variant.
The decay follows each learning rate (``optim.decay_timescales``: lambda = timescales / sum of the lrs).
The seeds come from another global seed than the study's (``seed`` + 1), so the runs that choose the
learning rate are not the runs that test the claims. No variant but the reference is trained: the choice
cannot depend on the variants' outcomes. The rule: the grid point with the lowest mean final validation
loss (whole split); while that point is an end of the grid, the grid is extended by a factor of 2 beyond
it (at most ``--max-extend`` times), so the choice is an interior minimum or says that it is not; the
report of ``--out-dir/llm_lr_sweep.json`` gives every run's loss, the per-lr mean and the choice.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from snakemake.utils import update_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scaledyn import studies  # noqa: E402

SIZE = "tiny"


def train_run(
    work: Path,
    llm: dict,
    arch: str,
    variant: str,
    seed: int,
    global_seed: int,
    *,
    device: str,
    threads: int,
    size: str = SIZE,
) -> dict:
    """One run through the training CLI with the ``llm`` section ``llm`` (data prepared under ``work/data``
    by :func:`prepare_data`); its summary.json."""
    out = work / f"{arch}_{variant}_s{seed}"
    cmd = [sys.executable, "-m", "scaledyn.llm", "train", "--arch", arch, "--variant", variant]
    cmd += [
        "--size",
        size,
        "--seed",
        str(seed),
        "--global-seed",
        str(global_seed),
        "--params",
        json.dumps(llm),
    ]
    cmd += ["--data", str(work.parent / "data"), "--out", str(out), "--ckpt", str(out / "ckpt")]
    cmd += ["--device", device, "--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # the run's own CPU seconds, whatever else the machine runs
    if os.waitstatus_to_exitcode(status) != 0:
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), cmd, stderr=proc.stderr.read())
    proc.stderr.close()
    return {**json.loads((out / "summary.json").read_text()), "cpu_s": usage.ru_utime + usage.ru_stime}


def prepare_data(work: Path, llm: dict) -> None:
    """The corpus of ``llm.corpus`` as byte tokens under ``work/data`` (the DAG's data step)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    data = [sys.executable, "-m", "scaledyn.llm", "data", "--source", llm["corpus"]["path"]]
    data += [
        "--cache-dir",
        str(Path(llm["corpus"]["cache_dir"]).expanduser()),
        "--out-dir",
        str(work / "data"),
    ]
    subprocess.run(data, check=True, env=env, capture_output=True)


def train(work: Path, args: argparse.Namespace, llm: dict, lr: float, seed: int, global_seed: int) -> dict:
    """One run of the reference arm at peak lr ``lr``; its summary.json."""
    sizes = {args.size: {**llm["sizes"][args.size], "lr": lr}}
    params = {**llm, "optim": {**llm["optim"], "lr": lr}, "sizes": sizes}
    return train_run(
        work / f"lr{lr:g}",
        params,
        args.arch,
        llm["claims"]["reference"],
        seed,
        global_seed,
        device=args.device,
        threads=args.threads,
        size=args.size,
    )


def mean_losses(runs: list[dict], lrs: list[float]) -> dict[float, float]:
    """Mean final validation loss per learning rate (inf when a run diverged)."""
    out = {}
    for lr in lrs:
        vals = [r["final_val_loss"] for r in runs if r["lr"] == lr]
        out[lr] = float("inf") if any(v is None for v in vals) or not vals else sum(vals) / len(vals)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lrs", type=float, nargs="+", default=[1.5e-3, 3e-3, 6e-3, 1.2e-2])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--arch", default="prenorm")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--max-extend", type=int, default=3)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--configfile", type=Path, nargs="*", default=[], help="config files, merged in turn")
    parser.add_argument("--size", default=SIZE)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    given: dict = {}
    for path in args.configfile:  # as snakemake --configfile: later files update earlier ones, key by key
        update_config(given, yaml.safe_load(path.read_text()) or {})
    cfg = studies.load({k: v for k, v in given.items() if k in ("seed", "llm")})
    llm = cfg["llm"]
    if args.size not in llm["sizes"]:
        parser.error(f"--size {args.size}: not in llm.sizes ({', '.join(llm['sizes'])})")
    variant, global_seed = llm["claims"]["reference"], int(cfg["seed"]) + 1
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="llm_lr_sweep_") as tmp:
        work = Path(tmp)
        prepare_data(work, llm)
        lrs, runs = sorted(args.lrs), []
        with ThreadPoolExecutor(args.jobs) as pool:
            for _ in range(args.max_extend + 1):
                todo = [
                    (lr, s) for s in range(args.seeds) for lr in lrs if not any(r["lr"] == lr for r in runs)
                ]
                summaries = list(pool.map(lambda p: train(work, args, llm, *p, global_seed), todo))
                for (lr, s), sm in zip(todo, summaries, strict=True):
                    runs.append(
                        {
                            "lr": lr,
                            "seed": s,
                            "final_val_loss": sm["final_val_loss"],
                            "diverged": sm["diverged"],
                        }
                    )
                means = mean_losses(runs, lrs)
                best = min(means, key=means.get)
                if best not in (lrs[0], lrs[-1]):
                    break
                lrs = [best / 2, *lrs] if best == lrs[0] else [*lrs, best * 2]
    means = mean_losses(runs, sorted({r["lr"] for r in runs}))
    means = {f"{lr:g}": m for lr, m in means.items()}
    chosen = min(means, key=means.get)
    result = {
        "command": "python benchmarks/llm_lr_sweep.py " + " ".join(sys.argv[1:]),
        "arch": args.arch,
        "variant": variant,
        "size": args.size,
        "device": args.device,
        "global_seed": global_seed,
        "rule": "lowest mean final validation loss (whole split) of the reference arm",
        "runs": runs,
        "mean_final_val_loss": means,
        "chosen_lr": float(chosen),
        "interior": chosen not in (min(means, key=float), max(means, key=float)),
        "wall_s": time.perf_counter() - t0,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "cpu_count": os.cpu_count(),
    }
    for lr, m in means.items():
        print(f"lr {lr:>8}: mean final val loss {m:.4f}" + ("  <- chosen" if lr == chosen else ""))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    name = "llm_lr_sweep.json" if args.size == SIZE else f"llm_lr_sweep_{args.size}.json"
    (args.out_dir / name).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
