"""Command line of study 001 (the minimal model), called by workflow/rules/minimal_model.smk.

    python -m scaledyn.minimal_model simulate --sweep NAME --params SECTION --global-seed N --out F.csv
    python -m scaledyn.minimal_model analyse --inputs SWEEP.csv ... --params SECTION --stats STATS --out-dir D
    python -m scaledyn.minimal_model claims --inputs SWEEP.csv ... --params SECTION --stats STATS --out F.json

``SECTION`` is the ``minimal_model`` config section and ``STATS`` the ``stats`` section, each inline JSON or a
JSON / YAML file, completed by the schema's defaults (:mod:`scaledyn.config`). ``analyse`` writes its
tables atomically (``scaledyn.io``: temporary file, then rename).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from scaledyn import cli, config
from scaledyn.io import write_csv
from scaledyn.minimal_model import TABLES, analysis, claims
from scaledyn.minimal_model.simulate import simulate


def simulate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.minimal_model simulate")
    parser.add_argument("--sweep", required=True, help="a sweep of minimal_model.sweeps")
    parser.add_argument("--params", default=None, help="minimal_model section: inline JSON or JSON/YAML file")
    parser.add_argument("--global-seed", type=int, required=True, help="the config's seed")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1 is fastest here)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    params = config.read(args.params, "minimal_model")
    if args.sweep not in params["sweeps"]:
        return cli.fail(f"unknown sweep {args.sweep!r}; sweeps: {', '.join(params['sweeps'])}")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    frame = simulate(params, args.sweep, args.global_seed, progress=True)
    write_csv(frame, args.out)
    print(
        f"[minimal_model {args.sweep}] {len(frame)} rows -> {args.out} in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )
    return 0


def analyse_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.minimal_model analyse")
    parser.add_argument("--inputs", nargs="+", required=True, help="the simulate step's sweep tables")
    parser.add_argument("--params", default=None, help="minimal_model section: inline JSON or JSON/YAML file")
    parser.add_argument("--stats", default=None, help="the stats section: inline JSON or a JSON/YAML file")
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    params = config.read(args.params, "minimal_model")
    stats = config.read(args.stats, "stats")
    df = pd.concat([pd.read_csv(p) for p in args.inputs], ignore_index=True)
    for name in TABLES:
        t0 = time.perf_counter()
        write_csv(analysis.BUILDERS[name](df, params, stats), args.out_dir / f"{name}.csv")
        print(f"[minimal_model analyse] {name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.dispatch(
        "python -m scaledyn.minimal_model",
        __doc__,
        {
            "simulate": simulate_main,
            "analyse": analyse_main,
            "claims": lambda a: cli.claims_main(a, study="minimal_model", check_all=claims.check_all),
        },
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
