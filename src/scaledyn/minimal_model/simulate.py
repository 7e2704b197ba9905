"""Batched AdamW training of the minimal model over one sweep, measured at log-spaced checkpoints.

Sweeps (each point x ``seeds`` seed indices; the headline values of ``model`` / ``optim`` elsewhere):

* ``dynamics``      the headline run (d = 10, B = 16, lambda = 0.01); ``value`` is 0, seed key "headline";
* ``batch``         batch size B (int);
* ``weight_decay``  lambda (float), applied to W and gamma unless ``weight_decay_w`` / ``_gamma`` are set;
* ``dimension``     d (int).

Batching: all runs of a sweep train in one loop. Runs sharing d form a block with stacked tensors
W (R_b, d, d), gamma (R_b, d); inside a block, runs sharing B form a group whose mini-batch moments come from
one gather and one batched product (``model.moments``), then the gradient is computed for the whole block.
Nothing is padded, so a run computed alone does the same arithmetic as its slice in the batch.

Optimiser: one ``torch.optim.AdamW`` (betas, eps from ``optim``, ``weight_decay=0``) over all block tensors;
AdamW is elementwise, so each slice is an independent run. The decoupled decay is applied per slice just
before ``step()``, theta_r <- (1 - eta lambda_r) theta_r, which is exactly what ``AdamW(weight_decay=lambda)``
does first inside its step; this lets one tensor hold runs with different lambda (and different lambda for W
and gamma) without a param group per run.

Randomness: every draw comes from ``scaledyn.seeding.generator(global_seed, "minimal_model", sweep, key,
seed, stream)`` with streams ``teacher``, ``data``, ``init``, ``batches`` (mini-batch indices, drawn with
replacement in blocks of ``compute.index_chunk`` steps) and ``snr`` (the K fresh mini-batches at each
checkpoint). A run computed alone therefore draws exactly what it draws inside a batch.

Checkpoints: >= ``log_checkpoints`` unique integer steps log-spaced from 1 to T plus step 0 (``on_log_grid``),
and ``late_checkpoints`` extra steps evenly spaced over the late phase so its means rest on several points.
Phases: ``init`` (t = 0), ``early`` (1 <= t <= ``early_end``), ``late`` (t >= (1 - ``late_fraction``) T,
taking precedence over early for short runs), ``mid`` otherwise.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from scaledyn import cli, config, estimators
from scaledyn.io import write_csv
from scaledyn.minimal_model import model as mm

METRICS = (
    "w_norm",
    "w_rms",
    "gamma_norm",
    "gamma_rms",
    "loss",
    "product_err",
    "snr_w",
    "snr_gamma",
    "snr2_w",
    "snr2_gamma",
    "snr_ratio",
    "snr_exact_w",
    "snr_exact_gamma",
    "snr2_exact_w",
    "snr2_exact_gamma",
    "snr_exact_ratio",
)
RUN_COLUMNS = (
    "sweep",
    "value",
    "seed",
    "step",
    "phase",
    "on_log_grid",
    "steps",
    "d",
    "batch_size",
    "weight_decay_w",
    "weight_decay_gamma",
    "lr",
)
ADAMW_IMPL = {"fused": {"fused": True}, "foreach": {"foreach": True}, "loop": {"foreach": False}}


def checkpoint_steps(steps: int, measure: dict) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique checkpoint steps, boolean mask of those on the log grid).

    Log grid: {0} union round(geomspace(1, T, m)) with m the smallest count giving >= ``log_checkpoints``
    unique steps (capped at T + 1 when T is small). Late grid: round(linspace(ceil((1 - f) T), T,
    ``late_checkpoints``)).
    """
    target = min(int(measure["log_checkpoints"]), steps + 1)
    m = max(target - 1, 1)
    while True:
        log_grid = np.unique(np.concatenate([[0], np.round(np.geomspace(1, steps, m)).astype(int)]))
        if log_grid.size >= target or m > 10 * steps + 10:
            break
        m += 1
    late_start = math.ceil((1.0 - measure["late_fraction"]) * steps)
    late_grid = np.round(np.linspace(late_start, steps, int(measure["late_checkpoints"]))).astype(int)
    all_steps = np.unique(np.concatenate([log_grid, late_grid]))
    return all_steps, np.isin(all_steps, log_grid)


