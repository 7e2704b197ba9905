"""Estimators against closed forms."""

import math

import pytest
import torch

from scaledyn import estimators


def gaussian_draws(mean: torch.Tensor, std: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return mean + std * torch.randn(k, *mean.shape, generator=gen, dtype=torch.float64)


def test_gsnr_estimators_match_their_expectations_at_small_k():
    """Many small-K estimates (K = 8, n = 50 entries, 4000 repetitions): the plug-in sits at
    (GSNR + 1/K) nu / (nu - 2), nu = n (K - 1) (E||mean||^2 = ||mu||^2 + tr Sigma / K, and
    E[1 / sum s^2] = (K - 1) / (sigma^2 (nu - 2))), the bias-corrected one 1/K lower. The standard error of
    each mean is 5e-4, the tolerance 2e-3 (4 se); the two estimators differ by 1/K = 0.125 (250 se), so one
    with the wrong correction (or the wrong K) fails."""
    n, k, reps = 50, 8, 4000
    mean = torch.linspace(-1.0, 1.0, n, dtype=torch.float64).repeat(reps, 1)
    std = torch.full((reps, n), 4.0, dtype=torch.float64)
    true = float(mean[0].square().sum() / std[0].square().sum())
    g = gaussian_draws(mean, std, k)
    nu = n * (k - 1)
    plugin_expected = (true + 1 / k) * nu / (nu - 2)
    assert float(estimators.gsnr_plugin(g).mean()) == pytest.approx(plugin_expected, abs=2e-3)
    corrected = estimators.gsnr_bias_corrected(g)
    assert float(corrected.mean()) == pytest.approx(plugin_expected - 1 / k, abs=2e-3)
    assert float(corrected.mean()) == pytest.approx(true, abs=2e-3)  # 0.0217: the floor removed
    assert abs(float(estimators.gsnr_plugin(g).mean()) - true) > 0.1  # the plug-in keeps it


def test_plugin_floor_is_one_over_k_and_bias_correction_removes_it():
    k, reps = 16, 4000
    g = gaussian_draws(
        torch.zeros(reps, 30, dtype=torch.float64), torch.ones(reps, 30, dtype=torch.float64), k
    )
    plugin = estimators.gsnr_plugin(g)  # one estimate per rep
    corrected = estimators.gsnr_bias_corrected(g)
    assert float(plugin.mean()) == pytest.approx(1 / k, rel=0.05)
    assert abs(float(corrected.mean())) < 0.005
    assert (corrected < 0).any()  # the unbiased estimate goes negative at zero signal


def test_param_dims_reduce_over_matrix_entries():
    g = gaussian_draws(torch.ones(3, 4, 5, dtype=torch.float64), torch.ones(3, 4, 5, dtype=torch.float64), 64)
    out = estimators.gsnr_plugin(g, param_dims=2)
    assert out.shape == (3,)
    flat = estimators.gsnr_plugin(g.reshape(64, 3, 20), param_dims=1)
    torch.testing.assert_close(out, flat)


def test_per_parameter_snr_known_mean_and_variance():
    mean = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    std = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)  # |mean|/std = 0.5 each
    g = gaussian_draws(mean, std, 400_000, seed=1)
    assert float(estimators.snr_per_parameter(g)) == pytest.approx(0.5, rel=0.01)
    assert float(estimators.snr2_per_parameter(g)) == pytest.approx(0.25, rel=0.02)


def test_snr_floor_at_zero_signal():
    k = 64
    g = gaussian_draws(
        torch.zeros(2000, 10, dtype=torch.float64), torch.ones(2000, 10, dtype=torch.float64), k
    )
    assert float(estimators.snr_per_parameter(g).mean()) == pytest.approx(estimators.snr_floor(k), rel=0.05)
    assert estimators.snr_floor(k) == pytest.approx(math.sqrt(2 / math.pi / k))


