"""Data-parallel helpers (torch.distributed, gloo on CPU) shared by QAT training and the search.

One place decides whether a process group is up, what this process's rank is, how a model is
wrapped (DistributedDataParallel) and how per-rank counts are summed, so `train` and
`search_bits` cannot disagree. Without a process group every helper is the single-process
identity (rank 0 of a world of 1), so callers need no branches.

The launcher's environment (torchrun's RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) is read by the
CLI (`cli/workflow.py`), never here (STYLE §2); `join` takes the already parsed values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

import torch
from torch import nn

from mcumixq.errors import ConfigError

BACKEND = "gloo"  # CPU-only project: gloo is the backend that runs everywhere


def is_distributed() -> bool:
    """True when a torch.distributed process group is initialised in this process."""
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return torch.distributed.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes in the group (1 without a process group)."""
    return torch.distributed.get_world_size() if is_distributed() else 1


def check_world(rank_id: int, world: int) -> None:
    """ConfigError unless 0 <= rank < world: a launcher misconfiguration, caught before joining."""
    if world < 1:
        raise ConfigError(
            f"WORLD_SIZE={world} must be >= 1; launch with 'torchrun --nproc_per_node N'"
        )
    if not 0 <= rank_id < world:
        raise ConfigError(
            f"RANK={rank_id} is outside the world of {world} processes (0..{world - 1}); "
            "launch with 'torchrun --nproc_per_node N' instead of setting RANK by hand"
        )


def join(rank_id: int, world: int, *, timeout_s: float = 1800.0) -> None:
    """Join the process group of `world` processes as `rank_id` (env:// rendezvous, gloo).

    Any rendezvous failure (no MASTER_ADDR, a port nobody listens on, a peer that never
    arrives within `timeout_s`) becomes one ConfigError line naming the world.
    """
    check_world(rank_id, world)
    if is_distributed():
        return
    try:
        torch.distributed.init_process_group(
            backend=BACKEND, rank=rank_id, world_size=world, timeout=timedelta(seconds=timeout_s)
        )
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"cannot join the process group as rank {rank_id} of {world}: {first}; "
            "launch with 'torchrun --nproc_per_node N -m mcumixq ...'"
        ) from err


def leave() -> None:
    """Destroy the process group if one is up (idempotent)."""
    if is_distributed():
        torch.distributed.destroy_process_group()


def wrap(model: nn.Module) -> nn.Module:
    """`model` in DistributedDataParallel when a group is up (gradients all-reduced), else as is.

    DDP broadcasts rank 0's parameters and buffers at construction, so every replica starts
    from the same weights and quantizer steps even if the ranks were seeded differently.
    """
    return nn.parallel.DistributedDataParallel(model) if is_distributed() else model


def sync_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running stats) to every rank.

    DDP broadcasts buffers at the start of each forward, so after an epoch's last step every
    rank still holds the statistics of its own last batch; evaluating, folding BN or saving
    then would see diverged replicas.
    """
    if not is_distributed():
        return
    for buf in model.buffers():
        torch.distributed.broadcast(buf.data, src=0)


def all_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sum of `values` over all ranks (float64; the identity without a group)."""
    t = torch.tensor(list(values), dtype=torch.float64)
    if is_distributed():
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return [float(v) for v in t]


def all_gather_int(value: int) -> tuple[int, ...]:
    """`value` from every rank, in rank order."""
    t = torch.tensor([value], dtype=torch.int64)
    if not is_distributed():
        return (value,)
    out = [torch.zeros_like(t) for _ in range(world_size())]
    torch.distributed.all_gather(out, t)
    return tuple(int(o) for o in out)


def state_digest(model: nn.Module) -> str:
    """A short hash of every parameter and buffer: equal on all ranks iff the replicas agree."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def all_gather_digest(model: nn.Module) -> tuple[str, ...]:
    """`state_digest(model)` of every rank, in rank order (to check the replicas stayed equal)."""
    digest = state_digest(model)
    if not is_distributed():
        return (digest,)
    out: list[object] = [None] * world_size()
    torch.distributed.all_gather_object(out, digest)
    return tuple(str(d) for d in out)


def barrier() -> None:
    """Wait for every rank (no-op without a group)."""
    if is_distributed():
        torch.distributed.barrier()
