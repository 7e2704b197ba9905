"""Command line of the report, called by workflow/rules/report.smk.

python -m scaledyn.report context --config JSON --study gsnr=results/gsnr [...] --benchmarks F [...] \
    --figures F.pdf [...] --claims claims.csv --calibration F.csv --sources JSON --out F
python -m scaledyn.report tex --context context.json --templates paper --out-dir results/report
python -m scaledyn.report claims-table --inputs results/*/claims.json [...] --stats JSON \
    --out results/claims/claims.csv
python -m scaledyn.report claims [--study S] [--results results]   # the claims table in the terminal
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scaledyn import io
from scaledyn.report import claims_table, context, render, terminal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaledyn.report")
    sub = parser.add_subparsers(dest="command", required=True)
    ctx = sub.add_parser("context", help="JSON of every number the report quotes")
    ctx.add_argument("--config", required=True, type=json.loads)
    ctx.add_argument("--study", action="append", default=[], help="NAME=RESULTS_DIR")
    ctx.add_argument("--benchmarks", nargs="*", default=[])
    ctx.add_argument("--figures", nargs="*", default=[], help="every figure PDF, results/figures/<study>/")
    ctx.add_argument(
        "--claims", type=Path, help="the claims table of every study (results/claims/claims.csv)"
    )
    ctx.add_argument("--calibration", type=Path, help="coverage of the interval methods (calibration.csv)")
    ctx.add_argument(
        "--sources", type=json.loads, help="JSON: the rules behind figures and claims, for links"
    )
    ctx.add_argument("--out", required=True, type=Path)
    tex = sub.add_parser("tex", help="render the LaTeX report")
    tex.add_argument("--context", required=True, type=Path)
    tex.add_argument("--templates", required=True, type=Path)
    tex.add_argument("--out-dir", required=True, type=Path)
    claims_table.add_arguments(sub.add_parser("claims-table", help="one claims table of every study"))
    terminal.add_arguments(sub.add_parser("claims", help="print the claims table of the results"))
    args = parser.parse_args(argv)
    if args.command == "context":
        dirs = {name: Path(d) for name, d in (s.split("=", 1) for s in args.study)}
        io.write_json(
            context.build(
                args.config, dirs, args.benchmarks, args.figures, args.claims, args.calibration, args.sources
            ),
            args.out,
        )
    elif args.command == "claims-table":
        claims_table.run(args)
    elif args.command == "claims":
        return terminal.run(args)
    else:
        render.render(io.read_json(args.context), args.templates, args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
