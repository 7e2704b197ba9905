"""Shared fixtures and helpers: the repository root, the interpreter, a runner for snakemake in a temporary
copy, the smoke DAG run once per session, claims rows, a model's config, the toy corpus and micro training
runs of study 002, synthetic run directories of study 002, and what the figure tests check in a drawn
figure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPY = ["Snakefile", "workflow", "profiles", "src", "config", "paper", "environment.yml"]
SMOKE = ("--configfile", "config/smoke.yaml")
CACHED = ("--cache",)  # last: it takes the rule names that follow it (none: every `cache: True` rule)


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: int = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake (this interpreter's) in ``workdir``; stdout and stderr together in ``.stdout``;
    ``env`` adds to the environment."""
    proc = subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=workdir,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}")
    return proc


def copy_repo(dest: Path) -> Path:
    """A copy of the pipeline's files (no results) to run the DAG in."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    return copy_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def smoke(tmp_path_factory) -> Path:
    """The whole smoke DAG, run once per test session in a copy of the repository (its console output in
    ``console.log``), shared by the tests of the DAG's behaviour, of provenance and of the lab cache: a test
    that edits the copy restores it. It runs as the first clone of a lab: with ``--cache`` and the shared
    cache of :func:`lab_env` (``SNAKEMAKE_OUTPUT_CACHE``), where its simulations and training runs are stored
    (its outputs of those rules are symlinks into it). A test that would rerun one of those rules here runs in
    a copy instead (test_cache.py checks every output is still the cache's)."""
    repo = copy_repo(tmp_path_factory.mktemp("smoke") / "repo")
    proc = snakemake(repo, "--cores", "2", *SMOKE, *CACHED, env=lab_env(repo))
    (repo / "console.log").write_text(proc.stdout)
    return repo


def cached_outputs(repo: Path) -> list[Path]:
    """One result file per job of a cached rule, its first declared output (what a dry run names): the
    simulations' tables and the training runs' metrics."""
    patterns = ("gsnr/runs/*.csv", "minimal_model/sweeps/*.csv", "llm/runs/*/*/*/seed*/metrics.csv")
    return sorted(p for pattern in patterns for p in (repo / "results").glob(pattern))


def lab_env(smoke_repo: Path) -> dict[str, str]:
    """The environment of a clone of the smoke run's lab: its shared output cache (created here)."""
    cache = smoke_repo.parent / "cache"
    cache.mkdir(exist_ok=True)
    return {"SNAKEMAKE_OUTPUT_CACHE": str(cache)}


def claim_row(value, low, high, direction, threshold, verdict, study="001", claim="C1: a claim", **extra):
    """A claims row (a ``ClaimResult`` dict) with a given interval, criterion ``x <direction> <threshold>``
    and verdict, for tests of what reads claims tables (figures, terminal, report)."""
    from scaledyn.stats import ClaimResult

    row = ClaimResult(
        study, claim, "scope", "measure", value, low, high, f"x {direction} {threshold:g}", verdict
    )
    row.direction, row.threshold = direction, float(threshold)
    return {**row.as_dict(), **extra}


# -- study 002: a model's config, the toy corpus and micro training runs ----------------------------------


def model_config(arch: str = "prenorm", vocab_size: int = 256, **shape: object):
    """The :class:`scaledyn.llm.model.ModelConfig` of a size entry ``shape`` (n_layers, d_model, n_heads,
    context, any other size key) built as a run builds it, every other value from the schema's defaults
    (``vocab_size`` as given: not padded)."""
    from scaledyn import config
    from scaledyn.llm.run_config import model_config as from_section

    entry = {"batch_size": 1, "steps": 1, **shape}
    section = config.section("llm", {"sizes": {"test": entry}, "model": {"pad_vocab_to": 1}})
    return from_section(section, "test", vocab_size, arch)


VOCAB = 32
MICRO = {
    "n_layers": 2,
    "d_model": 32,
    "n_heads": 2,
    "context": 16,
    "batch_size": 8,
    "mlp_multiple": 32,
    "steps": 40,
}
MICRO_PARAMS = {  # the llm section of a micro run
    "sizes": {"micro": MICRO},
    "optim": {"lr": 1e-2, "decay_timescales": None},  # the mechanics; 3 timescales in 40 steps stop learning
    "log_every": 5,
    "eval_every": 10,
    "ckpt_every": 10,
    "eval_batches": 2,
}


def toy_tokens(n: int, seed: int) -> np.ndarray:
    """A Markov chain: next = (3 prev + 1) mod V with probability 0.8, else uniform."""
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.uint16)
    out[0] = 0
    noise = rng.random(n) < 0.2
    draws = rng.integers(0, VOCAB, n)
    for i in range(1, n):
        out[i] = draws[i] if noise[i] else (3 * int(out[i - 1]) + 1) % VOCAB
    return out


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy corpus in the prepared-corpus layout ``scaledyn.llm.data.load`` reads (read only)."""
    d = tmp_path_factory.mktemp("corpus")
    toy_tokens(20000, 0).tofile(d / "train.bin")
    toy_tokens(4000, 1).tofile(d / "val.bin")
    meta = {"vocab_size": VOCAB, "n_train_tokens": 20000, "n_val_tokens": 4000}
    (d / "meta.json").write_text(json.dumps(meta))
    return d


def train_micro(tmp: Path, data: Path, variant: str = "baseline", params: dict | None = None, **kw) -> dict:
    """:func:`scaledyn.llm.train.train` of ``variant`` at the micro size (``arch`` sandwich unless given),
    seed 0, global seed 7, one CPU thread, writing ``tmp/out`` and ``tmp/ckpt``."""
    from scaledyn.llm.train import train

    arch = kw.pop("arch", "sandwich")
    return train(params or MICRO_PARAMS, variant, "micro", 0, 7, data, tmp / "out", tmp / "ckpt", arch=arch,
                 device="cpu", threads=1, **kw)  # fmt: skip


def train_argv(data: Path, tmp: Path, /, **options: object) -> list[str]:
    """The arguments of ``python -m scaledyn.llm train``: by default :func:`train_micro`'s run (the llm
    section ``MICRO_PARAMS``); each option ``name=value`` sets ``--name value`` (``global_seed`` is
    ``--global-seed``; a dict value is written as JSON), ``None`` leaves it out."""
    opts = {"arch": "sandwich", "variant": "baseline", "size": "micro", "seed": 0, "global_seed": 7,
            "params": MICRO_PARAMS, "data": data, "device": "cpu", "threads": 1, "out": tmp / "out",
            "ckpt": tmp / "ckpt", **options}  # fmt: skip
    text = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in opts.items() if v is not None}
    return [arg for name, value in text.items() for arg in (f"--{name.replace('_', '-')}", value)]


def read_outputs(out: Path) -> dict[str, pd.DataFrame]:
    return {n: pd.read_csv(out / f"{n}.csv") for n in ("metrics", "gammas", "linear_grads")}


DETERMINISTIC = {"metrics": ["step", "tokens", "lr", "train_loss", "val_loss", "grad_norm"]}


def assert_same_science(a: Path, b: Path) -> None:
    """Every logged number but the timings is identical; so are the summaries' losses."""
    oa, ob = read_outputs(a), read_outputs(b)
    for name in oa:
        cols = DETERMINISTIC.get(name, list(oa[name].columns))
        pd.testing.assert_frame_equal(oa[name][cols], ob[name][cols], check_exact=True)
    sa, sb = json.loads((a / "summary.json").read_text()), json.loads((b / "summary.json").read_text())
    for key in ("final_val_loss", "min_val_loss", "final_train_loss", "steps", "diverged", "n_params"):
        assert sa[key] == sb[key], key


