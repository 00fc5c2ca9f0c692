"""A layer sweep: which block of an image backbone gives the features that transfer best to the user's
data. Every block's pooled output comes from one pass over the examples (or the cache: a run at 0
trainable blocks keeps them all, under the names a run on that feature block uses, so training on the
chosen block is instant), then a linear layer is fitted on each, as a run's default head, and scored
with a bootstrap interval."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Sequence

from ..backbones import get_backbone_info
from ..core.config import TrainConfig
from ..core.errors import ConfigError
from ..data import LabelledDataset
from ..engine.activations import load, take
from ..engine.cache import TensorCache
from ..engine.loop import Callback, emit
from .prepared import Prepared, prepare
from .probe import Score, check_every_class, linear_probe


@dataclass
class BlockScore:
    block: int  # counted from 1, as --feature-block
    name: str
    features: int
    auc: float | None
    auc_low: float | None
    auc_high: float | None

    @property
    def score(self) -> Score:
        return Score(self.auc, self.auc_low, self.auc_high)


@dataclass
class LayerSweep:
    backbone: str
    blocks: list[BlockScore]  # in block order
    recommended: int  # the feature block to use: the best, unless the last block is within chance of it
    reason: str
    seconds: float

    @property
    def best(self) -> BlockScore:
        return _best(self.blocks)

    @property
    def earlier_wins(self) -> bool:
        """An earlier block beats the last one clearly (the intervals do not overlap): a sign that the
        data is far from what the backbone learned on."""
        return self.recommended != self.blocks[-1].block

    def to_dict(self) -> dict:
        return {"backbone": self.backbone, "blocks": [asdict(b) for b in self.blocks],
                "best_block": self.best.block, "recommended": {"feature_block": self.recommended,
                                                               "reason": self.reason},
                "seconds": self.seconds}


def sweep_layers(dataset: LabelledDataset, config: TrainConfig, *, val_dataset: LabelledDataset | None = None,
                 callbacks: Sequence[Callback] = (), cache: TensorCache | None = None) -> LayerSweep:
    """Probe every block of config.backbone (an image backbone) on config's split: a linear layer on each
    block's pooled output, scored on the validation examples."""
    started = time.perf_counter()
    info = get_backbone_info(config.backbone)
    if info.modality != "image" or not info.num_blocks:
        raise ConfigError(f"A layer sweep compares the blocks of a pretrained image backbone, and {info.title} is not "
                          "one. Choose an image backbone (see the list of backbones).")
    probe_config = replace(config, trainable_blocks=0, head="linear", feature_block=None, augment=False)
    parts = prepare(dataset, probe_config, val_dataset=val_dataset, callbacks=callbacks, cache=cache)
    check_every_class(parts.split.labels("val", parts.classes), parts.classes)
    return score_blocks(parts, seed=config.seed, callbacks=callbacks, started=started)


def score_blocks(parts: Prepared, *, seed: int, callbacks: Sequence[Callback] = (),
                 started: float | None = None) -> LayerSweep:
    """The layer sweep on a whole image backbone prepared at 0 trainable blocks (as a probe is)."""
    started = time.perf_counter() if started is None else started
    info, split = parts.info, parts.split
    y_train, y_val = split.labels("train", parts.classes), split.labels("val", parts.classes)
    progress = emit(callbacks, "Fitting a layer on each block")
    train_blocks = [load(v).float() for v in parts.frozen.block_features(split.train_set)]
    val_blocks = (train_blocks if split.val_set is split.train_set else
                  [load(v).float() for v in parts.frozen.block_features(split.val_set)])
    scores = []
    for block, (x_train, x_val) in enumerate(zip(train_blocks, val_blocks), 1):
        proba = linear_probe(take(x_train, split.train_rows), y_train, take(x_val, split.val_rows),
                             len(parts.classes), seed=seed, device=parts.device)
        score = Score.of(y_val, proba)
        scores.append(BlockScore(block, info.block_names[block - 1], x_train.shape[1], score.auc, score.low,
                                 score.high))
        progress(block, info.num_blocks)
    recommended, reason = choose_block(scores, info.title)
    return LayerSweep(info.name, scores, recommended, reason, round(time.perf_counter() - started, 3))


def _best(scores: list[BlockScore]) -> BlockScore:
    return max(scores, key=lambda b: (b.auc or 0.0, b.block))  # a tie goes to the later block


def choose_block(scores: list[BlockScore], title: str) -> tuple[int, str]:
    """The block to use and why, in a sentence: an earlier block only when it beats the last clearly."""
    best, last = _best(scores), scores[-1]
    if best is last:
        return last.block, (f"The last block of {title} ({last.name}) scores {last.auc:.3f}, as high as any earlier "
                            "block: keep the default.")
    if best.score.overlaps(last.score):
        return last.block, (f"Block {best.block} ({best.name}) of {title} scored {best.auc:.3f} and its last block "
                            f"{last.auc:.3f}, but the intervals overlap, so the difference may be chance: keep the "
                            "default, the last block.")
    return best.block, (f"Block {best.block} ({best.name}) of {title} scored {best.auc:.3f}, clearly above its last "
                        f"block ({last.auc:.3f}; the intervals do not overlap): your data is unlike the photos it "
                        f"learned from, and its earlier, more general features transfer better. Use feature block "
                        f"{best.block}.")

