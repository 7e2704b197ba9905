"""Deterministic seeds derived from names.

Every random draw in the pipeline comes from a generator seeded by ``derive_seed(global_seed, study,
sweep point ..., seed index)``. The derivation hashes the keys (SHA-256 of their ``repr``), so it does not
depend on Python's salted ``hash``, on the order runs sit in a batch, or on which other runs share the job:
a single sweep point recomputed alone draws the same numbers as inside its batch.
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(*keys: object) -> int:
    """A 63-bit seed from any sequence of keys with a stable ``repr`` (str, int, float, tuple)."""
    digest = hashlib.sha256(repr(keys).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generator(*keys: object) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``derive_seed(*keys)``."""
    return torch.Generator().manual_seed(derive_seed(*keys))
