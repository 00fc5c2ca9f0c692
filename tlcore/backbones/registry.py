"""The backbone registry: metadata for the UI plus one builder per pretrained network."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..core.errors import ConfigError
from .preprocessing import ImagePreprocessing
from .text_preprocessing import TextPreprocessing

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
    preprocessing: ImagePreprocessing | TextPreprocessing | None  # None: a classic featuriser fitted on the data
    weights_path: Callable[[], Path | None] | None  # the weights file if on this machine; None: needs none
    download_url: str | None = None  # where the weights come from, for people fetching them by hand
    classic: bool = False  # a featuriser fitted on the user's data (no pretrained network to fine-tune)

    @property
    def num_blocks(self) -> int:
        return len(self.block_names)

    def kept_blocks(self, feature_block: int | None) -> int:
        """The blocks a model keeps with this feature block (None: all of them)."""
        return self.num_blocks if feature_block is None else min(feature_block, self.num_blocks)

    @property
    def max_length(self) -> int | None:
        """Texts: the most tokens the backbone reads (longer texts are cut)."""
        return getattr(self.preprocessing, "max_length", None)

    @property
    def weights_id(self) -> str:
        """Names these weights in cache keys: the file's name and size (no hashing of large files)."""
        path = self.weights_path() if self.weights_path else None
        return f"{path.name}:{path.stat().st_size}" if path is not None and path.is_file() else "none"

    @property
    def offline(self) -> bool:
        """True when the backbone works without a download (its weights are here, or it needs none)."""
        if self.weights_path is None:
            return True
        path = self.weights_path()
        return path is not None and path.is_file()


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

    def truncated(self, feature_block: int) -> "BlockBackbone":
        """The first `feature_block` blocks, then a global average pool of the last one's output (the
        featuriser that drops the blocks above); its width is measured on a small image."""
        blocks = list(zip(self.block_names, self.blocks))[:feature_block]
        with torch.no_grad():
            width = BlockBackbone(blocks, nn.Identity(), 0).eval()(torch.zeros(1, 3, 64, 64)).shape[1]
        return BlockBackbone(blocks, nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), width)


def empty_backbone() -> BlockBackbone:
    """No blocks, the identity as its pool: for features made outside torch (TF-IDF, word vectors),
    whose width is known once the featuriser is fitted (then set num_features)."""
    return BlockBackbone([], nn.Identity(), 0)


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


def check_feature_block(info: BackboneInfo, feature_block: int | None) -> None:
    """A feature block is one of an image backbone's blocks, counted from 1 (None: the last, the default)."""
    if feature_block is None:
        return
    if info.modality != "image" or not info.num_blocks:
        raise ConfigError(f"The feature block is for pretrained image backbones, and {info.title} is not one. "
                          "Leave the feature block out.")
    if not 1 <= feature_block <= info.num_blocks:
        raise ConfigError(f"The feature block must be from 1 to {info.num_blocks}, the blocks of {info.title}; "
                          f"{info.num_blocks}, the last, is the default.")


def create_backbone(name: str, *, pretrained: bool = True, feature_block: int | None = None) -> BlockBackbone:
    """Build the backbone; pretrained=False gives random weights (for loading a saved run or tests).
    feature_block K keeps blocks 1..K and pools block K's output (None or the last block: all of it)."""
    info = get_backbone_info(name)
    check_feature_block(info, feature_block)
    backbone = _REGISTRY[name][1](pretrained)
    if feature_block is None or feature_block == info.num_blocks:
        return backbone
    return backbone.truncated(feature_block)
