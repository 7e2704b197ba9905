"""The minimal model of paper 001: data, batched loss and gradient, per-parameter SNR.

Loss (paper 001, eq. 1), for W in R^{d x d} and gamma in R^d:

    L(W, gamma) = 1/(2N) sum_i ||gamma * (W x_i) - y_i||^2,

data x_i ~ N(0, I_d), teacher A_jk ~ N(0, a^2 / d), y_i = A x_i + sigma eps_i with eps_i ~ N(0, I_d);
init W_jk ~ N(0, s^2 / d) and gamma = gamma_0 (``init_w_scale`` s = 1, ``init_gamma`` = 1 by default).

The loss is quadratic in the data, so a mini-batch enters only through its second moments
S_xx = 1/B sum_b x_b x_b^T and S_yx = 1/B sum_b y_b x_b^T. With E = gamma[:, None] * (W S_xx) - S_yx,

    dL_B/dW     = gamma[:, None] * E                    (= 1/B sum_b (gamma * r_b) x_b^T),
    dL_B/dgamma = sum_k E_ik W_ik                        (= 1/B sum_b r_b * (W x_b)),

where r_b = gamma * (W x_b) - y_b. One gradient costs one (2d x B) @ (B x d) product for the moments plus
O(d^3), and every function broadcasts over leading axes: R stacked runs, K gradient draws.

Exact per-parameter SNR (``exact_snr``): at fixed parameters the mini-batch gradient's mean and variance are
known from the N training points. Per example, g_W,i = (gamma * r_i) x_i^T and g_gamma,i = r_i * (W x_i); the
mean over the N points is the full-batch gradient mu, their population variance v = 1/N sum_i g_i^2 - mu^2
(ddof 0), and the mean of B points drawn uniformly *with replacement* (as the simulator draws them) has
variance v / B exactly (no finite-population factor; without replacement it would be v / B (N - B) / (N - 1)).
The exact SNR is mean_j |mu_j| / sqrt(v_j / B), the value the K-draw estimate tends to as K -> infinity, with
no estimator floor; the squared form is mean_j mu_j^2 / (v_j / B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from scaledyn import estimators
from scaledyn.seeding import generator

STUDY = "minimal_model"


@dataclass(frozen=True)
class RunSpec:
    """One training run: a sweep point and a seed index.

    ``key`` is the sweep value as it enters the seed derivation (``"headline"`` for the dynamics sweep, an
    int for batch size and dimension, a float for weight decay), so a run's random numbers depend only on
    (global seed, sweep, key, seed index, stream), never on the other runs in its batch.
    """

    sweep: str
    value: float
    key: object
    seed: int
    d: int
    batch_size: int
    weight_decay_w: float
    weight_decay_gamma: float

    def generator(self, global_seed: int, stream: str) -> torch.Generator:
        """The run's generator for one stream (``teacher``, ``data``, ``init``, ``batches``, ``snr``)."""
        return generator(global_seed, STUDY, self.sweep, self.key, self.seed, stream)


