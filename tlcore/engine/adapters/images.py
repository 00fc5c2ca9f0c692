"""Images: (name, bytes) files -> decoded, resized and cropped uint8 pixels (the first stage's input,
cached per data and preprocessing) -> normalised batches; a flip or a small rotation augments them."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from ...backbones import BackboneInfo, ImagePreprocessing
from ...backbones.preprocessing import load_pixels, load_readable_pixels, normalize
from ...data import LabelledDataset
from ..activations import Activations
from ..cache import RunCache
from .base import Adapter
from ..reuse import DECODED_IMAGES

ImageFile = tuple[str, bytes]


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


class ImageAdapter(Adapter):
    """Images for a backbone whose preprocessing comes with its weights (saved in config.json)."""

    modality = "image"
    augments = True  # flips and rotations keep an image's class
    input_item = DECODED_IMAGES
    input_phase = "Reading images"

    def __init__(self, preprocessing: ImagePreprocessing):
        self.preprocessing = preprocessing

    @classmethod
    def for_backbone(cls, info: BackboneInfo, backbone, config) -> "ImageAdapter":
        return cls(info.preprocessing)

    def inputs(self, dataset: LabelledDataset, cache: RunCache, what: str, progress=None) -> Activations:
        """Every image decoded once per data and preprocessing (uint8; on disk beyond the memory budget)."""
        size = self.preprocessing.input_size
        files = [(e.name, e.data) for e in dataset.examples]
        return cache.fetch_rows(("pixels", dataset.content_hash, *self.preprocessing.key()),
                                (len(files), 3, size, size), torch.uint8,
                                lambda out: load_pixels(files, self.preprocessing, out=out, progress=progress), what)

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        return normalize(batch, self.preprocessing)

    def augment(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return augment(x, generator)

    def encode(self, files: Sequence[ImageFile]) -> torch.Tensor:
        """Pixels of every file; ImageReadError names the first unreadable one."""
        return load_pixels(files, self.preprocessing)

    def encode_readable(self, files: Sequence[ImageFile]) -> tuple[torch.Tensor, dict[int, str]]:
        return load_readable_pixels(files, self.preprocessing)

    def describe(self, file: ImageFile) -> dict:
        return {"file": file[0]}

    @classmethod
    def load(cls, info: BackboneInfo, folder: Path, config: dict, state: dict) -> "ImageAdapter":
        return cls(ImagePreprocessing.from_dict(config["preprocessing"]))
