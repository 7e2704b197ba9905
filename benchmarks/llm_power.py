"""Study 002's power at the CPU default: each loss claim's MDE and the study's wall time, from a real run.

    make paper                                      # or: snakemake --cores 2 <the llm targets>
    python benchmarks/llm_power.py [--results results] [--log .snakemake/log/<latest>.snakemake.log] \
        [--out benchmarks/results/llm_power.json] [--note "machine, load"]

Reads what the run wrote: ``claims/claims.csv`` (paper 002's loss rows: each one's MDE at ``stats.power``
within the paper's Holm family, and ``seeds_needed``, the seeds at which it reaches ``llm.claims.min_effect``,
sized from the spread), ``llm/deltas.csv`` (each family's residual sd, pooled df, spread check),
``llm/runs.csv`` (runs, within-run evaluation SE), ``llm/plan.json`` under an internal pilot (pilot sd,
seeds planned and run, whether the ceiling bound) and the Snakemake log (the first start and the last end of
an ``llm:`` job: the study-002 part of the run, its wall time; the sum of the training jobs' own times from
``results/benchmarks/llm_train``). Writes ``llm_power.json``: ``mde`` (loss row -> MDE at 80% power),
``seeds_needed``, ``llm_wall_s``, the targets (every loss row's MDE at most ``min_effect``, at most 30
minutes of study 002 on the 2-core machine) and whether they are met, and the noise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGET_WALL_S = 1800.0
FINISHED = re.compile(r"^Finished job(?:id:)? (\d+)\b")  # "Finished job 7." / "Finished jobid: 7 (Rule: x)"
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def llm_wall(log: Path) -> tuple[float, str, str]:
    """Seconds from the first ``llm:`` job start to the last ``llm:`` job end of a Snakemake log."""
    stamp, started, ids, ends = None, [], set(), []
    for line in log.read_text().splitlines():
        if m := STAMP.match(line.strip()):
            stamp = datetime.strptime(m[1], "%a %b %d %H:%M:%S %Y")
        elif (m := re.match(r"^(?:local)?[Jj]ob (\d+): llm:", line.strip())) and stamp is not None:
            started.append(stamp)
            ids.add(m[1])
        elif (m := FINISHED.match(line.strip())) and m[1] in ids and stamp is not None:
            ends.append(stamp)
    if not started or not ends:
        raise SystemExit(f"Error: no llm job in {log}")
    first, last = min(started), max(ends)
    return (last - first).total_seconds(), first.isoformat(), last.isoformat()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--log", type=Path, default=None, help="default: the newest .snakemake/log/*.log")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "llm_power.json")
    parser.add_argument("--note", default="")
    parser.add_argument("--make-paper-s", type=float, default=None, help="the fresh make paper's wall time")
    parser.add_argument(
        "--design", default=None, help="the training design's name (benchmarks/llm_design.py)"
    )
    args = parser.parse_args()
    log = args.log or max(Path(".snakemake/log").glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime)
    claims = pd.read_csv(args.results / "claims" / "claims.csv", dtype={"paper": str})
    deltas = pd.read_csv(args.results / "llm" / "deltas.csv")
    runs = pd.read_csv(args.results / "llm" / "runs.csv")
    wall, first, last = llm_wall(log)
    plan = args.results / "llm" / "plan.json"  # under an internal pilot
    bench = sorted(Path("results/benchmarks/llm_train").glob("*.tsv"))
    train_s = float(sum(pd.read_csv(b, sep="\t")["s"].iloc[0] for b in bench))
    loss = claims[
        (claims["paper"] == "002") & claims["counted"] & claims["measure"].str.startswith("final val")
    ]
    label = (
        loss["claim"].str[:2]
        + " "
        + loss["scope"]
        + ": "
        + loss["measure"].str.removeprefix("final val loss, ")
    )
    mde = dict(zip(label, loss["mde"].round(5), strict=True))
    seeds = dict(zip(label, loss["seeds_needed"].astype("Int64").astype(object), strict=True))
    target = float(loss["effect"].max()) if len(loss) else float("nan")
    noise = {
        f"{r.size}, {r.arch}": {
            "seeds": int(r.n_blocks),
            "pooled_residual_df": int(r.df),
            "residual_sd": round(float(r.resid_sd), 5),
            "spread_check_p": round(float(r.spread_p), 3),
            "min_effect": float(r.min_effect),
        }
        for r in deltas[deltas["family"] == "reference"].drop_duplicates(["size", "arch"]).itertuples()
    }
    result = {
        "command": "python benchmarks/llm_power.py " + " ".join(sys.argv[1:]),
        "log": str(log),
        "mde": mde,
        "mde_power": "stats.power (0.8 by default), level alpha / m of paper 002's Holm family",
        "seeds_needed": {k: None if pd.isna(v) else int(v) for k, v in seeds.items()},
        "llm_wall_s": wall,
        "make_paper_s": args.make_paper_s,
        "design": args.design,
        "llm_wall_note": f"first llm job start {first}, last llm job end {last} (Snakemake log) {args.note}",
        "llm_train_job_s_sum": round(train_s, 1),
        "runs": int(len(runs)),
        "diverged": int(runs["diverged"].astype(bool).sum()),
        "within_run_eval_se_median": round(float(runs["final_val_se"].median()), 5),
        "noise": noise,
        "plan": json.loads(plan.read_text()) if plan.exists() else None,
        "targets": {
            "mde_max": target,
            "llm_wall_s_max": TARGET_WALL_S,
            "mde_met": bool(mde) and max(mde.values()) <= target,
            "wall_met": wall <= TARGET_WALL_S,
        },
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("mde", "llm_wall_s", "targets")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
