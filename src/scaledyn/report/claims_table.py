"""One claims table for all studies: every study's ``claims.json`` rows with the paper's decisions.

    python -m scaledyn.report claims-table --inputs results/*/claims.json --stats STATS \
        --out results/claims/claims.csv

writes ``claims.csv`` and ``claims.json`` beside it (the same rows). This module assembles and labels; every
statistic is :mod:`scaledyn.inference`'s: each row arrives with its p-value of its own criterion (computed by
its study on the interval's own scale), and :func:`scaledyn.inference.decide` takes each paper's decisions
(one family-wise error rate per paper: Holm over its claim rows; MDE at ``stats.power``; seeds sized from
the spread). Columns added here:

- ``counted``, ``family_size``, ``p_adjusted``, ``verdict_adjusted``, ``mde``, ``seeds_needed``: from
  :func:`~scaledyn.inference.decide` (only rows of role ``claim`` count; A/A checks, practitioner and
  descriptive rows are reported beside them).
- ``flip_at``: the criterion value at which the raw verdict would change
  (:func:`~scaledyn.inference.flip_at`).
- ``margin``, ``margin_low``, ``margin_high``: the estimate and interval minus the threshold, signed so that
  positive meets the criterion (what the forest plot draws); a ``covers`` check unsigned; ``label``: a short
  row label.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scaledyn import config, inference, io
from scaledyn.stats import EXACT, INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, ClaimResult

# The table written to results/claims/<name>.csv (read by the forest plot, scaledyn.plots.FIGURES["claims"]).
TABLES = ("claims",)

COLUMNS = (
    "paper",
    "claim",
    "scope",
    "measure",
    "estimate",
    "ci_low",
    "ci_high",
    "criterion",
    "direction",
    "threshold",
    "verdict",
    "verdict_adjusted",
    "role",
    "counted",
    "family_size",
    "mde",
    "effect",
    "seeds",
    "seeds_needed",
    "df",
    "se",
    "method",
    "test",
    "scale",
    "level",
    "flip_at",
    "p_value",
    "p_adjusted",
    "margin",
    "margin_low",
    "margin_high",
    "label",
    "note",
)
COVERS = ClaimResult.COVERS


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _float(x: Any) -> float:
    return float(x) if _finite(x) else float("nan")


def _text(x: Any, default: str = "") -> str:
    return x if isinstance(x, str) else default


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1].rstrip(" ,;") + "\u2026"


_NUMBERED = re.compile(r"^\s*(C\d+)\s*:")


def claim_numbers(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each row's claim number: its ``"C<k>: ..."`` prefix, else ``C<k>`` by the order in which the paper's
    claims first appear."""
    seen: dict[str, dict[str, int]] = {}
    out = []
    for row in rows:
        m = _NUMBERED.match(str(row.get("claim", "")))
        order = seen.setdefault(str(row.get("study")), {})
        order.setdefault(str(row.get("claim", "")), len(order) + 1)
        out.append(m[1] if m else f"C{order[str(row.get('claim', ''))]}")
    return out


def label(number: str, row: Mapping[str, Any], width: int = 60) -> str:
    """``<claim number> <measure> | <scope>``, shortened to ``width`` characters (the paper is a panel)."""
    return _short(f"{number} {row.get('measure', '')} | {row.get('scope', '')}", width)


