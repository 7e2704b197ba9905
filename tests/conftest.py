"""Shared fixtures: the repository root, the interpreter, and a runner for snakemake in a temporary copy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPY = ["Snakefile", "workflow", "profiles", "src", "config", "paper", "environment.yml"]
SMOKE = ("--configfile", "config/smoke.yaml")


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run snakemake (this interpreter's) in ``workdir``; stdout and stderr together in ``.stdout``."""
    proc = subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=workdir,
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
    ``console.log``), shared by the tests of the DAG's behaviour and of provenance: a test that edits the
    copy restores it."""
    repo = copy_repo(tmp_path_factory.mktemp("smoke") / "repo")
    (repo / "console.log").write_text(snakemake(repo, "--cores", "2", *SMOKE).stdout)
    return repo


def model_config(arch: str = "prenorm", vocab_size: int = 256, **shape: object):
    """The :class:`scaledyn.llm.model.ModelConfig` of a size entry ``shape`` (n_layers, d_model, n_heads,
    context, any other size key) built as a run builds it, every other value from the schema's defaults
    (``vocab_size`` as given: not padded)."""
    from scaledyn import config
    from scaledyn.llm.run_config import model_config as from_section

    entry = {"batch_size": 1, "steps": 1, **shape}
    section = config.section("llm", {"sizes": {"test": entry}, "model": {"pad_vocab_to": 1}})
    return from_section(section, "test", vocab_size, arch)


def claim_row(value, low, high, direction, threshold, verdict, study="001", claim="C1: a claim", **extra):
    """A claims row (a ``ClaimResult`` dict) with a given interval, criterion ``x <direction> <threshold>``
    and verdict, for tests of what reads claims tables (figures, terminal, report)."""
    from scaledyn.stats import ClaimResult

    row = ClaimResult(
        study, claim, "scope", "measure", value, low, high, f"x {direction} {threshold:g}", verdict
    )
    row.direction, row.threshold = direction, float(threshold)
    return {**row.as_dict(), **extra}
