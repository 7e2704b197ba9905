"""Default parameters of study ``minimal_model`` (the ``minimal_model`` config section) and their merge.

The same defaults, with types, ranges and descriptions, live in
``workflow/schemas/minimal_model.schema.yaml``; a test checks that the two agree.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

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


def merge(base: dict[str, Any], override: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``; unknown keys raise ``KeyError``."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key not in base:
            raise KeyError(f"unknown minimal_model parameter {path + key!r}; allowed: {', '.join(base)}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            out[key] = merge(base[key], value, f"{path}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults completed by ``params`` (a full or partial ``minimal_model`` section)."""
    return merge(DEFAULT_PARAMS, params or {})


def resolve_stats(stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """Bootstrap settings: ``DEFAULT_STATS`` completed by ``stats``."""
    return merge(DEFAULT_STATS, stats or {})


def read(text_or_path: str | None, section: str) -> dict[str, Any]:
    """Parse a CLI argument: inline JSON (starts with ``{``) or a path to a JSON / YAML file.

    A file holding a whole config (a top-level ``section`` key) is reduced to that section.
    """
    if not text_or_path:
        return {}
    if text_or_path.lstrip().startswith("{"):
        raw = json.loads(text_or_path)
    else:
        path = Path(text_or_path)
        if path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(path.read_text())
        else:
            raw = json.loads(path.read_text())
    if isinstance(raw, dict) and section in raw:
        raw = raw[section]
    return raw


def weight_decays(optim: dict[str, Any]) -> tuple[float, float]:
    """(lambda_W, lambda_gamma): the explicit keys, or ``weight_decay`` where they are null."""
    lam = float(optim["weight_decay"])
    lam_w = lam if optim["weight_decay_w"] is None else float(optim["weight_decay_w"])
    lam_g = lam if optim["weight_decay_gamma"] is None else float(optim["weight_decay_gamma"])
    return lam_w, lam_g
