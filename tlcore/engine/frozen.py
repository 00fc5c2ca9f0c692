"""The frozen blocks: run once over every example and kept (the engine caches the result), or run
again on every training batch when augmentation changes their input each epoch."""
from __future__ import annotations

from typing import Callable

import torch

from .activations import Activations, take, to_device
from .adapters import Adapter
from .inference import infer
from .loop import BatchSource
from .model import TransferModel


def frozen_pass(model: TransferModel, adapter: Adapter, inputs: Activations, boundary: int, *,
                device: torch.device, flip: bool = False,
                progress: Callable[[int, int], None] | None = None) -> Activations:
    """The output of stages [0, boundary) for every example (of its mirror image with flip=True), in
    eval mode; on the CPU."""
    def forward(batch: Activations) -> Activations:
        x = adapter.prepare(batch)
        return model.backbone.run(x.flip(-1) if flip else x, 0, boundary)

    return infer(model, inputs, forward, device=device, order=adapter.order(inputs), progress=progress,
                 doing="running the frozen blocks")


def recomputed_batches(model: TransferModel, adapter: Adapter, inputs: Activations, rows: torch.Tensor,
                       boundary: int, device: torch.device, *, augment: bool) -> BatchSource:
    """Training batches that run the frozen stages again (without autograd), on augmented inputs when asked."""

    def batch(index: torch.Tensor, generator: torch.Generator) -> Activations:
        x = adapter.prepare(to_device(take(inputs, rows[index]), device))
        if augment:
            x = adapter.augment(x, generator)
        with torch.no_grad():
            return model.backbone.run(x, 0, boundary)

    return batch


def pooled_blocks(model: TransferModel, adapter: Adapter, inputs: Activations, *, device: torch.device,
                  progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, ...]:
    """Every block's output, globally average-pooled ([n, channels] per block; the last through the
    backbone's own pool), from one pass over the examples in eval mode; on the CPU. Block K's entry is
    what a backbone cut at feature block K gives (see BlockBackbone.truncated)."""
    backbone, widths = model.backbone, []

    def forward(batch: Activations) -> torch.Tensor:
        x, pooled = adapter.prepare(batch), []
        for i, block in enumerate(backbone.blocks):
            x = block(x)
            pooled.append(backbone.pool(x) if i == len(backbone.blocks) - 1 else x.mean((2, 3)))
        widths[:] = [p.shape[1] for p in pooled]
        return torch.cat(pooled, 1)  # one tensor, so that batches join (and shrink) like any other output

    joined = infer(model, inputs, forward, device=device, order=adapter.order(inputs), progress=progress,
                   doing="running every block")
    return tuple(t.contiguous() for t in joined.split(widths, 1))