# -- study 002: synthetic run directories -------------------------------------------------------------------

ANALYSIS_STATS = {"ci_level": 0.95, "bootstrap_resamples": 500}
CLAIMS = {
    "reference": "baseline",
    "min_effect": 0.01,
    "max_param_overhead": 0.01,
    "min_throughput_ratio": 0.95,
}
CLAIMS_PARAMS = {"claims": CLAIMS}  # an llm section: the claims criteria
N_BASE = 100_000


def fake_run(
    root: Path, variant: str, seed: int, loss: float, *, diverged=False, tps=1000.0, extra=0, arch="prenorm"
) -> Path:
    """A run directory like scaledyn.llm.train writes, with a given final validation loss."""
    from scaledyn.llm import outputs

    out = root / arch / variant / f"seed{seed}"
    out.mkdir(parents=True)
    steps = [1, 10, 20]
    pd.DataFrame(
        {
            "step": steps,
            "tokens": [s * 64 for s in steps],
            "lr": 1e-3,
            "train_loss": [5.0, 4.0, loss],
            "val_loss": [np.nan, 4.5, np.nan if diverged else loss],
            "tokens_per_s": tps,
            "mfu": 0.01,
            "grad_norm": 1.0,
        }
    ).to_csv(out / "metrics.csv", index=False)
    rows = []
    for step in steps:
        for kind, decayed in (("input", variant == "wd_input"), ("output", variant == "wd_output")):
            rows.append([step, "n", "n", kind, "in", "", decayed, 1.0, 1.0 + 0.01 * step, 0.9, 1.1])
    pd.DataFrame(rows, columns=outputs.GAMMA_COLUMNS).to_csv(out / "gammas.csv", index=False)
    grads = [
        [s, f"layers.{i}.attn.{m}", 2.0 if variant == "branch" else 1.0]
        for s in steps
        for i in (0, 1)
        for m in ("q", "k")
    ]
    pd.DataFrame(grads, columns=outputs.GRAD_COLUMNS).to_csv(out / "linear_grads.csv", index=False)
    pd.DataFrame(columns=outputs.TENSOR_SNR_COLUMNS).to_csv(
        out / "tensor_snr.csv", index=False
    )  # not measured
    summary = {
        "variant": variant,
        "size": "tiny",
        "arch": arch,
        "seed": seed,
        "final_val_loss": None if diverged else loss,
        "min_val_loss": 4.5 if diverged else min(loss, 4.5),
        "final_train_loss": loss,
        "diverged": diverged,
        "diverged_step": 15 if diverged else None,
        "diverged_reason": "non-finite loss" if diverged else None,
        "tokens_per_s": tps,
        "mfu": 0.01,
        "n_params": N_BASE + extra,
        "n_scale_params": 100 + extra,
        "steps": 20,
        "steps_planned": 20,
        "tokens": 1280,
        "wall_s": 1.0,
        "device": "cpu",
        "threads": 1,
        "resumed_at": [],
    }
    (out / "summary.json").write_text(json.dumps(summary))
    return out / "summary.json"


