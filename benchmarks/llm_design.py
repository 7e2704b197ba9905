"""Study 002's training design chosen from its noise alone: paired residual sd and CPU seconds per design.

    python benchmarks/llm_design.py [--designs cos10 cos0 cos0_b32] [--seeds 3] \
        [--arms baseline placement md] [--jobs 2] [--out benchmarks/results/llm_design.json]

For each candidate design (:data:`DESIGNS`: overrides of the ``llm`` section at the same training tokens per
run, so the same compute budget), trains ``--arms`` (the reference and arms on its seed stream) at ``--seeds``
seeds of another global seed than the study's (``seed`` + 2: not the runs that test the claims, nor the
learning-rate sweep's) through the training CLI, as the DAG runs them (one thread, ``--jobs`` side by side).
Per design it fits the blocked model (arm + seed block, :mod:`scaledyn.blocked`) and keeps only what does not
depend on the arms' means: the pooled residual sd with its df, the seed-block sd (what pairing removes), and
the CPU seconds per run (user + system time of the training process: training, final evaluation and any
compilation; robust to what else the machine runs, unlike wall time). From those alone it
sizes the default study: the seeds at which a loss row's MDE (80% power at level alpha / m, ``--family-size``
m of paper 002's Holm family) reaches ``llm.claims.min_effect`` (:func:`scaledyn.inference.seeds_for`, on the
default Pre-Norm family's ``(V - 1)(S - 1)`` df), and the CPU time of that study (seeds x arms x seconds per
run). The design with the least CPU time to the MDE is the choice; the arms' means are never read.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
from llm_lr_sweep import SIZE, prepare_data, train_run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scaledyn import blocked, inference, studies  # noqa: E402

# name -> (what it changes, the llm overrides); every design trains the tiny size's tokens per run
DESIGNS = {
    "cos10": ("today: cosine to 10% of the peak lr, 16 x 128 tokens per step", {}),
    "cos0": ("cosine to 0", {"schedule": {"min_lr_ratio": 0.0}}),
    "wsd0": (
        "warmup-stable-decay, linear to 0 over the last 20%",
        {"schedule": {"kind": "wsd", "min_lr_ratio": 0.0}},
    ),
    "cos0_b32": (
        "cosine to 0, 32 x 128 tokens per step, half the steps",
        {"schedule": {"min_lr_ratio": 0.0}, "batch": 2},
    ),
    "cos0_b32_compiled": (
        "cos0_b32 with torch.compile (one inductor cache shared by the runs)",
        {"schedule": {"min_lr_ratio": 0.0}, "batch": 2, "compile": True},
    ),
}


def design_llm(llm: dict, overrides: dict) -> dict:
    """The ``llm`` section of a design: its schedule keys replaced; ``batch`` k multiplies the tiny size's
    batch by k and divides its steps by k (the same tokens per run)."""
    out = {**llm, "schedule": {**llm["schedule"], **overrides.get("schedule", {})}}
    out["compile"] = overrides.get("compile", llm["compile"])
    k = int(overrides.get("batch", 1))
    size = dict(llm["sizes"][SIZE])
    steps = size["steps"] or int(size["token_budget"] // (size["batch_size"] * size["context"]))
    size["batch_size"], size["steps"] = size["batch_size"] * k, steps // k
    return {**out, "sizes": {**llm["sizes"], SIZE: size}}


def noise(runs: pd.DataFrame, arms: list[str]) -> dict:
    """The blocked fit's pooled residual sd and df, and the seed-block sd; nothing about the arm means."""
    model = blocked.fit(runs, "variant", "seed", "final_val_loss", arms)
    y = model.y
    block = y.mean(0) - y.mean()  # each seed's mean over arms, centred: block effect + residual mean
    block_var = (
        max(float(block.var(ddof=1)) - model.s2 / len(arms), 0.0) if model.n_blocks > 1 else float("nan")
    )
    return {
        "resid_sd": math.sqrt(model.s2),
        "df": model.df,
        "block_sd": math.sqrt(block_var),
        "seeds": model.n_blocks,
        "residuals": np.round(model.residuals, 6).tolist(),  # arm and seed means removed
    }


def eval_share(resid_sd: float, eval_se: float, cpu_s: float, eval_cpu_s: float) -> dict:
    """What the whole-split final evaluation buys. ``eval_se`` (a run's standard error over windows) bounds
    the evaluation's part of the residual variance from above (the arms are evaluated on the same windows,
    so a paired difference carries less); evaluating a fraction f of the windows costs ``eval_cpu_s * f``
    and adds ``eval_se**2 * (1/f - 1)``. ``eval_fraction_optimal`` minimises CPU time x residual variance
    (CPU time to a given MDE): f* = sqrt(train_cpu * e2 / (eval_cpu * (v - e2)))."""
    v, e2 = resid_sd**2, eval_se**2
    train = max(cpu_s - eval_cpu_s, 0.0)
    f = math.sqrt(train * e2 / (eval_cpu_s * (v - e2))) if v > e2 and eval_cpu_s > 0 else 1.0
    return {"eval_variance_share": e2 / v, "eval_fraction_optimal": min(f, 1.0)}


