"""A probe: a backbone's pretrained pooled features of the training and validation examples (from the
cache when a run at 0 trainable blocks computed them before), and a linear layer fitted on them, scored
with a bootstrap interval. What the recommendation and the learning curve measure with."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..core.config import TrainConfig
from ..core.errors import DataError
from ..data import LabelledDataset
from ..engine.activations import load, take
from ..engine.cache import TensorCache
from ..engine.linear_fit import fit_linear
from ..engine.loop import Callback
from ..insight.metrics import bootstrap_intervals, roc_auc
from .prepared import Prepared, prepare


@dataclass
class ProbeData:
    """Pooled features [n, features] and class indices of the training and validation examples."""

    parts: Prepared
    x_train: torch.Tensor
    y_train: np.ndarray
    x_val: torch.Tensor
    y_val: np.ndarray
    seconds: float  # to get the features (reading, running the backbone or finding them in the cache)

    @property
    def classes(self) -> list[str]:
        return self.parts.classes


def probe_data(dataset: LabelledDataset, config: TrainConfig, *, val_dataset: LabelledDataset | None = None,
               callbacks: Sequence[Callback] = (), cache: TensorCache | None = None) -> ProbeData:
    """The features a run at 0 trainable blocks with these settings trains on (the same cache entries)."""
    started = time.perf_counter()
    parts = prepare(dataset, TrainConfig(**{**config.to_dict(), "trainable_blocks": 0, "head": "linear"}),
                    val_dataset=val_dataset, callbacks=callbacks, cache=cache)
    split, frozen = parts.split, parts.frozen
    x_train = load(take(frozen.activations(split.train_set), split.train_rows)).float()
    x_val = load(take(frozen.activations(split.val_set), split.val_rows)).float()
    y_val = split.labels("val", parts.classes)
    check_every_class(y_val, parts.classes)
    return ProbeData(parts, x_train, split.labels("train", parts.classes), x_val, y_val, time.perf_counter() - started)


def check_every_class(y_val: np.ndarray, classes: list[str]) -> None:
    """AUC needs validation examples of every class: a sentence naming those without any."""
    missing = [c for i, c in enumerate(classes) if i not in set(y_val.tolist())]
    if missing:
        raise DataError(f"The validation data has no examples of {', '.join(missing)}, so AUC cannot be measured. "
                        "Add some to the validation data, or leave it out to split the training data.")


@dataclass(frozen=True)
class Score:
    """A validation AUC with its 95 % bootstrap interval (None where undefined)."""

    auc: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, y_val: np.ndarray, proba: np.ndarray) -> "Score":
        interval = bootstrap_intervals(y_val, proba)["auc"]
        auc = roc_auc(y_val, proba, proba.shape[1])
        return cls(auc, interval.low if interval else None, interval.high if interval else None)

    def overlaps(self, other: "Score") -> bool:
        if None in (self.low, self.high, other.low, other.high):
            return True
        return self.low <= other.high and other.low <= self.high


def linear_probe(x_train: torch.Tensor, y_train: np.ndarray, x_val: torch.Tensor, num_classes: int, *,
                 seed: int, device: torch.device) -> np.ndarray:
    """Validation probabilities of the linear layer fitted (as a run's default head) on x_train."""
    return fit_linear([x_train], y_train, num_classes, seed=seed, device=device).proba(x_val)
