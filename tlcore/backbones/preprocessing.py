"""How an image must be prepared for a backbone's weights (one serialisable object per backbone, saved
in each run's config.json), and the functions that apply it: decode, resize, crop, normalise."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..core.errors import ConfigError, ImageReadError
from ..core.settings import limits
from ..data.image_file import INTERPOLATIONS, crop_box, resize_crop
from ..data.images import decode_image

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 16, 1024  # pixels: a saved or typed input size outside this is refused
ProgressFn = Callable[[int, int], None]
FIELDS = ("input_size", "resize_size", "interpolation", "antialias", "mean", "std")
OLD_FIELDS = {"input_size", "resize_size", "mean", "std"}  # what runs saved before interpolation was kept


@dataclass(frozen=True)
class ImagePreprocessing:
    """How pixels must be prepared for these weights, like torchvision's ImageClassification preset:
    shorter side to resize_size with this interpolation, centre input_size square, normalise."""

    input_size: int  # the centre crop's side
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"
    antialias: bool = True  # smooth before shrinking (PIL always does; False resizes as torch does)

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "resize_size": self.resize_size,
                "interpolation": self.interpolation, "antialias": self.antialias,
                "mean": list(self.mean), "std": list(self.std)}

    def key(self) -> tuple:
        """Every field as plain values, in to_dict's order: for cache keys."""
        return (self.input_size, self.resize_size, self.interpolation, self.antialias,
                tuple(map(float, self.mean)), tuple(map(float, self.std)))

    def __post_init__(self):
        checks = [
            (_whole(self.input_size) and MIN_INPUT_SIZE <= self.input_size <= MAX_INPUT_SIZE,
             f"The input size must be {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE} pixels, not {self.input_size!r}."),
            (_whole(self.input_size) and _whole(self.resize_size)
             and self.input_size <= self.resize_size <= 2 * MAX_INPUT_SIZE,
             f"The resize size must be from the input size to {2 * MAX_INPUT_SIZE} pixels, not {self.resize_size!r}."),
            (isinstance(self.interpolation, str) and self.interpolation in INTERPOLATIONS,
             f"The interpolation must be {' or '.join(INTERPOLATIONS)}, not {self.interpolation!r}."),
            (isinstance(self.antialias, bool), f"The antialias setting must be true or false, not {self.antialias!r}."),
            (_three_numbers(self.mean), f"The normalisation mean must be three numbers, not {self.mean!r}."),
            (_three_numbers(self.std) and min(self.std) > 0,
             f"The normalisation std must be three numbers above 0, not {self.std!r}."),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @classmethod
    def from_dict(cls, data: dict) -> "ImagePreprocessing":
        """From to_dict's output, or the four keys earlier versions saved (those runs resized bilinearly,
        antialiased); anything else (other keys, wrong types, out of range) is a ConfigError."""
        if not isinstance(data, dict) or set(data) not in (set(FIELDS), OLD_FIELDS):
            found = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, dict) else type(data).__name__
            raise ConfigError(f"The preprocessing must name {', '.join(FIELDS[:-1])} and {FIELDS[-1]} "
                              f"(or, from earlier versions, only input_size, resize_size, mean and std), not {found}.")
        data = {"interpolation": "bilinear", "antialias": True, **data}
        mean, std = data["mean"], data["std"]
        return cls(data["input_size"], data["resize_size"], tuple(mean) if isinstance(mean, list) else mean,
                   tuple(std) if isinstance(std, list) else std, data["interpolation"], data["antialias"])


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _three_numbers(values) -> bool:
    return (isinstance(values, tuple) and len(values) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values))


def _resize_crop(image: Image.Image, prep: ImagePreprocessing) -> np.ndarray:
    """The centre input_size square after the resize, as uint8 HWC (image_file.resize_crop; without
    antialias, torch's interpolate samples as torchvision does on tensors, then rounds)."""
    if prep.antialias:
        return resize_crop(image, prep.input_size, prep.resize_size, prep.interpolation)
    size, left, top = crop_box(image.width, image.height, prep.input_size, prep.resize_size)
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(size[1], size[0]), mode=prep.interpolation, align_corners=False, antialias=False)
    pixels = x.round_().clamp_(0, 255).to(torch.uint8)[0].permute(1, 2, 0)
    return pixels[top:top + prep.input_size, left:left + prep.input_size].numpy().copy()


def load_pixels(files: Sequence[tuple[str, bytes]], prep: ImagePreprocessing, *, out=None, workers: int = 4,
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


def load_readable_pixels(files: Sequence[tuple[str, bytes]], prep: ImagePreprocessing, *, workers: int = 4,
                         progress: ProgressFn | None = None) -> tuple[torch.Tensor, dict[int, str]]:
    """Like load_pixels, but unreadable files are left out: returns the pixels of the readable
    ones (in order) and {index of each unreadable file: reason}."""
    out = torch.empty((len(files), 3, prep.input_size, prep.input_size), dtype=torch.uint8)
    problems = _decode_into(out, files, prep, workers, progress)
    keep = [i for i in range(len(files)) if i not in problems]
    return (out[keep] if problems else out), problems


def _decode_into(out, files: Sequence[tuple[str, bytes]], prep: ImagePreprocessing, workers: int,
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


def normalize(pixels: torch.Tensor, prep: ImagePreprocessing) -> torch.Tensor:
    mean = torch.tensor(prep.mean, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, device=pixels.device).view(1, 3, 1, 1)
    x = (pixels.float() / 255.0 - mean) / std
    return x.contiguous(memory_format=torch.channels_last)  # faster convolutions on CPU and GPU
