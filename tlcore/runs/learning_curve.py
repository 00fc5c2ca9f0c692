"""How much data do I need? Validation AUC against the number of training examples per class, for the
chosen backbone (a linear head on its frozen features: the backbone runs once, every subset reuses its
features) and for a baseline without pretrained knowledge on the same subsets (TF-IDF word counts for
texts, the pixels themselves for images), a sentence on what doubling the data would likely buy, from a
curve fitted to the points, and for texts the point at zero examples: each text given the class whose
name it is most similar to, by the pretrained sentence model, with no training at all."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..core.config import TrainConfig
from ..data import LabelledDataset
from ..engine.activations import load, take
from ..engine.cache import TensorCache
from ..engine.frozen import frozen_pass
from ..engine.linear_fit import fit_linear_many
from ..engine.loop import Callback, emit
from ..insight.metrics import bootstrap_aucs, percentile_interval, roc_auc
from .probe import ProbeData, probe_data

SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
RESAMPLES = 1000
PIXELS_SIDE = 16  # the image baseline: each image shrunk to 16 x 16 colour pixels
ZERO_SHOT_TEMPERATURE = 0.05  # cosine similarities to class names, sharpened into probabilities
TEXT_BASELINE = "tfidf"


def draws(per_class: int) -> int:
    """Subsets drawn per size: a few examples make a lucky or unlucky draw likely, so average several."""
    return 5 if per_class < 10 else 3 if per_class < 50 else 1


@dataclass
class Point:
    per_class: int
    auc: float | None
    auc_low: float | None
    auc_high: float | None
    method: str  # "transfer" or "baseline"


@dataclass
class LearningCurve:
    backbone: str
    baseline: str  # in words
    points: list[Point]
    advice: str
    zero_shot: dict | None = None  # texts: {"auc": ...}
    feature_block: int | None = None  # images: the block whose features the transfer points use (None: the last)

    def to_dict(self) -> dict:
        data = {"backbone": self.backbone, "feature_block": self.feature_block, "baseline": self.baseline,
                "points": [asdict(p) for p in self.points], "advice": self.advice}
        if self.zero_shot is not None:
            data["zero_shot"] = self.zero_shot
        return data


def subset(y: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of up to `per_class` training examples of each class, drawn at random."""
    return np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)])


def _curve(method: str, x_train: torch.Tensor, y_train: np.ndarray, x_val: torch.Tensor, y_val: np.ndarray,
           sizes: Sequence[int], num_classes: int, *, seed: int, device, progress) -> list[Point]:
    """One point per size: the draws of a size are fitted together, on only the rows they use."""
    points = []
    for i, k in enumerate(sizes):
        subsets = [subset(y_train, k, np.random.default_rng([seed, k, d])) for d in range(draws(k))]
        used = np.unique(np.concatenate(subsets))
        fits = fit_linear_many([x_train[used]], y_train[used], [np.searchsorted(used, rows) for rows in subsets],
                               num_classes, seed=seed, device=device)
        aucs, resampled = [], []
        for d, fit in enumerate(fits):
            proba = fit.proba(x_val)
            aucs.append(roc_auc(y_val, proba, num_classes))
            resampled.append(bootstrap_aucs(y_val, proba, n_resamples=RESAMPLES, seed=d))
        interval = percentile_interval(np.concatenate(resampled), RESAMPLES * len(resampled))
        defined = [a for a in aucs if a is not None]
        points.append(Point(k, float(np.mean(defined)) if defined else None, interval.low if interval else None,
                            interval.high if interval else None, method))
        progress(i + 1, len(sizes))
    return points


def _pixels(data: ProbeData) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image as the model saw it (resized and cropped), shrunk to a few colour pixels: the baseline's features."""
    split, frozen = data.parts.split, data.parts.frozen

    def shrink(dataset, rows) -> torch.Tensor:
        pixels = take(frozen.inputs(dataset), rows)
        chunks = [F.adaptive_avg_pool2d(load(pixels[i:i + 256]).float() / 255, PIXELS_SIDE).flatten(1)
                  for i in range(0, len(rows), 256)]
        return torch.cat(chunks)

    return shrink(split.train_set, split.train_rows), shrink(split.val_set, split.val_rows)


