"""What every use of a backbone on a dataset starts with: the split, the backbone and its adapter
fitted to the training examples, the model frozen at the chosen depth, and the frozen blocks' output
per dataset through the cache (shared by training runs, probes and learning curves)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..backbones import BackboneInfo, BlockBackbone, create_backbone, get_backbone_info
from ..core.config import TrainConfig
from ..core.device import autocast_dtype, resolve_device
from ..core.errors import ConfigError, DataError
from ..data import LabelledDataset, stratified_split
from ..engine.adapters import Adapter, adapter_for
from ..engine.cache import RunCache, TensorCache, default_cache
from ..engine.freezing import apply_freeze
from ..engine.frozen import frozen_pass
from ..engine.loop import Callback, predict_features
from ..engine.activations import take
from ..engine.model import TransferModel
from ..engine.reuse import FLIPPED_ACTIVATIONS, FROZEN_ACTIVATIONS, item_name


@dataclass
class Split:
    """Training and validation examples: rows of one dataset (a seeded split) or of two."""

    train_set: LabelledDataset
    train_rows: torch.Tensor
    val_set: LabelledDataset
    val_rows: torch.Tensor

    @classmethod
    def of(cls, dataset: LabelledDataset, val_dataset: LabelledDataset | None, config: TrainConfig) -> "Split":
        if val_dataset is None:
            train_idx, val_idx = stratified_split(dataset.labels, config.val_fraction, config.seed)
            return cls(dataset, torch.as_tensor(train_idx), dataset, torch.as_tensor(val_idx))
        unknown = sorted(set(val_dataset.classes) - set(dataset.classes))
        if unknown:
            raise DataError(f"The validation data has classes the training data lacks: {', '.join(unknown)}. "
                            "Use the same class folder names in both.")
        if not val_dataset.examples:
            raise DataError(f"The validation data has no usable {dataset.report.unit}s. Check the validation file.")
        return cls(dataset, torch.arange(len(dataset)), val_dataset, torch.arange(len(val_dataset)))

    def _part(self, which: str) -> tuple[LabelledDataset, torch.Tensor]:
        return (self.train_set, self.train_rows) if which == "train" else (self.val_set, self.val_rows)

    def examples(self, which: str) -> list:
        dataset, rows = self._part(which)
        return [dataset.examples[i] for i in rows.tolist()]

    def labels(self, which: str, classes: list[str]) -> np.ndarray:
        dataset, rows = self._part(which)
        return dataset.label_indices(classes)[rows.numpy()]


def emit(callbacks: Sequence[Callback], phase: str):
    def progress(done: int, total: int) -> None:
        for cb in callbacks:
            cb.on_phase(phase, done, total)
    return progress


@dataclass
class Prepared:
    """A dataset and a backbone ready to train or probe: see prepare."""

    info: BackboneInfo
    device: torch.device
    split: Split
    backbone: BlockBackbone
    adapter: Adapter
    classes: list[str]
    model: TransferModel
    boundary: int
    frozen: "Frozen"
    timings: dict


def prepare(dataset: LabelledDataset, config: TrainConfig, *, val_dataset: LabelledDataset | None = None,
            callbacks: Sequence[Callback] = (), cache: TensorCache | None = None) -> Prepared:
    """Check that the backbone reads this data, split it, build the backbone with its adapter (fitted on
    the training examples) and the model with config.trainable_blocks trainable."""
    started = time.perf_counter()
    dataset.require_trainable()
    info = get_backbone_info(config.backbone)
    modality = dataset.report.unit
    if info.modality != modality:
        raise ConfigError(f"{info.title} is a model for {info.modality}s. Pick a {modality} backbone for "
                          f"{modality}s (see the Model page or `python -m tlcore backbones`).")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)  # what the backbone's own layers draw (dropout inside fine-tuned blocks)
    split = Split.of(dataset, val_dataset, config)
    backbone = create_backbone(config.backbone, feature_block=config.feature_block)
    adapter = adapter_for(info, backbone, config)
    adapter.fit(backbone, split.examples("train"))
    classes = list(dataset.classes)
    model = TransferModel(backbone, len(classes), config.head, generator=torch.Generator().manual_seed(config.seed))
    boundary = apply_freeze(model, config.trainable_blocks)
    model.to(device)
    timings = {"load_backbone": time.perf_counter() - started, "inputs": 0.0}
    frozen = Frozen(adapter, model, boundary, device, RunCache(cache or default_cache()), split, callbacks, timings,
                    key=frozen_key(info, config.feature_block, boundary, device))
    return Prepared(info, device, split, backbone, adapter, classes, model, boundary, frozen, timings)


def frozen_key(info: BackboneInfo, feature_block: int | None, boundary: int, device: torch.device) -> tuple:
    """What names a backbone's frozen activations in the cache besides the data: weights, feature block
    (when not the last), boundary and precision."""
    cut = () if feature_block in (None, info.num_blocks) else (f"feature block {feature_block}",)
    return (info.name, info.weights_id, *cut, boundary, str(autocast_dtype(device)))


class Frozen:
    """A run's first-stage inputs and frozen activations per dataset, through the cache (each entry
    noted as reused or computed), timed and reported as phases."""

    def __init__(self, adapter: Adapter, model: TransferModel, boundary: int, device: torch.device, cache: RunCache,
                 split: Split, callbacks: Sequence[Callback], timings: dict, key: tuple):
        self.adapter, self.model, self.boundary, self.device = adapter, model, boundary, device
        self.cache, self.split, self.callbacks, self.timings, self.key = cache, split, callbacks, timings, key
        self._found: dict[tuple, object] = {}  # each dataset's inputs and activations, fetched once per run

    def _named(self, what: str, dataset: LabelledDataset) -> str:
        return item_name(what, dataset, train_set=self.split.train_set, val_set=self.split.val_set)

    def inputs(self, dataset: LabelledDataset):
        if ("inputs", id(dataset)) in self._found:
            return self._found["inputs", id(dataset)]
        t = time.perf_counter()
        value = self.adapter.inputs(dataset, self.cache, self._named(self.adapter.input_item, dataset),
                                    emit(self.callbacks, self.adapter.input_phase))
        if not self.adapter.cacheable:
            self.cache.computed.add(self.adapter.input_item)
        self.timings["inputs"] += time.perf_counter() - t
        self._found["inputs", id(dataset)] = value
        return value

    def activations(self, dataset: LabelledDataset, flip: bool = False):
        """The frozen blocks' output for a whole dataset, once per data, weights, boundary and precision."""
        def compute():
            return frozen_pass(self.model, self.adapter, self.inputs(dataset), self.boundary, device=self.device,
                               flip=flip, progress=emit(self.callbacks, "Running the frozen blocks"))

        found = ("activations", id(dataset), flip)
        if found not in self._found:
            if self.adapter.cacheable:
                what = self._named(FLIPPED_ACTIVATIONS if flip else FROZEN_ACTIVATIONS, dataset)
                self._found[found] = self.cache.fetch(self.activations_key(dataset, self.key, flip), compute, what)
            else:
                self._found[found] = compute()
        return self._found[found]

    def activations_key(self, dataset: LabelledDataset, key: tuple, flip: bool = False) -> tuple:
        """The cache key of a dataset's frozen activations under `key` (see frozen_key)."""
        return ("activations", dataset.content_hash, *key, *self.adapter.preprocessing.key(), flip)

    def pooled_train(self, views: list | None) -> list[torch.Tensor]:
        """The training examples' pooled features from the pretrained backbone (what stage 1 fits the
        head on): from their cached activations at the boundary (one per view), or, when those are not
        kept (augmenting trainable blocks), one pass over the plain inputs."""
        rows = self.split.train_rows
        if views is not None:
            return [predict_features(self.model, take(v, rows), self.boundary, device=self.device).float()
                    for v in views]
        inputs = take(self.inputs(self.split.train_set), rows)
        return [frozen_pass(self.model, self.adapter, inputs, len(self.model.backbone.stages), device=self.device,
                            progress=emit(self.callbacks, "Running the pretrained backbone once")).float()]
