"""Is the user's data like what the backbone learnt from? Measured from the data itself: how sure the
pretrained network's own ImageNet classifier is of the user's images (on everyday photos its top
guess usually takes most of the probability; on digits, scans, drawings or X-rays it spreads thin),
and, once a layer sweep has run, whether an earlier block's features beat the last block's."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

FAR_BELOW = 0.15  # mean top ImageNet probability under which images look unlike ImageNet photos


@dataclass(frozen=True)
class DomainCheck:
    imagenet_confidence: float  # mean over the examples of the top class's probability
    far: bool
    advice: str | None  # a warning with what to try when far; None otherwise
    earlier_block: int | None = None  # a block whose features clearly beat the last block's

    def to_dict(self) -> dict:
        return {"imagenet_confidence": round(self.imagenet_confidence, 4), "far_from_imagenet": self.far,
                "earlier_block": self.earlier_block, "advice": self.advice}

    def with_last_block_kept(self, title: str) -> "DomainCheck":
        """The check once a layer sweep of `title` found no block clearly better than the last."""
        return replace(self, advice=f"{self.advice} A layer sweep of {title} found no earlier block clearly better "
                                    "than its last one for your data.")

    def with_earlier_block(self, title: str, block: int, name: str, auc: float, last_auc: float) -> "DomainCheck":
        """The check once a layer sweep of `title` found block `block` clearly better than the last."""
        evidence = (f"A layer sweep of {title} found that its block {block} ({name}) gives better features for your "
                    f"data than its last block: a validation AUC of {auc:.3f} against {last_auc:.3f}.")
        return replace(self, far=True, earlier_block=block,
                       advice=f"{self.advice} {evidence}" if self.advice else evidence)


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
