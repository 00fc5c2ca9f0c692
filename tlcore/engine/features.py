"""Images -> decoded pixels -> activations at the frozen boundary (the engine caches both)."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .activations import DiskTensor, take, to_device
from ..backbones import ImagePreprocessing
from ..backbones.preprocessing import normalize
from ..core.device import autocast_dtype, inference_batch_size
from .memory import in_shrinking_batches
from .model import TransferModel

ProgressFn = Callable[[int, int], None]


def augment(x: torch.Tensor, generator: torch.Generator, max_degrees: float = 10.0) -> torch.Tensor:
    """Random horizontal flip and small rotation per image, in one batched resampling."""
    n = x.shape[0]
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(max_degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos * flip, -sin, torch.zeros(n)], 1),
                         torch.stack([sin * flip, cos, torch.zeros(n)], 1)], 1).to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


@torch.inference_mode()
def compute_activations(model: TransferModel, pixels: torch.Tensor | DiskTensor, prep: ImagePreprocessing,
                        stop_stage: int, *, device: torch.device, flip: bool = False,
                        progress: ProgressFn | None = None) -> torch.Tensor:
    """Run the frozen stages [0, stop_stage) once over all images, in eval mode; results stay on the CPU."""
    was_training = model.training
    model.eval()
    dtype = autocast_dtype(device)
    out = torch.empty(0)

    def run(start: int, stop: int) -> None:
        nonlocal out
        batch = normalize(to_device(take(pixels, slice(start, stop)), device), prep)
        if flip:
            batch = batch.flip(-1)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            result = model.backbone.run(batch, 0, stop_stage).float().cpu()
        if start == 0:  # filled in place: no list of batches to join (that would need twice the memory)
            out = torch.empty((len(pixels), *result.shape[1:]), dtype=result.dtype)
        out[start:stop] = result
        if progress:
            progress(stop, len(pixels))

    in_shrinking_batches(len(pixels), inference_batch_size(device), run, doing="running the frozen blocks")
    model.train(was_training)
    return out
