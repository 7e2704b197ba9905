"""Seeds of study 002 sized by an internal pilot: Stein's two-stage design on the blocked comparisons.

    python -m scaledyn.llm plan --inputs PILOT/summary.json ... --params JSON --stats JSON --out plan.json

``llm.seeds`` is either a fixed count (every run at seeds ``0 .. seeds - 1``; no pilot) or
``{pilot: S0, max: S_max}``. Then the DAG trains every arm at the pilot seeds ``0 .. S0 - 1`` first, and this
step (a Snakemake checkpoint) sizes each (size, arch) family from the pilot alone:

1. the pilot's blocked fit (arm + seed block over the arms on the reference's seed stream,
   :func:`scaledyn.llm.analysis.deltas`) gives the pooled residual variance ``s0^2`` on
   ``df0 = (V - 1)(S0 - 1)`` degrees of freedom. Residuals have the arm means removed: the plan never reads
   an arm's mean or a difference of means;
2. the family size m of paper 002's Holm family is counted on the pilot's claims rows (roles and methods
   only);
3. a loss row's MDE at S seeds is ``delta * s0 * sqrt(2 / S)`` with ``delta`` the noncentrality at which a
   t test on ``df0`` degrees of freedom at level ``alpha / m`` has power ``stats.power``
   (:func:`scaledyn.inference.noncentrality`), so the seeds that bring it to ``m_eff = llm.claims.min_effect``
   are ``S = ceil(2 s0^2 (delta / m_eff)^2)``, at least ``S0`` and at most ``S_max``.

The final comparisons (:func:`scaledyn.llm.analysis.deltas`) then use the mean over all S seeds with the
pilot's ``s0^2`` and ``df0`` (Stein 1945): since S depends on the data only through ``s0``, which under the
normal additive model is independent of every mean, ``(d - delta) / (s0 sqrt(2 / S))`` is exactly Student t
on ``df0`` degrees of freedom, so the intervals keep their coverage and the tests their level under the
variance-only re-sizing (``tests/test_llm_plan.py`` checks it by simulation). The price: the df stay those of
the pilot.

``plan.json``: per family the pilot seeds, residual sd and df, m, the seeds needed, the seeds run (capped),
whether the ceiling bound, and the MDE planned at the seeds run.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from scaledyn import config, inference
from scaledyn.io import write_json
from scaledyn.llm import check, seed_range
from scaledyn.stats import EXACT, Settings


def seeds_for(s0: float, df0: float, target: float, alpha: float, power: float) -> float:
    """``ceil(2 s0^2 (delta / target)^2)``: the seeds at which ``delta s0 sqrt(2 / S) <= target`` (module
    docstring); NaN without a finite positive ``s0`` or df."""
    if not (math.isfinite(s0) and s0 > 0 and math.isfinite(df0) and df0 >= 1):
        return float("nan")
    delta = inference.noncentrality(float(df0), alpha, power)
    return float(math.ceil(2.0 * s0**2 * (delta / target) ** 2 - 1e-9))


def plan(tables: dict, claims: list, llm: dict[str, Any], alpha: float, power: float) -> dict[str, Any]:
    """The plan (module docstring) from the pilot's analysis ``tables`` (``deltas``) and claims rows (their
    roles, methods and p-values only: the family size), at family-wise ``alpha`` and ``power``."""
    pilot, ceiling = seed_range(llm)
    target = float(llm["claims"]["min_effect"])
    counted = [c for c in claims if c.role == "claim" and c.method != EXACT and math.isfinite(c.p_value)]
    m = max(len(counted), 1)
    families = []
    deltas = tables["deltas"]
    for (size, arch), d in deltas[deltas["family"] == "reference"].groupby(["size", "arch"], sort=True):
        r = d.iloc[0]
        s0, df0 = float(r["resid_sd"]), float(r["df"])
        need = seeds_for(s0, df0, target, alpha / m, power)
        run = int(min(max(need, pilot), ceiling)) if math.isfinite(need) else ceiling
        families.append(
            {
                "size": size,
                "arch": arch,
                "pilot_seeds": int(r["n_blocks"]),
                "pilot_resid_sd": s0,
                "pilot_df": int(df0),
                "family_size": m,
                "seeds_needed": None if not math.isfinite(need) else int(need),
                "seeds": run,
                "ceiling": ceiling,
                "ceiling_bound": (not math.isfinite(need)) or need > ceiling,
                "mde_planned": inference.mde(s0 * math.sqrt(2.0 / run), df0, alpha / m, power),
            }
        )
    return {"pilot": pilot, "ceiling": ceiling, "min_effect": target, "power": power, "families": families}


def main(argv: list[str] | None = None) -> int:
    from scaledyn.llm import analysis
    from scaledyn.llm import claims as llm_claims

    parser = argparse.ArgumentParser(prog="python -m scaledyn.llm plan", description=__doc__.split("\n")[0])
    analysis.add_run_arguments(parser, "every pilot run")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        llm = config.read(args.params, "llm", check)
        st = config.read(args.stats, "stats")
        settings = Settings.from_section(st)
        tables = analysis.tables([Path(p) for p in args.inputs], llm, settings)
        rows = llm_claims.check_all(tables, llm, settings)
        out = plan(tables, rows, llm, 1.0 - settings.level, float(st["power"]))
    except (analysis.AnalysisError, config.ConfigError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    write_json(out, args.out)
    for f in out["families"]:
        print(
            f"{f['size']}, {f['arch']}: pilot sd {f['pilot_resid_sd']:.4g} (df {f['pilot_df']}), "
            f"m {f['family_size']}:"
            f" {f['seeds_needed']} seeds needed, {f['seeds']} run"
            + (" (ceiling)" if f["ceiling_bound"] else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