def phase_of(step: int, steps: int, measure: dict) -> str:
    """init (t = 0), late (t >= (1 - late_fraction) T), early (1 <= t <= early_end), else mid."""
    if step == 0:
        return "init"
    if step >= (1.0 - measure["late_fraction"]) * steps:
        return "late"
    if step <= measure["early_end"]:
        return "early"
    return "mid"


def weight_decays(optim: dict) -> tuple[float, float]:
    """(lambda_W, lambda_gamma): the explicit keys, or ``weight_decay`` where they are null."""
    lam = float(optim["weight_decay"])
    lam_w = lam if optim["weight_decay_w"] is None else float(optim["weight_decay_w"])
    lam_g = lam if optim["weight_decay_gamma"] is None else float(optim["weight_decay_gamma"])
    return lam_w, lam_g


def run_specs(
    params: dict,
    sweep: str,
    seed_indices: Sequence[int] | None = None,
    values: Sequence[float] | None = None,
) -> list[mm.RunSpec]:
    """The runs of a sweep (value-major, then seed), optionally restricted to some seeds / values."""
    if sweep not in params["sweeps"]:
        raise ValueError(f"unknown sweep {sweep!r}; expected one of {', '.join(params['sweeps'])}")
    cfg = params["sweeps"][sweep]
    seeds = list(range(int(cfg["seeds"]))) if seed_indices is None else [int(s) for s in seed_indices]
    d0, b0 = int(params["model"]["d"]), int(params["optim"]["batch_size"])
    lam_w, lam_g = weight_decays(params["optim"])
    points: list[tuple[float, object, int, int, float, float]] = []
    if sweep == "dynamics":
        points.append((0.0, "headline", d0, b0, lam_w, lam_g))
    for v in cfg.get("values", []):
        if sweep == "batch":
            points.append((float(v), int(v), d0, int(v), lam_w, lam_g))
        elif sweep == "dimension":
            points.append((float(v), int(v), int(v), b0, lam_w, lam_g))
        elif sweep == "weight_decay":
            lw, lg = weight_decays({**params["optim"], "weight_decay": float(v)})
            points.append((float(v), float(v), d0, b0, lw, lg))
    if values is not None:
        wanted = {float(v) for v in values}
        points = [p for p in points if p[0] in wanted]
    return [
        mm.RunSpec(sweep, value, key, seed, d, b, lw, lg)
        for value, key, d, b, lw, lg in points
        for seed in seeds
    ]


def _draw_indices(gens: list[torch.Generator], batch_size: int, n_draws: int, n_train: int) -> torch.Tensor:
    """Row indices (n_draws, R_g * B) into a group's stacked data: run r draws (n_draws, B) uniform indices
    in [0, N) (with replacement) from its own generator, shifted by r N."""
    draws = [
        torch.randint(n_train, (n_draws, batch_size), generator=g) + r * n_train for r, g in enumerate(gens)
    ]
    return torch.cat(draws, dim=1)


@dataclass
class _Group:
    """Runs of one block sharing a batch size: stacked data rows [x | y] (R_g N, 2d) and generators."""

    runs: list[int]
    batch_size: int
    xy: torch.Tensor
    batch_gens: list[torch.Generator]
    snr_gens: list[torch.Generator]
    idx: torch.Tensor | None = None


