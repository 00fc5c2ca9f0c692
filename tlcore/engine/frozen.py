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
