"""A backbone plus a new head: the network that a run trains and saves."""
from __future__ import annotations

import torch
from torch import nn

from ..backbones import BlockBackbone
from .heads import torch_head


class TransferModel(nn.Module):
    """`backbone.run` from any stage, then the head. Stage indices follow `backbone.stages`."""

    def __init__(self, backbone: BlockBackbone, num_classes: int, head: str = "linear"):
        super().__init__()
        self.backbone = backbone.to(memory_format=torch.channels_last)
        self.head = torch_head(head, backbone.num_features, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))

    def forward_from(self, activations, start: int) -> torch.Tensor:
        """Logits from activations already computed up to stage `start`."""
        return self.head(self.backbone.run(activations, start))


def features_only(num_features: int) -> BlockBackbone:
    """A backbone with no blocks, for features computed outside torch (TF-IDF, word vectors)."""
    return BlockBackbone([], nn.Identity(), num_features)
