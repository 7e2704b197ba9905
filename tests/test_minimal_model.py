"""Study minimal_model (paper 001): gradients, batching, SNR estimator, derived results and claims."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from scaledyn import config, estimators
from scaledyn.minimal_model import analysis, claims
from scaledyn.minimal_model import model as mm
from scaledyn.minimal_model.__main__ import main
from scaledyn.minimal_model.simulate import METRICS, checkpoint_steps, phase_of, simulate
from scaledyn.stats import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, t_mean_ci

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "minimal_model.schema.yaml"
STATS = {"bootstrap_resamples": 200}
SWEEPS = list(config.section("minimal_model")["sweeps"])

TINY = {
    "model": {"n_train": 256},
    "measure": {"snr_draws": 8, "log_checkpoints": 10, "late_checkpoints": 3, "early_end": 10},
    "compute": {"index_chunk": 16},
    "sweeps": {
        "dynamics": {"steps": 50, "seeds": 2},
        "batch": {"steps": 50, "seeds": 2, "values": [2, 8]},
        "weight_decay": {"steps": 50, "seeds": 2, "values": [0.0, 0.1]},
        "dimension": {"steps": 50, "seeds": 2, "values": [3, 6]},
    },
}


# --- model -------------------------------------------------------------------------------------------------


def test_gradients_match_autograd():
    gen = torch.Generator().manual_seed(0)
    d, b = 5, 7
    w = torch.randn(d, d, generator=gen, dtype=torch.float64, requires_grad=True)
    gamma = torch.randn(d, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(b, d, generator=gen, dtype=torch.float64)
    y = torch.randn(b, d, generator=gen, dtype=torch.float64)
    mm.loss(w, gamma, x, y).backward()
    g_w, g_gamma = mm.gradients(w.detach(), gamma.detach(), *mm.moments(torch.cat([x, y], 1), d))
    torch.testing.assert_close(g_w, w.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_gamma, gamma.grad, rtol=1e-12, atol=1e-12)


def test_batched_gradients_equal_per_run():
    """Leading axes (K draws, R runs) broadcast: each slice is the gradient of its own run."""
    gen = torch.Generator().manual_seed(1)
    k, r, b, d = 3, 4, 6, 5
    w = torch.randn(r, d, d, generator=gen, dtype=torch.float64)
    gamma = torch.randn(r, d, generator=gen, dtype=torch.float64)
    xy = torch.randn(k, r, b, 2 * d, generator=gen, dtype=torch.float64)
    g_w, g_gamma = mm.gradients(w, gamma, *mm.moments(xy, d))
    for i in range(k):
        for j in range(r):
            one_w, one_g = mm.gradients(w[j], gamma[j], *mm.moments(xy[i, j], d))
            torch.testing.assert_close(g_w[i, j], one_w)
            torch.testing.assert_close(g_gamma[i, j], one_g)


def test_loss_from_moments_matches_direct():
    gen = torch.Generator().manual_seed(2)
    d, n = 4, 50
    w, gamma = torch.randn(3, d, d, generator=gen), torch.randn(3, d, generator=gen)
    x, y = torch.randn(3, n, d, generator=gen), torch.randn(3, n, d, generator=gen)
    xy = torch.cat([x, y], -1).double()
    c = xy.transpose(1, 2) @ xy[..., :d] / n
    c_yy = y.double().square().sum(-1).mean(-1)
    got = mm.loss_from_moments(w, gamma, c[:, :d], c[:, d:], c_yy)
    torch.testing.assert_close(got, mm.loss(w.double(), gamma.double(), x.double(), y.double()))


def test_manual_decay_equals_adamw_weight_decay():
    """theta *= 1 - lr lambda before AdamW(weight_decay=0).step() is AdamW(weight_decay=lambda).step()."""
    gen = torch.Generator().manual_seed(3)
    p0 = torch.randn(4, 4, generator=gen)
    grads = [torch.randn(4, 4, generator=gen) for _ in range(20)]
    a, b = p0.clone(), p0.clone()
    opt_a = torch.optim.AdamW([a], lr=0.05, weight_decay=0.3, fused=True)
    opt_b = torch.optim.AdamW([b], lr=0.05, weight_decay=0.0, fused=True)
    for g in grads:
        a.grad, b.grad = g.clone(), g.clone()
        opt_a.step()
        with torch.no_grad():
            b.mul_(1 - 0.05 * 0.3)
        opt_b.step()
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_snr_estimator_known_mean_and_std():
    """g_j = mu_j + sigma_j xi with K large: SNR -> mean |mu_j| / sigma_j, SNR2 -> mean mu_j^2 / sigma_j^2."""
    gen = torch.Generator().manual_seed(4)
    k, d = 40000, 3
    mu = torch.linspace(-1.0, 2.0, d * d, dtype=torch.float64).view(d, d)
    sigma = torch.linspace(0.5, 4.0, d * d, dtype=torch.float64).view(d, d)
    g_w = mu + sigma * torch.randn(k, d, d, generator=gen, dtype=torch.float64)
    g_gamma = mu[0] + sigma[0] * torch.randn(k, d, generator=gen, dtype=torch.float64)
    out = mm.snr(g_w, g_gamma)
    assert out["snr_w"].item() == pytest.approx((mu.abs() / sigma).mean().item(), rel=0.02)
    assert out["snr2_w"].item() == pytest.approx((mu / sigma).square().mean().item(), rel=0.03)
    assert out["snr_gamma"].item() == pytest.approx((mu[0].abs() / sigma[0]).mean().item(), rel=0.02)


def test_snr_floor_at_zero_signal():
    """Pure noise, K = 64: the estimator averages to the floor sqrt(2/pi)/sqrt(K) (squared form ~1/K)."""
    gen = torch.Generator().manual_seed(5)
    k = 64
    g_w = 3.0 * torch.randn(k, 500, 6, 6, generator=gen, dtype=torch.float64)
    g_gamma = torch.randn(k, 500, 6, generator=gen, dtype=torch.float64)
    out = mm.snr(g_w, g_gamma)
    assert out["snr_w"].mean().item() == pytest.approx(estimators.snr_floor(k), rel=0.03)
    assert out["snr_gamma"].mean().item() == pytest.approx(estimators.snr_floor(k), rel=0.03)
    # E[mean^2 / s^2] = (K - 1) / ((K - 3) K) for Gaussian draws: 3% above 1/K at K = 64.
    assert out["snr2_w"].mean().item() == pytest.approx(estimators.snr_floor(k, squared=True), rel=0.06)


# --- simulation --------------------------------------------------------------------------------------------


def per_example_gradients(w, gamma, x, y):
    """(N, d, d) and (N, d) per-example gradients by autograd, one example at a time (reference)."""
    out_w, out_g = [], []
    for i in range(x.shape[0]):
        w_i, g_i = w.clone().requires_grad_(), gamma.clone().requires_grad_()
        mm.loss(w_i, g_i, x[i : i + 1], y[i : i + 1]).backward()
        out_w.append(w_i.grad)
        out_g.append(g_i.grad)
    return torch.stack(out_w), torch.stack(out_g)


def test_exact_snr_matches_per_example_gradients_and_is_batched():
    """mean |mu| / sqrt(v / B) with mu, v the mean and population variance (ddof 0) of the N per-example
    gradients; runs stacked along a leading axis with their own B give their own values."""
    g = torch.Generator().manual_seed(5)
    d, n = 3, 40
    x, y = torch.randn(2, n, d, generator=g, dtype=torch.float64), torch.randn(2, n, d, generator=g).double()
    w, gamma = torch.randn(2, d, d, generator=g).double(), torch.randn(2, d, generator=g).double()
    b = torch.tensor([4.0, 16.0], dtype=torch.float64)
    out = mm.exact_snr(w, gamma, x, y, b)
    for r in range(2):
        gw, gg = per_example_gradients(w[r], gamma[r], x[r], y[r])
        ref_w = (gw.mean(0).abs() / (gw.var(0, unbiased=False) / b[r]).sqrt()).mean()
        ref_g = (gg.mean(0).abs() / (gg.var(0, unbiased=False) / b[r]).sqrt()).mean()
        ref2_w = (gw.mean(0).square() / (gw.var(0, unbiased=False) / b[r])).mean()
        assert out["snr_exact_w"][r].item() == pytest.approx(ref_w.item(), rel=1e-10)
        assert out["snr_exact_gamma"][r].item() == pytest.approx(ref_g.item(), rel=1e-10)
        assert out["snr2_exact_w"][r].item() == pytest.approx(ref2_w.item(), rel=1e-10)
        alone = mm.exact_snr(w[r], gamma[r], x[r], y[r], int(b[r]))
        assert alone["snr_exact_w"].item() == pytest.approx(out["snr_exact_w"][r].item(), rel=1e-12)


def test_exact_snr_is_the_large_k_limit_of_the_k_draw_estimate():
    """K = 100000 mini-batches drawn with replacement (as the simulator draws them): the K-draw estimate
    agrees with the exact SNR to within its sampling error."""
    g = torch.Generator().manual_seed(11)
    d, n, b, k = 3, 50, 5, 100_000
    x, y = torch.randn(n, d, generator=g).double(), torch.randn(n, d, generator=g).double()
    w, gamma = torch.randn(d, d, generator=g).double(), torch.randn(d, generator=g).double()
    xy = torch.cat([x, y], dim=1)[torch.randint(n, (k, b), generator=g)]
    sampled = mm.snr(*mm.gradients(w, gamma, *mm.moments(xy, d)))
    exact = mm.exact_snr(w, gamma, x, y, b)
    for name in ("snr_w", "snr_gamma", "snr2_w", "snr2_gamma"):
        ex = name.replace("snr", "snr_exact").replace("snr_exact2", "snr2_exact")
        assert sampled[name].item() == pytest.approx(exact[ex].item(), rel=0.02), name


def test_exact_snr_closed_form():
    """d = 1, y = 0, x_i^2 = a or c in equal numbers: g_W,i = gamma^2 w x_i^2 and g_gamma,i = gamma w^2 x_i^2,
    so both SNRs are sqrt(B) mean(x^2) / std(x^2) = sqrt(B) (a + c) / |a - c| and their ratio is 1."""
    a, c, n, b = 1.0, 4.0, 10, 9
    x = torch.tensor([[a**0.5], [c**0.5]] * (n // 2), dtype=torch.float64)
    y = torch.zeros_like(x)
    out = mm.exact_snr(torch.tensor([[0.7]]), torch.tensor([1.3]), x, y, b)
    expected = math.sqrt(b) * (a + c) / abs(a - c)
    assert out["snr_exact_w"].item() == pytest.approx(expected, rel=1e-12)
    assert out["snr_exact_gamma"].item() == pytest.approx(expected, rel=1e-12)
    assert out["snr2_exact_w"].item() == pytest.approx(expected**2, rel=1e-12)


def test_checkpoints_and_phases():
    measure = config.section("minimal_model")["measure"]
    steps, on_log = checkpoint_steps(30000, measure)
    assert steps[0] == 0 and steps[-1] == 30000 and np.all(np.diff(steps) > 0)
    assert on_log.sum() >= 40 and on_log[0] and on_log[-1]
    assert (steps >= 22500).sum() >= measure["late_checkpoints"]
    assert [phase_of(t, 30000, measure) for t in (0, 1, 100, 101, 22499, 22500)] == [
        "init",
        "early",
        "early",
        "mid",
        "mid",
        "late",
    ]
    short, _ = checkpoint_steps(5, measure)
    assert short.tolist() == [0, 1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def tiny_runs() -> dict[str, pd.DataFrame]:
    torch.set_num_threads(1)
    return {sweep: simulate(TINY, sweep, global_seed=11) for sweep in SWEEPS}


def test_simulate_tidy_output(tiny_runs):
    for sweep, df in tiny_runs.items():
        cfg = config.section("minimal_model", TINY)["sweeps"][sweep]
        n_points = len(cfg.get("values", [0]))
        n_ck = len(checkpoint_steps(cfg["steps"], config.section("minimal_model", TINY)["measure"])[0])
        assert len(df) == n_points * cfg["seeds"] * n_ck
        assert not df.duplicated(["value", "seed", "step"]).any()
        assert np.isfinite(df[list(METRICS)].to_numpy()).all()
        assert (df["sweep"] == sweep).all()
    dim = tiny_runs["dimension"]
    init = dim[dim["step"] == 0]
    np.testing.assert_allclose(init["gamma_norm"], np.sqrt(init["d"]), rtol=1e-6)


@pytest.mark.parametrize(
    ("sweep", "value"), [("dynamics", 0.0), ("batch", 8.0), ("weight_decay", 0.1), ("dimension", 3.0)]
)
def test_run_alone_equals_its_slice(tiny_runs, sweep, value):
    alone = simulate(TINY, sweep, global_seed=11, seed_indices=[1], values=[value])
    full = tiny_runs[sweep]
    part = full[(full["value"] == value) & (full["seed"] == 1)].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, part, check_exact=False, rtol=1e-6, atol=1e-6)


def test_global_seed_changes_draws(tiny_runs):
    other = simulate(TINY, "dynamics", global_seed=12)
    assert not np.allclose(other["w_norm"], tiny_runs["dynamics"]["w_norm"])


# --- derived results ---------------------------------------------------------------------------------------


def test_monotonicity_index():
    assert analysis.monotonicity_index([1.0, 2.0, 3.0]) == 1.0
    assert analysis.monotonicity_index([3.0, 2.0, 1.0]) == 1.0
    assert analysis.monotonicity_index([0.0, 1.0, 0.0]) == 0.0
    assert analysis.monotonicity_index([0.0, 2.0, 1.0, 3.0]) == pytest.approx(3.0 / 5.0)
    assert math.isnan(analysis.monotonicity_index([1.0, 1.0]))


def test_settle_step():
    steps = np.array([0, 10, 20, 30, 40, 50])
    values = np.array([1.0, 5.0, 9.0, 10.2, 9.9, 10.0])
    assert analysis.settle_step(steps, values, 10.0, 0.11) == 20.0
    assert analysis.settle_step(steps, values, 10.0, 0.05) == 30.0
    assert analysis.settle_step(steps, values, 10.0, 0.01) == 40.0
    assert math.isnan(analysis.settle_step(steps, np.array([1, 2, 3, 4, 5, 6.0]), 10.0, 0.05))


def test_settle_time_interpolates_in_log_step():
    steps = np.array([0, 10, 100, 1000])
    values = np.array([0.0, 2.0, 1.5, 1.0])  # excess over the 10% band: 0.9, 0.9, 0.4, -0.1
    # crossing between t = 100 (excess 0.4) and 1000 (-0.1): log t = log 100 + 0.8 log 10
    assert analysis.settle_time(steps, values, 1.0, 0.1) == pytest.approx(10 ** (2 + 0.8))
    # first segment starts at t = 0: linear in t; inside at every checkpoint: the first checkpoint
    assert analysis.settle_time(np.array([0, 10]), np.array([2.0, 1.0]), 1.0, 0.5) == pytest.approx(5.0)
    assert analysis.settle_time(steps, np.ones(4), 1.0, 0.1) == 0.0
    assert math.isnan(analysis.settle_time(steps, np.array([1.0, 1.0, 1.0, 2.0]), 1.0, 0.1))
    # within the grid step of settle_step, and never later
    values = np.array([1.0, 5.0, 9.0, 10.2, 9.9, 10.0])
    grid = np.array([1, 10, 20, 30, 40, 50])
    t = analysis.settle_time(grid, values, 10.0, 0.05)
    assert 20.0 < t <= analysis.settle_step(grid, values, 10.0, 0.05) == 30.0


def test_slopes_and_growth_exponent():
    t = np.array([10.0, 100.0, 1000.0])
    assert analysis.growth_exponent(t, 3 * np.sqrt(t)) == pytest.approx(0.5)
    frame = pd.DataFrame({"x": [2.0, 4.0, 8.0], "y": [5 * 2.0**-2, 5 * 4.0**-2, 5 * 8.0**-2]})
    assert analysis.loglog_slope(frame, "x", "y") == pytest.approx(-2.0)


def exact_columns(m: dict) -> dict:
    """The exact-SNR columns of a synthetic row: ``m``'s ``snr_exact_*`` where given, else the K-draw ones."""
    w, g = m.get("snr_exact_w", m["snr_w"]), m.get("snr_exact_gamma", m["snr_gamma"])
    return {
        "snr_exact_w": w,
        "snr_exact_gamma": g,
        "snr2_exact_w": w**2,
        "snr2_exact_gamma": g**2,
        "snr_exact_ratio": g / w,
    }