def evidence(results: dict, reference: str = "cos10") -> None:
    """Per design, ``variance_ratio`` to the reference design's residual variance and the two-sided F-test
    p-value of equal variances (``f_test_p``): how far the pilot's df can tell the designs' noise apart."""
    ref = results.get(reference)
    for r in results.values():
        if ref is None or not (r["df"] >= 1 and ref["df"] >= 1):
            continue
        ratio = (r["resid_sd"] / ref["resid_sd"]) ** 2
        tail = scipy.stats.f.cdf(ratio, r["df"], ref["df"])
        r["variance_ratio"], r["f_test_p"] = ratio, float(min(1.0, 2 * min(tail, 1 - tail)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--designs", nargs="+", default=["cos10", "cos0", "cos0_b32"], choices=list(DESIGNS))
    parser.add_argument("--arms", nargs="+", default=["baseline", "placement", "md"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--study-arms", type=int, default=6, help="V of the sized Pre-Norm family")
    parser.add_argument("--family-size", type=int, default=12, help="m of paper 002's Holm family")
    parser.add_argument("--steps", type=int, default=None, help="tiny's steps (a plumbing check only)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "llm_design.json")
    args = parser.parse_args()
    cfg = studies.load({} if args.steps is None else {"llm": {"sizes": {SIZE: {"steps": args.steps}}}})
    llm, global_seed = cfg["llm"], int(cfg["seed"]) + 2
    alpha, power = 1 - float(cfg["stats"]["ci_level"]), float(cfg["stats"]["power"])
    target = float(llm["claims"]["min_effect"])
    load_start, t0 = os.getloadavg(), time.perf_counter()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="llm_design_inductor_"))
    results = {}
    with tempfile.TemporaryDirectory(prefix="llm_design_") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        work = Path(tmp)
        prepare_data(work, llm)
        for name in args.designs:
            what, overrides = DESIGNS[name]
            params = design_llm(llm, overrides)
            todo = [(v, s) for s in range(args.seeds) for v in args.arms]
            summaries = list(
                pool.map(
                    lambda p, n=name, pr=params: train_run(
                        work / n, pr, "prenorm", p[0], p[1], global_seed, device="cpu", threads=1
                    ),
                    todo,
                )
            )
            runs = pd.DataFrame(
                [
                    {"variant": v, "seed": s, "final_val_loss": sm["final_val_loss"]}
                    for (v, s), sm in zip(todo, summaries, strict=True)
                ]
            )
            cpu_s = float(np.median([sm["cpu_s"] for sm in summaries]))
            wall_s = float(np.median([sm["wall_s"] for sm in summaries]))
            eval_s = float(np.median([sm.get("final_eval_s") or 0.0 for sm in summaries]))
            eval_se = float(np.median([sm.get("final_val_se") or 0.0 for sm in summaries]))
            n = noise(runs, args.arms)
            se = n["resid_sd"] * math.sqrt(2 / args.seeds)
            df_study = (args.study_arms - 1) * (args.seeds - 1)
            need = inference.seeds_for(target, se, df_study, args.seeds, alpha / args.family_size, power)
            results[name] = {
                "what": what,
                "overrides": overrides,
                **n,
                "cpu_s_per_run": cpu_s,
                "wall_s_per_run": wall_s,
                "final_eval_s": eval_s,
                "final_val_se": eval_se,
                **eval_share(n["resid_sd"], eval_se, cpu_s, eval_s * cpu_s / max(wall_s, 1e-9)),
                "seeds_for_mde": need,
                "cpu_s_to_mde": need * args.study_arms * cpu_s if math.isfinite(need) else float("inf"),
                "diverged": int(sum(bool(sm["diverged"]) for sm in summaries)),
            }
            print(
                f"{name:>9}: resid sd {n['resid_sd']:.4f} (df {n['df']}), block sd {n['block_sd']:.4f}, "
                f"{cpu_s:.0f} s/run, {need:.0f} seeds -> {results[name]['cpu_s_to_mde'] / 3600:.1f} CPU-h"
            )
    chosen = min(results, key=lambda k: results[k]["cpu_s_to_mde"])
    base = results.get("cos10", {}).get("cpu_s_to_mde", float("nan"))
    evidence(results)
    out = {
        "command": "python benchmarks/llm_design.py " + " ".join(sys.argv[1:]),
        "rule": "least CPU time to a loss row's MDE (80% power, level alpha / m) at llm.claims.min_effect, "
        "from the residual sd and CPU seconds per run only",
        "arms": args.arms,
        "seeds": args.seeds,
        "global_seed": global_seed,
        "family_size": args.family_size,
        "study_arms": args.study_arms,
        "min_effect": target,
        "designs": results,
        "chosen": chosen,
        "cpu_ratio_chosen_vs_cos10": results[chosen]["cpu_s_to_mde"] / base if base == base else None,
        "wall_s": time.perf_counter() - t0,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "cpu_count": os.cpu_count(),
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"chosen: {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
