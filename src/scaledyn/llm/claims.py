"""The claims of paper 002 checked against the study's runs (our definitions; see the report).

Every loss claim compares the final validation loss (nats per byte on the whole held-out split) of an arm
with its architecture's reference (``llm.claims.reference``, baseline) in the blocked design of
``deltas.csv`` (:mod:`scaledyn.blocked`: arm + seed block over the arms that share the reference's seed
stream, pooled residual variance with ``(V - 1)(S - 1)`` df). Each row carries the pooled-t interval and the
t test of its own threshold on those df; multiplicity is the claims table's (one Holm family per paper,
:mod:`scaledyn.inference`), and each row's MDE (at ``stats.power``) and the seeds that would decide
``effect = m`` come from there.

With ``m = llm.claims.min_effect`` (the smallest effect of interest) and :func:`scaledyn.stats.verdict`: a
claim "X helps" is ``delta < -m``: supported when the whole interval lies below ``-m``, not supported when it
lies at or above ``-m`` (the interval excludes every effect of interest in the claimed direction: a null
within ``+-m`` or the opposite effect), inconclusive otherwise; "X hurts" (``delta > +m``) mirrored.

- C0 (a check, role ``check``: not in the paper's family or tallies): the A/A arm (baseline's flags on its
  own seed stream) minus the reference, Welch's unpaired interval, must cover 0 (``ClaimResult.COVERS``).
  It checks the seed streams and the noise model (independent seeds); it shares no block with the
  reference, so it is outside the blocked fit.
- C1 removing the scale vectors hurts (Pre-Norm): ``delta(no_scale) > m``.
- C2 weight decay helps Input-Norm scales and hurts Output-Norm scales (sandwich, which has Output-Norms):
  ``delta(wd_input) < -m`` and ``delta(wd_output) > m``.
- C3 branch-specific scales, placement around linear maps and the magnitude-direction form each help
  (Pre-Norm): ``delta(branch)``, ``delta(placement)``, ``delta(md) < -m``.
- C4 their union helps most (Pre-Norm): ``delta(unified) < -m`` and ``unified - runner-up < -m``, the
  runner-up being the other arm of the blocked fit with the lowest mean final loss: "unified is best" is the
  intersection of "unified beats arm a" over the other arms, and rejecting each at level alpha is a
  level-alpha test of it (intersection-union), the runner-up being the binding comparison (every difference
  has the same SE in the balanced design); choosing it on the same runs can only make "supported" harder.
- C5 at negligible cost: parameter overhead of unified vs the reference ``<= max_param_overhead`` (exact, no
  CI) and its tokens/s over the reference's, paired by seed, ``>= min_throughput_ratio``
  (``stats.ci_method`` over seeds).

- C6-C8: the per-tensor SNR claims of papers 000 and 001 on the LM (:mod:`scaledyn.llm.tensor_snr_analysis`).

A claim whose arms were not trained in its architecture is left out (the smoke config trains three arms);
with ``llm.claims.judge`` false (a plumbing check) there are no rows at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scaledyn import cli
from scaledyn.inference import ThresholdTest
from scaledyn.llm import tensor_snr_analysis
from scaledyn.llm.variants import UNION
from scaledyn.stats import EXACT, ClaimResult, Settings, paired

STUDY = "002"
CLAIMS = {
    0: "A/A check: an arm that differs from the reference only in its seeds differs by noise",
    1: "Removing scale vectors hurts pre-training",
    2: "Weight decay on scale vectors helps Input-Norm layers and hurts Output-Norm layers",
    3: "Branch-specific scales, placement around linear maps and magnitude-direction form each help",
    4: "Their union (unified) helps most",
    5: "The union costs negligible parameters and throughput",
}

# (claim, variant, direction of variant - reference against -+min_effect, the architecture, note)
LOSS_CLAIMS = [
    (1, "no_scale", ">", "prenorm", ""),
    (2, "wd_input", "<", "sandwich", "Input-Norm: pre-attention, pre-MLP and final norms"),
    (2, "wd_output", ">", "sandwich", "Output-Norm: the sandwich norms on branch outputs"),
    (3, "branch", "<", "prenorm", ""),
    (3, "placement", "<", "prenorm", ""),
    (3, "md", "<", "prenorm", ""),
    (4, UNION, "<", "prenorm", ""),
]
UNION_ARCH = next(arch for _, variant, _, arch, _ in LOSS_CLAIMS if variant == UNION)  # C4 and C5's arch


def _loss_row(
    claim: int, scope: str, row: pd.Series, direction: str, m: float, note: str = ""
) -> ClaimResult:
    """A claim row from one ``deltas.csv`` row: its interval, and its t test of the row's own threshold
    (``+-m``, or 0 for the A/A check) with the row's ``se`` and ``df``; the A/A check is a ``check`` row."""
    check = direction == ClaimResult.COVERS
    threshold = 0.0 if check else m if direction == ">" else -m
    family = row["family"]
    how = {
        "runner_up": "pooled-t contrast with the runner-up (intersection-union over the rivals)",
        "aa": "Welch's unpaired interval (the A/A arm has its own seed stream: no shared block)",
    }.get(family, f"pooled-t, paired by seed with {row['reference']}")
    spread = "n/a" if pd.isna(row["spread_p"]) else f"{row['spread_p']:.2g}"
    gone = row["dropped_seeds"]  # "0 2"; read back from the CSV: NaN for none, a float for one seed
    gone = "" if pd.isna(gone) else str(int(gone)) if isinstance(gone, float) else str(gone)
    dropped = f"; seeds dropped: {gone}" if gone else ""
    design = f"{int(row['n_blocks'])} seeds" if family == "aa" else f"{int(row['n_blocks'])} seed blocks"
    text = f"{design}, df {row['df']:.3g}; {how}; spread check p = {spread}{dropped}; {note}"
    label = f"{row['variant']} - {row['versus']}" + (" (runner-up)" if family == "runner_up" else "")
    return ClaimResult.checked(
        STUDY,
        f"C{claim}: {CLAIMS[claim]}",
        scope,
        f"final val loss, {label}",
        (row["delta"], row["ci_low"], row["ci_high"]),
        "diff",
        direction,
        threshold,
        text.rstrip("; "),
        n_seeds=int(row["n_blocks"]),
        method=str(row["method"]),
        level=float(row["level"]),
        test=ThresholdTest("t", center=float(row["delta"]), se=float(row["se"]), df=float(row["df"])),
        role="check" if check else "claim",
        effect=float("nan") if check else m,
    )