def synthetic(
    sweep: str, values: list[float], seeds: int, fn, steps: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Tidy frame like ``simulate``'s with metrics from ``fn(value, t, rng) -> dict``."""
    params = config.section("minimal_model")
    rng = np.random.default_rng(seed)
    ck, on_log = checkpoint_steps(steps, params["measure"])
    rows = []
    for value in values:
        for s in range(seeds):
            jitter = 1.0 + 0.02 * rng.standard_normal()
            for t, log in zip(ck, on_log, strict=True):
                m = {"w_norm": 1.0, "gamma_norm": 1.0, "snr_w": 0.2, "snr_gamma": 0.4, "loss": 1.0}
                m |= fn(value, int(t), rng)
                m = {k: v * jitter for k, v in m.items()}
                d = int(value) if sweep == "dimension" else 10
                lam = value if sweep == "weight_decay" else 0.01
                rows.append(
                    {
                        "sweep": sweep,
                        "value": float(value),
                        "seed": s,
                        "step": int(t),
                        "phase": phase_of(int(t), steps, params["measure"]),
                        "on_log_grid": bool(log),
                        "steps": steps,
                        "d": d,
                        "batch_size": int(value) if sweep == "batch" else 16,
                        "weight_decay_w": lam,
                        "weight_decay_gamma": lam,
                        "lr": 0.01,
                        **m,
                        "w_rms": m["w_norm"] / d,
                        "gamma_rms": m["gamma_norm"] / math.sqrt(d),
                        "product_err": 0.5,
                        "snr2_w": m["snr_w"] ** 2,
                        "snr2_gamma": m["snr_gamma"] ** 2,
                        "snr_ratio": m["snr_gamma"] / m["snr_w"],
                        **exact_columns(m),
                        "snr_floor": estimators.snr_floor(64),
                        "snr2_floor": estimators.snr_floor(64, squared=True),
                    }
                )
    return pd.DataFrame(rows)


def test_equilibrium_and_slopes_on_synthetic_data():
    df = synthetic(
        "batch", [4, 16, 64], 4, lambda b, t, rng: {"snr_w": 0.1 * b**0.5, "snr_gamma": 0.3 * b**0.5}
    )
    eq = analysis.equilibrium(df, config.section("minimal_model"), STATS)
    row = eq[(eq["metric"] == "w_rms") & (eq["value"] == 16)].iloc[0]
    assert row["reference"] == pytest.approx(math.sqrt(0.01 / (2 * 0.01)))
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    slopes = analysis.scaling_slopes(df, config.section("minimal_model"), STATS)
    late = slopes[(slopes["phase"] == "late") & (slopes["metric"] == "snr_w")].iloc[0]
    assert late["slope"] == pytest.approx(0.5, abs=0.02) and late["paper_exponent"] == 0.5
    assert late["ci_low"] <= late["slope"] <= late["ci_high"]
    ratio = slopes[(slopes["phase"] == "late") & (slopes["metric"] == "snr_ratio")].iloc[0]
    assert ratio["slope"] == pytest.approx(0.0, abs=0.02)
    assert (late["n_seeds"], late["ci_method"], late["level"]) == (4, "t", 0.95)
    assert (eq["ci_method"] == "t").all()


def test_slope_interval_is_a_t_interval_of_per_seed_slopes():
    """A slope's estimate is the mean of the per-seed log-log slopes, its CI Student t over them."""
    rng = np.random.default_rng(3)
    values, seeds = np.array([4.0, 16.0, 64.0, 256.0]), 5
    frame = pd.DataFrame(
        [
            {"seed": s, "value": b, "snr_w": 0.1 * b ** (0.5 + 0.05 * z) * np.exp(rng.normal(0, 0.05))}
            for s, z in zip(range(seeds), rng.normal(size=seeds), strict=True)
            for b in values
        ]
    )
    per_seed = [np.polyfit(np.log(g["value"]), np.log(g["snr_w"]), 1)[0] for _, g in frame.groupby("seed")]
    got = analysis.seed_slope(frame, "value", "snr_w", STATS)
    assert tuple(got) == pytest.approx(t_mean_ci(np.array(per_seed)))
    assert got[0] == pytest.approx(analysis.loglog_slope(frame, "value", "snr_w"))  # balanced: pooled slope
    assert (got.n, got.method) == (seeds, "t")


def test_run_summary_on_synthetic_data():
    df = synthetic(
        "dynamics",
        [0.0],
        3,
        lambda v, t, rng: {"w_norm": 7.0 - 4.0 * math.exp(-t / 50), "gamma_norm": 1.0 + t / 1000},
    )
    rs = analysis.run_summary(df, config.section("minimal_model"))
    assert (rs["settle_fraction_w"] < 0.25).all()
    # 7 - 4 exp(-t / 50) enters the 5% band of its late mean (7) at t = 50 ln(4 / 0.35) = 121.8
    assert rs["settle_time_w"].to_numpy() == pytest.approx(50 * math.log(4 / 0.35), rel=0.05)
    assert rs["settle_timescales_w"].to_numpy() == pytest.approx(rs["settle_time_w"].to_numpy() * 1e-4)
    assert rs["monotonicity_gamma"].to_numpy() == pytest.approx(1.0)
    assert rs["late_growth_w"].to_numpy() == pytest.approx(0.0, abs=1e-3)


# --- claims ------------------------------------------------------------------------------------------------


def claim_inputs(paper_like: bool) -> dict[str, pd.DataFrame]:
    """All four sweep tables, synthetic, keyed by sweep: ``paper_like`` follows every claim, otherwise every
    claim fails."""
    if paper_like:
        dyn = lambda v, t, rng: {  # noqa: E731
            "w_norm": 7.0 - 4.0 * math.exp(-t / 50),
            "gamma_norm": 1.0 + t / 30_000,
            "snr_w": 0.2,
            "snr_gamma": 2.0,
        }
        bat = lambda b, t, rng: {"snr_w": 0.05 * b**0.5, "snr_gamma": 0.5 * b**0.7}  # noqa: E731
        dim = lambda d, t, rng: {"snr_w": 10.0 * d**-2.0, "snr_gamma": 10.0 * d**-1.0}  # noqa: E731

        def wd(lam, t, rng):
            if lam == 0:
                return {"w_norm": math.sqrt(t + 1.0), "gamma_norm": (t + 1.0) ** 0.2}
            return {"w_norm": lam**-0.5, "gamma_norm": lam**-0.05}
    else:
        dyn = lambda v, t, rng: {  # noqa: E731  (W settles after ~1.8 decay timescales 1 / (eta lambda))
            "w_norm": 7.0 - 4.0 * math.exp(-t / 10_000),
            "gamma_norm": 2.0 + math.sin(t / 10),
            "snr_w": 0.2,
            "snr_gamma": 0.3,
        }
        bat = lambda b, t, rng: {"snr_w": 0.1 * b**-0.3, "snr_gamma": 0.2 * b**-0.5}  # noqa: E731
        dim = lambda d, t, rng: {"snr_w": 0.2 * d**0.5, "snr_gamma": 0.2 * d**0.5}  # noqa: E731

        def wd(lam, t, rng):
            if lam == 0:
                return {"w_norm": 5.0 / math.sqrt(t + 1.0), "gamma_norm": 3.0 / (t + 1.0) ** 0.2}
            return {"w_norm": lam**0.3, "gamma_norm": lam**-0.6}

    # noise-free curves give equal per-seed values: their median interval (sign test) needs >= 6 seeds at 95%
    return {
        "dynamics": synthetic("dynamics", [0.0], CLAIM_SEEDS, dyn, steps=30_000),
        "batch": synthetic("batch", [4, 16, 64, 256], CLAIM_SEEDS, bat),
        "weight_decay": synthetic("weight_decay", [0.0, 0.001, 0.01, 0.1], CLAIM_SEEDS, wd),
        "dimension": synthetic("dimension", [4, 8, 16, 32], CLAIM_SEEDS, dim),
    }


CLAIM_SEEDS = 8


# The criterion of every row, in order: the text claims.json carries. Per SNR claim, the decision rows (exact
# SNR) and then the practitioner rows (K-draw estimate): C2 throughout, C3 slope of SNR_W and SNR_W at max B,
# C5 slope of the ratio.
CRITERIA = ["<= 1", ">= 0.8"] + [">= 5"] * 3 + [">= 0.9"] * 2 + ["> 0.1"] * 2 + ["> 0", "> 0.1"]
CRITERIA += [">= 0.5", "> 0.1", ">= 0.5"]
CRITERIA += ["< -0.1"] + ["> 0.1"] * 3
CRITERIA += ["0.75 <= slope <= 1.25", "-2.5 <= slope <= -1.5", "-1.25 <= slope <= -0.75"]
CRITERIA += ["0.75 <= slope <= 1.25"]
ROWS_PER_CLAIM = (2, 5, 7, 4, 4)
PRACTITIONER = [5 + 1, 2 + 5 + 5, 2 + 5 + 6, 2 + 5 + 7 + 4 + 3]  # row indices


def test_claims_supported_on_paper_like_data():
    rows = claims.check_all(claim_inputs(True), config.section("minimal_model"), STATS)
    assert len(rows) == sum(ROWS_PER_CLAIM)
    assert [r.criterion for r in rows] == CRITERIA
    assert {r.study for r in rows} == {"001"} and [r.claim[:2] for r in rows] == [
        f"C{c}" for c, n in zip(range(1, 6), ROWS_PER_CLAIM, strict=True) for _ in range(n)
    ]
    assert [r.verdict for r in rows] == [SUPPORTED] * len(rows), [
        (r.measure, r.value, r.verdict) for r in rows
    ]
    assert {(r.n_seeds, r.level) for r in rows} == {(CLAIM_SEEDS, 0.95)}
    assert {r.method for r in rows} == {"t", "sign (median)"}  # the latter where every seed is equal
    assert all(np.isfinite(r.p_value) for r in rows)
    # two-sided rows are tested at the bound nearer the estimate; on this data every slope is its interval's
    # centre, and a tie goes to the lower bound
    assert [r.direction for r in rows] == [c.split()[0] for c in CRITERIA[:-4]] + [">="] * 4
    assert rows[0].threshold == 1.0 and rows[-1].threshold == 0.75
    practitioner = [i for i, r in enumerate(rows) if "practitioner K-draw estimate (K=64)" in r.scope]
    assert practitioner == PRACTITIONER
    assert all("snr_exact" in rows[i].measure for i in (2, 3, 4, 5, 7, 8, 11, 18, 19, 20))
    assert all("snr_exact" not in rows[i].measure for i in PRACTITIONER)


def test_claims_are_decided_on_the_exact_snr():
    """Exact SNRs that follow the paper, K-draw estimates stuck near their floor: the decision rows are
    supported, the practitioner rows are not; ``snr_estimate: sampled`` decides on the K-draw estimate."""
    floor = lambda m: {k: 0.11 * m["value"] ** -0.2 for k in ("snr_w", "snr_gamma")}  # noqa: E731
    tables = claim_inputs(True)
    exact = {"batch": lambda b: (0.05 * b**0.5, 0.5 * b**0.6), "dimension": lambda d: (10.0 / d**2, 10.0 / d)}
    for sweep, fn in exact.items():
        rows = [
            {**m, **floor(m), **exact_columns({"snr_w": fn(m["value"])[0], "snr_gamma": fn(m["value"])[1]})}
            for m in tables[sweep].to_dict("records")
        ]
        tables[sweep] = pd.DataFrame(rows).assign(snr_ratio=1.0)
    params = config.section("minimal_model")
    rows = claims.check_all(tables, params, STATS)
    decision = [r for r in rows if r.claim[:2] in ("C3", "C5") and "practitioner" not in r.scope]
    assert {r.verdict for r in decision} == {SUPPORTED}, [(r.measure, r.value, r.verdict) for r in decision]
    practitioner = [r for r in rows if r.claim[:2] in ("C3", "C5") and "practitioner" in r.scope]
    assert len(practitioner) == 3 and SUPPORTED not in {r.verdict for r in practitioner}
    params = config.section("minimal_model", {"claims": {"snr_estimate": "sampled"}})
    rows = claims.check_all(tables, params, STATS)
    assert not any("practitioner" in r.scope or "snr_exact" in r.measure for r in rows)
    assert len(rows) == sum(ROWS_PER_CLAIM) - 4
    assert SUPPORTED not in {r.verdict for r in rows if r.claim[:2] == "C5"}


def test_claims_not_supported_on_contrary_data():
    rows = claims.check_all(claim_inputs(False), config.section("minimal_model"), STATS)
    assert [r.criterion for r in rows] == CRITERIA
    verdicts = [r.verdict for r in rows]
    assert verdicts == [NOT_SUPPORTED] * len(rows), [(r.measure, r.value, r.verdict) for r in rows]


def test_a_flat_slope_is_a_null_not_an_open_question():
    """Exponents inside +-claims.min_slope are shown as a null (not supported), however tight the interval:
    SNRs that barely move with B, and norms that barely move with lambda; with min_slope 0 the same rows are
    decided by the sign alone."""
    bat = lambda b, t, rng: {  # noqa: E731
        "snr_w": 0.2 * b**0.03 * (1 + 0.01 * rng.normal()),
        "snr_gamma": 2.0 * b**0.05 * (1 + 0.01 * rng.normal()),
    }
    wd = lambda lam, t, rng: {"w_norm": lam**-0.04, "gamma_norm": lam**-0.02}  # noqa: E731
    tables = {
        "batch": synthetic("batch", [4, 16, 64, 256], 5, bat),
        "weight_decay": synthetic("weight_decay", [0.001, 0.01, 0.1], 5, wd),
    }
    df = pd.concat(tables.values(), ignore_index=True)
    params = config.section("minimal_model")
    slopes = [r for r in claims.claim_batch(df, params, STATS) if r.measure.startswith("log-log slope")]
    slopes += claims.claim_weight_decay(df, params, STATS)[:2]
    assert [r.threshold for r in slopes] == [0.1, 0.1, 0.1, 0.1, -0.1, 0.1]
    assert {r.verdict for r in slopes} == {NOT_SUPPORTED}, [(r.measure, r.value, r.ci_high) for r in slopes]
    params = config.section("minimal_model", {"claims": {"min_slope": 0.0}})
    rows = claims.claim_batch(df, params, STATS)
    assert rows[0].verdict == SUPPORTED and rows[0].criterion == "> 0"


def test_interval_verdict_and_missing_sweep():
    assert claims.interval_verdict(0.9, 1.1, 0.75, 1.25) == SUPPORTED
    assert claims.interval_verdict(1.3, 1.5, 0.75, 1.25) == NOT_SUPPORTED
    assert claims.interval_verdict(1.0, 1.5, 0.75, 1.25) == INCONCLUSIVE
    tables = claim_inputs(True)
    df = pd.concat([t for name, t in tables.items() if name != "batch"], ignore_index=True)
    rows = claims.claim_batch(df, config.section("minimal_model"), STATS)
    assert [r.verdict for r in rows] == [INCONCLUSIVE]
    # check_all without the batch and dimension tables: one inconclusive row for each missing sweep
    del tables["batch"], tables["dimension"]
    rows = claims.check_all(tables, config.section("minimal_model"), STATS)
    missing = [r for r in rows if r.claim[:2] in ("C3", "C5")]
    assert [(r.verdict, r.criterion, r.measure) for r in missing] == [(INCONCLUSIVE, "-", "-")] * 2
    assert "'batch' not among the inputs" in missing[0].note


def test_check_all_rejects_a_table_keyed_by_another_sweep():
    tables = claim_inputs(True)
    tables["batch"] = tables["dimension"]
    with pytest.raises(ValueError, match="'batch' holds rows of sweep \\['dimension'\\]"):
        claims.check_all(tables, config.section("minimal_model"), STATS)


# --- params, schema, CLI -----------------------------------------------------------------------------------


def schema_defaults(node: dict) -> object:
    if node.get("type") == "object" and "properties" in node:
        return {k: schema_defaults(v) for k, v in node["properties"].items()}
    return node["default"]


def test_schema_is_closed_and_documented():
    schema = yaml.safe_load(SCHEMA.read_text())

    def walk(node: dict, path: str) -> None:
        assert "description" in node and "default" in node, path
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, path
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}")

    walk(schema, "minimal_model")


