"""Command line of study ``minimal_model``.

    python -m scaledyn.minimal_model simulate --sweep NAME --params JSON --global-seed N --threads N \
        --out FILE.csv
    python -m scaledyn.minimal_model analyse --inputs a.csv b.csv ... --params JSON [--stats JSON] \
        --out-dir DIR

``--params`` is the ``minimal_model`` config section as inline JSON or a path to a JSON / YAML file (a whole
config with a ``minimal_model`` key also works); missing keys take their defaults. ``--stats`` is the
pipeline-wide ``stats`` section (bootstrap resamples, CI level, bootstrap seed) in the same forms.
``analyse`` writes ``phase_means.csv``, ``runs.csv``, ``equilibrium.csv``, ``slopes.csv`` and
``claims.json``, atomically (``scaledyn.io``: temporary file, then rename).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from scaledyn.io import write_csv, write_json
from scaledyn.minimal_model import analysis, claims
from scaledyn import config
from scaledyn.minimal_model.simulate import simulate


def cmd_simulate(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    params = config.read(args.params, "minimal_model")
    t0 = time.perf_counter()
    frame = simulate(params, args.sweep, args.global_seed, progress=True)
    write_csv(frame, Path(args.out))
    print(
        f"[minimal_model {args.sweep}] {len(frame)} rows -> {args.out} in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )


def cmd_analyse(args: argparse.Namespace) -> None:
    params = config.read(args.params, "minimal_model")
    stats = config.read(args.stats, "stats")
    df = pd.concat([pd.read_csv(p) for p in args.inputs], ignore_index=True)
    out = Path(args.out_dir)
    tables = {
        "phase_means.csv": lambda: analysis.phase_means(df),
        "runs.csv": lambda: analysis.run_summary(df, params),
        "equilibrium.csv": lambda: analysis.equilibrium(df, params, stats),
        "slopes.csv": lambda: analysis.scaling_slopes(df, params, stats),
    }
    for name, make in tables.items():
        t0 = time.perf_counter()
        write_csv(make(), out / name)
        print(f"[minimal_model analyse] {name} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    rows = [r.as_dict() for r in claims.all_claims(df, params, stats)]
    write_json(rows, out / "claims.json")
    for r in rows:
        print(
            f"[minimal_model claims] {r['claim'][:3]} {r['measure']}: {r['value']:.4g} "
            f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}] {r['criterion']} -> {r['verdict']}",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m scaledyn.minimal_model", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="run one sweep and write its tidy trajectories (CSV)")
    sim.add_argument("--sweep", required=True, help="a sweep of minimal_model.sweeps")
    sim.add_argument("--params", default=None, help="minimal_model section: inline JSON or JSON/YAML file")
    sim.add_argument("--global-seed", type=int, default=0)
    sim.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1 is fastest here)")
    sim.add_argument("--out", required=True)
    ana = sub.add_parser("analyse", help="derived tables and claims.json from sweep CSVs")
    ana.add_argument("--inputs", nargs="+", required=True)
    ana.add_argument("--params", default=None, help="minimal_model section: inline JSON or JSON/YAML file")
    ana.add_argument(
        "--stats", default=None, help="pipeline stats section (bootstrap resamples, CI level, seed)"
    )
    ana.add_argument("--out-dir", required=True)
    args = parser.parse_args(argv)
    {"simulate": cmd_simulate, "analyse": cmd_analyse}[args.command](args)


if __name__ == "__main__":
    main()
