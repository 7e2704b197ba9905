"""What every study's command line shares: one-line errors for bad input, tables by name, the claims step.

Every study runs as ``python -m scaledyn.<study> <step> ...`` (its ``STEPS``: step -> module, :func:`steps`)
with the same step names for the same work:
``simulate`` (or ``train``), ``analyse``, ``claims`` (and ``data`` for the corpus of study 002). The
``claims`` step is the same for every study (:func:`claims_main`): it reads result tables by name, the
study's section and the ``stats`` section, and writes ``claims.json``, one row per
:class:`scaledyn.stats.ClaimResult` of the study's ``claims.check_all``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scaledyn import config
from scaledyn.io import write_json

UserErrors = (config.ConfigError, FileNotFoundError, ValueError)


def fail(message: str) -> int:
    """Print one ``Error: ...`` line (no traceback) and return the CLI's exit status for bad input, 2."""
    print(f"Error: {message}", file=sys.stderr)
    return 2


def steps(package: str, modules: dict[str, str]) -> dict[str, Callable[[list[str]], int | None]]:
    """A study's steps for :func:`dispatch`: step -> the ``main(argv)`` of ``<package>.<module>``, imported
    when that step runs (by name: a job imports its own step's code only, and its rule's code inputs are
    that step's import closure, :mod:`scaledyn.imports`)."""

    def runner(module: str) -> Callable[[list[str]], int | None]:
        return lambda argv: importlib.import_module(f"{package}.{module}").main(argv)

    return {step: runner(module) for step, module in modules.items()}


def dispatch(prog: str, doc: str, steps: dict[str, Callable[[list[str]], int | None]], argv=None) -> int:
    """``prog <step> [args]``: run ``steps[step](args)``; bad input (:data:`UserErrors`): one line, exit 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in steps:
        names = " | ".join(steps)
        print(f"usage: {prog} {{{names}}} ...\n\n{doc.strip()}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    try:
        return steps[argv[0]](argv[1:]) or 0
    except UserErrors as exc:  # bad input (config, a missing file, a name not in the config): one line
        return fail(str(exc))


def read_tables(paths: Sequence[str | Path]) -> dict[str, pd.DataFrame]:
    """CSV tables keyed by file stem (``results/gsnr/runs.csv`` -> ``runs``)."""
    tables = {}
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"table {path} does not exist")
        tables[path.stem] = pd.read_csv(path)
    return tables


def claims_main(argv: list[str], *, study: str, check_all: Callable[..., list[Any]]) -> int:
    """The ``claims`` step: ``--inputs TABLE.csv ... --params SECTION --stats STATS --out claims.json``."""
    parser = argparse.ArgumentParser(prog=f"python -m scaledyn.{study} claims")
    parser.add_argument("--inputs", nargs="+", required=True, help="result tables, named by their stem")
    parser.add_argument("--params", default=None, help=f"the {study} section: inline JSON or JSON/YAML file")
    parser.add_argument("--stats", default=None, help="the stats section: inline JSON or a JSON/YAML file")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        rows = check_all(
            read_tables(args.inputs), config.read(args.params, study), config.read(args.stats, "stats")
        )
    except UserErrors as exc:
        return fail(str(exc))
    write_json([r.as_dict() for r in rows], args.out)
    for r in rows:
        print(
            f"[{study} claims] {r.scope} | {r.measure}: {r.value:.4g} [{r.ci_low:.4g}, {r.ci_high:.4g}] "
            f"{r.criterion} -> {r.verdict}",
            file=sys.stderr,
        )
    return 0
