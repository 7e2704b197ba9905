"""Command line of study 000, called by workflow/rules/gsnr.smk.

python -m scaledyn.gsnr simulate --noise N --optimizer O --params JSON --global-seed G --out F
python -m scaledyn.gsnr aggregate --runs F [F ...] --params JSON --stats JSON --out-dir D
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from scaledyn.gsnr import aggregate, claims
from scaledyn.gsnr.simulate import simulate
from scaledyn.io import write_csv, write_json


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.gsnr", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="run one (noise model, optimiser) job over all shapes")
    sim.add_argument("--noise", required=True)
    sim.add_argument("--optimizer", required=True)
    sim.add_argument("--params", required=True, type=json.loads, help="the gsnr config section as JSON")
    sim.add_argument("--global-seed", required=True, type=int)
    sim.add_argument("--threads", type=int, default=1)
    sim.add_argument("--out", required=True, type=Path)
    agg = sub.add_parser("aggregate", help="result tables and claims from the run tables")
    agg.add_argument("--runs", required=True, nargs="+", type=Path)
    agg.add_argument("--params", required=True, type=json.loads)
    agg.add_argument("--stats", required=True, type=json.loads)
    agg.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)

    if args.command == "simulate":
        torch.set_num_threads(args.threads)
        start = time.perf_counter()
        df = pd.concat(
            [
                simulate(args.params, shape, args.noise, args.optimizer, args.global_seed, progress=True)
                for shape in args.params["shapes"]
            ],
            ignore_index=True,
        )
        write_csv(df, args.out)
        print(f"[gsnr] {len(df)} runs in {time.perf_counter() - start:.1f} s -> {args.out}", file=sys.stderr)
    else:
        runs = pd.concat([pd.read_csv(f) for f in args.runs], ignore_index=True)
        out = args.out_dir
        write_csv(runs, out / "runs.csv")
        write_csv(aggregate.summary_table(runs, args.stats), out / "summary.csv")
        table, curves, confusion = aggregate.classifier_tables(runs, args.stats)
        write_csv(table, out / "classifier.csv")
        write_csv(curves, out / "curves.csv")
        write_csv(confusion, out / "confusion.csv")
        write_json(claims.check_all(runs, args.params, args.stats), out / "claims.json")


if __name__ == "__main__":
    main()
