"""Is the user's data like what the backbone learnt from? Measured from the data itself: how sure the
pretrained network's own ImageNet classifier is of the user's images. On everyday photos its top
guess usually takes most of the probability; on digits, scans, drawings or X-rays it spreads thin."""
from __future__ import annotations

from dataclasses import dataclass

import torch

FAR_BELOW = 0.15  # mean top ImageNet probability under which images look unlike ImageNet photos


@dataclass(frozen=True)
class DomainCheck:
    imagenet_confidence: float  # mean over the examples of the top class's probability
    far: bool
    advice: str | None  # a warning with what to try when far; None otherwise

    def to_dict(self) -> dict:
        return {"imagenet_confidence": round(self.imagenet_confidence, 4), "far_from_imagenet": self.far,
                "advice": self.advice}


def check_domain(imagenet_head: torch.nn.Module, features: torch.Tensor, title: str) -> DomainCheck:
    """From the backbone's pooled features of the user's images and its own 1,000-class layer."""
    with torch.no_grad():
        confidence = float(torch.softmax(imagenet_head(features.float()), 1).max(1).values.mean())
    if confidence >= FAR_BELOW:
        return DomainCheck(confidence, False, None)
    advice = (f"{title}'s own ImageNet classifier is unsure of your images: its top guess averages "
              f"{confidence:.0%} (on everyday photos it is usually above 50 %). Your images look unlike the photos "
              "it learnt from, as scans, X-rays, drawings or screenshots do. Its last features fit such data less "
              "well: compare backbones, look at the learning curve against the raw data, and with many examples "
              "fine-tune more blocks.")
    return DomainCheck(confidence, True, advice)
