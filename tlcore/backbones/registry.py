"""The backbone registry: metadata for the UI plus one builder per pretrained network."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..errors import ConfigError

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 16, 1024  # pixels: a saved or typed input size outside this is refused


@dataclass(frozen=True)
class Preprocessing:
    """How pixels must be prepared for these weights: resize shorter side, centre crop, normalise."""

    input_size: int
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "resize_size": self.resize_size,
                "mean": list(self.mean), "std": list(self.std)}

    def __post_init__(self):
        checks = [
            (_whole(self.input_size) and MIN_INPUT_SIZE <= self.input_size <= MAX_INPUT_SIZE,
             f"The input size must be {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE} pixels, not {self.input_size!r}."),
            (_whole(self.input_size) and _whole(self.resize_size)
             and self.input_size <= self.resize_size <= 2 * MAX_INPUT_SIZE,
             f"The resize size must be from the input size to {2 * MAX_INPUT_SIZE} pixels, not {self.resize_size!r}."),
            (_three_numbers(self.mean), f"The normalisation mean must be three numbers, not {self.mean!r}."),
            (_three_numbers(self.std) and min(self.std) > 0,
             f"The normalisation std must be three numbers above 0, not {self.std!r}."),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
        """From to_dict's output; anything else (missing keys, wrong types, out of range) is a ConfigError."""
        if not isinstance(data, dict) or set(data) != {"input_size", "resize_size", "mean", "std"}:
            found = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, dict) else type(data).__name__
            raise ConfigError(f"The preprocessing must name input_size, resize_size, mean and std, not {found}.")
        mean, std = data["mean"], data["std"]
        return cls(data["input_size"], data["resize_size"], tuple(mean) if isinstance(mean, list) else mean,
                   tuple(std) if isinstance(std, list) else std)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _three_numbers(values) -> bool:
    return (isinstance(values, tuple) and len(values) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values))


@dataclass(frozen=True)
class BackboneInfo:
    """What the UI and the command line show about a backbone, without building it."""

    name: str
    title: str
    modality: str
    source: str
    licence: str
    num_params: int
    block_names: tuple[str, ...]
    preprocessing: Preprocessing | None  # images only
    weights_path: Callable[[], Path]
    download_url: str | None = None
    convolutional: bool = True
    max_length: int | None = None  # texts only: longer texts are truncated to this many tokens
    classic: bool = False  # a featuriser fitted on the user's data (no pretrained network to fine-tune)

    @property
    def num_blocks(self) -> int:
        return len(self.block_names)

    @property
    def weights_id(self) -> str:
        """Names these weights in cache keys: the file's name and size (no hashing of large files)."""
        path = self.weights_path()
        return f"{path.name}:{path.stat().st_size}" if path.is_file() else path.name

    @property
    def offline(self) -> bool:
        """True when the pretrained weights are already on this machine."""
        return self.weights_path().is_file()


class BlockBackbone(nn.Module):
    """A pretrained network cut into named blocks, then a pooling stage giving `num_features`."""

    def __init__(self, blocks: list[tuple[str, nn.Module]], pool: nn.Module, num_features: int,
                 imagenet_head: nn.Module | None = None):
        super().__init__()
        self.block_names = [name for name, _ in blocks]
        self.blocks = nn.ModuleList(module for _, module in blocks)
        self.pool = pool
        self.num_features = num_features
        # The pretrained network's own 1000-class ImageNet layer, for "what the backbone already knows".
        # Kept outside the module tree, so it is never trained, moved or saved with a run.
        object.__setattr__(self, "imagenet_head", imagenet_head)

    @property
    def stages(self) -> list[nn.Module]:
        """Blocks in order, then the pool: activations flow through these one after another."""
        return [*self.blocks, self.pool]

    def run(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        for stage in self.stages[start:stop]:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


_REGISTRY: dict[str, tuple[BackboneInfo, Callable[[bool], BlockBackbone]]] = {}


def register(info: BackboneInfo):
    """Decorator: `builder(pretrained: bool) -> BlockBackbone` is registered under info.name."""

    def wrap(builder: Callable[[bool], BlockBackbone]):
        _REGISTRY[info.name] = (info, builder)
        return builder

    return wrap


def list_backbones(modality: str | None = None) -> list[BackboneInfo]:
    return [info for info, _ in _REGISTRY.values() if modality in (None, info.modality)]


def get_backbone_info(name: str) -> BackboneInfo:
    if name not in _REGISTRY:
        raise ConfigError(f"Unknown backbone '{name}'. Choose one of: {', '.join(_REGISTRY)}.")
    return _REGISTRY[name][0]


def create_backbone(name: str, *, pretrained: bool = True) -> BlockBackbone:
    """Build the backbone; pretrained=False gives random weights (for loading a saved run or tests)."""
    get_backbone_info(name)
    return _REGISTRY[name][1](pretrained)
