"""Backbone registry; importing this package registers every adapter."""
from . import classic_text, efficientnet_lite, sentence_transformers, torchvision_models  # noqa: F401 (registers)
from .preprocessing import ImagePreprocessing
from .registry import (
    BackboneInfo, BlockBackbone, check_feature_block, create_backbone, empty_backbone, get_backbone_info,
    list_backbones,
)

__all__ = ["BackboneInfo", "BlockBackbone", "ImagePreprocessing", "check_feature_block", "empty_backbone",
           "create_backbone", "get_backbone_info", "list_backbones"]
