"""Batched simulation of one (shape, noise model, optimiser) job of study 000.

Model (every choice is a key of the ``gsnr`` config section):

* parameter theta of shape (d_out, d_in), n = d_out * d_in entries;
* init theta0 = s * sqrt(n) * u with u a uniformly random unit vector (per-entry RMS s);
  ``init.scheme: scaled`` uses s = ``init.scale`` for every shape, ``standard`` uses it for matrices only
  (both dims > 1) and s = 1 for vectors and scalars;
* loss L(theta) = 1/2 ||theta - c theta0||^2 with c = ``target_factor``; true gradient theta - c theta0;
* stochastic gradient = true gradient + noise, by noise model:
  ``entry``  sigma * xi,             xi ~ N(0, I_n)        (per-entry variance sigma^2);
  ``total``  sigma / sqrt(n) * xi                          (total variance sigma^2 whatever n);
  ``minibatch`` the gradient of 1/(2B) sum_b ||theta x_b - y_b||^2 with x_b ~ N(0, I_{d_in}),
  y_b = c theta0 x_b + sigma eps_b: mean gradient theta - c theta0, noise from sampling;
* optimiser ``sgd`` (paper eq. 2, theta <- theta - eta (g + lambda theta): ``torch.optim.SGD`` with
  coupled ``weight_decay``) or ``adamw`` (``torch.optim.AdamW``, decoupled decay).

Per seed the batch holds 1 + 2 N runs sharing theta0: the noise-free control (exact gradient), the N main
runs (one per noise level) and N zero-target controls (c = 0, the same noise). All noise levels and both
controls of one seed use the same standard-normal draws scaled by their sigma (common random numbers): a
run's numbers depend only on (global seed, shape, noise model, seed index, its sigma), never on which other
runs share the batch, so one sweep point computed alone equals its slice.

GSNR (paper 000, eq. 1) is measured at theta0 from K independent gradient draws: plug-in, bias-corrected
(see ``scaledyn.estimators``) and the exact population value (``exact_gsnr``); the table records K
(``gsnr_draws``).

Scale adaptation = (||theta_T|| - ||theta0||) / ||theta0|| with ||theta_T|| the RMS of ||theta_t|| over
the last ``tail_fraction`` of steps. ``adapts``: |log ||theta_T|| - log ||theta_T^free||| is smaller than
|log ||theta_T|| - log ||theta_T^zero|||.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from scaledyn import config, estimators
from scaledyn.gsnr import check
from scaledyn.io import write_csv
from scaledyn.seeding import generator

NOISE_MODELS = ("entry", "total", "minibatch")
OPTIMIZERS = ("sgd", "adamw")
CHUNK = 100  # steps of noise drawn per generator call; fixed so a run alone draws what it draws in a batch


def sigma_grid(spec: dict) -> np.ndarray:
    """Log-spaced noise levels from ``{min, max, num}``."""
    return np.logspace(math.log10(spec["min"]), math.log10(spec["max"]), int(spec["num"]))


def init_scale(dims: Sequence[int], init: dict) -> float:
    """Per-entry RMS of theta0 for a shape under the init scheme."""
    if init["scheme"] == "standard" and min(dims) == 1:
        return 1.0
    return float(init["scale"])


def make_theta0(dims: Sequence[int], scale: float, gen: torch.Generator) -> torch.Tensor:
    """theta0 = scale * sqrt(n) * u, u uniform on the unit sphere of R^n, reshaped to ``dims``."""
    n = math.prod(dims)
    u = torch.randn(n, generator=gen, dtype=torch.float64)
    u = u / u.norm()
    return (scale * math.sqrt(n) * u).reshape(*dims).to(torch.float32)


def exact_gsnr(
    noise: str, dims: Sequence[int], signal_sq: float | np.ndarray, sigma: np.ndarray, batch: int
) -> np.ndarray:
    """Population GSNR at a point whose true gradient D has ||D||^2 = ``signal_sq``.

    entry:     ||D||^2 / (n sigma^2)
    total:     ||D||^2 / sigma^2
    minibatch: B ||D||^2 / (||D||^2 (d_in + 1) + n sigma^2)
               (per-sample gradient G = (D x - sigma eps) x^T; for Gaussian x,
               E||G||^2 = ||D||^2 (d_in + 2) + sigma^2 n, so tr Cov = (||D||^2 (d_in + 1) + n sigma^2) / B).
    """
    d_out, d_in = dims
    n = d_out * d_in
    sigma = np.asarray(sigma, dtype=float)
    with np.errstate(divide="ignore"):
        if noise == "entry":
            return signal_sq / (n * sigma**2)
        if noise == "total":
            return signal_sq / sigma**2
        if noise == "minibatch":
            return batch * signal_sq / (signal_sq * (d_in + 1) + n * sigma**2)
    raise ValueError(f"unknown noise model {noise!r}; allowed: {', '.join(NOISE_MODELS)}")


class _Noise:
    """Per-seed standard-normal draws in fixed chunks of steps, stacked over seeds."""

    def __init__(self, gens: list[torch.Generator], shapes: dict[str, tuple[int, ...]], steps: int):
        self.gens, self.shapes, self.steps = gens, shapes, steps
        self.start, self.cache = 0, {}

    def at(self, t: int) -> dict[str, torch.Tensor]:
        if t == 0 or t - self.start >= CHUNK:
            self.start = t
            n = min(CHUNK, self.steps - t)
            self.cache = {
                k: torch.stack([torch.randn(n, *shape, generator=g) for g in self.gens])
                for k, shape in self.shapes.items()
            }
        return {k: v[:, t - self.start] for k, v in self.cache.items()}


def _minibatch_grad(delta: torch.Tensor, sigma: torch.Tensor, x: torch.Tensor, eps: torch.Tensor):
    """Batched minibatch gradient (1/B) sum_b (delta x_b - sigma eps_b) x_b^T.

    delta (..., P, d_out, d_in): P runs sharing one draw; x (..., B, d_in); eps (..., B, d_out);
    sigma (P, 1, 1). The P runs are folded into the rows of one matrix product per draw.
    """
    *lead, p, d_out, d_in = delta.shape
    rows = delta.reshape(*lead, p * d_out, d_in) @ x.transpose(-1, -2)  # (..., P d_out, B)
    resid = rows.view(*lead, p, d_out, -1) - sigma * eps.transpose(-1, -2)[..., None, :, :]
    return (resid.view(*lead, p * d_out, -1) @ (x / x.shape[-2])).view(*lead, p, d_out, d_in)


def _gsnr_draws(noise, theta0, target_factor, sigma, dims, gens, draws, batch):
    """K gradient draws at theta0 for every (seed, sigma): shape (K, S, N, d_out, d_in)."""
    n = math.prod(dims)
    delta = (1.0 - target_factor) * theta0  # (S, 1, d_out, d_in)
    if noise == "minibatch":
        x = torch.stack([torch.randn(draws, batch, dims[1], generator=g) for g in gens], 1)
        eps = torch.stack([torch.randn(draws, batch, dims[0], generator=g) for g in gens], 1)
        return _minibatch_grad(delta.expand(draws, -1, sigma.shape[1], -1, -1), sigma[0], x, eps)
    xi = torch.stack([torch.randn(draws, *dims, generator=g) for g in gens], 1)[:, :, None]
    scale = sigma if noise == "entry" else sigma / math.sqrt(n)
    return delta + scale * xi


def simulate(
    params: dict,
    shape: str,
    noise: str,
    optimizer: str,
    global_seed: int,
    seed_indices: Sequence[int] | None = None,
    sigmas: Sequence[float] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run one job; one row per (seed, noise level) main run. ``params`` is the ``gsnr`` config section.

    ``seed_indices`` and ``sigmas`` default to the config's; pass a subset to recompute single points.
    """
    if noise not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {noise!r}; allowed: {', '.join(NOISE_MODELS)}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
    dims = tuple(params["shape_dims"][shape])
    n = math.prod(dims)
    seeds = list(range(params["seeds"])) if seed_indices is None else list(seed_indices)
    sig = sigma_grid(params["sigma"][noise]) if sigmas is None else np.asarray(sigmas)
    c, lr, wd, steps = params["target_factor"], params["lr"], params["weight_decay"], params["steps"]
    batch, draws = params["minibatch_size"], params["gsnr_draws"]
    s0 = init_scale(dims, params["init"])
    key = ("gsnr", shape, noise)
    n_sig, n_seed = len(sig), len(seeds)

    theta0 = torch.stack(
        [make_theta0(dims, s0, generator(global_seed, "gsnr", shape, s, "init")) for s in seeds]
    )
    theta0 = theta0[:, None]  # (S, 1, d_out, d_in)

    # GSNR at theta0 for the main runs.
    sig_t = torch.tensor(sig, dtype=torch.float32).view(1, n_sig, 1, 1)
    g = _gsnr_draws(
        noise, theta0, c, sig_t, dims, [generator(global_seed, *key, s, "gsnr") for s in seeds], draws, batch
    )
    gsnr_plugin = estimators.gsnr_plugin(g, param_dims=2).double().numpy()
    gsnr_bc = estimators.gsnr_bias_corrected(g, param_dims=2).double().numpy()
    del g
    signal_sq = ((c - 1.0) ** 2) * theta0.double().square().sum((-2, -1)).numpy()  # (S, 1)
    gsnr_ex = exact_gsnr(noise, dims, signal_sq, sig[None, :], batch)

    # Training batch: run 0 noise-free, runs 1..N main, runs N+1..2N zero target.
    factor = torch.tensor([c] + [c] * n_sig + [0.0] * n_sig).view(1, -1, 1, 1)
    sigma_run = torch.tensor([0.0, *sig, *sig], dtype=torch.float32).view(1, -1, 1, 1)
    if noise == "total":
        sigma_run = sigma_run / math.sqrt(n)
    target = factor * theta0
    theta = theta0.expand_as(target).clone()
    opt_cls = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[optimizer]
    opt = opt_cls([theta], lr=lr, weight_decay=wd, fused=True)  # fused CPU kernels: same update, ~4x faster
    grad = torch.empty_like(theta)
    shapes = {"xi": dims} if noise != "minibatch" else {"x": (batch, dims[1]), "eps": (batch, dims[0])}
    stream = _Noise([generator(global_seed, *key, s, "train") for s in seeds], shapes, steps)
    tail_start = steps - max(1, math.ceil(params["tail_fraction"] * steps))
    sq_norm_sum = torch.zeros(theta.shape[:2], dtype=torch.float64)
    started = time.perf_counter()
    with torch.no_grad():
        for t in range(steps):
            z = stream.at(t)
            torch.sub(theta, target, out=grad)
            if noise == "minibatch":
                sampled = _minibatch_grad(grad, sigma_run[0], z["x"], z["eps"])
                grad[:, 1:] = sampled[:, 1:]  # run 0 keeps the exact (noise-free) gradient
            else:
                grad.addcmul_(sigma_run, z["xi"][:, None])
            theta.grad = grad
            opt.step()
            if t >= tail_start:
                sq_norm_sum += theta.square().sum((-2, -1)).double()
            if progress and (t + 1) % max(1, steps // 10) == 0:
                rate = (t + 1) / (time.perf_counter() - started)
                print(
                    f"[gsnr {shape}/{noise}/{optimizer}] step {t + 1}/{steps} ({rate:.0f} steps/s)",
                    file=sys.stderr,
                )
    final = (sq_norm_sum / (steps - tail_start)).sqrt().numpy()  # (S, 1 + 2N)
    norm0 = theta0.double().square().sum((-2, -1)).sqrt().numpy()  # (S, 1)
    free, main, zero = final[:, :1], final[:, 1 : 1 + n_sig], final[:, 1 + n_sig :]
    adapts = np.abs(np.log(main) - np.log(free)) < np.abs(np.log(main) - np.log(zero))
    grid = {
        "seed": np.repeat(seeds, n_sig),
        "sigma": np.tile(sig, n_seed),
        "gsnr_plugin": gsnr_plugin.ravel(),
        "gsnr_bias_corrected": gsnr_bc.ravel(),
        "gsnr_exact": np.broadcast_to(gsnr_ex, (n_seed, n_sig)).ravel(),
        "gsnr_draws": draws,  # K of the plug-in and bias-corrected estimates (their floors follow from it)
        "norm_init": np.repeat(norm0.ravel(), n_sig),
        "norm_final": main.ravel(),
        "norm_free": np.repeat(free.ravel(), n_sig),
        "norm_zero": zero.ravel(),
    }
    df = pd.DataFrame(grid)
    df.insert(0, "optimizer", optimizer)
    df.insert(0, "noise_model", noise)
    df.insert(0, "shape", shape)
    df["scale_adaptation"] = (df["norm_final"] - df["norm_init"]) / df["norm_init"]
    df["adapts"] = adapts.ravel()
    return df


def main(argv: list[str]) -> int:
    """The ``simulate`` step: one (noise model, optimiser) job, every swept shape, to one CSV."""
    parser = argparse.ArgumentParser(prog="python -m scaledyn.gsnr simulate")
    parser.add_argument("--noise", required=True, help="a noise model of gsnr.noise_models")
    parser.add_argument("--optimizer", required=True, help="an optimiser of gsnr.optimizers")
    parser.add_argument("--params", default=None, help="the gsnr section: inline JSON or a JSON/YAML file")
    parser.add_argument("--global-seed", type=int, required=True, help="the config's seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    # the job's own names go through the schema and the cross-key checks like the DAG's lists
    job = {**config.read(args.params, "gsnr"), "noise_models": [args.noise], "optimizers": [args.optimizer]}
    params = config.section("gsnr", job)
    check(params, runs=True)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    df = pd.concat(
        [
            simulate(params, shape, args.noise, args.optimizer, args.global_seed, progress=True)
            for shape in params["shapes"]
        ],
        ignore_index=True,
    )
    write_csv(df, args.out)
    print(f"[gsnr] {len(df)} runs in {time.perf_counter() - start:.1f} s -> {args.out}", file=sys.stderr)
    return 0
