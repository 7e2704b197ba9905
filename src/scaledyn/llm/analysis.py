"""Aggregate the study-002 training runs into the tables the figures, claims and report read.

    python -m scaledyn.llm.analysis --summaries R1/summary.json ... --params JSON --stats JSON --out-dir DIR

Each run directory (``scaledyn.llm.train`` output) holds ``summary.json``, ``metrics.csv``, ``gammas.csv``
and ``linear_grads.csv``. Written to ``--out-dir``:

- ``runs.csv``: one row per run (final / min validation loss, divergence, tokens/s, MFU, parameter counts).
- ``curves.csv``: every logged metrics row of every run (validation loss where evaluated).
- ``deltas.csv``: per (size, variant) the final validation loss minus the reference variant's, paired by
  seed (pairs with a diverged or missing run dropped), mean and CI (``claims.ci_method``).
- ``variants.csv``: per (size, variant) parameter counts and overhead vs the reference, final validation
  loss mean and CI, tokens/s and the tokens/s ratio to the reference paired by seed, MFU, diverged runs.
- ``gamma_traj.csv``: per run and logged step, the mean over scale vectors of their RMS, by norm kind
  (input / output), side (in / out: the placement vectors) and whether the variant decays them.
- ``grads.csv``: per (size, variant) and linear-map type (q, k, v, gate, up, head), the late-phase (second
  half of the logged steps) gradient Frobenius norm averaged over layers and steps, mean over seeds, and its
  ratio to the reference variant's.
- ``claims.json``: :mod:`scaledyn.llm.claims`.

A missing or malformed run file stops with ``Error: ...`` and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scaledyn import stats
from scaledyn.io import read_json, write_csv, write_json
from scaledyn.params import read as read_section

RUN_COLUMNS = [
    "size",
    "variant",
    "seed",
    "final_val_loss",
    "min_val_loss",
    "final_train_loss",
    "diverged",
    "diverged_step",
    "diverged_reason",
    "tokens_per_s",
    "mfu",
    "n_params",
    "n_scale_params",
    "steps",
    "steps_planned",
    "tokens",
    "wall_s",
    "device",
    "threads",
    "resumed_at",
]
KEYS = ["size", "variant", "seed"]


class AnalysisError(ValueError):
    """Missing or malformed run outputs."""


def read_runs(summaries: list[Path]) -> dict[str, pd.DataFrame]:
    """The run table and the concatenated per-run logs (metrics, gammas, linear_grads) with run keys."""
    rows, logs = [], {"metrics": [], "gammas": [], "linear_grads": []}
    for path in map(Path, summaries):
        try:
            summary = read_json(path)
            rows.append({c: summary.get(c) for c in RUN_COLUMNS})
            for name in logs:
                frame = pd.read_csv(path.parent / f"{name}.csv")
                logs[name].append(frame.assign(**{k: summary[k] for k in KEYS}))
        except (OSError, ValueError, KeyError) as exc:
            raise AnalysisError(f"cannot read run {path.parent}: {exc}") from None
    if not rows:
        raise AnalysisError("no runs given")
    runs = pd.DataFrame(rows, columns=RUN_COLUMNS).sort_values(KEYS, ignore_index=True)
    return {"runs": runs, **{k: pd.concat(v, ignore_index=True) for k, v in logs.items()}}


def interval(values: np.ndarray, method: str, stats_cfg: dict[str, Any]) -> tuple[float, float, float]:
    """Mean and CI of per-seed values by ``llm.claims.ci_method`` at the pipeline's stats settings."""
    return stats.mean_interval(
        values, method, level=stats_cfg["ci_level"], resamples=stats_cfg["bootstrap_resamples"]
    )


def paired(runs: pd.DataFrame, size: str, variant: str, reference: str, column: str, how: str) -> pd.Series:
    """Per seed ``variant - reference`` (``how="diff"``) or ``variant / reference`` (``"ratio"``) of a column.

    Only seeds where both runs exist, did not diverge and have a finite value take part.
    """
    ok = runs[(runs["size"] == size) & ~runs["diverged"].astype(bool)].dropna(subset=[column])
    a = ok[ok["variant"] == variant].set_index("seed")[column].astype(float)
    b = ok[ok["variant"] == reference].set_index("seed")[column].astype(float)
    a, b = a.align(b, join="inner")
    return (a - b) if how == "diff" else (a / b)


def deltas(runs: pd.DataFrame, params: dict[str, Any], stats_cfg: dict[str, Any]) -> pd.DataFrame:
    claims = params["claims"]
    ref, method = claims["reference"], claims["ci_method"]
    rows = []
    for (size, variant), _ in runs.groupby(["size", "variant"], sort=True):
        if variant == ref:
            continue
        d = paired(runs, size, variant, ref, "final_val_loss", "diff")
        est, low, high = interval(d.to_numpy(), method, stats_cfg)
        rows.append(
            {
                "size": size,
                "variant": variant,
                "reference": ref,
                "n_pairs": len(d),
                "delta": est,
                "ci_low": low,
                "ci_high": high,
                "ci_method": method,
                "seeds": " ".join(map(str, d.index)),
            }
        )
    return pd.DataFrame(rows)


