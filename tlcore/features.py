"""Images -> decoded pixels -> activations at the frozen boundary (the engine caches both)."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .activations import DiskTensor, take, to_device
from .backbones import Preprocessing
from .data.images import decode_image
from .errors import ImageReadError
from .device import autocast_dtype, inference_batch_size
from .memory import in_shrinking_batches
from .model import TransferModel
from .settings import limits

ProgressFn = Callable[[int, int], None]


def _resize_crop(image: Image.Image, prep: Preprocessing) -> np.ndarray:
    """Shorter side to resize_size, then the centre input_size square, as uint8 HWC. The longer side is
    capped at four times resize_size, so a 20,000x1 strip is squeezed, not blown up to millions of pixels."""
    scale = prep.resize_size / min(image.size)
    longest = 4 * prep.resize_size
    size = (min(longest, max(prep.input_size, round(image.width * scale))),
            min(longest, max(prep.input_size, round(image.height * scale))))
    image = image.resize(size, Image.BILINEAR, reducing_gap=3.0)
    left, top = (size[0] - prep.input_size) // 2, (size[1] - prep.input_size) // 2
    return np.array(image.crop((left, top, left + prep.input_size, top + prep.input_size)))


def load_pixels(files: Sequence[tuple[str, bytes]], prep: Preprocessing, *, out=None, workers: int = 4,
                progress: ProgressFn | None = None) -> torch.Tensor:
    """Decode, orient, resize and crop every (name, bytes) file in parallel: uint8 [N, 3, S, S], written
    into `out` when given (a tensor or a cache RowWriter). Raises ImageReadError for the first
    unreadable file."""
    if out is None:
        out = torch.empty((len(files), 3, prep.input_size, prep.input_size), dtype=torch.uint8)
    problems = _decode_into(out, files, prep, workers, progress)
    if problems:
        index, reason = next(iter(problems.items()))
        raise ImageReadError(f"{files[index][0]}: {reason}")
    return out


def load_readable_pixels(files: Sequence[tuple[str, bytes]], prep: Preprocessing, *, workers: int = 4,
                         progress: ProgressFn | None = None) -> tuple[torch.Tensor, dict[int, str]]:
    """Like load_pixels, but unreadable files are left out: returns the pixels of the readable
    ones (in order) and {index of each unreadable file: reason}."""
    out = torch.empty((len(files), 3, prep.input_size, prep.input_size), dtype=torch.uint8)
    problems = _decode_into(out, files, prep, workers, progress)
    keep = [i for i in range(len(files)) if i not in problems]
    return (out[keep] if problems else out), problems


def _decode_into(out, files: Sequence[tuple[str, bytes]], prep: Preprocessing, workers: int,
                 progress: ProgressFn | None) -> dict[int, str]:
    """out[i] = the pixels of files[i], decoded in parallel threads; returns {index: reason} of the
    files that could not be read."""
    problems: dict[int, str] = {}
    max_megapixels = limits().max_megapixels

    def one(i: int) -> None:
        name, data = files[i]
        try:
            image = decode_image(data, name, draft_size=prep.resize_size, max_megapixels=max_megapixels)
        except ImageReadError as exc:
            problems[i] = exc.user_message
            return
        out[i] = torch.from_numpy(_resize_crop(image, prep)).permute(2, 0, 1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(one, range(len(files))), 1):
            if progress and (done % 16 == 0 or done == len(files)):
                progress(done, len(files))
    return problems


def normalize(pixels: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    mean = torch.tensor(prep.mean, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, device=pixels.device).view(1, 3, 1, 1)
    x = (pixels.float() / 255.0 - mean) / std
    return x.contiguous(memory_format=torch.channels_last)  # faster convolutions on CPU and GPU


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
def compute_activations(model: TransferModel, pixels: torch.Tensor | DiskTensor, prep: Preprocessing,
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
