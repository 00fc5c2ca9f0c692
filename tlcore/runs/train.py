"""The one training path, for every task: split, build the backbone and its adapter, freeze, get the
frozen blocks' output once (or from the cache), fit the head, score the validation set: a Run."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..backbones import create_backbone, get_backbone_info
from ..core.config import HEADS, SKLEARN_HEADS, TrainConfig
from ..core.device import autocast_dtype, describe_device, resolve_device
from ..core.errors import ConfigError, DataError
from ..data import LabelledDataset, stratified_split
from ..data.duplicates import duplicates_across
from ..engine.activations import load, take
from ..engine.adapters import Adapter, adapter_for
from ..engine.cache import RunCache, TensorCache, default_cache
from ..engine.classifier import Classifier
from ..engine.freezing import apply_freeze, freeze_summary
from ..engine.frozen import frozen_pass, recomputed_batches
from ..engine.heads import fit_sklearn_head
from ..engine.loop import Callback, EarlyStopping, cached_views, fit, predict_features, predict_logits
from ..engine.model import TransferModel
from ..engine.reuse import FLIPPED_ACTIVATIONS, FROZEN_ACTIVATIONS, Reuse, item_name
from .run import Run, RunFacts


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


def _emit(callbacks: Sequence[Callback], phase: str):
    def progress(done: int, total: int) -> None:
        for cb in callbacks:
            cb.on_phase(phase, done, total)
    return progress


def train(dataset: LabelledDataset, config: TrainConfig, *, val_dataset: LabelledDataset | None = None,
          callbacks: Sequence[Callback] = (), cache: TensorCache | None = None, reuse_frozen: bool = True) -> Run:
    """Train a classifier on images or texts (whichever the backbone reads) and score it. With
    reuse_frozen=False the frozen blocks run again on every batch: the plain loop, kept as the reference
    that the cached path must match. The same seed gives the same run, whatever else runs meanwhile."""
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
    backbone = create_backbone(config.backbone)
    adapter = adapter_for(info, backbone, config)
    adapter.fit(backbone, split.examples("train"))
    classes = list(dataset.classes)
    model = TransferModel(backbone, len(classes), config.head, generator=torch.Generator().manual_seed(config.seed))
    boundary = apply_freeze(model, config.trainable_blocks)
    model.to(device)
    timings = {"load_backbone": time.perf_counter() - started, "inputs": 0.0}
    frozen = _Frozen(adapter, model, boundary, device, RunCache(cache or default_cache()), split, callbacks, timings,
                     key=(config.backbone, info.weights_id, boundary, str(autocast_dtype(device))))

    t = time.perf_counter()
    augment = config.augment and adapter.augments
    every_batch = not reuse_frozen or (augment and config.trainable_blocks > 0)
    if reuse_frozen:
        val_acts = take(frozen.activations(split.val_set), split.val_rows)
    else:
        val_acts = frozen_pass(model, adapter, take(frozen.inputs(split.val_set), split.val_rows), boundary,
                               device=device)
    train_acts = None
    if every_batch:
        train_batches = recomputed_batches(model, adapter, frozen.inputs(split.train_set), split.train_rows, boundary,
                                           device, augment=augment)
    else:
        views = [frozen.activations(split.train_set)]
        if augment:  # frozen backbone: a mirror image of each example is the augmentation
            views.append(frozen.activations(split.train_set, flip=True))
        train_batches = cached_views(views, split.train_rows)
        if config.head in SKLEARN_HEADS:
            train_acts = take(views[0], split.train_rows)
    if adapter.facts_need_inputs:
        for dataset_part in (split.train_set, split.val_set):
            frozen.inputs(dataset_part)
    timings["features"] = time.perf_counter() - t

    y_train, y_val = split.labels("train", classes), split.labels("val", classes)
    pretrained = predict_features(model, val_acts, boundary, device=device).numpy()
    t = time.perf_counter()
    history, best_epoch, batch_size_used = [], 0, None
    if config.head in SKLEARN_HEADS:
        _emit(callbacks, f"Fitting the {HEADS[config.head].split(' (')[0].lower()}")(0, 1)
        features = load(train_acts).float().numpy()
        model.head = fit_sklearn_head(config.head, features, y_train, len(classes), config.seed).to(device)
    else:
        stopper = EarlyStopping(config.early_stopping_patience) if config.early_stopping_patience else None
        trainer = fit(model, boundary=boundary, train_batches=train_batches, y_train=y_train, val_activations=val_acts,
                      y_val=y_val, epochs=config.epochs, learning_rate=config.learning_rate,
                      batch_size=config.batch_size, device=device, seed=config.seed,
                      callbacks=[*callbacks, *([stopper] if stopper else [])])
        history = trainer.history
        best_epoch = stopper.best_epoch if stopper else len(history)
        batch_size_used = trainer.batch_size if trainer.batch_size < config.batch_size else None
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    proba = torch.softmax(predict_logits(model, val_acts, boundary, device=device), dim=1).numpy()
    fine_tuned = pretrained if config.trainable_blocks == 0 else predict_features(model, val_acts, boundary,
                                                                                  device=device).numpy()
    params = freeze_summary(model, config.trainable_blocks)
    timings["evaluate"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    val_examples = split.examples("val")
    facts = RunFacts(
        n_train=len(y_train), best_epoch=best_epoch, epochs_run=len(history), device=describe_device(device),
        timings_s={k: round(v, 3) for k, v in timings.items()},
        reuse=Reuse.of(frozen.cache.reused, frozen.cache.computed, frozen_every_batch=every_batch,
                       has_blocks=info.num_blocks > 0),
        train_counts=np.bincount(y_train, minlength=len(classes)).tolist(),
        duplicates=duplicates_across(split.examples("train"), val_examples),
        trainable_params=params.trainable_params, total_params=params.trainable_params + params.frozen_params,
        batch_size_used=batch_size_used, **adapter.facts())
    classifier = Classifier(model.eval(), classes, adapter, backbone=config.backbone,
                            trainable_blocks=config.trainable_blocks, head=config.head, device=device)
    return Run(
        task=modality, classes=classes, config=config, history=history, facts=facts, y_val=y_val, val_proba=proba,
        val_names=[e.name for e in val_examples], val_texts=None if modality == "image" else [e.text for e in val_examples],
        features={"pretrained": pretrained, "fine-tuned": fine_tuned},
        load_pixels=(lambda: load(take(frozen.inputs(split.val_set), split.val_rows))) if modality == "image"
        else None,
        load_classifier=lambda: classifier)


class _Frozen:
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
                                    _emit(self.callbacks, self.adapter.input_phase))
        if not self.adapter.cacheable:
            self.cache.computed.add(self.adapter.input_item)
        self.timings["inputs"] += time.perf_counter() - t
        self._found["inputs", id(dataset)] = value
        return value

    def activations(self, dataset: LabelledDataset, flip: bool = False):
        """The frozen blocks' output for a whole dataset, once per data, weights, boundary and precision."""
        def compute():
            return frozen_pass(self.model, self.adapter, self.inputs(dataset), self.boundary, device=self.device,
                               flip=flip, progress=_emit(self.callbacks, "Running the frozen blocks"))

        found = ("activations", id(dataset), flip)
        if found not in self._found:
            if self.adapter.cacheable:
                key = ("activations", dataset.content_hash, *self.key, *self.adapter.preprocessing.key(), flip)
                what = self._named(FLIPPED_ACTIVATIONS if flip else FROZEN_ACTIVATIONS, dataset)
                self._found[found] = self.cache.fetch(key, compute, what)
            else:
                self._found[found] = compute()
        return self._found[found]