def variants_table(runs: pd.DataFrame, params: dict[str, Any], stats_cfg: dict[str, Any]) -> pd.DataFrame:
    claims = params["claims"]
    ref, method = claims["reference"], claims["ci_method"]
    rows = []
    for (size, variant), g in runs.groupby(["size", "variant"], sort=True):
        ref_params = runs.loc[(runs["size"] == size) & (runs["variant"] == ref), "n_params"]
        n_ref = float(ref_params.iloc[0]) if len(ref_params) else float("nan")
        done = g[~g["diverged"].astype(bool)]
        loss = interval(done["final_val_loss"].astype(float).to_numpy(), method, stats_cfg)
        ratio = interval(
            paired(runs, size, variant, ref, "tokens_per_s", "ratio").to_numpy(), method, stats_cfg
        )
        rows.append(
            {
                "size": size,
                "variant": variant,
                "n_runs": len(g),
                "n_diverged": int(g["diverged"].astype(bool).sum()),
                "n_params": int(g["n_params"].iloc[0]),
                "n_scale_params": int(g["n_scale_params"].iloc[0]),
                "param_overhead": (float(g["n_params"].iloc[0]) - n_ref) / n_ref,
                "final_val_loss": loss[0],
                "final_val_ci_low": loss[1],
                "final_val_ci_high": loss[2],
                "tokens_per_s": float(g["tokens_per_s"].astype(float).mean()),
                "throughput_ratio": ratio[0],
                "throughput_ci_low": ratio[1],
                "throughput_ci_high": ratio[2],
                "mfu": float(g["mfu"].astype(float).mean()),
                "wall_s": float(g["wall_s"].astype(float).mean()),
            }
        )
    return pd.DataFrame(rows)


def gamma_trajectories(gammas: pd.DataFrame) -> pd.DataFrame:
    """Mean RMS of the scale vectors per run, step, norm kind, side and decay flag."""
    group = [*KEYS, "step", "kind", "side", "decayed"]
    return gammas.groupby(group, as_index=False).agg(rms=("rms", "mean"), n_vectors=("rms", "size"))


def grad_summary(grads: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Late-phase gradient norm of each linear-map type, mean over seeds, and its ratio to the reference."""
    g = grads.assign(map=grads["layer"].str.rsplit(".", n=1).str[-1])
    last = g.groupby(KEYS)["step"].transform("max")
    late = g[g["step"] > last / 2]
    per_run = late.groupby([*KEYS, "map"], as_index=False)["grad_norm"].mean()
    out = per_run.groupby(["size", "variant", "map"], as_index=False).agg(
        grad_norm=("grad_norm", "mean"), n_seeds=("seed", "nunique")
    )
    ref = out[out["variant"] == reference].set_index(["size", "map"])["grad_norm"]
    out["ratio_to_reference"] = (
        out["grad_norm"] / ref.reindex(pd.MultiIndex.from_frame(out[["size", "map"]])).to_numpy()
    )
    return out


def analyse(summaries: list[Path], params: dict[str, Any], stats_cfg: dict[str, Any], out_dir: Path) -> None:
    from scaledyn.llm.claims import check_all  # claims reads the tables built here

    data = read_runs(summaries)
    runs = data["runs"]
    tables = {
        "runs": runs,
        "curves": data["metrics"][[*KEYS, *[c for c in data["metrics"].columns if c not in KEYS]]],
        "deltas": deltas(runs, params, stats_cfg),
        "variants": variants_table(runs, params, stats_cfg),
        "gamma_traj": gamma_trajectories(data["gammas"]),
        "grads": grad_summary(data["linear_grads"], params["claims"]["reference"]),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_csv(frame, out_dir / f"{name}.csv")
    claims = check_all(tables, params, stats_cfg)
    write_json([c.as_dict() for c in claims], out_dir / "claims.json")
    for c in claims:
        print(f"{c.scope:>6} {c.claim[:60]:60s} {c.value: .4f} [{c.ci_low:.4f}, {c.ci_high:.4f}] {c.verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scaledyn.llm.analysis", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--summaries", nargs="+", required=True, help="summary.json of every run")
    parser.add_argument("--params", required=True, help="llm section: inline JSON or a JSON/YAML file")
    parser.add_argument("--stats", required=True, help="pipeline stats section: inline JSON or a file")
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        analyse(
            args.summaries, read_section(args.params, "llm"), read_section(args.stats, "stats"), args.out_dir
        )
    except AnalysisError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