def zero_shot_auc(data: ProbeData) -> float | None:
    """Texts: validation AUC of giving each text the class whose name its embedding is closest to."""
    parts = data.parts
    names = parts.adapter.encode(parts.classes)
    with torch.no_grad():
        classes = frozen_pass(parts.model, parts.adapter, names, len(parts.model.backbone.stages), device=parts.device)
    similarity = F.normalize(data.x_val, dim=1) @ F.normalize(classes.float(), dim=1).T
    proba = torch.softmax(similarity / ZERO_SHOT_TEMPERATURE, 1).numpy()
    return roc_auc(data.y_val, proba, len(parts.classes))


def advice(points: list[Point], baseline: list[Point]) -> str:
    """What the curve says: what doubling the data would likely buy (from 1 - AUC fitted as a power of
    the examples per class), and what transfer adds at the fewest examples."""
    known = [p for p in points if p.auc is not None]
    last = known[-1]
    sentences = []
    fitted = [p for p in known if p.per_class >= 2 and p.auc < 1]
    slope, offset = 0.0, 0.0
    if len(fitted) >= 2:
        slope, offset = np.polyfit(np.log([p.per_class for p in fitted]), np.log([1 - p.auc for p in fitted]), 1)
    doubled = 1 - np.exp(offset + slope * np.log(2 * last.per_class)) if slope < -0.02 else last.auc
    if last.auc >= 0.999 or (slope < -0.02 and doubled - last.auc < 0.002):
        sentences.append(f"At {last.per_class:,} examples per class the validation AUC is already {last.auc:.3f}: "
                         "more examples of the same kind have little left to add.")
    elif slope < -0.02:
        sentences.append(f"Doubling to about {2 * last.per_class:,} examples per class would likely raise the "
                         f"validation AUC from {last.auc:.3f} to about {doubled:.3f}, judging by a curve fitted to "
                         "these points.")
    elif len(fitted) >= 2:
        sentences.append("The curve has flattened: more examples like these are unlikely to raise the AUC much; "
                         "different or harder examples, or fine-tuning, may.")
    first = known[0]
    base = next((b for b in baseline if b.per_class == first.per_class and b.auc is not None), None)
    if base is not None:
        sentences.append(f"With {first.per_class} example{'s' if first.per_class > 1 else ''} per class, transfer "
                         f"scores {first.auc:.3f} against {base.auc:.3f} without pretrained knowledge"
                         + (" (here the raw data does better than the pretrained features: a sign that it looks "
                            "unlike what the backbone learnt from)." if base.auc > first.auc else "."))
    return " ".join(sentences)


def learning_curve(dataset: LabelledDataset, config: TrainConfig, *, val_dataset: LabelledDataset | None = None,
                   sizes: Sequence[int] = SIZES, callbacks: Sequence[Callback] = (),
                   cache: TensorCache | None = None) -> LearningCurve:
    """The curve for config.backbone on the same split (config's seed) as a run with these settings."""
    data = probe_data(dataset, config, val_dataset=val_dataset, callbacks=callbacks, cache=cache)
    counts = np.bincount(data.y_train, minlength=len(data.classes))
    sizes = [k for k in sizes if k < counts.min()] + [int(counts.min())]  # the last: all of the smallest class
    k = len(data.classes)
    transfer = _curve("transfer", data.x_train, data.y_train, data.x_val, data.y_val, sizes, k, seed=config.seed,
                      device=data.parts.device, progress=emit(callbacks, f"Learning curve of {data.parts.info.title}"))
    zero_shot = None
    if data.parts.info.classic:  # word counts against themselves would teach nothing
        return LearningCurve(data.parts.info.name, "none (this is a classic method)", transfer,
                             advice(transfer, []), None)
    if data.parts.adapter.modality == "text":
        base = probe_data(dataset, replace(config, backbone=TEXT_BASELINE), val_dataset=val_dataset,
                          callbacks=callbacks, cache=cache)
        base_train, base_val, baseline_name = base.x_train, base.x_val, "TF-IDF word counts"
        if not data.parts.info.classic:
            zero_shot = {"auc": zero_shot_auc(data)}
    else:
        (base_train, base_val), baseline_name = _pixels(data), f"the pixels ({PIXELS_SIDE} x {PIXELS_SIDE})"
    baseline = _curve("baseline", base_train, data.y_train, base_val, data.y_val, sizes, k, seed=config.seed,
                      device=data.parts.device, progress=emit(callbacks, f"Learning curve of {baseline_name}"))
    return LearningCurve(data.parts.info.name, baseline_name, transfer + baseline, advice(transfer, baseline),
                         zero_shot, config.feature_block)
