"""The claims of paper 002 checked against the study's runs (our definitions; see the report).

Every loss claim is a paired-by-seed difference of final validation loss (nats per byte on the held-out
works) between a variant and the reference (``llm.claims.reference``, baseline), read from ``deltas.csv``;
its CI is ``stats.ci_method`` over seeds (the ``ci_method`` column of ``deltas.csv``). With
``m = llm.claims.min_effect``: a variant *helps* when the whole CI lies below ``-m``, *hurts* when it lies
above ``+m`` (``scaledyn.stats.verdict``: supported when the whole CI meets the criterion, not supported
when the whole CI misses it, inconclusive otherwise). Every row records its direction, threshold, seed
pairs, method and level (``exact`` for the parameter overhead, which has no sampling error).

- C1 removing the scale vectors hurts: ``delta(no_scale) > m``.
- C2 weight decay helps Input-Norm scales and hurts Output-Norm scales: ``delta(wd_input) < -m`` and
  ``delta(wd_output) > m``.
- C3 branch-specific scales, placement around linear maps and the magnitude-direction form each help:
  ``delta(branch)``, ``delta(placement)``, ``delta(md) < -m``.
- C4 their union helps most: ``unified - runner-up < -m`` paired by seed, the runner-up being the other
  variant with the lowest mean final validation loss (chosen on the same runs, which can only make the
  claim harder to support); and ``delta(unified) < -m``.
- C5 at negligible cost: parameter overhead of unified vs the reference ``<= max_param_overhead`` (exact, no
  CI) and its tokens/s over the reference's, paired by seed, ``>= min_throughput_ratio``.

A claim whose variants were not trained is left out (the smoke config trains two variants).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scaledyn.stats import EXACT, ClaimResult, Settings, paired

STUDY = "002"
CLAIMS = {
    1: "Removing scale vectors hurts pre-training",
    2: "Weight decay on scale vectors helps Input-Norm layers and hurts Output-Norm layers",
    3: "Branch-specific scales, placement around linear maps and magnitude-direction form each help",
    4: "Their union (unified) helps most",
    5: "The union costs negligible parameters and throughput",
}


# (claim, variant, direction of variant - reference against -+min_effect, note)
LOSS_CLAIMS = [
    (1, "no_scale", ">", ""),
    (2, "wd_input", "<", "Input-Norm: pre-attention, pre-MLP and final norms"),
    (2, "wd_output", ">", "Output-Norm: the sandwich norms on branch outputs"),
    (3, "branch", "<", ""),
    (3, "placement", "<", ""),
    (3, "md", "<", ""),
    (4, "unified", "<", ""),
]


def _loss_row(
    claim: int, size: str, delta: pd.DataFrame, label: str, direction: str, m: float, note: str = ""
) -> ClaimResult:
    row = delta.iloc[0]
    threshold = m if direction == ">" else -m
    pairs = f"{int(row['n_pairs'])} seed pairs, {row['ci_method']} CI"
    return ClaimResult.checked(
        STUDY,
        f"C{claim}: {CLAIMS[claim]}",
        size,
        f"final val loss, {label}",
        (row["delta"], row["ci_low"], row["ci_high"]),
        "diff",
        direction,
        threshold,
        f"{pairs}; {note}".rstrip("; "),
        n_seeds=int(row["n_pairs"]),
        method=str(row["ci_method"]),
        level=float(row["level"]),
    )


def check_all(
    tables: dict[str, pd.DataFrame], params: dict[str, Any], stats: Settings | dict[str, Any] | None
) -> list[ClaimResult]:
    """Claim rows for every size in ``tables["runs"]``.

    ``tables``: the ``runs``, ``deltas`` and ``variants`` tables of :mod:`scaledyn.llm.analysis` (as written
    or read back from their CSVs; other tables are ignored); ``params``: the ``llm`` section; ``stats``: the
    pipeline's ``stats`` section or its :class:`~scaledyn.stats.Settings`.
    """
    settings = Settings.of(stats)
    cfg = params["claims"]
    ref, m = cfg["reference"], float(cfg["min_effect"])
    runs, deltas, variants = tables["runs"], tables["deltas"], tables["variants"]
    out: list[ClaimResult] = []
    for (size, arch), group in runs.groupby(["size", "arch"], sort=True):
        scope = f"{size}, {arch}"
        d = deltas[(deltas["size"] == size) & (deltas["arch"] == arch)] if len(deltas) else deltas
        v = variants[(variants["size"] == size) & (variants["arch"] == arch)]
        have = set(d["variant"]) if len(d) else set()

        for claim, variant, direction, note in LOSS_CLAIMS:
            if variant in have:
                label = f"{variant} - {ref}"
                out.append(_loss_row(claim, scope, d[d["variant"] == variant], label, direction, m, note))
        if "unified" not in have:
            continue
        means = v[v["variant"] != "unified"]
        means = means.dropna(subset=["final_val_loss"])
        if len(means):
            runner_up = means.sort_values("final_val_loss").iloc[0]["variant"]
            diff = paired(group, size, "unified", runner_up, "final_val_loss", "diff")
            est = settings.mean(diff.to_numpy())
            out.append(
                ClaimResult.checked(
                    STUDY,
                    f"C4: {CLAIMS[4]}",
                    scope,
                    f"final val loss, unified - {runner_up} (runner-up)",
                    est,
                    "diff",
                    "<",
                    -m,
                    f"{len(diff)} seed pairs, {est.method} CI; runner-up = lowest mean of the others",
                )
            )
        row = v[v["variant"] == "unified"].iloc[0]
        overhead = float(row["param_overhead"])
        out.append(
            ClaimResult.checked(
                STUDY,
                f"C5: {CLAIMS[5]}",
                scope,
                f"extra parameters of unified / {ref} parameters",
                (overhead, overhead, overhead),
                "overhead",
                "<=",
                float(cfg["max_param_overhead"]),
                f"{int(row['n_params'])} vs {int(row['n_params'] / (1 + overhead))} parameters (exact)",
                method=EXACT,
                stats=settings,
            )
        )
        ratio = (row["throughput_ratio"], row["throughput_ci_low"], row["throughput_ci_high"])
        device = ", ".join(sorted(set(group["device"].astype(str))))
        out.append(
            ClaimResult.checked(
                STUDY,
                f"C5: {CLAIMS[5]}",
                scope,
                f"tokens/s of unified / {ref}, paired by seed",
                ratio,
                "ratio",
                ">=",
                float(cfg["min_throughput_ratio"]),
                f"measured on {device}; median tokens/s of each run (shared machine: timing noise)",
                n_seeds=int(row["throughput_n_pairs"]),
                method=str(row["ci_method"]),
                level=float(row["level"]),
            )
        )
    for c in out:
        c.value, c.ci_low, c.ci_high = (float(np.float64(x)) for x in (c.value, c.ci_low, c.ci_high))
    return out
