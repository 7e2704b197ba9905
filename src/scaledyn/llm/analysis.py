"""Aggregate the study-002 training runs into the tables the figures, claims and report read.

    python -m scaledyn.llm analyse --inputs R1/summary.json ... --params JSON --stats JSON --out-dir DIR

Each run directory (``scaledyn.llm.train`` output) holds ``summary.json``, ``metrics.csv``, ``gammas.csv``,
``linear_grads.csv`` and ``tensor_snr.csv``. Written to ``--out-dir``:

- ``runs.csv``: one row per (size, arch, variant, seed) run: final validation loss (whole split) with its
  within-run standard error, tokens and evaluation time, the last fixed-window loss, min validation loss,
  divergence, tokens/s, MFU, parameter counts, the lr and weight decays with ``lambda * sum(lr)``.
- ``curves.csv``: every logged metrics row of every run (validation loss where evaluated).
- ``deltas.csv``: per (size, arch) the comparisons of the final validation loss (:func:`deltas`,
  :mod:`scaledyn.blocked`): every arm that shares the reference's seed stream vs the reference (pooled-t),
  the union vs its runner-up, the A/A arm vs the reference (Welch, unpaired), the pooled df, residual sd,
  dropped seeds and the spread check.
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

The comparisons of ``deltas.csv`` are blocked by seed (:mod:`scaledyn.blocked`, at ``stats.ci_level``; not
adjusted for multiplicity: the claims table adjusts each paper's rows as one family); every other interval is
over seeds by the pipeline's ``stats.ci_method`` (Student t by default, or BCa) at its ``stats`` settings
(:class:`scaledyn.stats.Settings`), the one method of every study; the tables carry their ``level`` and
method so the figures print what was computed. The claims are a separate step
(:func:`scaledyn.llm.claims.check_all` on these tables read back).

A missing or malformed run file or config section stops with ``Error: ...`` and exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from scaledyn import blocked, config
from scaledyn.io import read_json, write_csv
from scaledyn.llm import check, seed_range, tensor_snr_analysis
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
DELTA_COLUMNS += ["ci_high", "method", "n_blocks", "seeds", "dropped_seeds", "resid_sd", "spread_stat"]
DELTA_COLUMNS += ["spread_p", "spread_ok", "level", "min_effect", "variance_seeds"]
POOLED_T, WELCH = "pooled-t", "welch"  # a contrast with the pooled residual variance; an unpaired one
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
    """The comparisons of the final validation loss with the reference, per (size, arch).

    The arms that share the reference's seed stream (every arm but those of ``variants.STREAMS``) form an
    arms x seeds table fitted by the additive model arm + seed block (:mod:`scaledyn.blocked`) on its
    complete seeds (a seed whose run diverged or is missing in some arm is dropped and listed in
    ``dropped_seeds``). Rows of family ``reference``: every such arm minus the reference with the pooled-t
    interval (``se = sqrt(2 s^2 / S)`` on ``(V - 1)(S - 1)`` df; multiplicity is the claims table's, one
    family per paper). Family ``runner_up`` (where the union arm, ``variants.UNION``, is trained): the union
    minus the runner-up, the other arm with the lowest mean, the same pooled-t contrast. Family ``aa``: an arm
    on its own seed stream (the A/A arm) shares no block with the reference, so it is not in the fit (its
    residuals would carry the seed-block variance into every pooled comparison); it is compared with the
    reference by Welch's unpaired interval over seeds (:func:`unpaired`). Under an internal pilot
    (``llm.seeds: {pilot, max}``, :mod:`scaledyn.llm.plan`) the blocked variance and its df are the pilot
    seeds' (Stein's two-stage design: exact t intervals although the seed count was chosen from that variance;
    ``variance_seeds`` says how many seeds it rests on). Every row: ``se``, ``df``, the residual sd of the
    blocked fit (``resid_sd``), the Brown-Forsythe check of the arms' spreads
    (``spread_stat``, ``spread_p``, ``spread_ok``), ``level`` and the claims' ``min_effect``.
    """
    settings = Settings.of(stats)
    ref, rows = params["claims"]["reference"], []
    pilot, ceiling = seed_range(params) if "seeds" in params else (0, 0)
    for (size, arch), g in runs.groupby(GROUP, sort=True):
        trained = [v for v in VARIANTS if v in set(g["variant"])]
        arms = [v for v in trained if v not in STREAMS]
        if ref not in arms or len(trained) < 2:
            continue
        y = g.assign(y=g["final_val_loss"].astype(float))  # a diverged run has none: NaN, its seed dropped
        model = blocked.fit(y[y["variant"].isin(arms)], "variant", "seed", "y", arms)
        if pilot < ceiling:  # Stein's two-stage design: the pilot's variance and df (scaledyn.llm.plan)
            first = blocked.fit(
                y[y["variant"].isin(arms) & (y["seed"] < pilot)], "variant", "seed", "y", arms
            )
            model = dataclasses.replace(model, s2=first.s2, df=first.df)
        spread = blocked.spread_check(model, settings.level)
        common = {
            "size": size,
            "arch": arch,
            "reference": ref,
            "n_blocks": model.n_blocks,
            "seeds": " ".join(map(str, model.blocks)),
            "dropped_seeds": " ".join(map(str, model.dropped)),
            "resid_sd": float(np.sqrt(model.s2)),
            "variance_seeds": pilot if pilot < ceiling else model.n_blocks,
            "spread_stat": spread["statistic"],
            "spread_p": spread["p_value"],
            "spread_ok": spread["compatible"],
            "level": settings.level,
            "min_effect": float(params["claims"]["min_effect"]),
        }
        for arm in [a for a in arms if a != ref]:
            rows.append(
                {**common, **_comparison(blocked.contrast(model, arm, ref, settings.level), arm, ref)}
            )
        if (runner := _runner_up(model, arms, settings.level)) is not None:
            rows.append({**common, **runner})
        for aa in [v for v in trained if v in STREAMS]:
            rows.append({**common, **unpaired(y, aa, ref, settings.level)})
    return pd.DataFrame(rows, columns=DELTA_COLUMNS)


def unpaired(g: pd.DataFrame, arm: str, reference: str, level: float) -> dict[str, Any]:
    """``arm - reference`` from independent seeds (an arm on its own seed stream): Welch's t interval of the
    difference of the two arms' means over their finite values (``scipy.stats.ttest_ind``,
    ``equal_var=False``: its variance holds the seed-to-seed variance of both arms, which pairing would
    remove from a shared-stream arm), ``se`` and Satterthwaite ``df``; family ``aa``, method ``welch``."""
    a = g.loc[g["variant"] == arm, "y"].dropna().to_numpy(float)
    b = g.loc[g["variant"] == reference, "y"].dropna().to_numpy(float)
    est = float(a.mean() - b.mean()) if a.size and b.size else float("nan")
    low = high = se = df = float("nan")
    if a.size >= 2 and b.size >= 2:
        res = scipy.stats.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(level)
        low, high, df = float(ci.low), float(ci.high), float(res.df)
        se = float(np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))
    r = {"estimate": est, "se": se, "df": df, "raw_low": low, "raw_high": high, "method": WELCH}
    return {**_comparison(r, arm, reference, "aa"), "n_blocks": int(min(a.size, b.size))}


def _runner_up(model: blocked.BlockedFit, arms: list[str], level: float) -> dict[str, Any] | None:
    """The union arm minus the runner-up (the other arm with the lowest mean): one pooled-t contrast;
    ``None`` where the union or a rival is not trained."""
    rivals = [a for a in arms if a != UNION]
    if UNION not in arms or not rivals:
        return None
    runner_up = min(rivals, key=model.mean)
    return _comparison(blocked.contrast(model, UNION, runner_up, level), UNION, runner_up, "runner_up")


def _comparison(r: dict[str, Any], variant: str, versus: str, family: str = "reference") -> dict[str, Any]:
    """A ``deltas.csv`` row's comparison columns from a :mod:`scaledyn.blocked` contrast ``r``."""
    return {
        "variant": variant,
        "versus": versus,
        "family": family,
        "delta": r["estimate"],
        "se": r["se"],
        "df": r["df"],
        "ci_low": r["raw_low"],
        "ci_high": r["raw_high"],
        "method": r.get("method", POOLED_T),
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
                "ci_method": loss.method,
                "throughput_ci_method": ratio.method,
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


def add_run_arguments(parser: argparse.ArgumentParser, runs: str) -> None:
    """The inputs of a step that reads runs: ``--inputs`` (the summary.json of ``runs``), ``--params`` (the
    llm section) and ``--stats``."""
    parser.add_argument("--inputs", nargs="+", required=True, help=f"summary.json of {runs}")
    parser.add_argument("--params", required=True, help="llm section: inline JSON or a JSON/YAML file")
    parser.add_argument("--stats", required=True, help="pipeline stats section: inline JSON or a file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scaledyn.llm analyse", description=__doc__.split("\n")[0]
    )
    add_run_arguments(parser, "every run")
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        params = config.read(args.params, "llm", check)
        settings = Settings.from_section(config.read(args.stats, "stats"))
        analyse(args.inputs, params, settings, args.out_dir)
    except (AnalysisError, config.ConfigError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
