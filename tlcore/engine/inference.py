"""One place for running a network forward: mixed precision, eval mode, and batches that shrink when
memory runs out. Training, the frozen pass, validation, prediction and explanations all use it.

Loaded classifiers are shared by every session of the app and stay in eval mode; `evaluating` leaves
a module in eval mode untouched, so readers never change a shared model's state. Page inference in one
process runs one call at a time per device (`DEVICE_LOCK`), so sessions do not fight over a GPU's
memory; training jobs run in worker processes and queue for the device (see tlcore.runs.jobs)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable

import torch
from torch import nn

from ..core.device import autocast_dtype, inference_batch_size
from .activations import Activations, concat, num_rows, take, to_device
from .memory import in_shrinking_batches

ProgressFn = Callable[[int, int], None]
DEVICE_LOCK = threading.Lock()


def autocast(device: torch.device):
    """bf16 autocast where the device does bf16 in hardware (see autocast_dtype), else a no-op."""
    dtype = autocast_dtype(device)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


@contextmanager
def evaluating(module: nn.Module):
    """Eval mode for the duration; the module's own mode afterwards (untouched if already in eval)."""
    was_training = module.training
    if was_training:
        module.eval()
    try:
        yield module
    finally:
        if was_training:
            module.train()


def _to_cpu(out: Activations) -> Activations:
    """Float results as float32 on the CPU (token ids and masks keep their type)."""
    if isinstance(out, tuple):
        return tuple(_to_cpu(t) for t in out)
    return out.float().cpu() if out.is_floating_point() else out.cpu()


@torch.inference_mode()
def infer(module: nn.Module, inputs: Activations, forward: Callable[[Activations], Activations], *,
          device: torch.device, doing: str, batch_size: int | None = None, order: torch.Tensor | None = None,
          progress: ProgressFn | None = None) -> Activations:
    """forward(batch on device) over every row of `inputs` in eval mode, without gradients; results on
    the CPU in row order. `order` is the order to run rows in (e.g. texts by length, so a batch is cut
    to its longest text). A batch that runs out of memory is halved and retried (`doing` names the work
    in the message when even one row does not fit)."""
    n = num_rows(inputs)
    chunks: list[Activations] = []
    out: torch.Tensor | None = None

    def run(start: int, stop: int) -> None:
        nonlocal out
        index = slice(start, stop) if order is None else order[start:stop]
        with autocast(device):
            result = _to_cpu(forward(to_device(take(inputs, index), device)))
        if order is None and isinstance(result, torch.Tensor):  # filled in place: no second copy to join
            if out is None:
                out = torch.empty((n, *result.shape[1:]), dtype=result.dtype)
            out[start:stop] = result
        else:
            chunks.append(result)
        if progress:
            progress(stop, n)

    with evaluating(module):
        in_shrinking_batches(n, batch_size or inference_batch_size(device), run, doing=doing)
    if out is not None:
        return out
    joined = concat(chunks)
    return joined if order is None else take(joined, torch.argsort(order))