def make_run(
    spec: RunSpec, model: dict, global_seed: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(X (N, d), Y (N, d), A (d, d), W0 (d, d), gamma0 (d,)) of one run, each part from its own stream."""
    d, n = spec.d, int(model["n_train"])
    g_teacher = spec.generator(global_seed, "teacher")
    a = torch.randn(d, d, generator=g_teacher, dtype=dtype) * (model["teacher_scale"] / math.sqrt(d))
    g_data = spec.generator(global_seed, "data")
    x = torch.randn(n, d, generator=g_data, dtype=dtype)
    eps = torch.randn(n, d, generator=g_data, dtype=dtype)
    y = x @ a.T + model["noise_std"] * eps
    g_init = spec.generator(global_seed, "init")
    w0 = torch.randn(d, d, generator=g_init, dtype=dtype) * (model["init_w_scale"] / math.sqrt(d))
    gamma0 = torch.full((d,), float(model["init_gamma"]), dtype=dtype)
    return x, y, a, w0, gamma0


def loss(w: torch.Tensor, gamma: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Reference loss 1/(2B) sum_b ||gamma * (W x_b) - y_b||^2.

    Shapes: w (..., d, d), gamma (..., d), x and y (..., B, d); returns (...).
    """
    res = gamma.unsqueeze(-2) * (x @ w.transpose(-1, -2)) - y
    return 0.5 * res.square().sum(-1).mean(-1)


def moments(xy: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(S_xx, S_yx) = (1/B sum_b x_b x_b^T, 1/B sum_b y_b x_b^T) from xy = [x | y] of shape (..., B, 2d)."""
    s = (xy.transpose(-1, -2) @ xy[..., :d]) / xy.shape[-2]
    return s[..., :d, :], s[..., d:, :]


def gradients(
    w: torch.Tensor, gamma: torch.Tensor, s_xx: torch.Tensor, s_yx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/dW, dL/dgamma) from the batch moments: E = gamma[:, None] (W S_xx) - S_yx,
    dL/dW = gamma[:, None] E, dL/dgamma_i = sum_k E_ik W_ik. Shapes w (..., d, d), gamma (..., d)."""
    g_col = gamma.unsqueeze(-1)
    e = g_col * (w @ s_xx) - s_yx
    return g_col * e, (e * w).sum(-1)


def loss_from_moments(
    w: torch.Tensor, gamma: torch.Tensor, c_xx: torch.Tensor, c_yx: torch.Tensor, c_yy: torch.Tensor
) -> torch.Tensor:
    """Loss from the data moments C_xx, C_yx (d x d) and c_yy = 1/N sum ||y||^2, evaluated in float64:

    L = 1/2 [sum_i gamma_i^2 (W C_xx W^T)_ii - 2 sum_i gamma_i (C_yx W^T)_ii + c_yy].
    """
    w, gamma = w.double(), gamma.double()
    quad = ((w @ c_xx) * w).sum(-1)
    cross = (c_yx * w).sum(-1)
    return 0.5 * ((gamma.square() * quad).sum(-1) - 2.0 * (gamma * cross).sum(-1) + c_yy)


def snr(g_w: torch.Tensor, g_gamma: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-parameter SNRs of K gradient draws g_W (K, ..., d, d), g_gamma (K, ..., d) -> shape (...).

    snr = mean_j |mean_k g_j| / std_k g_j (ddof 1), snr2 = mean_j mean_j^2 / var_j (``scaledyn.estimators``),
    averaged over the d^2 entries of W or the d entries of gamma.
    """
    return {
        "snr_w": estimators.snr_per_parameter(g_w, param_dims=2),
        "snr_gamma": estimators.snr_per_parameter(g_gamma, param_dims=1),
        "snr2_w": estimators.snr2_per_parameter(g_w, param_dims=2),
        "snr2_gamma": estimators.snr2_per_parameter(g_gamma, param_dims=1),
    }


def exact_snr(
    w: torch.Tensor, gamma: torch.Tensor, x: torch.Tensor, y: torch.Tensor, batch_size: torch.Tensor | int
) -> dict[str, torch.Tensor]:
    """Exact per-parameter SNRs of the B-sample mini-batch gradient (drawn with replacement) at (W, gamma),
    from the full data x, y (..., N, d); w (..., d, d), gamma (..., d), ``batch_size`` an int or a tensor
    broadcasting against the leading axes. Computed in float64; returns shape (...) tensors ``snr_exact_w``,
    ``snr_exact_gamma``, ``snr2_exact_w``, ``snr2_exact_gamma`` (module docstring).

    Cost per run: two (N x d) @ (d x d) products and one (d x N) @ (N x d) product, no per-example tensor.
    """
    w, gamma, x, y = w.double(), gamma.double(), x.double(), y.double()
    n = x.shape[-2]
    b = torch.as_tensor(batch_size, dtype=torch.float64)
    z = x @ w.transpose(-1, -2)  # (..., N, d): (W x_i)_j
    r = gamma.unsqueeze(-2) * z - y  # residuals r_ij
    g_col = gamma.unsqueeze(-1)
    mu_w = g_col * (r.transpose(-1, -2) @ x) / n  # (..., d, d)
    m2_w = g_col.square() * (r.square().transpose(-1, -2) @ x.square()) / n
    rz = r * z
    mu_g = rz.mean(-2)
    m2_g = rz.square().mean(-2)
    var_w = (m2_w - mu_w.square()).clamp_min(0.0) / b.view(*b.shape, *(1,) * 2)
    var_g = (m2_g - mu_g.square()).clamp_min(0.0) / b.view(*b.shape, 1)
    return {
        "snr_exact_w": (mu_w.abs() / var_w.sqrt()).mean((-1, -2)),
        "snr_exact_gamma": (mu_g.abs() / var_g.sqrt()).mean(-1),
        "snr2_exact_w": (mu_w.square() / var_w).mean((-1, -2)),
        "snr2_exact_gamma": (mu_g.square() / var_g).mean(-1),
    }
