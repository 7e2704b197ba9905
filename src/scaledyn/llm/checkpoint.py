"""The training checkpoint ``ckpt_dir/state.pt``: atomic save, load if it is this run's, remove.

A checkpoint holds the model, optimiser and scheduler states, the step, the logs so far, the steps since the
last logged row, the wall time so far, the steps it was resumed at and the run's identity
(:attr:`scaledyn.llm.run_config.RunConfig.identity`); a checkpoint of another configuration is ignored. No
RNG state: batches and the initialisation use generators derived from the step and seed. In a
data-parallel run rank 0 alone saves; every rank loads the same file (the ranks' states are equal).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import torch

CKPT_NAME = "state.pt"


def save(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then ``os.replace`` (atomic on one filesystem)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: Path, identity: dict[str, Any], *, quiet: bool = False) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it exists and belongs to this run (same identity), else ``None``;
    ``quiet`` (the ranks but 0 of a data-parallel run, which all read it) says nothing about a skipped one."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt file cannot happen with os.replace, but never crash on it
        if not quiet:
            print(f"[llm] ignoring unreadable checkpoint {path}: {exc}", file=sys.stderr)
        return None
    if state.get("identity") != identity:
        if not quiet:
            print(f"[llm] ignoring checkpoint {path} of another configuration", file=sys.stderr)
        return None
    return state


def remove(path: Path) -> None:
    """Delete the checkpoint and, when it is then empty, its directory."""
    if path.exists():
        path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()
