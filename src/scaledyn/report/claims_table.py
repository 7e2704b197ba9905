"""One claims table for all studies: every study's ``claims.json`` rows with what each verdict rests on.

    python -m scaledyn.report claims-table --inputs results/*/claims.json --stats STATS \
        --out results/claims/claims.csv

writes ``claims.csv`` and ``claims.json`` beside it (the same rows). Per row, from its interval and criterion:

- ``direction``, ``threshold``: the row's own fields when it has them, else parsed from ``criterion``
  (``"<label> <dir> <number>"`` or ``"<dir> <number>"``; a two-sided ``"a <= label <= b"`` has two
  thresholds, and the row is checked against the one nearer its estimate, ``direction`` ``"between"``).
- ``mde``: the interval's half-width ``(ci_high - ci_low) / 2``, the smallest effect the row can detect.
- ``p_value``: two-sided p-value of H0 ``value == threshold``: ``t = (estimate - threshold) / se`` against
  Student t with ``df`` degrees of freedom. ``df``: the row's own (a pooled residual variance, e.g.
  ``(V - 1)(S - 1)`` of a blocked design), else ``seeds - 1`` (normal when neither is known); ``se``: the
  row's own (an interval whose half-width is not a t quantile times it, e.g. Dunnett's), else implied by the
  interval, ``se = mde / q`` with ``q`` the t quantile at ``(1 + level) / 2`` with ``df``; NaN for a
  zero-width interval (no sampling error: nothing to test, the row keeps its verdict after adjustment).
- ``verdict_adjusted``: with ``stats.adjust: holm``, Holm's step-down test within each paper over its rows
  with a finite p-value at ``alpha = 1 - level``; a supported / not supported row keeps its verdict only if
  Holm rejects its H0, else it is inconclusive. Never stronger than the raw ``verdict``. A row whose interval
  is already adjusted within its own family (its ``adjusted`` field, e.g. Dunnett's simultaneous intervals
  against one reference) is not adjusted again: it keeps its verdict and its own ``p_adjusted``, and takes
  no part in Holm's family.
- Direction ``covers`` (``ClaimResult.COVERS``, an A/A check): supported when the interval covers the
  threshold; its ``margin*`` columns are the interval minus the threshold unsigned (the check holds when
  they straddle 0); no ``flip_at`` and no ``seeds_needed``.
- ``flip_at``: the criterion value at which the verdict would change (supported ``>=``: ``ci_low``; not
  supported ``>=``: ``ci_high``; inconclusive: the bound that would have to clear the threshold).
- ``seeds_needed``: for an inconclusive row, the seeds that would decide an effect of the current margin
  ``|estimate - threshold|`` at the measured spread (``sd = mde * sqrt(n) / t_{n-1}``; smallest ``n'`` with
  ``t_{n'-1} * sd / sqrt(n') < margin``); a row with its own ``df`` (pooled, possibly simultaneous) keeps its
  critical value (``mde * sqrt(n / n') < margin``: an upper bound, the critical value falls as the df grow);
  NaN where not computable.
- ``margin``, ``margin_low``, ``margin_high``: the interval minus the threshold, signed so that positive
  meets the criterion (what the forest plot draws); ``label``: a short row label.
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
import scipy.stats

from scaledyn import config, io
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, ClaimResult

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
    "mde",
    "seeds",
    "df",
    "method",
    "level",
    "flip_at",
    "p_value",
    "p_adjusted",
    "adjusted",
    "seeds_needed",
    "margin",
    "margin_low",
    "margin_high",
    "label",
    "note",
)

BETWEEN = "between"
COVERS = ClaimResult.COVERS
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf"
_ONE_SIDED = re.compile(rf"^\s*(?:(?P<label>.*?)\s+)?(?P<dir>>=|<=|>|<)\s*(?P<thr>{_NUM})\s*$")
_TWO_SIDED = re.compile(rf"^\s*(?P<lo>{_NUM})\s*<=?\s*(?P<label>.+?)\s*<=?\s*(?P<hi>{_NUM})\s*$")


def parse_criterion(text: str | None) -> list[tuple[str, float]]:
    """The constraints ``[(direction, threshold), ...]`` of a criterion text; empty when it has none.

    ``"rho >= 0.5"`` and ``">= 0.5"`` -> ``[(">=", 0.5)]``; ``"-2 <= slope <= -1"`` -> ``[(">=", -2.0),
    ("<=", -1.0)]``; ``"-"`` (no criterion) -> ``[]``.
    """
    if not isinstance(text, str):
        return []
    m = _TWO_SIDED.match(text)
    if m:
        return [(">=", float(m["lo"])), ("<=", float(m["hi"]))]
    m = _ONE_SIDED.match(text)
    if m:
        return [(m["dir"], float(m["thr"]))]
    return []


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _float(x: Any) -> float:
    return float(x) if _finite(x) else float("nan")


def criterion_of(row: Mapping[str, Any]) -> tuple[str, float, list[tuple[str, float]]]:
    """(direction, threshold, constraints) of a claims row: its ``direction``/``threshold`` fields when
    present, else parsed from ``criterion``. Two-sided: direction ``"between"`` and the threshold nearer
    the estimate (the one the verdict turns on). No criterion: ``("", nan, [])``."""
    direction, threshold = row.get("direction"), row.get("threshold")
    if direction == COVERS and _finite(threshold):
        return COVERS, float(threshold), []
    if isinstance(direction, str) and direction in (">=", ">", "<=", "<") and _finite(threshold):
        return direction, float(threshold), [(direction, float(threshold))]
    constraints = parse_criterion(row.get("criterion"))
    if not constraints:
        return "", float("nan"), []
    if len(constraints) == 1:
        return constraints[0][0], constraints[0][1], constraints
    est = _float(row.get("value"))
    nearest = min(constraints, key=lambda c: abs(est - c[1])) if _finite(est) else constraints[0]
    return BETWEEN, nearest[1], constraints


def _binding(direction: str, threshold: float, constraints: list[tuple[str, float]]) -> str:
    """The one-sided direction the row is checked in (a two-sided row: that of its nearer bound)."""
    if direction != BETWEEN:
        return direction
    return next(d for d, t in constraints if t == threshold)


def quantile(level: float, seeds: float, df: float = float("nan")) -> float:
    """Two-sided quantile at ``level``: Student t with ``df`` (when given) or ``seeds - 1`` degrees of
    freedom, normal when neither is known."""
    dof = _dof(seeds, df)
    if _finite(dof):
        return float(scipy.stats.t.ppf(0.5 + level / 2.0, dof))
    return float(scipy.stats.norm.ppf(0.5 + level / 2.0))


def _dof(seeds: float, df: float) -> float:
    """The degrees of freedom of a row: its own ``df`` (>= 1), else ``seeds - 1`` (seeds >= 2), else NaN."""
    if _finite(df) and df >= 1:
        return float(df)
    return float(seeds) - 1.0 if _finite(seeds) and seeds >= 2 else float("nan")


def p_value(
    estimate: float,
    low: float,
    high: float,
    threshold: float,
    level: float,
    seeds: float,
    *,
    df: float = float("nan"),
    se: float = float("nan"),
) -> float:
    """Two-sided p-value of H0 ``value == threshold`` at the row's standard error.

    ``se``: given, else implied by the interval ``[low, high]`` at ``level``, ``(high - low) / 2 / q``
    (q: :func:`quantile`); ``t = (estimate - threshold) / se``, ``p = 2 * P(T > |t|)`` with T Student t
    (``df``, else ``seeds - 1`` degrees of freedom) or normal. NaN when an input is not finite and for a
    zero-width interval (an exact value, or equal values in every seed): there is no sampling error to test,
    so such a row is outside the multiplicity adjustment and keeps its verdict.
    """
    if not all(map(_finite, (estimate, low, high, threshold, level))):
        return float("nan")
    half = (high - low) / 2.0
    if half <= 0:
        return float("nan")
    error = float(se) if _finite(se) and se > 0 else half / quantile(level, seeds, df)
    stat, dof = abs(estimate - threshold) / error, _dof(seeds, df)
    if _finite(dof):
        return float(2.0 * scipy.stats.t.sf(stat, dof))
    return float(2.0 * scipy.stats.norm.sf(stat))


def holm(p_values: Sequence[float], alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down test: (rejected, adjusted p-values) in the order given.

    With the m p-values sorted, ``p_(1) <= ... <= p_(m)``, H_(i) is rejected iff
    ``p_(j) <= alpha / (m - j + 1)`` for every ``j <= i``; the adjusted p-value is
    ``max_{j <= i} min(1, (m - j + 1) p_(j))``, and H_(i) is rejected iff it is ``<= alpha``. Controls the
    family-wise error rate at ``alpha`` under any dependence (Holm 1979).
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled) if m else scaled
    return adjusted <= alpha, adjusted


def flip_at(
    verdict: str, direction: str, estimate: float, low: float, high: float, threshold: float
) -> float:
    """The criterion value at which the row's verdict would change (``direction``: one-sided).

    ``>=``: supported until the threshold passes ``low``, not supported until it reaches ``high``; an
    inconclusive row would become decided when the threshold passes the bound on the estimate's far side
    (``low`` when the estimate meets the criterion, else ``high``). ``<=`` mirrored. NaN without a criterion.
    """
    if direction not in (">=", ">", "<=", "<") or not all(map(_finite, (low, high))):
        return float("nan")
    upward = direction in (">=", ">")
    if verdict == SUPPORTED:
        return low if upward else high
    if verdict == NOT_SUPPORTED:
        return high if upward else low
    if not all(map(_finite, (estimate, threshold))):
        return float("nan")
    meets = estimate >= threshold if upward else estimate <= threshold
    return (low if meets else high) if upward else (high if meets else low)


def seeds_needed(
    estimate: float,
    low: float,
    high: float,
    threshold: float,
    level: float,
    seeds: float,
    df: float = float("nan"),
) -> float:
    """Seeds that would decide an effect of the current margin ``|estimate - threshold|`` at the spread the
    interval implies: ``sd = h sqrt(n) / t_{n-1}`` (h the half-width at n seeds), the smallest ``n' >= 2``
    with ``t_{n'-1} sd / sqrt(n') < margin``. With the row's own ``df`` (a pooled or simultaneous interval)
    the critical value is held at its current one: the smallest ``n'`` with ``h sqrt(n / n') < margin``.
    NaN without a seed count (< 2), a width or a margin."""
    if not all(map(_finite, (estimate, low, high, threshold, level, seeds))) or seeds < 2:
        return float("nan")
    half, margin = (high - low) / 2.0, abs(estimate - threshold)
    if half <= 0 or margin <= 0:
        return float("nan")
    own_df = _finite(df) and df >= 1
    sd = half * math.sqrt(seeds) / (1.0 if own_df else quantile(level, seeds))

    def decides(n: int) -> bool:
        return (1.0 if own_df else quantile(level, n)) * sd / math.sqrt(n) < margin

    hi = 2
    while not decides(hi):  # t_{n-1} / sqrt(n) decreases in n: double, then bisect
        hi *= 2
        if hi > 2**40:
            return float("nan")
    lo = hi // 2 if hi > 2 else 1  # decides(lo) is False (or lo < 2)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid, hi)
    return float(hi)


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
    """The claims table (:data:`COLUMNS`) of claims rows (``scaledyn.stats.ClaimResult`` dicts) at the
    ``stats`` section (ci_level: the level of rows without one; adjust: ``holm`` or ``none``)."""
    st = config.section("stats", dict(stats or {}))
    rows = list(rows)
    out = []
    for number, row in zip(claim_numbers(rows), rows, strict=True):
        est, low, high = (_float(row.get(k)) for k in ("value", "ci_low", "ci_high"))
        direction, thr, constraints = criterion_of(row)
        level = _float(row.get("level")) if _finite(row.get("level")) else float(st["ci_level"])
        seeds, dof, se = _float(row.get("n_seeds")), _float(row.get("df")), _float(row.get("se"))
        side = _binding(direction, thr, constraints) if constraints else ""
        sign = 1.0 if side in (">=", ">") else -1.0
        verdict = row["verdict"]
        margins = sorted(sign * (x - thr) for x in (low, high)) if side else [float("nan")] * 2
        if direction == COVERS:  # unsigned: the check holds when the interval straddles the threshold
            side, sign, margins = "", 1.0, sorted(x - thr for x in (low, high))
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
                "verdict": verdict,
                "mde": (high - low) / 2.0 if _finite(low) and _finite(high) else float("nan"),
                "seeds": seeds,
                "df": _dof(seeds, dof),
                "method": row.get("method") if isinstance(row.get("method"), str) else "",
                "level": level,
                "flip_at": flip_at(verdict, side, est, low, high, thr),
                "p_value": p_value(est, low, high, thr, level, seeds, df=dof, se=se),
                "p_adjusted": _float(row.get("p_adjusted")),
                "adjusted": row.get("adjusted") if isinstance(row.get("adjusted"), str) else "",
                "seeds_needed": (
                    seeds_needed(est, low, high, thr, level, seeds, dof)
                    if verdict == INCONCLUSIVE and direction != COVERS
                    else float("nan")
                ),
                "margin": sign * (est - thr) if side or direction == COVERS else float("nan"),
                "margin_low": margins[0],
                "margin_high": margins[1],
                "label": label(number, row),
                "note": row.get("note") if isinstance(row.get("note"), str) else "",
            }
        )
    df = pd.DataFrame(out, columns=[c for c in COLUMNS if c != "verdict_adjusted"])
    df = df.sort_values("paper", kind="stable", ignore_index=True)
    return adjust(df, st["adjust"])[list(COLUMNS)]


def adjust(df: pd.DataFrame, method: str) -> pd.DataFrame:
    """Add ``p_adjusted`` and ``verdict_adjusted``: Holm within each paper (``method="holm"``) over the rows
    with a finite p-value, at alpha = 1 - level; ``"none"``: adjusted = raw. A decided row (supported / not
    supported) whose H0 is not rejected becomes inconclusive; a decided row without a p-value (no parsable
    criterion) keeps its raw verdict; an inconclusive row stays inconclusive. A row already adjusted within
    its family (a non-empty ``adjusted`` column) and a ``covers`` check keep their verdict, take no part in
    Holm's family and keep their own ``p_adjusted`` (the raw p-value when they have none)."""
    if method not in ("holm", "none"):
        raise ValueError(f"adjust must be holm or none; got {method!r}")
    df = df.copy()
    own = pd.Series(False, index=df.index)
    if "adjusted" in df:
        own |= df["adjusted"].fillna("").astype(str).ne("")
    if "direction" in df:
        own |= df["direction"].eq(COVERS)
    given = df["p_adjusted"].astype(float) if "p_adjusted" in df else pd.Series(np.nan, index=df.index)
    df["p_adjusted"] = df["p_value"] if method == "none" else np.nan
    df.loc[own, "p_adjusted"] = given[own].fillna(df.loc[own, "p_value"])
    rejected = pd.Series(True, index=df.index)
    if method == "holm":
        for _, group in df[np.isfinite(df["p_value"].astype(float)) & ~own].groupby("paper"):
            alpha = 1.0 - float(group["level"].max())  # one level per paper; the strictest if mixed
            reject, adjusted = holm(group["p_value"].to_numpy(float), alpha)
            df.loc[group.index, "p_adjusted"] = adjusted
            rejected.loc[group.index] = reject
    decided = df["verdict"].isin([SUPPORTED, NOT_SUPPORTED])
    df["verdict_adjusted"] = np.where(decided & rejected, df["verdict"], INCONCLUSIVE)
    return df


def summary(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Counts of raw and adjusted verdicts."""
    return {
        col: {v: int((df[col] == v).sum()) for v in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)}
        for col in ("verdict", "verdict_adjusted")
    }


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
