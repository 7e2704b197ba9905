"""Aggregate the study-002 training runs into the tables the figures, claims and report read.

    python -m scaledyn.llm analyse --summaries R1/summary.json ... --params JSON --stats JSON --out-dir DIR

Each run directory (``scaledyn.llm.train`` output) holds ``summary.json``, ``metrics.csv``, ``gammas.csv``,
``linear_grads.csv`` and ``tensor_snr.csv``. Written to ``--out-dir``:

- ``runs.csv``: one row per (size, arch, variant, seed) run: final validation loss (whole split) with its
  within-run standard error, tokens and evaluation time, the last fixed-window loss, min validation loss,
  divergence, tokens/s, MFU, parameter counts, the lr and weight decays with ``lambda * sum(lr)``.
- ``curves.csv``: every logged metrics row of every run (validation loss where evaluated).
- ``deltas.csv``: per (size, arch) the blocked comparisons of the final validation loss (:func:`deltas`,
  :mod:`scaledyn.blocked`): every arm vs the reference with Dunnett's simultaneous and the raw pooled-t
  intervals, the union vs its runner-up, the pooled df, MDE, dropped seeds and the spread check.
- ``variants.csv``: per (size, arch, variant) parameter counts and overhead vs the reference, final
  validation loss mean and CI, tokens/s and the tokens/s ratio to the reference paired by seed, MFU, diverged
  runs.
- ``gamma_traj.csv``: per run and logged step, the mean over scale vectors of their RMS, by norm kind
  (input / output), side (in / out: the placement vectors) and whether the variant decays them.
- ``grads.csv``: per (size, arch, variant) and linear-map type (q, k, v, gate, up, head), the late-phase
  (second half of the logged steps) gradient Frobenius norm averaged over layers and steps, mean over seeds,
  and its ratio to the reference variant's.
- ``curve_bands.csv``: per (size, arch, variant, tokens) the validation loss (the fixed windows), mean and
  CI over seeds (Fig 1 top).
- ``paired_curve_bands.csv``: per (size, arch, variant, tokens) the validation loss minus the reference's at
  the same seed and step, mean and CI over seeds (Fig 1 bottom).
- ``gamma_bands.csv``: per (size, arch, kind, side, variant, decayed, step) the ``gamma_traj`` RMS, mean and
  CI over seeds (Fig 3).
- ``tensor_snr.csv``, ``tensor_snr_seeds.csv``: per-tensor-class GSNR and per-parameter SNR over training,
  and their per-seed summaries (:mod:`scaledyn.llm.tensor_snr_analysis`).

The comparisons of ``deltas.csv`` are blocked by seed (:mod:`scaledyn.blocked`, at ``stats.ci_level``, the
Dunnett critical value from a generator seeded with ``stats.bootstrap_seed``); every other interval is over
seeds by the pipeline's ``stats.ci_method`` (Student t by default, or BCa) at its ``stats`` settings
(:class:`scaledyn.stats.Settings`), the one method of every study; the tables carry their ``level`` and
method so the figures print what was computed. The claims are a separate step
(:func:`scaledyn.llm.claims.check_all` on these tables read back).

A missing or malformed run file or config section stops with ``Error: ...`` and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scaledyn import blocked, config
from scaledyn.io import read_json, write_csv
from scaledyn.llm import tensor_snr_analysis
from scaledyn.llm.variants import STREAMS, UNION, VARIANTS
from scaledyn.stats import Settings, paired

RUN_COLUMNS = [
    "size",
    "arch",
    "variant",
    "seed",
    "final_val_loss",
    "final_val_se",
    "final_val_tokens",
    "final_val_loss_fixed",
    "final_eval_s",
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
    "lr",
    "lr_sum",
    "weight_decay",
    "gamma_weight_decay",
    "decay_timescales",
    "gamma_decay_timescales",
    "device",
    "threads",
    "resumed_at",
]
KEYS = ["size", "arch", "variant", "seed"]
GROUP = ["size", "arch"]  # one study of arms against their reference: a size and an architecture
DELTA_COLUMNS = ["size", "arch", "variant", "versus", "family", "reference", "delta", "se", "df", "ci_low"]
DELTA_COLUMNS += ["ci_high", "raw_low", "raw_high", "p_raw", "p_adjusted", "crit", "family_size", "method"]
DELTA_COLUMNS += ["mde", "n_blocks", "seeds", "dropped_seeds", "resid_sd", "spread_stat", "spread_p"]
DELTA_COLUMNS += ["spread_ok", "level", "min_effect", "seeds_for_mde"]
POOLED_T = "pooled-t"  # the method of a single contrast with the pooled residual variance
BAND_COLUMNS = ["mean", "low", "high", "n_seeds", "level", "ci_method"]


class AnalysisError(ValueError):
    """Missing or malformed run outputs."""


def read_runs(summaries: list[Path]) -> dict[str, pd.DataFrame]:
    """The run table and the concatenated per-run logs (metrics, gammas, linear_grads) with run keys."""
    rows, logs = [], {"metrics": [], "gammas": [], "linear_grads": [], "tensor_snr": []}
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


def deltas(runs: pd.DataFrame, params: dict[str, Any], stats: Settings | dict[str, Any]) -> pd.DataFrame:
    """The blocked comparisons of the final validation loss (:mod:`scaledyn.blocked`), per (size, arch).

    The arms x seeds table of a (size, arch) is fitted by the additive model arm + seed block on its
    complete seeds (a seed whose run diverged or is missing in some arm is dropped and listed in
    ``dropped_seeds``). Rows of family ``reference``: every arm minus the reference, Dunnett's simultaneous
    interval over the arch's comparisons with it (``ci_low``, ``ci_high``, ``p_adjusted``), the raw pooled-t
    interval (``raw_low``, ``raw_high``, ``p_raw``). Family ``runner_up`` (where the union arm,
    ``variants.UNION``, is trained): the union minus the runner-up, the other arm with the lowest mean
    (the A/A arm excepted), a single pooled-t contrast (its ``ci_*`` = ``raw_*``, not adjusted). Every
    row: ``se``, pooled ``df``, ``mde`` (half-width of its ``ci_*``), ``seeds_for_mde`` (the seed blocks
    that would bring that half-width down to ``min_effect`` at this residual sd and arm count:
    :func:`scaledyn.blocked.seeds_for_halfwidth`; empty when over 1000), the residual sd, the Brown-Forsythe
    check of the arms' spreads (``spread_stat``, ``spread_p``, ``spread_ok``), ``level`` and the claims'
    ``min_effect``.
    """
    settings = Settings.of(stats)
    ref, rows = params["claims"]["reference"], []
    for (size, arch), g in runs.groupby(GROUP, sort=True):
        arms = [v for v in VARIANTS if v in set(g["variant"])]
        if ref not in arms or len(arms) < 2:
            continue
        model = blocked.fit(g.assign(y=g["final_val_loss"].astype(float)), "variant", "seed", "y", arms)
        spread = blocked.spread_check(model, settings.level)
        common = {
            "size": size,
            "arch": arch,
            "reference": ref,
            "n_blocks": model.n_blocks,
            "seeds": " ".join(map(str, model.blocks)),
            "dropped_seeds": " ".join(map(str, model.dropped)),
            "resid_sd": float(np.sqrt(model.s2)),
            "spread_stat": spread["statistic"],
            "spread_p": spread["p_value"],
            "spread_ok": spread["compatible"],
            "level": settings.level,
            "min_effect": float(params["claims"]["min_effect"]),
        }
        m, sd, n_arms = common["min_effect"], common["resid_sd"], len(model.arms)
        need = blocked.seeds_for_halfwidth(sd, n_arms - 1, n_arms, m, settings.level)  # the whole family's
        for r in blocked.versus_reference(model, ref, settings.level, settings.seed).to_dict("records"):
            rows.append({**common, **_comparison(r, r["arm"], ref, "reference"), "seeds_for_mde": need})
        if (runner := _runner_up(model, arms, settings.level)) is not None:
            need = blocked.seeds_for_halfwidth(sd, 1, n_arms, m, settings.level)
            rows.append({**common, **runner, "seeds_for_mde": need})
    return pd.DataFrame(rows, columns=DELTA_COLUMNS)


def _runner_up(model: blocked.BlockedFit, arms: list[str], level: float) -> dict[str, Any] | None:
    """The union arm minus the runner-up (the other arm, A/A arms excepted, with the lowest mean): one
    pooled-t contrast, not adjusted; ``None`` where the union or a rival is not trained."""
    rivals = [a for a in arms if a not in (UNION, *STREAMS)]
    if UNION not in arms or not rivals:
        return None
    runner_up = min(rivals, key=model.mean)
    c = blocked.contrast(model, UNION, runner_up, level)
    single = {**c, "ci_low": c["raw_low"], "ci_high": c["raw_high"], "p_adjusted": c["p_raw"]}
    return _comparison({**single, "family_size": 1, "method": POOLED_T}, UNION, runner_up, "runner_up")


def _comparison(r: dict[str, Any], variant: str, versus: str, family: str) -> dict[str, Any]:
    """A ``deltas.csv`` row's comparison columns from a :mod:`scaledyn.blocked` result ``r``."""
    keys = ("se", "df", "ci_low", "ci_high", "raw_low", "raw_high", "p_raw", "p_adjusted", "crit")
    return {
        "variant": variant,
        "versus": versus,
        "family": family,
        "delta": r["estimate"],
        **{k: r[k] for k in keys},
        "family_size": r["family_size"],
        "method": r["method"],
        "mde": (r["ci_high"] - r["ci_low"]) / 2.0,
    }


