"""torchvision ImageNet backbones: weights download on first use, then work offline."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..core.errors import BackboneUnavailable
from .registry import BackboneInfo, BlockBackbone, ImagePreprocessing, register

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# torchvision's DEFAULT ImageNet weights: (parameters, file URL, resize size, interpolation, antialias), as
# in each one's transforms(); all crop to 224. Kept here so that listing backbones does not import
# torchvision (slow); a test checks them against torchvision.
WEIGHTS = {
    "resnet18": (11_689_512, "https://download.pytorch.org/models/resnet18-f37072fd.pth", 256, "bilinear", True),
    "resnet50": (25_557_032, "https://download.pytorch.org/models/resnet50-11ad3fa6.pth", 232, "bilinear", True),
    "mobilenet_v3_large": (5_483_032, "https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth", 232,
                           "bilinear", True),
    "efficientnet_b0": (5_288_548, "https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth", 256,
                        "bicubic", True),
    "convnext_tiny": (28_589_128, "https://download.pytorch.org/models/convnext_tiny-983f1562.pth", 236,
                      "bilinear", True),
}


def _checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _load_state_dict(name: str, title: str) -> dict:
    """Load the cached ImageNet weights, downloading them first if possible."""
    url = WEIGHTS[name][1]
    path = _checkpoint_dir() / os.path.basename(url)
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(path), progress=False)
        except Exception:  # no network, proxy, disk: all end the same way for the user
            raise BackboneUnavailable(
                f"{title} weights are not on this machine and could not be downloaded. "
                f"Download {url} and save it as '{path.name}' in the folder '{path.parent}' "
                "(set TORCH_HOME to use another folder), or pick efficientnet_lite0, which works offline."
            ) from None
    return torch.load(path, map_location="cpu", weights_only=True)


def _info(name: str, title: str, block_names: tuple[str, ...]) -> BackboneInfo:
    num_params, url, resize_size, interpolation, antialias = WEIGHTS[name]
    return BackboneInfo(
        name=name, title=title, modality="image", source="torchvision, ImageNet", licence="BSD-3-Clause",
        num_params=num_params, block_names=block_names,
        preprocessing=ImagePreprocessing(224, resize_size, IMAGENET_MEAN, IMAGENET_STD, interpolation, antialias),
        weights_path=lambda: _checkpoint_dir() / os.path.basename(url),
        download_url=url,
    )


def _build(name: str, title: str, pretrained: bool) -> nn.Module:
    import torchvision

    net = torchvision.models.get_model(name, weights=None)
    if pretrained:
        net.load_state_dict(_load_state_dict(name, title))
    return net


def _pool() -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _resnet(name: str, title: str):
    @register(_info(name, title, ("stem", "layer1", "layer2", "layer3", "layer4")))
    def build(pretrained: bool) -> BlockBackbone:
        net = _build(name, title, pretrained)
        stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        blocks = [("stem", stem)] + [(f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)]
        return BlockBackbone(blocks, _pool(), net.fc.in_features, imagenet_head=net.fc)

    return build


def _features_backbone(name: str, title: str, block_names: tuple[str, ...], num_features: int):
    """Networks whose `features` Sequential is already one module per block."""

    @register(_info(name, title, block_names))
    def build(pretrained: bool) -> BlockBackbone:
        net = _build(name, title, pretrained)
        return BlockBackbone(list(zip(block_names, net.features)), _pool(), num_features,
                             imagenet_head=net.classifier)

    return build


_resnet("resnet18", "ResNet-18")
_resnet("resnet50", "ResNet-50")
_features_backbone(
    "mobilenet_v3_large", "MobileNetV3-Large",
    ("stem",) + tuple(f"block{i}" for i in range(1, 16)) + ("last_conv",), 960,
)
_features_backbone(
    "efficientnet_b0", "EfficientNet-B0",
    ("stem",) + tuple(f"stage{i}" for i in range(1, 8)) + ("head_conv",), 1280,
)


@register(_info("convnext_tiny", "ConvNeXt-Tiny", ("stem", "stage1", "stage2", "stage3", "stage4")))
def convnext_tiny(pretrained: bool) -> BlockBackbone:
    net = _build("convnext_tiny", "ConvNeXt-Tiny", pretrained)
    f = net.features  # stem, stage, downsample, stage, downsample, stage, downsample, stage
    blocks = [("stem", f[0]), ("stage1", f[1]), ("stage2", nn.Sequential(f[2], f[3])),
              ("stage3", nn.Sequential(f[4], f[5])), ("stage4", nn.Sequential(f[6], f[7]))]
    pool = nn.Sequential(net.avgpool, net.classifier[0], nn.Flatten())  # the pretrained LayerNorm stays
    return BlockBackbone(blocks, pool, net.classifier[2].in_features, imagenet_head=net.classifier[2])
