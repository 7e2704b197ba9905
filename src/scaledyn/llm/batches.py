"""The windows a training run reads from its corpus: training batches, validation windows, the whole split.

A window is ``context + 1`` consecutive tokens (inputs and next-token targets), an int64 row.

- Training batch of step ``t`` (0-based, :func:`train_batch`): ``batch_size`` windows of the train tokens at
  uniform start offsets drawn by a generator seeded with ``derive_seed(global_seed, "llm", size, seed,
  *stream, "batch", t)`` (:func:`batch_keys`). The variant is deliberately *not* a key: every variant of a
  seed sees the same batches in the same order (paired comparison), and a resumed run draws the same batches
  without saved sampler state. ``stream`` is the variant's seed stream
  (:data:`scaledyn.llm.variants.STREAMS`): empty for every variant but the A/A arm ``baseline_aa``
  (``("aa",)``), which so draws other batches.
- Validation windows (:func:`val_starts`): ``eval_batches * micro_batch_size`` windows of the val tokens,
  start offsets drawn once by ``derive_seed(global_seed, "llm", "val", context)``: the same held-out windows
  for every variant and seed.
- Whole split (:func:`tile_starts`): non-overlapping windows tiling it, every token but the first and a tail
  shorter than ``context`` predicted once (or an evenly spread ``final_eval_fraction`` of them).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scaledyn.llm import data
from scaledyn.llm.run_config import InputError, RunConfig
from scaledyn.seeding import generator


def load_corpus(data_dir: Path) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(train_tokens, val_tokens, meta)`` of a prepared corpus (:func:`scaledyn.llm.data.load`)."""
    if not data_dir.is_dir():
        raise InputError(f"data directory {data_dir} does not exist")
    try:
        return data.load(data_dir)
    except (OSError, ValueError) as exc:  # scaledyn.llm.data.CorpusError is a ValueError
        raise InputError(f"cannot load the corpus in {data_dir}: {exc}") from None


def check_lengths(run: RunConfig, *splits: tuple[str, np.ndarray]) -> None:
    """:class:`InputError` when a ``(name, tokens)`` split is too short for one window of the run."""
    need = run.model.context + 2
    for name, toks in splits:
        if len(toks) < need:
            raise InputError(f"{name} split has {len(toks)} tokens, fewer than context + 2 = {need}")


def window_batch(tokens: np.ndarray, starts: torch.Tensor, context: int) -> torch.Tensor:
    """Windows ``tokens[s : s + context + 1]`` for each start ``s``: int64 (len(starts), context + 1)."""
    idx = starts.numpy()[:, None] + np.arange(context + 1)
    return torch.from_numpy(np.asarray(tokens[idx], dtype=np.int64))


def batch_starts(n_tokens: int, context: int, batch: int, keys: tuple[object, ...]) -> torch.Tensor:
    """``batch`` uniform window starts in ``[0, n_tokens - context - 1]`` from ``generator(*keys)``."""
    return torch.randint(0, n_tokens - context, (batch,), generator=generator(*keys))


def draw_windows(tokens: np.ndarray, context: int, keys: tuple[object, ...], n: int) -> torch.Tensor:
    """``n`` windows at starts drawn from ``generator(*keys)``, as a training batch is drawn
    (``partial(draw_windows, tokens, context)`` is a :data:`scaledyn.llm.tensor_snr.Windows`)."""
    return window_batch(tokens, batch_starts(len(tokens), context, n, keys), context)


def batch_keys(
    global_seed: int, size: str, seed: int, step: int, stream: tuple[str, ...] = ()
) -> tuple[object, ...]:
    """Seed keys of the batch of step ``step`` (0-based); no variant: all variants of a stream (``()`` for
    all but the A/A arm) share the data order."""
    return (global_seed, "llm", size, seed, *stream, "batch", step)


def train_batch(run: RunConfig, tokens: np.ndarray, step: int) -> torch.Tensor:
    """The ``batch_size`` windows of step ``step`` (0-based), on the run's device."""
    keys = batch_keys(run.global_seed, run.size, run.seed, step, run.stream)
    xy = draw_windows(tokens, run.model.context, keys, run.batch_size)
    return xy.pin_memory().to(run.device, non_blocking=True) if run.device.type == "cuda" else xy


def val_starts(n_tokens: int, context: int, n: int, global_seed: int) -> torch.Tensor:
    """The fixed held-out windows: the same for every variant and seed of a context length."""
    return batch_starts(n_tokens, context, n, (global_seed, "llm", "val", context))


def tile_starts(n_tokens: int, context: int, fraction: float = 1.0) -> torch.Tensor:
    """Starts ``0, context, 2 context, ...`` of the windows that tile a split: a window's targets (its tokens
    1..context) follow the previous window's, so every token but the first is predicted exactly once; a
    tail of fewer than ``context`` tokens is left out (every start has ``s + context + 1 <= n_tokens``).
    ``fraction`` < 1 keeps ``ceil(fraction * n)`` of the ``n`` windows, evenly spread over the split."""
    starts = torch.arange(0, n_tokens - context, context)
    keep = math.ceil(fraction * len(starts))
    return starts if keep >= len(starts) else starts[torch.linspace(0, len(starts) - 1, keep).round().long()]
