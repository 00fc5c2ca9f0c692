"""What a model looks at: Grad-CAM heat maps over images (convolutional backbones), word importance
by occlusion for texts, and the pretrained backbone's own ImageNet labels."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..backbones import ImagePreprocessing, create_backbone, get_backbone_info
from ..engine.classifier import Classifier
from ..backbones.preprocessing import normalize

MAX_WORDS = 300  # occlusion re-scores the text once per word; longer texts are read up to here


def grad_cam(classifier: Classifier, pixels: torch.Tensor, targets: list[int]) -> np.ndarray:
    """One heat map per image ([n, height, width], 0..1) for its target class: how much each region of
    the last block's output raised that class's score (Grad-CAM). The backbone runs to its last block,
    the rest of the network from that block's output, and the gradient of the target scores is taken
    with respect to that output alone: no hooks and no change to the model (shared by every session,
    in eval mode), so any number of sessions can ask at once."""
    model = classifier.model
    blocks = len(model.backbone.blocks)
    x = normalize(pixels.to(classifier.device), classifier.preprocessing)
    with torch.no_grad():
        activations = model.backbone.run(x, 0, blocks)  # [n, channels, h, w] after the last block
    with torch.enable_grad():
        activations = activations.detach().requires_grad_(True)
        logits = model.forward_from(activations, blocks)
        chosen = torch.as_tensor(targets, device=logits.device).view(-1, 1)
        (gradients,) = torch.autograd.grad(logits.gather(1, chosen).sum(), activations)
    weights = gradients.mean(dim=(2, 3), keepdim=True)  # each channel by its mean gradient
    cam = torch.relu((weights * activations.detach()).sum(1, keepdim=True)).float()
    cam = torch.nn.functional.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
    cam = cam[:, 0].clamp(min=0).cpu().numpy()
    peak = cam.reshape(len(cam), -1).max(1).reshape(-1, 1, 1)
    return np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)


# matplotlib's "inferno" at nine evenly spaced points: perceptually uniform, from black through purple
# and orange to pale yellow, lightness rising all the way (readable in greyscale and by colour-blind eyes)
INFERNO = np.array([(0, 0, 4), (33, 12, 74), (87, 16, 110), (138, 34, 106), (188, 55, 84), (228, 90, 49),
                    (249, 142, 9), (249, 203, 53), (252, 255, 164)], dtype=np.float32)
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """A heat map (0..1, any shape) in the inferno colours, as uint8 [..., 3]: dark is low attention,
    bright yellow is high."""
    steps = np.linspace(0, 1, len(INFERNO))
    value = np.clip(heat, 0, 1)
    return np.stack([np.interp(value, steps, INFERNO[:, c]) for c in range(3)], -1).round().astype(np.uint8)


def overlay(pixels: torch.Tensor, heat: np.ndarray, strength: float = 0.55) -> np.ndarray:
    """An image (uint8 [3, h, w]) in grey with its heat map laid over it in inferno colours, as uint8
    [h, w, 3]. The grey keeps the object's shape while no colour of its own (a red drum, a lime) can
    hide the heat; the colours read off colour_bar()."""
    image = pixels.permute(1, 2, 0).numpy().astype(np.float32)
    grey = (image @ _LUMA)[..., None]
    colour = heat_colours(heat).astype(np.float32)
    return (grey * (1 - strength) + colour * strength).clip(0, 255).astype(np.uint8)


def colour_bar(width: int = 224, height: int = 40) -> np.ndarray:
    """The legend for heat maps and overlays, uint8 [height, width, 3]: the colours from low to high
    attention, labelled "low" and "high attention" under the bar."""
    from PIL import Image, ImageDraw, ImageFont

    bar_height = height // 2
    legend = Image.new("RGB", (width, height), "white")
    strip = heat_colours(np.linspace(0, 1, width))[None].repeat(bar_height, 0)
    legend.paste(Image.fromarray(strip), (0, 0))
    draw, font = ImageDraw.Draw(legend), ImageFont.load_default(size=max(9, height - bar_height - 6))
    draw.text((0, bar_height + 2), "low", fill="black", font=font)
    draw.text((width, bar_height + 2), "high attention", fill="black", font=font, anchor="ra")
    return np.asarray(legend)


@dataclass
class WordImportance:
    words: list[str]
    importance: list[float]  # drop in the target class's probability when the word is removed
    target: int
    probability: float  # of the target class with every word present


def word_importance(classifier: Classifier, text: str, target: int | None = None) -> WordImportance:
    """Remove each word in turn and see how the probability of `target` (default: the predicted
    class) changes; positive means the word pushed towards that class."""
    words = text.split()[:MAX_WORDS]
    variants = [" ".join(words)] + [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
    proba = classifier.predict_proba(variants)
    target = int(proba[0].argmax()) if target is None else target
    return WordImportance(words, (proba[0, target] - proba[1:, target]).tolist(), target, float(proba[0, target]))


@functools.cache
def imagenet_labels() -> tuple[str, ...]:
    """The 1000 ImageNet class names, from torchvision (no download)."""
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


class ImagenetModel:
    """A backbone with its original ImageNet layer, before any training on the user's data."""

    def __init__(self, backbone: str):
        self.backbone = create_backbone(backbone).eval()
        self.preprocessing: ImagePreprocessing = get_backbone_info(backbone).preprocessing

    @torch.inference_mode()
    def top(self, pixels: torch.Tensor, k: int = 5) -> list[list[tuple[str, float]]]:
        """For each image (uint8 [n, 3, h, w]): its k most likely ImageNet labels with probabilities."""
        logits = self.backbone.imagenet_head(self.backbone(normalize(pixels, self.preprocessing)))
        proba, index = torch.softmax(logits.float(), 1).topk(k)
        names = imagenet_labels()
        return [[(names[i], float(p)) for p, i in zip(ps, idx)] for ps, idx in zip(proba.tolist(), index.tolist())]