@dataclass
class _Block:
    """Runs sharing a dimension d, ordered by batch size so each group is a contiguous slice of rows.

    Holds the trained tensors W (R_b, d, d), gamma (R_b, d), the per-entry decay factors 1 - eta lambda, the
    full-data moments (float64) and teachers used for the loss and product error, and the full data
    ``xy`` (R_b, N, 2d, float64) with the runs' batch sizes for the exact SNR (``model.exact_snr``).
    """

    d: int
    runs: list[int]
    groups: list[_Group]
    w: torch.Tensor
    gamma: torch.Tensor
    decay_w: torch.Tensor
    decay_gamma: torch.Tensor
    a: torch.Tensor
    c_xx: torch.Tensor
    c_yx: torch.Tensor
    c_yy: torch.Tensor
    xy: torch.Tensor
    batch: torch.Tensor

    def batch_moments(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mini-batch moments (S_xx, S_yx) of every run of the block at step ``i`` of the current chunk."""
        parts = [
            mm.moments(g.xy.index_select(0, g.idx[i]).view(len(g.runs), g.batch_size, 2 * self.d), self.d)
            for g in self.groups
        ]
        if len(parts) == 1:
            return parts[0]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _build_blocks(specs: list[mm.RunSpec], params: dict, global_seed: int) -> list[_Block]:
    """Draw every run's data, teacher and init (``model.make_run``) and stack them into blocks and groups."""
    model, lr = params["model"], float(params["optim"]["lr"])
    dtype = getattr(torch, params["compute"]["dtype"])
    n = int(model["n_train"])
    blocks = []
    for d in sorted({s.d for s in specs}):
        runs = sorted((i for i, s in enumerate(specs) if s.d == d), key=lambda i: specs[i].batch_size)
        data = [mm.make_run(specs[i], model, global_seed, dtype) for i in runs]
        xy = [torch.cat([x, y], dim=1) for x, y, *_ in data]
        groups = []
        for b in sorted({specs[i].batch_size for i in runs}):
            rows = [j for j, i in enumerate(runs) if specs[i].batch_size == b]
            groups.append(
                _Group(
                    runs=[runs[j] for j in rows],
                    batch_size=b,
                    xy=torch.cat([xy[j] for j in rows]),
                    batch_gens=[specs[runs[j]].generator(global_seed, "batches") for j in rows],
                    snr_gens=[specs[runs[j]].generator(global_seed, "snr") for j in rows],
                )
            )
        xy64 = torch.stack(xy).double()
        c = xy64.transpose(1, 2) @ xy64[:, :, :d] / n
        c_yy = xy64[:, :, d:].square().sum(-1).mean(-1)
        decay_w = torch.tensor([1.0 - lr * specs[i].weight_decay_w for i in runs], dtype=dtype)
        decay_g = torch.tensor([1.0 - lr * specs[i].weight_decay_gamma for i in runs], dtype=dtype)
        blocks.append(
            _Block(
                d=d,
                runs=runs,
                groups=groups,
                w=torch.stack([t[3] for t in data]),
                gamma=torch.stack([t[4] for t in data]),
                decay_w=decay_w.view(-1, 1, 1).expand(-1, d, d).contiguous(),
                decay_gamma=decay_g.view(-1, 1).expand(-1, d).contiguous(),
                a=torch.stack([t[2] for t in data]),
                c_xx=c[:, :d],
                c_yx=c[:, d:],
                c_yy=c_yy,
                xy=xy64,
                batch=torch.tensor([float(specs[i].batch_size) for i in runs], dtype=torch.float64),
            )
        )
    return blocks


def _measure(blk: _Block, k: int, n_train: int) -> dict[int, dict[str, float]]:
    """Metrics of every run of a block at the current parameters: norms, loss, product error, the exact SNRs
    (``model.exact_snr``, one batched call over the block) and the SNRs from K fresh mini-batches per run (its
    ``snr`` stream)."""
    w_norm = blk.w.flatten(1).norm(dim=1)
    gamma_norm = blk.gamma.norm(dim=1)
    base = {
        "w_norm": w_norm,
        "w_rms": w_norm / blk.d,
        "gamma_norm": gamma_norm,
        "gamma_rms": gamma_norm / math.sqrt(blk.d),
        "loss": mm.loss_from_moments(blk.w, blk.gamma, blk.c_xx, blk.c_yx, blk.c_yy),
        "product_err": (blk.gamma.unsqueeze(-1) * blk.w - blk.a).flatten(1).norm(dim=1)
        / blk.a.flatten(1).norm(dim=1),
    }
    exact = mm.exact_snr(blk.w, blk.gamma, blk.xy[..., : blk.d], blk.xy[..., blk.d :], blk.batch)
    base |= exact | {"snr_exact_ratio": exact["snr_exact_gamma"] / exact["snr_exact_w"]}
    out = {run: {key: float(val[j]) for key, val in base.items()} for j, run in enumerate(blk.runs)}
    start = 0
    for g in blk.groups:
        rows = slice(start, start + len(g.runs))
        start += len(g.runs)
        idx = _draw_indices(g.snr_gens, g.batch_size, k, n_train)
        xy = g.xy.index_select(0, idx.view(-1)).view(k, len(g.runs), g.batch_size, 2 * blk.d)
        g_w, g_gamma = mm.gradients(blk.w[rows], blk.gamma[rows], *mm.moments(xy, blk.d))
        snr = mm.snr(g_w, g_gamma)
        snr["snr_ratio"] = snr["snr_gamma"] / snr["snr_w"]
        for j, run in enumerate(g.runs):
            out[run].update({key: float(val[j]) for key, val in snr.items()})
    return out


def train(
    specs: list[mm.RunSpec], params: dict, global_seed: int, steps: int, progress: bool = False
) -> pd.DataFrame:
    """Train all ``specs`` together for ``steps`` AdamW steps; tidy rows (run x checkpoint)."""
    optim, measure = params["optim"], params["measure"]
    n = int(params["model"]["n_train"])
    k = int(measure["snr_draws"])
    chunk = int(params["compute"]["index_chunk"])
    blocks = _build_blocks(specs, params, global_seed)
    tensors = [t for blk in blocks for t in (blk.w, blk.gamma)]
    decays = [t for blk in blocks for t in (blk.decay_w, blk.decay_gamma)]
    opt = torch.optim.AdamW(
        tensors,
        lr=float(optim["lr"]),
        betas=(float(optim["beta1"]), float(optim["beta2"])),
        eps=float(optim["eps"]),
        weight_decay=0.0,
        **ADAMW_IMPL[optim["adamw_impl"]],
    )
    ck_steps, on_log = checkpoint_steps(steps, measure)
    rows: list[dict] = []

    def record(t: int) -> None:
        for blk in blocks:
            for run, metrics in _measure(blk, k, n).items():
                rows.append({"run": run, "step": t, **metrics})

    t0 = time.perf_counter()
    report_every = max(steps // 10, 1)
    with torch.no_grad():
        record(0)
        next_ck = 1
        for start in range(0, steps, chunk):
            n_chunk = min(chunk, steps - start)
            for blk in blocks:
                for g in blk.groups:
                    g.idx = _draw_indices(g.batch_gens, g.batch_size, n_chunk, n)
            for i in range(n_chunk):
                for blk in blocks:
                    blk.w.grad, blk.gamma.grad = mm.gradients(blk.w, blk.gamma, *blk.batch_moments(i))
                torch._foreach_mul_(tensors, decays)  # decoupled decay theta <- (1 - eta lambda) theta
                opt.step()
                t = start + i + 1
                if next_ck < len(ck_steps) and t == ck_steps[next_ck]:
                    record(t)
                    next_ck += 1
                if progress and (t % report_every == 0 or t == steps):
                    el = time.perf_counter() - t0
                    print(
                        f"[minimal_model {specs[0].sweep}] step {t}/{steps} ({len(specs)} runs) "
                        f"{el:.1f}s elapsed, ~{el * (steps - t) / t:.1f}s left",
                        file=sys.stderr,
                        flush=True,
                    )

    metrics = pd.DataFrame(rows)
    ck = pd.DataFrame(
        {
            "step": ck_steps,
            "phase": [phase_of(int(t), steps, measure) for t in ck_steps],
            "on_log_grid": on_log,
        }
    )
    runs = pd.DataFrame(
        {
            "run": range(len(specs)),
            "sweep": [s.sweep for s in specs],
            "value": [s.value for s in specs],
            "seed": [s.seed for s in specs],
            "steps": steps,
            "d": [s.d for s in specs],
            "batch_size": [s.batch_size for s in specs],
            "weight_decay_w": [s.weight_decay_w for s in specs],
            "weight_decay_gamma": [s.weight_decay_gamma for s in specs],
            "lr": float(optim["lr"]),
        }
    )
    frame = runs.merge(metrics, on="run").merge(ck, on="step")
    frame["snr_floor"] = estimators.snr_floor(k)
    frame["snr2_floor"] = estimators.snr_floor(k, squared=True)
    columns = [*RUN_COLUMNS, *METRICS, "snr_floor", "snr2_floor"]
    return frame[columns].sort_values(["value", "seed", "step"], kind="stable").reset_index(drop=True)


def simulate(
    params: dict,
    sweep: str,
    global_seed: int,
    seed_indices: list[int] | None = None,
    values: list[float] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run one sweep (all its values x seeds as one batched tensor program); tidy DataFrame.

    One row per (sweep value, seed, checkpoint step), columns ``sweep, value, seed, step, phase,
    on_log_grid, steps, d, batch_size, weight_decay_w, weight_decay_gamma, lr`` then the metrics
    ``w_norm`` (||W||_F), ``w_rms`` (||W||_F / d), ``gamma_norm``, ``gamma_rms`` (||gamma|| / sqrt d),
    ``loss`` (full training loss), ``product_err`` (||diag(gamma) W - A||_F / ||A||_F), ``snr_w``,
    ``snr_gamma``, ``snr2_w``, ``snr2_gamma``, ``snr_ratio`` (snr_gamma / snr_w of the same run and step; the
    K-draw estimates), ``snr_exact_w``, ``snr_exact_gamma``, ``snr2_exact_w``, ``snr2_exact_gamma``,
    ``snr_exact_ratio`` (the exact SNRs of ``model.exact_snr``, no floor) and the K-draw estimator floors
    ``snr_floor``, ``snr2_floor``. ``params`` may be partial (defaults fill in).
    """
    params = config.section("minimal_model", params)
    specs = run_specs(params, sweep, seed_indices, values)
    if not specs:
        raise ValueError(f"no runs selected in sweep {sweep!r}")
    return train(specs, params, global_seed, int(params["sweeps"][sweep]["steps"]), progress)


def main(argv: list[str]) -> int:
    """The ``simulate`` step: one sweep to one CSV."""
    parser = argparse.ArgumentParser(prog="python -m scaledyn.minimal_model simulate")
    parser.add_argument("--sweep", required=True, help="a sweep of minimal_model.sweeps")
    parser.add_argument("--params", default=None, help="minimal_model section: inline JSON or JSON/YAML file")
    parser.add_argument("--global-seed", type=int, required=True, help="the config's seed")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1 is fastest here)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    params = config.read(args.params, "minimal_model")
    if args.sweep not in params["sweeps"]:
        return cli.fail(f"unknown sweep {args.sweep!r}; sweeps: {', '.join(params['sweeps'])}")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    frame = simulate(params, args.sweep, args.global_seed, progress=True)
    write_csv(frame, args.out)
    print(
        f"[minimal_model {args.sweep}] {len(frame)} rows -> {args.out} in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )
    return 0
