"""A backbone plus a new linear head: the network that a run trains and saves."""
from __future__ import annotations

import torch
from torch import nn

from .backbones import BlockBackbone


class TransferModel(nn.Module):
    """`backbone.run` from any stage, then the head. Stage indices follow `backbone.stages`."""

    def __init__(self, backbone: BlockBackbone, num_classes: int, dropout: float = 0.2):
        super().__init__()
        self.backbone = backbone.to(memory_format=torch.channels_last)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(backbone.num_features, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def forward_from(self, activations: torch.Tensor, start: int) -> torch.Tensor:
        """Logits from activations already computed up to stage `start`."""
        return self.head(self.backbone.run(activations, start))
