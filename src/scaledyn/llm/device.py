"""The device, threads and precision of a training run.

- Devices: ``device: auto`` is cuda when available. On a GPU: bf16 autocast, ``torch.compile`` (``compile``),
  flash attention through SDPA, TF32 matmuls for the float32 rest. On the CPU: float32,
  ``torch.set_num_threads(threads)``, ``torch.use_deterministic_algorithms(True)``.
- Precision (``llm.precision``, :attr:`RunConfig.dtype`): ``auto`` is the above (bf16 autocast on cuda,
  float32 on the CPU); ``bf16`` puts the CPU's training, evaluation and whole-split passes under
  ``torch.autocast("cpu", bfloat16)`` too (the GPU path, on a CPU with AVX512-BF16 or AMX:
  :func:`scaledyn.llm.precision_problem`), ``fp32`` turns autocast off on a GPU. Weights, gradients, AdamW
  and the cross-entropy stay float32 in every mode; the tensor-SNR draws run in float32 with autocast off.
  With ``compile: true`` on the CPU this is the GPU's code path (bf16 + ``torch.compile``) at CPU speed:
  ``tests/test_llm_gpu_path.py`` checks it (losses, resume, divergence, graph breaks).
"""

from __future__ import annotations

import contextlib

import torch

from scaledyn.llm.run_config import InputError


def resolve_device(device: str) -> torch.device:
    """``auto`` is cuda when available (the schema allows auto, cpu, cuda)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda requested but torch.cuda.is_available() is False")
    return torch.device(device)


def setup_device(dev: torch.device, threads: int) -> None:
    """Threads and determinism on the CPU; TF32 for float32 matmuls on a GPU."""
    torch.set_num_threads(threads)
    if dev.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(dev: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``dev`` (cuda or cpu) for ``dtype`` bfloat16 (:attr:`RunConfig.dtype`, from
    ``llm.precision``), nothing (float32) for float32."""
    if dtype == torch.bfloat16:
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
