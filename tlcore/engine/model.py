"""A backbone plus a new head: the network that a run trains and saves."""
from __future__ import annotations

import torch
from torch import nn

from ..backbones import BlockBackbone
from .heads import Dropout, torch_head


class TransferModel(nn.Module):
    """`backbone.run` from any stage, then the head. Stage indices follow `backbone.stages`."""

    def __init__(self, backbone: BlockBackbone, num_classes: int, head: str = "linear",
                 generator: torch.Generator | None = None):
        super().__init__()
        self.backbone = backbone.to(memory_format=torch.channels_last)
        self.head = torch_head(head, backbone.num_features, num_classes, generator=generator)

    def forward(self, x):
        return self.head(self.backbone(x))

    def forward_from(self, activations, boundary: int) -> torch.Tensor:
        """Logits from activations already computed up to stage `boundary`."""
        return self.head(self.backbone.run(activations, boundary))

    def set_generator(self, generator: torch.Generator | None) -> None:
        """Where the head's dropout draws its random numbers from (a run's own generator)."""
        for module in self.head.modules():
            if isinstance(module, Dropout):
                module.generator = generator
