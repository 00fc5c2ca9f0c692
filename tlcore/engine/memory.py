"""Running out of memory (GPU or CPU) is survivable: free what we can, halve the batch, go on."""
from __future__ import annotations

import gc
from typing import Callable

import torch

from ..core.errors import TLCoreError

CPU_MESSAGES = ("out of memory", "can't allocate memory", "not enough memory", "failed to allocate")


class OutOfMemory(TLCoreError):
    """Even a batch of one example does not fit."""


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in CPU_MESSAGES)


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def in_shrinking_batches(n: int, batch_size: int, run: Callable[[int, int], None], *, doing: str,
                         on_shrink: Callable[[int], None] | None = None) -> int:
    """Call run(start, stop) over rows [0, n) in batches. When a batch runs out of memory, free memory,
    halve the batch size and retry those rows; below one row, raise OutOfMemory saying what to change.
    Returns the batch size that worked, to start the next pass with."""
    start = 0
    while start < n:
        stop = min(n, start + batch_size)
        try:
            run(start, stop)
            start = stop
            continue
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
        free_memory()  # outside the except block, so the failed batch's traceback and tensors are gone
        if batch_size == 1:
            raise OutOfMemory(
                f"Out of memory while {doing}, even one example at a time. Choose fewer trainable blocks or "
                "a smaller backbone, close other programs, or wait until other training on this machine finishes.")
        batch_size //= 2
        if on_shrink:
            on_shrink(batch_size)
    return batch_size