BASE = [4.00, 4.10, 3.95]  # per seed: the seed effect is large, the paired differences small


# -- figures ------------------------------------------------------------------------------------------------


def layout_problems(figure) -> list[str]:
    """What a reader would stumble on in a drawn figure: neighbouring tick labels of an axis that overlap,
    a figure legend over a panel, a text of a panel under the panel's legend; and a width other than the
    report's text width."""
    from scaledyn.plots import style

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()

    def boxes(texts):
        return [
            (t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_visible() and t.get_text()
        ]

    problems = []
    if figure.get_size_inches()[0] != pytest.approx(style.TEXT_WIDTH):
        problems.append(f"width {figure.get_size_inches()[0]} in, not the text width {style.TEXT_WIDTH}")
    for ax in figure.axes:
        panel = ax.get_window_extent(renderer)
        for labels in (boxes(ax.get_xticklabels()), boxes(ax.get_yticklabels())):
            for (a, box_a), (b, box_b) in zip(labels, labels[1:], strict=False):
                if box_a.overlaps(box_b):
                    problems.append(f"tick labels {a!r} and {b!r} of {ax.get_title()!r} overlap")
        for legend in figure.legends:
            if legend.get_window_extent(renderer).overlaps(panel):
                problems.append(f"the figure legend covers {ax.get_title()!r}")
        if ax.get_legend():
            under = [
                t for t, box in boxes(ax.texts) if box.overlaps(ax.get_legend().get_window_extent(renderer))
            ]
            problems += [f"{t!r} is under the legend of {ax.get_title()!r}" for t in under]
    return problems


def rgb(color) -> tuple:
    """A matplotlib colour as an RGB tuple rounded to 3 digits (colours compare by value)."""
    import matplotlib.colors as mcolors

    return tuple(round(c, 3) for c in mcolors.to_rgb(color))
