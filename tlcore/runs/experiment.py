"""From a validated dataset and a TrainConfig to a trained classifier with its evaluation."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..engine.activations import load, take, to_device
from ..backbones import create_backbone, get_backbone_info
from ..engine.classifier import ImageClassifier, TextClassifier
from ..core.config import TrainConfig
from ..data import ImageDataset, LabelledDataset, stratified_split
from ..core.device import autocast_dtype, describe_device, resolve_device
from ..core.errors import ConfigError, DataError
from ..engine.cache import RunCache, TensorCache, default_cache
from ..backbones.preprocessing import load_pixels, normalize
from ..engine.features import augment as augment_batch, compute_activations
from ..data.duplicates import duplicates_across
from ..engine.freezing import apply_freeze, freeze_summary
from ..core.config import HEADS, SKLEARN_HEADS
from ..engine.heads import fit_sklearn_head
from ..insight.metrics import EvalReport, evaluate
from ..engine.model import TransferModel
from ..engine.reuse import DECODED_IMAGES, FLIPPED_ACTIVATIONS, FROZEN_ACTIVATIONS, item_name, reuse_facts
from ..engine.loop import (
    BatchSource, Callback, EarlyStopping, EpochLog, cached_views, fit, predict_features, predict_logits,
)


@dataclass
class TrainResult:
    """Everything the Evaluate page, the command line and a saved run need."""

    classifier: ImageClassifier | TextClassifier
    config: TrainConfig
    history: list[EpochLog]
    report: EvalReport
    val_proba: np.ndarray
    y_val: np.ndarray
    val_examples: list  # ImageExample or TextExample, aligned with val_proba
    n_train: int
    best_epoch: int
    device: str
    timings_s: dict[str, float]
    extra: dict = field(default_factory=dict)  # facts for metrics.json: reuse, truncated texts, duplicates, parameters
    val_features: dict[str, np.ndarray] = field(default_factory=dict)  # "pretrained" / "fine-tuned" embeddings

    @property
    def task(self) -> str:
        return self.classifier.task

    def metrics_dict(self) -> dict:
        """The metrics.json contract."""
        report = self.report.to_dict()
        return {
            "auc": report["auc"], "accuracy": report["accuracy"], "classes": report["classes"],
            "confusion_matrix": report["confusion_matrix"], "per_class": report["per_class"],
            "roc_curves": report["roc_curves"], "n_train": self.n_train, "n_val": report["n"],
            "best_epoch": self.best_epoch, "epochs_run": len(self.history), "device": self.device,
            "timings_s": self.timings_s, "head": self.config.head, **self.extra,
        }


def _emit(callbacks: Sequence[Callback], phase: str):
    def progress(done: int, total: int) -> None:
        for cb in callbacks:
            cb.on_phase(phase, done, total)
    return progress


def _files(dataset: ImageDataset) -> list[tuple[str, bytes]]:
    return [(e.name, e.data) for e in dataset.examples]


def _validation_set(dataset: LabelledDataset, val_dataset: LabelledDataset | None, config: TrainConfig):
    """(train dataset, train index, val dataset, val index): a seeded split, or the given set."""
    labels = dataset.labels
    if val_dataset is None:
        train_idx, val_idx = stratified_split(labels, config.val_fraction, config.seed)
        return dataset, train_idx, dataset, val_idx
    unknown = sorted(set(val_dataset.classes) - set(dataset.classes))
    if unknown:
        raise DataError(f"The validation data has classes the training data lacks: {', '.join(unknown)}. "
                        "Use the same class folder names in both.")
    if not val_dataset.examples:
        raise DataError(f"The validation data has no usable {dataset.report.unit}s. Check the validation file.")
    return dataset, np.arange(len(dataset)), val_dataset, np.arange(len(val_dataset))


def prepare_run(dataset: LabelledDataset, val_dataset: LabelledDataset | None, config: TrainConfig, modality: str):
    """Checks and set-up every task shares: trainable data, a backbone of the right modality, the
    validation set, the device and the seed. Returns (train set, train index, val set, val index,
    backbone info, device)."""
    dataset.require_trainable()
    info = get_backbone_info(config.backbone)
    if info.modality != modality:
        raise ConfigError(f"{info.title} is a model for {info.modality}s. Pick a {modality} backbone for "
                          f"{modality}s (see the Model page or `python -m tlcore backbones`).")
    torch.manual_seed(config.seed)
    return (*_validation_set(dataset, val_dataset, config), info, resolve_device(config.device))


def train_image_classifier(dataset: ImageDataset, config: TrainConfig, *, val_dataset: ImageDataset | None = None,
                           callbacks: Sequence[Callback] = (), cache: TensorCache | None = None,
                           reuse_frozen: bool = True) -> TrainResult:
    """Split, build the backbone, freeze, compute frozen activations once (or find them in the cache),
    fit, evaluate. reuse_frozen=False re-runs the frozen blocks on every batch instead: the plain
    loop, kept as the reference the cached path must match."""
    started = time.perf_counter()
    run_cache = RunCache(cache or default_cache())
    train_set, train_idx, val_set, val_idx, info, device = prepare_run(dataset, val_dataset, config, "image")
    prep = info.preprocessing
    model = TransferModel(create_backbone(config.backbone), len(dataset.classes), config.head)
    boundary = apply_freeze(model, config.trainable_blocks)
    model.to(device)
    timings = {"load_backbone": time.perf_counter() - started, "decode": 0.0}
    def pixels(s: ImageDataset):
        """Decoded once per dataset and input size (uint8; on disk beyond the memory budget)."""
        t = time.perf_counter()
        value = run_cache.fetch_rows(
            ("pixels", s.content_hash, prep.input_size, prep.resize_size), (len(s), 3, prep.input_size, prep.input_size),
            torch.uint8, lambda out: load_pixels(_files(s), prep, out=out, progress=_emit(callbacks, "Reading images")),
            named(DECODED_IMAGES, s))
        timings["decode"] += time.perf_counter() - t
        return value

    def named(what: str, s: ImageDataset) -> str:
        return item_name(what, s, train_set=train_set, val_set=val_set)

    def activations(s: ImageDataset, flip: bool = False):
        """The frozen blocks' output, once per dataset, weights, input size and boundary."""
        return run_cache.fetch(
            ("activations", s.content_hash, config.backbone, info.weights_id, prep.input_size, boundary, flip,
             str(autocast_dtype(device))),
            lambda: compute_activations(model, pixels(s), prep, boundary, device=device, flip=flip,
                                        progress=_emit(callbacks, "Running the frozen blocks")),
            named(FLIPPED_ACTIVATIONS if flip else FROZEN_ACTIVATIONS, s))

    t = time.perf_counter()
    train_rows, val_rows = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
    train_acts = None
    if reuse_frozen:
        val_acts = take(activations(val_set), val_rows)
    else:
        val_acts = compute_activations(model, take(pixels(val_set), val_rows), prep, boundary, device=device)
    frozen_every_batch = not reuse_frozen or (config.augment and config.trainable_blocks > 0)
    if frozen_every_batch:
        train_batches = _recomputed_batches(model, pixels(train_set), train_rows, prep, boundary, device,
                                            augment=config.augment)
    else:
        views = [activations(train_set)]
        if config.augment:  # frozen backbone: a flipped copy of each image is the augmentation
            views.append(activations(train_set, flip=True))
        train_batches = cached_views(views, train_rows)
        if config.head in SKLEARN_HEADS:
            train_acts = take(views[0], train_rows)
    timings["features"] = time.perf_counter() - t

    y_train = train_set.label_indices(dataset.classes)[train_idx]
    y_val = val_set.label_indices(dataset.classes)[val_idx]
    classifier = ImageClassifier(model, list(dataset.classes), prep, config.backbone, config.trainable_blocks,
                                 device, config.head)
    return fit_and_evaluate(
        classifier, boundary, config, train_batches=train_batches, train_acts=train_acts, y_train=y_train,
        val_acts=val_acts, y_val=y_val, train_examples=[train_set.examples[i] for i in train_idx],
        val_examples=[val_set.examples[i] for i in val_idx], callbacks=callbacks,
        timings=timings, started=started,
        extra=reuse_facts(run_cache.reused, run_cache.computed, frozen_every_batch=frozen_every_batch),
    )


