"""Command line of study 000 (GSNR as an indicator of scale adaptation), called by workflow/rules/gsnr.smk.

    python -m scaledyn.gsnr simulate --noise N --optimizer O --params SECTION --global-seed G --out F
    python -m scaledyn.gsnr analyse --runs F [F ...] --stats STATS --out-dir D
    python -m scaledyn.gsnr claims --inputs runs.csv --params SECTION --stats STATS --out claims.json

``SECTION`` is the ``gsnr`` config section and ``STATS`` the ``stats`` section, each inline JSON or a JSON /
YAML file, completed by the schema's defaults (:mod:`scaledyn.config`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from scaledyn import cli, config
from scaledyn.gsnr import analysis, check, claims
from scaledyn.gsnr.simulate import simulate
from scaledyn.io import write_csv


def simulate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.gsnr simulate")
    parser.add_argument("--noise", required=True, help="a noise model of gsnr.noise_models")
    parser.add_argument("--optimizer", required=True, help="an optimiser of gsnr.optimizers")
    parser.add_argument("--params", default=None, help="the gsnr section: inline JSON or a JSON/YAML file")
    parser.add_argument("--global-seed", type=int, required=True, help="the config's seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    # the job's own names go through the schema and the cross-key checks like the DAG's lists
    job = {**config.read(args.params, "gsnr"), "noise_models": [args.noise], "optimizers": [args.optimizer]}
    params = config.section("gsnr", job)
    check(params, runs=True)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    df = pd.concat(
        [
            simulate(params, shape, args.noise, args.optimizer, args.global_seed, progress=True)
            for shape in params["shapes"]
        ],
        ignore_index=True,
    )
    write_csv(df, args.out)
    print(f"[gsnr] {len(df)} runs in {time.perf_counter() - start:.1f} s -> {args.out}", file=sys.stderr)
    return 0


def analyse_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.gsnr analyse")
    parser.add_argument("--runs", required=True, nargs="+", type=Path, help="the simulate step's tables")
    parser.add_argument("--stats", default=None, help="the stats section: inline JSON or a JSON/YAML file")
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    stats = config.read(args.stats, "stats")
    runs = pd.concat([pd.read_csv(f) for f in args.runs], ignore_index=True)
    out = args.out_dir
    write_csv(runs, out / "runs.csv")
    write_csv(analysis.summary_table(runs, stats), out / "summary.csv")
    table, curves, confusion = analysis.classifier_tables(runs, stats)
    write_csv(table, out / "classifier.csv")
    write_csv(curves, out / "curves.csv")
    write_csv(confusion, out / "confusion.csv")
    write_csv(analysis.gsnr_points(runs), out / "gsnr_points.csv")
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.dispatch(
        "python -m scaledyn.gsnr",
        __doc__,
        {
            "simulate": simulate_main,
            "analyse": analyse_main,
            "claims": lambda a: cli.claims_main(a, study="gsnr", check_all=claims.check_all),
        },
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
