"""Data-parallel training across processes (torch.distributed, set up by Ray Train on a cluster): whether
this process is one of several, gathering what each holds of the training examples, and summing counts."""
from __future__ import annotations

import torch
import torch.distributed as dist


def workers() -> int:
    """How many processes train together (1 when this one trains alone)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_shards(part: torch.Tensor) -> torch.Tensor:
    """Every worker's rows put back in the order they were dealt (worker r holds rows r, r + n, ...)."""
    if workers() == 1:
        return part
    parts: list = [None] * workers()
    dist.all_gather_object(parts, part.cpu())
    whole = torch.empty((sum(len(p) for p in parts), *part.shape[1:]), dtype=part.dtype)
    for rank, rows in enumerate(parts):
        whole[rank::len(parts)] = rows
    return whole.to(part.device)


def summed(*values: float) -> list[float]:
    """Each value summed over the workers."""
    if workers() == 1:
        return list(values)
    total = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(total)
    return total.tolist()


def agree(value: float) -> bool:
    """Whether every worker holds the same value (e.g. a fingerprint of the weights they trained)."""
    if workers() == 1:
        return True
    values: list = [None] * workers()
    dist.all_gather_object(values, value)
    return len(set(values)) == 1
