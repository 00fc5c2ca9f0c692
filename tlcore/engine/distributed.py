"""Data-parallel training across processes (torch.distributed, set up by Ray Train on a cluster): whether
this process is one of several, putting the training examples' rows back together, and values all agree on."""
from __future__ import annotations

import torch
import torch.distributed as dist


def workers() -> int:
    """How many processes train together (1 when this one trains alone)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _device() -> torch.device:
    """Where collective operations take their tensors: NCCL only reduces GPU tensors."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def gather_shards(part: torch.Tensor, total: int) -> torch.Tensor:
    """The `total` rows every worker's share was dealt from, in their order (worker r holds rows r, r + n,
    ... of the list padded to a multiple of n; see tlcore.runs.prepared.Split.shard)."""
    if workers() == 1:
        return part
    parts: list = [None] * workers()
    dist.all_gather_object(parts, part.cpu())
    whole = torch.empty((sum(len(p) for p in parts), *part.shape[1:]), dtype=part.dtype)
    for rank, rows in enumerate(parts):
        whole[rank::len(parts)] = rows
    return whole[:total].to(part.device)


def summed(*values: float) -> list[float]:
    """Each value summed over the workers."""
    total = torch.tensor(values, dtype=torch.float64, device=_device())
    dist.all_reduce(total)
    return total.tolist()


def first_workers(*values: float) -> list[float]:
    """The first worker's values, on every worker (so decisions taken on them agree everywhere)."""
    chosen = torch.tensor(values, dtype=torch.float64, device=_device())
    dist.broadcast(chosen, src=0)
    return chosen.tolist()


def agree(value: float) -> bool:
    """Whether every worker holds the same value (e.g. a fingerprint of the weights they trained)."""
    if workers() == 1:
        return True
    values: list = [None] * workers()
    dist.all_gather_object(values, value)
    return len(set(values)) == 1
