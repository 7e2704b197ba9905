"""Data parallelism of one training run: the process group torchrun sets up, and the rank's share of a step.

A run with ``llm.nproc = N > 1`` is started by the rule as ``python -m torch.distributed.run --standalone
--nproc_per_node N -m scaledyn.llm train ...`` (torchrun: one process per rank, ``RANK`` / ``WORLD_SIZE`` /
``LOCAL_RANK`` / ``MASTER_ADDR`` / ``MASTER_PORT`` in the environment); with ``N = 1`` it is plain ``python
-m scaledyn.llm train`` and this module does nothing (:data:`SINGLE`). With ``llm.nnodes > 1`` (Slurm) one
torchrun per node meets the others at a c10d rendezvous: the same environment, ``LOCAL_RANK`` per node.
Communication is torch.distributed's: ``gloo`` on the CPU, ``nccl`` on a GPU (rank ``r`` on
``cuda:LOCAL_RANK``), gradients averaged by :class:`torch.nn.parallel.DistributedDataParallel`.

Split (:func:`shard`): step ``t``'s global batch is drawn exactly as with one process (the same
``batch_size`` windows, :func:`scaledyn.llm.batches.train_batch`); rank ``r`` of ``N`` trains on its
contiguous slice of ``batch_size / N`` windows in ``batch_size / (N micro_batch_size)`` micro-batches. Each
rank's gradient is the mean over its slice and DDP averages the ranks, so the step's gradient is the mean
over the whole batch, as with one process (up to float32 summation order): tokens per step, the loss curve
and every output keep their meaning.

``init_process_group`` and every collective have the timeout ``llm.dist_timeout_s``: a rank that never
joins (a start-up failure outside torchrun's watch) or stops answering fails the others with one
``Error: ...`` line instead of a hang. An input error of the start-up (corpus, run settings) on any rank
stops every rank together and is reported once, by rank 0 (:func:`fail_together`). Under torchrun a rank
that dies ends the whole group (the agent stops the others), and the checkpoint makes a rerun resume.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from scaledyn.llm.run_config import InputError


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` processes, ``local_rank`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that logs, evaluates, checkpoints and writes the outputs."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1


SINGLE = World()


def from_env() -> World:
    """The world torchrun describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), :data:`SINGLE` without it."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return SINGLE
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def device_of(world: World, device: torch.device) -> torch.device:
    """The rank's device: ``cuda:LOCAL_RANK`` for a GPU run (one GPU per rank), else ``device``."""
    if device.type != "cuda" or not world.parallel:
        return device
    if world.local_rank >= torch.cuda.device_count():
        raise InputError(
            f"llm.nproc: local rank {world.local_rank} has no GPU ({torch.cuda.device_count()} visible)"
        )
    return torch.device("cuda", world.local_rank)


def init(world: World, device: torch.device, timeout_s: float) -> None:
    """Join the process group (``gloo`` on the CPU, ``nccl`` on a GPU) within ``timeout_s`` seconds; an
    :class:`InputError` naming the rank when the others do not join."""
    if not world.parallel:
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group(
            backend,
            timeout=datetime.timedelta(seconds=timeout_s),
            device_id=device if backend == "nccl" else None,
        )
        dist.barrier()  # every rank has joined (a missing one times out here)
    except (RuntimeError, dist.DistError) as exc:
        raise InputError(
            f"rank {world.rank} of {world.size}: the process group did not form within llm.dist_timeout_s = "
            f"{timeout_s:g} s ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None


class ReportedError(InputError):
    """An error every rank stops on, already reported once by rank 0 (:func:`fail_together`)."""


@contextlib.contextmanager
def fail_together(world: World) -> Iterator[None]:
    """Around the start-up on every rank of a formed group: an :class:`InputError` on any rank stops every
    rank with :class:`ReportedError`, its ``Error: ...`` line printed once by rank 0 (before any rank exits,
    so torchrun cannot stop rank 0 first). One process: the error as it is."""
    error = None
    try:
        yield
    except InputError as exc:
        if not world.parallel:
            raise
        error = str(exc)
    if not world.parallel:
        return
    errors: list[str | None] = [None] * world.size
    dist.all_gather_object(errors, error)
    failed = [(r, e) for r, e in enumerate(errors) if e is not None]
    if not failed:
        return
    rank, message = failed[0]
    if world.main:
        where = (
            "" if len(failed) == world.size and len(set(errors)) == 1 else f"rank {rank} of {world.size}: "
        )
        print(f"Error: {where}{message}", file=sys.stderr, flush=True)
    dist.barrier()
    raise ReportedError(message)


def close(world: World) -> None:
    if world.parallel and dist.is_initialized():
        dist.destroy_process_group()


def shard(xy: torch.Tensor, world: World) -> torch.Tensor:
    """Rank ``world.rank``'s contiguous slice of the step's batch (``len(xy)`` divisible by the world)."""
    n = len(xy) // world.size
    return xy[world.rank * n : (world.rank + 1) * n]


def mean(value: float, world: World, device: torch.device) -> float:
    """The mean of ``value`` over the ranks (every rank gets it); ``value`` itself with one process."""
    if not world.parallel:
        return value
    t = torch.tensor(value, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / world.size).item()


def wrap(model: torch.nn.Module, world: World, device: torch.device) -> torch.nn.Module:
    """The model the training step calls: DDP around ``model`` for several ranks, ``model`` itself for one.
    Evaluation, the tensor-SNR draws and checkpoints use ``model`` (the parameters DDP keeps equal)."""
    if not world.parallel:
        return model
    ids = [device.index] if device.type == "cuda" else None
    # broadcast_buffers off: the buffers (rotary tables) are constants, equal on every rank
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)
