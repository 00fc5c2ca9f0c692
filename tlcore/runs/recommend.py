"""Find the best start for the user's data: every backbone usable on this machine (bundled, or
downloaded earlier) probed with a frozen linear head on the same split, reusing the caches; ranked by
validation AUC with 95 % intervals (an image backbone's every block, as a layer sweep does); then a
backbone, a number of trainable blocks and, for images, the feature block, with the reason in a
sentence built from what was measured."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np

from ..backbones import get_backbone_info, list_backbones
from ..core.config import TrainConfig
from ..core.errors import DataError, TLCoreError
from ..data import LabelledDataset
from ..engine.cache import TensorCache
from ..engine.loop import Callback
from ..insight.domain import DomainCheck, check_domain
from .prepared import Split
from .layer_sweep import score_blocks
from .probe import Score, linear_probe, probe_data
from .sweep import RunProgress

FINE_TUNE_FROM = 1000  # examples per class from which fine-tuning usually pays (fewer: it mostly overfits)
NEAR_PERFECT = 0.995  # a frozen backbone scoring this leaves fine-tuning little to win
FINE_TUNE_BLOCKS = 2


@dataclass
class BackboneScore:
    name: str
    title: str
    auc: float | None
    auc_low: float | None
    auc_high: float | None
    seconds: float
    problem: str | None = None  # why it could not be probed
    feature_block: int | None = None  # the block scored, when a layer sweep found an earlier one better

    @property
    def score(self) -> Score:
        return Score(self.auc, self.auc_low, self.auc_high)


@dataclass
class Recommendation:
    backbones: list[BackboneScore]  # best first; those that could not be probed last
    recommended: dict  # backbone, trainable_blocks, reason
    examples_per_class: int  # training examples in the smallest class
    domain: DomainCheck | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"backbones": [asdict(b) for b in self.backbones], "recommended": self.recommended,
                "examples_per_class": self.examples_per_class,
                "domain": self.domain.to_dict() if self.domain else None}


def usable_backbones(task: str) -> list[str]:
    """The backbones for this task that work here without a download."""
    return [b.name for b in list_backbones(modality=task) if b.offline]


@dataclass
class Probed:
    """One backbone's part of a recommendation: its score, and for a pretrained image backbone what its
    ImageNet classifier and its blocks said about the data. Probing one backbone never depends on
    another, so a cluster can probe them side by side (see gather_recommendation)."""

    score: BackboneScore
    smallest: int = 0  # training examples in the smallest class
    domain: DomainCheck | None = None
    earlier: tuple | None = None  # (block, name, auc, last block's auc) when an earlier block clearly wins


def recommend(dataset: LabelledDataset, config: TrainConfig, *, val_dataset: LabelledDataset | None = None,
              backbones: Sequence[str] | None = None, callbacks: Sequence[Callback] = (),
              cache: TensorCache | None = None) -> Recommendation:
    """Probe `backbones` (default: every usable one for the data's task) with config's seed, split and
    device; the split is the same for all, so their numbers compare fairly."""
    names = list(backbones or usable_backbones(dataset.report.unit))
    return gather_recommendation([probe_backbone(dataset, config, name, f"Backbone {i + 1} of {len(names)}",
                                                 val_dataset=val_dataset, callbacks=callbacks, cache=cache)
                                  for i, name in enumerate(names)], dataset.report.unit)


def probe_backbone(dataset: LabelledDataset, config: TrainConfig, name: str, label: str, *,
                   val_dataset: LabelledDataset | None = None, callbacks: Sequence[Callback] = (),
                   cache: TensorCache | None = None) -> Probed:
    """Probe one backbone (the whole of it, then each block of an image backbone); `label` names it in the
    progress ("Backbone 2 of 3"). A backbone that cannot run here gets its problem; bad data raises."""
    started = time.perf_counter()
    title = get_backbone_info(name).title
    progress = RunProgress(callbacks, f"{label} ({title})", 1)
    probe_config = replace(config, backbone=name, feature_block=None)  # the whole backbone, then its blocks
    try:
        data = probe_data(dataset, probe_config, val_dataset=val_dataset, callbacks=[progress], cache=cache)
    except TLCoreError as exc:
        if isinstance(exc, DataError):
            raise
        return Probed(BackboneScore(name, title, None, None, None, 0.0, exc.user_message))
    smallest = int(np.bincount(data.y_train, minlength=len(data.classes)).min())
    head, domain, earlier, block = data.parts.backbone.imagenet_head, None, None, None
    if head is None:
        proba = linear_probe(data.x_train, data.y_train, data.x_val, len(data.classes), seed=config.seed,
                             device=data.parts.device)
        score = Score.of(data.y_val, proba)
    else:  # a pretrained image backbone: every block is scored (the last as the probe would; the probe's
        # pass kept every block's features, so this runs the backbone no more)
        domain = check_domain(head, data.x_train, title)
        layers = score_blocks(data.parts, seed=config.seed, callbacks=[progress])
        chosen = next(b for b in layers.blocks if b.block == layers.recommended)
        score = chosen.score
        if layers.earlier_wins:
            block = chosen.block
            earlier = (block, chosen.name, chosen.auc, layers.blocks[-1].auc)
    return Probed(BackboneScore(name, title, score.auc, score.low, score.high, round(time.perf_counter() - started, 3),
                                feature_block=block), smallest, domain, earlier)


def gather_recommendation(probes: Sequence[Probed], task: str) -> Recommendation:
    """The ranking and the recommendation from every backbone's probe (in the order they were asked for).
    The ImageNet check is the first pretrained image backbone's; an earlier block that clearly beats
    the last (of any backbone) adds its evidence, and the checked backbone's sweep says when it kept the last."""
    domain, checked, smallest = None, None, 0
    for probed in probes:
        if probed.score.auc is None:
            continue
        smallest = probed.smallest
        if probed.domain is None:
            continue
        if domain is None:
            domain, checked = probed.domain, probed.score.name
        if probed.earlier is not None:
            if domain.earlier_block is None:
                domain = domain.with_earlier_block(probed.score.title, *probed.earlier)
        elif probed.score.name == checked and domain.far:  # said of the backbone whose check warned
            domain = domain.with_last_block_kept(probed.score.title)
    ranked = sorted((p.score for p in probes), key=lambda s: (s.auc is None, -(s.auc or 0.0)))
    if ranked[0].auc is None:
        raise DataError("No backbone could be probed on this data: " + " ".join(s.problem or "" for s in ranked))
    return Recommendation(ranked, _recommended(ranked, smallest, domain, task), smallest, domain)


def _recommended(ranked: list[BackboneScore], per_class: int, domain: DomainCheck | None, task: str) -> dict:
    best = ranked[0]
    info = get_backbone_info(best.name)
    probed = [s for s in ranked if s.auc is not None]
    reason = [f"{best.title} scored the highest validation AUC, {best.auc:.3f} "
              f"(95 % interval {_interval(best)}), of the {len(probed)} {task} backbones usable on this machine"
              if len(probed) > 1 else
              f"{best.title} is the only {task} backbone usable on this machine (others download on first use); "
              f"with a frozen backbone it scored a validation AUC of {best.auc:.3f} (95 % interval {_interval(best)})"]
    if len(probed) > 1:
        second = probed[1]
        if best.score.overlaps(second.score):
            faster = min(best, second, key=lambda s: s.seconds)
            reason.append(f"; {second.title} scored {second.auc:.3f} and the intervals overlap, so the difference may "
                          f"be chance ({faster.title} was the quicker, {faster.seconds:.0f} s)")
        else:
            reason.append(f"; {second.title} scored {second.auc:.3f} and the intervals do not overlap: a clear gap")
    reason.append(". ")
    if info.classic or not info.num_blocks:
        blocks = 0
        reason.append(f"{best.title} has no pretrained blocks to fine-tune.")
    elif per_class < FINE_TUNE_FROM:
        blocks = 0
        reason.append(examples_advice(per_class))
    elif best.auc >= NEAR_PERFECT:
        blocks = 0
        reason.append(f"A frozen backbone already scores {best.auc:.3f}: fine-tuning has little left to win and "
                      "costs time.")
    else:
        blocks = min(FINE_TUNE_BLOCKS, info.kept_blocks(best.feature_block))
        reason.append(f"With {per_class:,} examples in the smallest class, fine-tuning the top {blocks} blocks (head "
                      "first, then the blocks) can fit your data better; a depth sweep on Compare shows how much.")
    if domain is not None and domain.far:
        reason.append(" " + domain.advice)
    if best.feature_block:
        reason.append(f" Take the features from block {best.feature_block} "
                      f"({info.block_names[best.feature_block - 1]}) and drop the blocks above it.")
    return {"backbone": best.name, "trainable_blocks": blocks, "feature_block": best.feature_block,
            "reason": "".join(reason)}


def smallest_class(dataset: LabelledDataset, val_dataset: LabelledDataset | None, config: TrainConfig) -> int:
    """Training examples in the smallest class, after the validation split."""
    split = Split.of(dataset, val_dataset, config)
    return int(np.bincount(split.labels("train", list(dataset.classes)), minlength=len(dataset.classes)).min())


def examples_advice(per_class: int) -> str:
    """What this many training examples in the smallest class suggests: featurise or fine-tune."""
    if per_class < FINE_TUNE_FROM:
        return (f"With {per_class:,} training examples in the smallest class (under about {FINE_TUNE_FROM:,}), "
                "fine-tuning mostly overfits: keep the backbone frozen (0 trainable blocks) and train only the head.")
    return (f"With {per_class:,} training examples in the smallest class, fine-tuning the top blocks can fit your "
            "data better than a frozen backbone: train the head first, then a few blocks at a low learning rate.")


def _interval(score: BackboneScore) -> str:
    return "not defined" if score.auc_low is None else f"{score.auc_low:.3f} to {score.auc_high:.3f}"