def test_squared_snr_floor_is_the_sample_variance_closed_form():
    """At zero signal m^2 / s^2 = t_{K-1}^2 / K, mean (K - 1) / (K (K - 3)) = 9/70 = 0.1286 at K = 10, not the
    known-sigma 1/K = 0.1. Over 100,000 entries the standard error of the mean is 7e-4; the tolerance 3e-3
    (about 4 se) is far below the 0.029 between the two forms, so the 1/K form fails."""
    k = 10
    zeros = torch.zeros(2000, 50, dtype=torch.float64)
    g = gaussian_draws(zeros, torch.ones_like(zeros), k, seed=6)
    plugin = float(estimators.snr2_per_parameter(g).mean())
    assert estimators.snr_floor(k, squared=True) == estimators.snr2_plugin_floor(k) == pytest.approx(9 / 70)
    assert plugin == pytest.approx(estimators.snr_floor(k, squared=True), abs=3e-3)
    assert abs(plugin - 1 / k) > 0.02
    assert math.isinf(estimators.snr2_plugin_floor(3))  # E t_2^2 is infinite


def test_too_few_draws_is_an_error():
    with pytest.raises(ValueError, match="at least 2"):
        estimators.gsnr_plugin(torch.zeros(1, 3))


def test_unbiased_squared_snr_has_no_floor_where_the_plugin_one_sits_at_its_closed_form():
    k = 8
    zeros = torch.zeros(4000, 10, dtype=torch.float64)
    g = gaussian_draws(zeros, torch.ones_like(zeros), k, seed=2)
    plugin = float(estimators.snr2_per_parameter(g).mean())
    assert plugin == pytest.approx(estimators.snr2_plugin_floor(k), rel=0.03)  # 7 / 40, not 1 / 8
    assert estimators.snr2_plugin_floor(k) == pytest.approx(7 / 40)
    assert abs(float(estimators.snr2_unbiased(g).mean())) < 0.006  # se of the mean ~ 0.002
    assert (estimators.snr2_unbiased(g) < 0).any()


def test_unbiased_squared_snr_recovers_a_known_signal():
    k = 8
    mean = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64).repeat(20000, 1)
    std = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64).repeat(20000, 1)  # mu^2 / sigma^2 = 0.25
    g = gaussian_draws(mean, std, k, seed=3)
    assert float(estimators.snr2_unbiased(g).mean()) == pytest.approx(0.25, abs=0.01)
    plugin = float(estimators.snr2_per_parameter(g).mean())
    assert plugin == pytest.approx((0.25 + 1 / k) * (k - 1) / (k - 3), rel=0.03)  # E[m^2 / s^2], closed form
    with pytest.raises(ValueError, match="at least 4"):
        estimators.snr2_unbiased(g[:3])


def test_tensor_estimates_equal_the_single_estimators_over_the_entries_that_vary():
    g = gaussian_draws(
        torch.full((40,), 0.3, dtype=torch.float64), torch.ones(40, dtype=torch.float64), 16, 4
    )
    g[:, :5] = 0.0  # entries no draw touches: no variance
    out = estimators.tensor_estimates(g)
    assert out["n_active"] == 35
    assert out["gsnr"] == float(estimators.gsnr_bias_corrected(g))
    assert out["gsnr_plugin"] == float(estimators.gsnr_plugin(g))
    assert out["snr2"] == pytest.approx(float(estimators.snr2_unbiased(g[:, 5:])), rel=1e-12)
    assert out["snr"] == pytest.approx(float(estimators.snr_per_parameter(g[:, 5:])), rel=1e-12)
    assert math.isnan(estimators.tensor_estimates(torch.zeros(8, 3))["snr2"])


def test_running_moments_equal_the_stacked_moments():
    g = gaussian_draws(
        torch.linspace(-1, 1, 30, dtype=torch.float64), torch.ones(30, dtype=torch.float64), 9, 5
    )
    acc = estimators.RunningMoments()
    for draw in g.reshape(9, 5, 6):
        acc.add(draw.float())
    mean, var, k = acc.moments()
    assert k == 9 and mean.shape == (5, 6)
    torch.testing.assert_close(mean, g.float().double().mean(0).reshape(5, 6), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(var, g.float().double().var(0).reshape(5, 6), rtol=1e-10, atol=1e-12)
    assert estimators.moment_estimates(mean, var, k) == pytest.approx(
        estimators.tensor_estimates(g.float().double()), rel=1e-9
    )
    with pytest.raises(ValueError, match="at least 2"):
        one = estimators.RunningMoments()
        one.add(g[0])
        one.moments()
