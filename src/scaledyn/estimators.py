"""Gradient signal-to-noise estimators shared by all studies.

Every estimator takes ``K`` independent stochastic-gradient draws stacked along ``dim`` (default 0)
and reduces over that axis and over the parameter entries of one tensor. Shapes: ``g`` is
``(K, *batch, *param)`` with ``param_dims`` trailing dimensions forming the parameter; the result has shape
``batch``. All formulas use the unbiased per-entry sample variance ``s_j^2`` (ddof = 1).

GSNR (paper 000, eq. 1)
    GSNR = ||E g||^2 / E ||g - E g||^2 = ||mu||^2 / tr(Sigma).

``gsnr_plugin``
    ||mean_k g||^2 / sum_j s_j^2. Because E||mean g||^2 = ||mu||^2 + tr(Sigma)/K, its expectation is
    about GSNR + 1/K: the estimate has a floor near 1/K when the signal vanishes.

``gsnr_bias_corrected``
    (||mean_k g||^2 - sum_j s_j^2 / K) / sum_j s_j^2. The numerator is an unbiased estimate of ||mu||^2,
    so the floor is removed; the estimate can be negative when the signal is below the noise of the mean.

Per-parameter SNR (paper 001)
    ``snr_per_parameter``: for each entry j, |mean_k g_j| / s_j, averaged over entries.
    ``snr2_per_parameter``: the squared form mean_j^2 / s_j^2, averaged over entries.
    With zero signal, |mean| / s is about |N(0,1)| / sqrt(K) so the first has a floor of
    sqrt(2 / pi) / sqrt(K) (``snr_floor``) and the squared form a floor of 1 / K with a known sigma but
    (K - 1) / (K (K - 3)) with the sample variance every estimator here uses (``snr2_plugin_floor``, which
    ``snr_floor(K, squared=True)`` returns).
    ``snr2_unbiased``: mean over entries of (K - 3) / (K - 1) * mean_j^2 / s_j^2 - 1 / K, unbiased for
    mean_j mu_j^2 / sigma_j^2 with Gaussian draws (no floor; it can be negative). With m ~ N(mu, sigma^2 / K)
    independent of (K - 1) s^2 / sigma^2 ~ chi^2_{K-1}, E[1 / s^2] = (K - 1) / ((K - 3) sigma^2), so
    E[m^2 / s^2] = (mu^2 / sigma^2 + 1 / K) (K - 1) / (K - 3); the correction inverts that (needs K >= 4).
    Entries whose draws are all equal (s_j = 0, e.g. the embedding row of a token no draw contains) carry
    no information; a caller leaves them out of the per-parameter means (they would give 0 / 0).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _moments(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    if g.shape[0] < 2:
        raise ValueError(f"need at least 2 gradient draws along dim 0, got {g.shape[0]}")
    mean = g.mean(dim=0)
    var = g.var(dim=0, unbiased=True)
    return mean, var, g.shape[0]


def _sum_params(x: torch.Tensor, param_dims: int) -> torch.Tensor:
    return x.sum(dim=tuple(range(x.ndim - param_dims, x.ndim))) if param_dims else x


# Each estimator is a formula of the per-entry moments (mean, var, K), shared by its public function
# (which takes the draws) and by moment_estimates (all of them from one tensor's moments).


def _gsnr_plugin(mean: torch.Tensor, var: torch.Tensor, k: int, param_dims: int) -> torch.Tensor:
    return _sum_params(mean.square(), param_dims) / _sum_params(var, param_dims)


def _gsnr_bias_corrected(mean: torch.Tensor, var: torch.Tensor, k: int, param_dims: int) -> torch.Tensor:
    total_var = _sum_params(var, param_dims)
    return (_sum_params(mean.square(), param_dims) - total_var / k) / total_var


def _entry_mean(x: torch.Tensor, param_dims: int) -> torch.Tensor:
    return _sum_params(x, param_dims) / math.prod(x.shape[x.ndim - param_dims :])


def _snr2_unbiased(mean: torch.Tensor, var: torch.Tensor, k: int, param_dims: int) -> torch.Tensor:
    if k < 4:
        raise ValueError(f"snr2_unbiased needs at least 4 gradient draws, got {k}")
    return _entry_mean((k - 3) / (k - 1) * mean.square() / var - 1.0 / k, param_dims)


def gsnr_plugin(g: torch.Tensor, param_dims: int = 1) -> torch.Tensor:
    """Plug-in GSNR ||mean g||^2 / sum var (floor near 1/K)."""
    return _gsnr_plugin(*_moments(g), param_dims)


def gsnr_bias_corrected(g: torch.Tensor, param_dims: int = 1) -> torch.Tensor:
    """Bias-corrected GSNR (||mean g||^2 - sum s^2 / K) / sum s^2 (may be negative)."""
    return _gsnr_bias_corrected(*_moments(g), param_dims)


def snr_per_parameter(g: torch.Tensor, param_dims: int = 1) -> torch.Tensor:
    """Mean over entries of |mean_k g_j| / std_k g_j (ddof = 1)."""
    mean, var, _ = _moments(g)
    return _entry_mean(mean.abs() / var.sqrt(), param_dims)


def snr2_per_parameter(g: torch.Tensor, param_dims: int = 1) -> torch.Tensor:
    """Mean over entries of mean_j^2 / var_j (ddof = 1)."""
    mean, var, _ = _moments(g)
    return _entry_mean(mean.square() / var, param_dims)


def snr2_unbiased(g: torch.Tensor, param_dims: int = 1) -> torch.Tensor:
    """Mean over entries of (K-3)/(K-1) mean_j^2 / var_j - 1/K: unbiased for Gaussian draws (K >= 4)."""
    return _snr2_unbiased(*_moments(g), param_dims)


class RunningMoments:
    """Per-entry mean and unbiased variance of draws added one at a time (Welford's update, float64).

    Every estimator here is a function of these moments and K, so K draws need not be kept in memory
    (``moments()`` equals ``(g.mean(0), g.var(0), K)`` of the stacked draws up to rounding)."""

    def __init__(self) -> None:
        self.k, self.mean, self.m2 = 0, None, None

    def add(self, x: torch.Tensor) -> None:
        x = x.double()
        self.k += 1
        if self.mean is None:
            self.mean, self.m2 = x.clone(), torch.zeros_like(x)
            return
        delta = x - self.mean
        self.mean += delta / self.k
        self.m2 += delta * (x - self.mean)

    def moments(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        if self.k < 2:
            raise ValueError(f"need at least 2 gradient draws along dim 0, got {self.k}")
        return self.mean, self.m2 / (self.k - 1), self.k


def moment_estimates(mean: torch.Tensor, var: torch.Tensor, k: int) -> dict[str, float]:
    """All of one tensor's estimates from its per-entry moments of ``k`` draws (any shape, reduced over all).

    ``gsnr`` (bias-corrected), ``gsnr_plugin``, ``snr2`` (``snr2_unbiased``), ``snr``
    (``snr_per_parameter``) and ``n_active``: the per-parameter means are over the entries with
    ``s_j > 0`` (NaN when there is none); the GSNRs over all entries (a zero-variance entry adds its
    ``mean^2`` to the signal and nothing to the noise).
    """
    mean, var = mean.reshape(-1), var.reshape(-1)
    active = var > 0
    mean_a, var_a = mean[active], var[active]
    some = bool(active.any())
    nan = float("nan")
    return {
        "gsnr": float(_gsnr_bias_corrected(mean, var, k, 1)),
        "gsnr_plugin": float(_gsnr_plugin(mean, var, k, 1)),
        "snr2": float(_snr2_unbiased(mean_a, var_a, k, 1)) if some else nan,
        "snr": float(_entry_mean(mean_a.abs() / var_a.sqrt(), 1)) if some else nan,
        "n_active": int(active.sum()),
    }


def tensor_estimates(g: torch.Tensor) -> dict[str, float]:
    """:func:`moment_estimates` of the draws ``g`` of shape ``(K, *param)``, the moments computed once."""
    return moment_estimates(*_moments(g))


def gsnr_plugin_floor(k: int | np.ndarray) -> float | np.ndarray:
    """Floor of the plug-in GSNR from K draws: its expectation is about GSNR + 1/K, so with no signal 1/K."""
    return 1.0 / np.asarray(k, dtype=float)


def snr2_plugin_floor(k: int) -> float:
    """Expected ``snr2_per_parameter`` at zero signal with Gaussian draws: (K - 1) / (K (K - 3)).

    At zero signal ``m^2 / s^2 = t^2 / K`` with ``t ~ t_{K-1}`` (Student), and ``E t^2 = (K - 1) / (K - 3)``;
    the expectation is infinite for K <= 3 (returned as ``inf``). It is not 1/K, the value with a known sigma:
    the sample variance in the denominator inflates it by (K - 1) / (K - 3) (7/5 at K = 8).
    """
    return (k - 1) / (k * (k - 3)) if k > 3 else float("inf")


def snr_floor(k: int, squared: bool = False) -> float:
    """Zero-signal floor of the per-parameter SNR estimate from K Gaussian draws.

    ``|mean| / s`` is ``|t_{K-1}| / sqrt(K)``; we quote the known-sigma value ``sqrt(2/pi) / sqrt(K)`` (it
    differs from ``E|t_{K-1}| / sqrt(K)`` by a factor 1 + O(1/K): 0.4% at K = 64). ``squared``: the squared
    form ``snr2_per_parameter``, whose floor with the sample variance is :func:`snr2_plugin_floor`,
    (K - 1) / (K (K - 3)), not the known-sigma 1/K (7% above it at K = 64, 40% at K = 8).
    """
    return snr2_plugin_floor(k) if squared else math.sqrt(2.0 / math.pi) / math.sqrt(k)
