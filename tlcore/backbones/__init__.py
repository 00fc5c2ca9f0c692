"""Backbone registry; importing this package registers every adapter."""
from . import efficientnet_lite, torchvision_models  # noqa: F401  (registration side effect)
from .registry import (
    BackboneInfo, BlockBackbone, Preprocessing, create_backbone, get_backbone_info, list_backbones,
)

__all__ = ["BackboneInfo", "BlockBackbone", "Preprocessing", "create_backbone", "get_backbone_info",
           "list_backbones"]