def table(rows: Iterable[Mapping[str, Any]], stats: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The claims table (:data:`COLUMNS`) of claims rows (``scaledyn.stats.ClaimResult`` dicts) under the
    ``stats`` section (ci_level: alpha = 1 - level per paper, and the level of rows without one; power)."""
    st = config.section("stats", dict(stats or {}))
    rows = list(rows)
    out = []
    for number, row in zip(claim_numbers(rows), rows, strict=True):
        est, low, high = (_float(row.get(k)) for k in ("value", "ci_low", "ci_high"))
        direction, thr = _text(row.get("direction")), _float(row.get("threshold"))
        sign = -1.0 if direction in ("<=", "<") else 1.0
        one_sided = direction in (">=", ">", "<=", "<")
        margins = (
            sorted(sign * (x - thr) for x in (low, high))
            if one_sided or direction == COVERS
            else [np.nan] * 2
        )
        out.append(
            {
                "paper": str(row["study"]),
                "claim": row["claim"],
                "scope": row["scope"],
                "measure": row["measure"],
                "estimate": est,
                "ci_low": low,
                "ci_high": high,
                "criterion": row["criterion"],
                "direction": direction,
                "threshold": thr,
                "verdict": row["verdict"],
                "role": _text(row.get("role"), "claim"),
                "effect": _float(row.get("effect")),
                "seeds": _float(row.get("n_seeds")),
                "df": _float(row.get("df")),
                "se": _float(row.get("se")),
                "method": _text(row.get("method")),
                "test": _text(row.get("test")),
                "scale": _text(row.get("scale"), "identity"),
                "level": _float(row.get("level")) if _finite(row.get("level")) else float(st["ci_level"]),
                "flip_at": inference.flip_at(row["verdict"], direction, est, low, high, thr),
                "p_value": _float(row.get("p_value")),
                "margin": sign * (est - thr) if one_sided or direction == COVERS else float("nan"),
                "margin_low": margins[0],
                "margin_high": margins[1],
                "label": label(number, row),
                "note": _text(row.get("note")),
            }
        )
    df = pd.DataFrame(out, columns=[c for c in COLUMNS if c not in DECIDED])
    df = df.sort_values("paper", kind="stable", ignore_index=True)
    alpha, power = 1.0 - float(st["ci_level"]), float(st["power"])
    return inference.decide(df, alpha, power, st["adjust"], EXACT)[list(COLUMNS)]


DECIDED = ("counted", "family_size", "p_adjusted", "verdict_adjusted", "mde", "seeds_needed")


def summary(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Counts of raw and adjusted verdicts over the rows that count (claims; not checks, practitioner or
    descriptive rows)."""
    counted = df[df["counted"].astype(bool)] if "counted" in df else df
    return {
        col: {v: int((counted[col] == v).sum()) for v in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)}
        for col in ("verdict", "verdict_adjusted")
    }


def glance(df: pd.DataFrame) -> list[dict]:
    """What holds, per paper at a glance: each claim (in table order) with its counted rows under each
    adjusted verdict, a row named by its scope (by its measure where the claim has several rows of that
    scope), and the paper's A/A checks the same way. Practitioner and descriptive rows are left to the
    full table."""

    def scopes(rows: pd.DataFrame) -> dict[str, list[str]]:
        shared = rows["scope"].duplicated(keep=False)
        names = rows["scope"].where(~shared, rows["measure"])
        return {
            v: names[rows["verdict_adjusted"] == v].tolist() for v in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)
        }

    def by_claim(rows: pd.DataFrame) -> list[dict]:
        return [{"claim": c, **scopes(g)} for c, g in rows.groupby("claim", sort=False)]

    return [
        {
            "paper": paper,
            "claims": by_claim(rows[rows["counted"].astype(bool)]),
            "checks": by_claim(rows[rows["role"] == "check"]),
        }
        for paper, rows in df.groupby("paper", sort=False)
    ]


def read_rows(paths: Iterable[str | Path]) -> list[dict]:
    return [row for p in paths for row in io.read_json(p)]


def write(df: pd.DataFrame, out: str | Path) -> None:
    """``out`` (CSV) and the same rows as JSON beside it (NaN -> null)."""
    out = Path(out)
    io.write_csv(df, out)
    records = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in df.to_dict("records")
    ]
    io.write_json(records, out.with_suffix(".json"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inputs", nargs="+", required=True, help="every study's claims.json")
    parser.add_argument("--stats", default=None, help="the stats section (inline JSON or a JSON/YAML file)")
    parser.add_argument(
        "--out", required=True, type=Path, help="claims.csv (claims.json is written beside it)"
    )


def run(args: argparse.Namespace) -> None:
    df = table(read_rows(args.inputs), config.read(args.stats, "stats"))
    write(df, args.out)
    counts = summary(df)
    print(
        f"{len(df)} claims rows -> {args.out}; raw {counts['verdict']}; adjusted {counts['verdict_adjusted']}"
    )
