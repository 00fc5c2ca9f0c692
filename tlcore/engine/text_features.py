"""Texts -> token ids -> activations at the frozen boundary, computed once (shortest texts batched
together, as sentence-transformers' encode does) and cached."""
from __future__ import annotations

from typing import Callable

import torch

from .activations import Activations, DiskTensor, concat, load, take
from ..backbones.sentence_transformers import TextBackbone
from ..core.device import autocast_dtype, inference_batch_size
from .memory import in_shrinking_batches

ProgressFn = Callable[[int, int], None]


@torch.inference_mode()
def compute_text_activations(backbone: TextBackbone, ids: torch.Tensor | DiskTensor, mask: torch.Tensor | DiskTensor,
                             stop: int | None, *,
                             device: torch.device, batch_size: int | None = None,
                             progress: ProgressFn | None = None) -> Activations:
    """Run blocks [0, stop) over all texts in eval mode. Texts of similar length share a batch, which is
    cut to its longest text; results come back in the original order, on the CPU."""
    ids, mask = load(ids), load(mask)
    was_training = backbone.training
    backbone.eval()
    dtype = autocast_dtype(device)
    batch_size = batch_size or inference_batch_size(device)
    lengths = mask.sum(1)
    order = torch.argsort(lengths, descending=True, stable=True)
    chunks = []

    def run(start: int, end: int) -> None:
        index = order[start:end]
        width = int(lengths[index].max())
        x = (ids[index, :width].to(device), mask[index, :width].to(device))
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = backbone.run(x, 0, stop)
        chunks.append(tuple(t.float().cpu() if t.is_floating_point() else t.cpu() for t in out)
                      if isinstance(out, tuple) else out.float().cpu())
        if progress:
            progress(end, len(order))

    in_shrinking_batches(len(order), batch_size, run, doing="running the frozen text model")
    backbone.train(was_training)
    return take(concat(chunks), torch.argsort(order))
