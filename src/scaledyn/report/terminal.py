"""The claims table in the terminal: ``python -m scaledyn.report claims [--study S] [--results DIR]``.

Reads ``<results>/claims/claims.csv`` (the rule ``claims_table``, :mod:`scaledyn.report.claims_table`) and
prints, per paper, one row per claim: claim (on its first row), scope, measured value [CI], criterion, verdict
and the verdict after the multiplicity adjustment, wrapped to the terminal's width (110 columns when it has
none), then the verdict counts. Nothing is computed here: every number and verdict is the table's.
``make claims`` runs it.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from scaledyn import config
from scaledyn.cli import fail
from scaledyn.report.claims_table import TABLES
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED

RESULTS = Path("results")
CLAIMS = Path("claims") / f"{TABLES[0]}.csv"  # under the results folder (rule claims_table)
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)
TEXT = ("paper", "claim", "scope", "measure", "criterion", "verdict", "verdict_adjusted", "role")
HEADERS = ("claim", "scope", "measured [CI]", "criterion", "verdict", "adjusted")
SHARES = (0.26, 0.2, 0.34, 0.2)  # of the width left to the text columns, after the two verdict columns
VERDICT_WIDTH = max(map(len, VERDICTS))
GAP = 2  # tabulate's "simple" format puts two spaces between columns


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", help="a study (gsnr, minimal_model, llm) or its paper number (000)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results folder")
    parser.add_argument("--width", type=int, default=None, help="columns (default: the terminal's, or 110)")


def read(results: Path) -> pd.DataFrame:
    """The claims table with its text columns as text (a paper stays "000")."""
    path = results / CLAIMS
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: make it with `snakemake {RESULTS / CLAIMS}` (rule claims_table)"
            " or `make paper`"
        )
    df = pd.read_csv(path, dtype=dict.fromkeys(TEXT, str), keep_default_na=False, na_values=[""])
    df[list(TEXT)] = df[list(TEXT)].fillna("")
    return df


def paper_of(study: str, papers: list[str]) -> str:
    """The paper number of ``study``: a study name of the config schema, or a paper number of the table."""
    names = config.schema()["properties"]["studies"]["items"]["enum"]
    if study in names:
        return importlib.import_module(f"scaledyn.{study}.claims").STUDY
    if study in papers or (study.isdigit() and f"{int(study):03d}" in papers):
        return f"{int(study):03d}" if study.isdigit() else study
    raise ValueError(
        f"--study must be one of {', '.join(names)} or a paper of the table: {', '.join(papers)}"
    )


def _num(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3g}"


def measured(row: pd.Series) -> str:
    """``<measure>: <estimate> [<ci_low>, <ci_high>]``, three significant digits, n/a where not finite."""
    return f"{row['measure']}: {_num(row['estimate'])} [{_num(row['ci_low'])}, {_num(row['ci_high'])}]"


def widths(width: int) -> list[int]:
    """Column widths within ``width`` characters: verdicts in full, the text columns by :data:`SHARES`."""
    text = width - 2 * VERDICT_WIDTH - GAP * len(HEADERS)
    return [max(8, math.floor(text * s)) for s in SHARES] + [VERDICT_WIDTH] * 2


def render(df: pd.DataFrame, width: int = 110) -> str:
    """The table, one block per paper, no line longer than ``width``, then the verdict counts."""
    cols = widths(width)
    blocks = []
    for paper, rows in df.groupby("paper", sort=True):
        repeated = rows["claim"].eq(rows["claim"].shift())  # a claim's text on its first row only
        cells = [
            ["" if again else r["claim"], r["scope"], measured(r), r["criterion"], r["verdict"],
             r["verdict_adjusted"] if r["counted"] else f"({r['role']})"]
            for again, (_, r) in zip(repeated, rows.iterrows(), strict=True)
        ]  # fmt: skip
        table = tabulate(cells, headers=HEADERS, tablefmt="simple", maxcolwidths=cols, disable_numparse=True)
        blocks.append(f"Paper {paper} ({len(rows)} rows)\n{table}")
    counted = df[df["counted"]]
    counts = counted["verdict_adjusted"].value_counts()
    total = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
    rest = (
        f" ({len(df) - len(counted)} more rows: checks, practitioner, descriptive)"
        if len(df) > len(counted)
        else ""
    )
    return "\n\n".join(blocks) + f"\n\n{len(counted)} claims rows after adjustment: {total}{rest}"


def run(args: argparse.Namespace) -> int:
    try:
        df = read(args.results)
        if args.study is not None:
            df = df[df["paper"] == paper_of(args.study, sorted(set(df["paper"])))]
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    width = args.width or shutil.get_terminal_size((110, 24)).columns
    try:
        print(render(df, width))
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
