"""Default parameters of study ``minimal_model`` (the ``minimal_model`` config section) and their merge.

The same defaults, with types, ranges and descriptions, live in
``workflow/schemas/minimal_model.schema.yaml``; a test checks that the two agree.
"""

from __future__ import annotations

from typing import Any

from scaledyn.params import merge, read  # noqa: F401  (read: the CLIs' --params parser)

SWEEPS = ("dynamics", "batch", "weight_decay", "dimension")

DEFAULT_PARAMS: dict[str, Any] = {
    "model": {
        "d": 10,
        "n_train": 4096,
        "teacher_scale": 1.0,
        "noise_std": 0.5,
        "init_w_scale": 1.0,
        "init_gamma": 1.0,
    },
    "optim": {
        "lr": 0.01,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1.0e-8,
        "weight_decay": 0.01,
        "weight_decay_w": None,
        "weight_decay_gamma": None,
        "batch_size": 16,
        "adamw_impl": "fused",
    },
    "measure": {
        "snr_draws": 64,
        "log_checkpoints": 40,
        "late_checkpoints": 10,
        "early_end": 100,
        "late_fraction": 0.25,
    },
    "sweeps": {
        "dynamics": {"steps": 30000, "seeds": 8},
        "batch": {"steps": 20000, "seeds": 5, "values": [4, 8, 16, 32, 64, 128, 256]},
        "weight_decay": {"steps": 30000, "seeds": 5, "values": [0.0, 0.001, 0.01, 0.1]},
        "dimension": {"steps": 20000, "seeds": 5, "values": [4, 8, 16, 32, 64]},
    },
    "compute": {"dtype": "float32", "index_chunk": 256},
    "analysis": {
        "settle_tolerance": 0.05,
        "paper_exponents": {"batch": 0.5, "dimension_w": -2.0, "dimension_gamma": -1.0},
    },
    "claims": {
        "equilibrium": {"max_settle_fraction_w": 0.5, "min_monotonicity_gamma": 0.8},
        "snr_ratio": {"min_ratio": 5.0},
        "batch": {"phase": "late", "signal_dominated_snr": 1.0, "approach_fraction": 0.5},
        "weight_decay": {"phase": "late"},
        "dimension": {"phase": "late", "relative_tolerance": 0.25},
    },
}

# Mirrors the pipeline-wide ``stats`` config section (bootstrap of seeds), passed separately as ``--stats``.
DEFAULT_STATS: dict[str, Any] = {"bootstrap_resamples": 2000, "ci_level": 0.95, "bootstrap_seed": 0}


def resolve(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults completed by ``params`` (a full or partial ``minimal_model`` section)."""
    return merge(DEFAULT_PARAMS, params or {}, section="minimal_model")


def resolve_stats(stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """Bootstrap settings: ``DEFAULT_STATS`` completed by ``stats``."""
    return merge(DEFAULT_STATS, stats or {}, section="stats")


def weight_decays(optim: dict[str, Any]) -> tuple[float, float]:
    """(lambda_W, lambda_gamma): the explicit keys, or ``weight_decay`` where they are null."""
    lam = float(optim["weight_decay"])
    lam_w = lam if optim["weight_decay_w"] is None else float(optim["weight_decay_w"])
    lam_g = lam if optim["weight_decay_gamma"] is None else float(optim["weight_decay_gamma"])
    return lam_w, lam_g
