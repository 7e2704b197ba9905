"""Every figure's command line: ``python -m scaledyn.plots.<study> <figure> --tables T.csv ... --out F.pdf``.

The tables are matched to the figure's :class:`scaledyn.plots.Figure` entry by file stem; options
(``--option estimate=plugin``) are the config values it takes. The PDF and a PNG beside it are written.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import pandas as pd

from scaledyn.plots import FIGURES, style


def main(study: str, argv: list[str] | None = None) -> int:
    figures = FIGURES[study]
    parser = argparse.ArgumentParser(prog=f"python -m scaledyn.plots.{study}")
    parser.add_argument("figure", choices=list(figures))
    parser.add_argument("--tables", nargs="+", required=True, help="result tables, matched by file stem")
    parser.add_argument("--option", action="append", default=[], help="NAME=VALUE (e.g. estimate=plugin)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    fig = figures[args.figure]
    given = {Path(p).stem: Path(p) for p in args.tables}
    options = dict(o.split("=", 1) for o in args.option if "=" in o)
    missing = [f"{t}.csv" for t in fig.tables if t not in given or not given[t].exists()] + [
        f"--option {o}=VALUE" for o in fig.options if o not in options
    ]
    unknown = [o for o in args.option if o.split("=", 1)[0] not in fig.options or "=" not in o]
    if missing or unknown:
        what = (["needs " + ", ".join(missing)] if missing else []) + (
            [f"takes --option NAME=VALUE with NAME in {list(fig.options)}, not {unknown}"] if unknown else []
        )
        print(f"Error: {args.figure} {'; '.join(what)}", file=sys.stderr)
        return 2
    draw = getattr(importlib.import_module(f"scaledyn.plots.{study}"), fig.draw)
    style.setup()
    tables = [pd.read_csv(given[t]) for t in fig.tables]
    style.save(draw(*tables, **{o: options[o] for o in fig.options}), args.out)
    return 0