def variants_table(
    runs: pd.DataFrame, params: dict[str, Any], stats: Settings | dict[str, Any]
) -> pd.DataFrame:
    """Per (size, variant): parameter counts and overhead, final loss and paired throughput ratio with CIs."""
    settings = Settings.of(stats)
    claims = params["claims"]
    ref = claims["reference"]
    rows = []
    for (size, arch, variant), g in runs.groupby([*GROUP, "variant"], sort=True):
        mine = runs[runs["arch"] == arch]
        ref_params = mine.loc[(mine["size"] == size) & (mine["variant"] == ref), "n_params"]
        n_ref = float(ref_params.iloc[0]) if len(ref_params) else float("nan")
        done = g[~g["diverged"].astype(bool)]
        loss = settings.mean(done["final_val_loss"].astype(float).to_numpy())
        ratio = settings.mean(paired(mine, size, variant, ref, "tokens_per_s", "ratio").to_numpy())
        rows.append(
            {
                "size": size,
                "arch": arch,
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
                "throughput_n_pairs": ratio.n,
                "ci_method": settings.method,
                "level": settings.level,
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
    out = per_run.groupby([*GROUP, "variant", "map"], as_index=False).agg(
        grad_norm=("grad_norm", "mean"), n_seeds=("seed", "nunique")
    )
    ref = out[out["variant"] == reference].set_index([*GROUP, "map"])["grad_norm"]
    out["ratio_to_reference"] = (
        out["grad_norm"] / ref.reindex(pd.MultiIndex.from_frame(out[[*GROUP, "map"]])).to_numpy()
    )
    return out


def _bands(frame: pd.DataFrame, by: list[str], y: str, settings: Settings) -> pd.DataFrame:
    """Per group of ``by``: mean and CI of ``y`` over its rows (one per seed), the number of finite values,
    ``level`` and ``ci_method``."""
    rows = []
    for key, g in frame.groupby(by, sort=True):
        band = settings.mean(g[y].astype(float).to_numpy())
        rows.append(
            dict(zip(by, key, strict=True))
            | dict(zip(BAND_COLUMNS, (*band, band.n, band.level, band.method), strict=True))
        )
    return pd.DataFrame(rows, columns=[*by, *BAND_COLUMNS])


def curve_bands(
    curves: pd.DataFrame, params: dict[str, Any], stats: Settings | dict[str, Any]
) -> pd.DataFrame:
    """Validation loss per (size, arch, variant, tokens): mean and CI over seeds (rows without one
    dropped)."""
    val = curves.dropna(subset=["val_loss"])
    by = [*GROUP, "variant", "tokens"]
    out = _bands(val, by, "val_loss", Settings.of(stats))
    step = val.groupby(by)["step"].min()
    out.insert(len(by), "step", step.reindex(pd.MultiIndex.from_frame(out[by])).to_numpy())
    return out


def paired_curve_bands(
    curves: pd.DataFrame, params: dict[str, Any], stats: Settings | dict[str, Any]
) -> pd.DataFrame:
    """Validation loss minus the reference variant's at the same (seed, step), per (size, arch, variant,
    tokens): mean and CI over seeds; ``n_seeds`` counts the pairs."""
    ref = params["claims"]["reference"]
    val = curves.dropna(subset=["val_loss"])
    parts = []
    for _, sub in val.groupby(GROUP, sort=True):
        base = sub[sub["variant"] == ref].set_index(["seed", "step"])["val_loss"]
        for _, mine in sub[sub["variant"] != ref].groupby("variant", sort=True):
            mine = mine.set_index(["seed", "step"])
            parts.append(mine.assign(diff=mine["val_loss"] - base).dropna(subset=["diff"]).reset_index())
    by = [*GROUP, "variant", "tokens"]
    if not parts:
        return pd.DataFrame(columns=[*by, "reference", *BAND_COLUMNS])
    out = _bands(pd.concat(parts, ignore_index=True), by, "diff", Settings.of(stats))
    out.insert(len(by), "reference", ref)
    return out


def gamma_bands(
    gamma_traj: pd.DataFrame, params: dict[str, Any], stats: Settings | dict[str, Any]
) -> pd.DataFrame:
    """Mean RMS of the scale vectors (``gamma_trajectories``) per (size, arch, kind, side, variant, decayed,
    step): mean and CI over seeds."""
    by = [*GROUP, "kind", "side", "variant", "decayed", "step"]
    return _bands(gamma_traj, by, "rms", Settings.of(stats))


def tables(
    summaries: list[Path], params: dict[str, Any], stats: Settings | dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """Every table of the analysis by name (:data:`TABLES`), from the runs' ``summary.json`` files."""
    settings = Settings.of(stats)
    data = read_runs(summaries)
    runs = data["runs"]
    curves = data["metrics"][[*KEYS, *[c for c in data["metrics"].columns if c not in KEYS]]]
    gamma_traj = gamma_trajectories(data["gammas"])
    out = {
        "runs": runs,
        "curves": curves,
        "deltas": deltas(runs, params, settings),
        "variants": variants_table(runs, params, settings),
        "gamma_traj": gamma_traj,
        "grads": grad_summary(data["linear_grads"], params["claims"]["reference"]),
        "curve_bands": curve_bands(curves, params, settings),
        "paired_curve_bands": paired_curve_bands(curves, params, settings),
        "gamma_bands": gamma_bands(gamma_traj, params, settings),
        **tensor_snr_analysis.tables(data["tensor_snr"], runs, KEYS, params, settings),
    }
    return out


def analyse(
    summaries: list[Path], params: dict[str, Any], stats: Settings | dict[str, Any], out_dir: Path
) -> dict[str, pd.DataFrame]:
    """Write every table to ``out_dir/NAME.csv``; returns them."""
    out = tables(summaries, params, stats)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in out.items():
        write_csv(frame, out_dir / f"{name}.csv")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scaledyn.llm analyse", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--summaries", nargs="+", required=True, help="summary.json of every run")
    parser.add_argument("--params", required=True, help="llm section: inline JSON or a JSON/YAML file")
    parser.add_argument("--stats", required=True, help="pipeline stats section: inline JSON or a file")
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        params = config.read(args.params, "llm")
        settings = Settings.from_section(config.read(args.stats, "stats"))
        analyse(args.summaries, params, settings, args.out_dir)
    except (AnalysisError, config.ConfigError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
