"""One adapter per kind of input (images, texts for a transformer, classic text features): the only
place that knows how a modality's examples become the network's input. Adding a modality (audio,
tables) is one more adapter here."""
from __future__ import annotations

from pathlib import Path

from ...backbones import BackboneInfo
from .base import Adapter
from .classic import ClassicTextAdapter
from .images import ImageAdapter
from .texts import TextAdapter


def adapter_class(info: BackboneInfo) -> type[Adapter]:
    if info.classic:
        return ClassicTextAdapter
    return TextAdapter if info.modality == "text" else ImageAdapter


def adapter_for(info: BackboneInfo, backbone, config) -> Adapter:
    """The adapter that trains `backbone` (built from `info`) with these settings."""
    return adapter_class(info).for_backbone(info, backbone, config)


def load_adapter(info: BackboneInfo, folder: Path, config: dict, state: dict) -> Adapter:
    """The adapter a saved run was trained with, from its folder (config.json already checked; `state`
    holds the model's tensors, for checks against the tokenizer)."""
    return adapter_class(info).load(info, folder, config, state)


__all__ = ["Adapter", "ClassicTextAdapter", "ImageAdapter", "TextAdapter", "adapter_for", "load_adapter"]