def fit_and_evaluate(classifier: ImageClassifier | TextClassifier, boundary: int, config: TrainConfig, *,
                     train_batches: BatchSource, train_acts, y_train: np.ndarray, val_acts, y_val: np.ndarray,
                     train_examples: list, val_examples: list, callbacks: Sequence[Callback],
                     timings: dict[str, float], started: float, extra: dict | None = None) -> TrainResult:
    """The part every task shares: train the classifier's head (fit loop, or scikit-learn on frozen
    features), then score the validation set. The validation embeddings are kept from before and
    after training (the same when the backbone is frozen), for the embedding map."""
    model, classes, device = classifier.model, classifier.classes, classifier.device
    pretrained = predict_features(model, val_acts, boundary, device=device).numpy()
    t = time.perf_counter()
    history, best_epoch = [], 0
    if config.head in SKLEARN_HEADS:
        _emit(callbacks, f"Fitting the {HEADS[config.head].split(' (')[0].lower()}")(0, 1)
        features = load(train_acts).float().numpy()
        model.head = fit_sklearn_head(config.head, features, y_train, len(classes), config.seed).to(device)
    else:
        all_callbacks = list(callbacks)
        stopper = EarlyStopping(config.early_stopping_patience) if config.early_stopping_patience else None
        if stopper:
            all_callbacks.append(stopper)
        trainer = fit(model, boundary=boundary, train_batches=train_batches, y_train=y_train,
                      val_activations=val_acts, y_val=y_val, epochs=config.epochs,
                      learning_rate=config.learning_rate, batch_size=config.batch_size, device=device,
                      seed=config.seed, callbacks=all_callbacks)
        history = trainer.history
        best_epoch = stopper.best_epoch if stopper else len(history)
        if trainer.batch_size < config.batch_size:
            extra = {**(extra or {}), "batch_size_used": trainer.batch_size}
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    proba = torch.softmax(predict_logits(model, val_acts, boundary, device=device), dim=1).numpy()
    report = evaluate(y_val, proba, classes=classes)
    fine_tuned = pretrained if config.trainable_blocks == 0 else predict_features(model, val_acts, boundary,
                                                                                  device=device).numpy()
    params = freeze_summary(model, config.trainable_blocks)
    extra = {**(extra or {}), "train_counts": np.bincount(y_train, minlength=len(classes)).tolist(),
             "duplicates": duplicates_across(train_examples, val_examples),
             "trainable_params": params.trainable_params, "total_params": params.trainable_params + params.frozen_params}
    timings["evaluate"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    return TrainResult(
        classifier=classifier, config=config, history=history, report=report, val_proba=proba,
        y_val=y_val, val_examples=val_examples, n_train=len(y_train), best_epoch=best_epoch,
        device=describe_device(device), timings_s={k: round(v, 3) for k, v in timings.items()},
        extra=extra, val_features={"pretrained": pretrained, "fine-tuned": fine_tuned},
    )


def _recomputed_batches(model: TransferModel, pixels, rows: torch.Tensor, prep, boundary: int,
                        device: torch.device, *, augment: bool) -> BatchSource:
    """Run the frozen prefix (without autograd) on every batch, on augmented pixels when asked."""

    def batch(index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = normalize(to_device(take(pixels, rows[index]), device), prep)
        if augment:
            x = augment_batch(x, generator)
        with torch.no_grad():
            return model.backbone.run(x, 0, boundary)

    return batch