def _cost_rows(scope: str, row: pd.Series, runs: pd.DataFrame, cfg: dict, settings: Settings) -> list:
    """C5: the parameter overhead (exact) and the paired throughput ratio of unified vs the reference (the
    interval of the per-seed ratios by :meth:`Settings.mean`, with its test: the same interval as
    ``variants.csv``'s)."""
    ref, overhead = cfg["reference"], float(row["param_overhead"])
    ratio = settings.mean(paired(runs, row["size"], UNION, ref, "tokens_per_s", "ratio").to_numpy())
    device = ", ".join(sorted(set(runs["device"].astype(str))))
    return [
        ClaimResult.checked(
            STUDY,
            f"C5: {CLAIMS[5]}",
            scope,
            f"extra parameters of {UNION} / {ref} parameters",
            (overhead, overhead, overhead),
            "overhead",
            "<=",
            float(cfg["max_param_overhead"]),
            f"{int(row['n_params'])} vs {int(row['n_params'] / (1 + overhead))} parameters (exact)",
            method=EXACT,
            stats=settings,
        ),
        ClaimResult.checked(
            STUDY,
            f"C5: {CLAIMS[5]}",
            scope,
            f"tokens/s of {UNION} / {ref}, paired by seed",
            ratio,
            "ratio",
            ">=",
            float(cfg["min_throughput_ratio"]),
            f"measured on {device}; median tokens/s of each run (shared machine: timing noise)",
        ),
    ]


def check_all(
    tables: dict[str, pd.DataFrame], params: dict[str, Any], stats: Settings | dict[str, Any] | None
) -> list[ClaimResult]:
    """Claim rows for every (size, arch) in ``tables["runs"]``.

    ``tables``: the ``runs``, ``deltas`` and ``variants`` tables of :mod:`scaledyn.llm.analysis` (as written
    or read back from their CSVs; other tables are ignored); ``params``: the ``llm`` section; ``stats``: the
    pipeline's ``stats`` section or its :class:`~scaledyn.stats.Settings`.
    """
    settings = Settings.of(stats)
    cfg = tensor_snr_analysis.criteria(params)  # llm.claims completed by the schema
    if not cfg["judge"]:  # a plumbing check: measured, not judged
        return []
    m = float(cfg["min_effect"])
    runs, deltas, variants = tables["runs"], tables["deltas"], tables["variants"]
    out: list[ClaimResult] = []
    for (size, arch), group in runs.groupby(["size", "arch"], sort=True):
        scope = f"{size}, {arch}"
        d = deltas[(deltas["size"] == size) & (deltas["arch"] == arch)]
        vs_ref = {r["variant"]: r for _, r in d[d["family"] == "reference"].iterrows()}
        for _, aa in d[d["family"] == "aa"].iterrows():
            out.append(_loss_row(0, scope, aa, ClaimResult.COVERS, m, "expected to cover 0"))
        for claim, variant, direction, claim_arch, note in LOSS_CLAIMS:
            if arch == claim_arch and variant in vs_ref:
                out.append(_loss_row(claim, scope, vs_ref[variant], direction, m, note))
                if variant == UNION and (d["family"] == "runner_up").any():
                    out.append(_loss_row(4, scope, d[d["family"] == "runner_up"].iloc[0], "<", m))
        v = variants[(variants["size"] == size) & (variants["arch"] == arch) & (variants["variant"] == UNION)]
        if arch == UNION_ARCH and len(v):
            out.extend(_cost_rows(scope, v.iloc[0], group, cfg, settings))
    out += tensor_snr_analysis.claims(STUDY, tables, params, settings)  # C6-C8: papers 000 / 001 in the LM
    for c in out:
        c.value, c.ci_low, c.ci_high = (float(np.float64(x)) for x in (c.value, c.ci_low, c.ci_high))
    return out


def main(argv: list[str]) -> int:
    """The ``claims`` step (:func:`scaledyn.cli.claims_main`)."""
    return cli.claims_main(argv, study="llm", check_all=check_all)