def test_partial_section_is_completed_by_the_schema_defaults():
    full = config.section("minimal_model")
    assert full == schema_defaults(yaml.safe_load(SCHEMA.read_text()))  # every leaf from the schema file
    part = config.section(
        "minimal_model", {"optim": {"lr": 2 * full["optim"]["lr"]}, "sweeps": {"batch": {"seeds": 7}}}
    )
    assert part["optim"]["lr"] == 2 * full["optim"]["lr"] and part["sweeps"]["batch"]["seeds"] == 7
    part["optim"]["lr"], part["sweeps"]["batch"]["seeds"] = (
        full["optim"]["lr"],
        full["sweeps"]["batch"]["seeds"],
    )
    assert part == full


def test_unknown_param_is_rejected():
    with pytest.raises(config.ConfigError, match=r"minimal_model\.optim.*lr_typo"):
        config.section("minimal_model", {"optim": {"lr_typo": 0.1}})


def test_cli_simulate_analyse_and_claims(tmp_path):
    params = json.dumps(TINY)
    for sweep in SWEEPS:
        out = str(tmp_path / f"{sweep}.csv")
        assert (
            main(["simulate", "--sweep", sweep, "--params", params, "--global-seed", "3", "--out", out]) == 0
        )
    inputs = [str(tmp_path / f"{s}.csv") for s in SWEEPS]
    common = ["--inputs", *inputs, "--params", params, "--stats", json.dumps(STATS)]
    assert main(["analyse", *common, "--out-dir", str(tmp_path / "out")]) == 0
    assert main(["claims", *common, "--out", str(tmp_path / "out" / "claims.json")]) == 0
    rows = json.loads((tmp_path / "out" / "claims.json").read_text())
    assert len(rows) == sum(ROWS_PER_CLAIM) and {r["verdict"] for r in rows} <= {
        SUPPORTED,
        NOT_SUPPORTED,
        INCONCLUSIVE,
    }
    assert [r["criterion"] for r in rows] == CRITERIA
    for name in ("phase_means.csv", "runs.csv", "equilibrium.csv", "slopes.csv"):
        assert len(pd.read_csv(tmp_path / "out" / name)) > 0
    assert not list(tmp_path.glob("**/.*"))  # no temporary files left behind


def test_settle_claim_needs_a_run_longer_than_the_allowed_timescales():
    """W settles at t ~ 120 steps, but a run of T = 1000 steps spans only 0.1 decay timescales (eta lambda =
    1e-4): its late mean is not shown to be the equilibrium, so C1(a) is inconclusive, not supported."""
    dyn = lambda v, t, rng: {"w_norm": 7.0 - 4.0 * math.exp(-t / 50), "gamma_norm": 1.0 + t / 1000}  # noqa: E731
    rows = claims.claim_equilibrium(
        synthetic("dynamics", [0.0], 5, dyn), config.section("minimal_model"), STATS
    )
    assert rows[0].value < 0.05 and rows[0].verdict == INCONCLUSIVE and "decay timescales" in rows[0].note
