"""The one training path, for every task: split, build the backbone and its adapter, freeze, get the
frozen blocks' output once (or from the cache), fit the head, score the validation set: a Run."""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from ..core.config import HEADS, SKLEARN_HEADS, TrainConfig
from ..core.device import describe_device
from ..data import LabelledDataset
from ..data.duplicates import duplicates_across
from ..engine.activations import load, take
from ..engine.cache import TensorCache
from ..engine.classifier import Classifier
from ..engine.distributed import gather_shards
from ..engine.freezing import freeze_summary
from ..engine.frozen import frozen_pass, recomputed_batches
from ..engine.heads import fit_sklearn_head
from ..engine.loop import Callback, cached_views, emit, predict_features, predict_logits
from ..engine.reuse import Reuse
from ..engine.stages import Stages, train_stages
from .place import PLACE
from .prepared import prepare
from .run import Run, RunFacts


def train(dataset: LabelledDataset, config: TrainConfig, *, val_dataset: LabelledDataset | None = None,
          callbacks: Sequence[Callback] = (), cache: TensorCache | None = None, reuse_frozen: bool = True,
          shard: tuple[int, int] | None = None) -> Run:
    """Train a classifier on images or texts (whichever the backbone reads) and score it. With
    reuse_frozen=False the frozen blocks run again on every batch: the plain loop, kept as the reference
    that the cached path must match. The same seed gives the same run, whatever else runs meanwhile.
    With `shard` (rank, workers), this process is one worker of a data-parallel fine-tune (see
    tlcore.runs.data_parallel): its frozen pass and its fine-tuning steps cover its share alone."""
    started = time.perf_counter()
    parts = prepare(dataset, config, val_dataset=val_dataset, callbacks=callbacks, cache=cache, shard=shard)
    info, device, split, adapter = parts.info, parts.device, parts.split, parts.adapter
    classes, model, boundary, frozen, timings = parts.classes, parts.model, parts.boundary, parts.frozen, parts.timings
    modality = dataset.report.unit

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
    pretrained = predict_features(model, val_acts, boundary, device=device)
    t = time.perf_counter()
    stages = Stages()
    if config.head in SKLEARN_HEADS:
        emit(callbacks, f"Fitting the {HEADS[config.head].split(' (')[0].lower()}")(0, 1)
        features = load(train_acts).float().numpy()
        model.head = fit_sklearn_head(config.head, features, y_train, len(classes), config.seed).to(device)
    else:
        head_views = None  # stage 1's training features; None: a one-stage fine-tune
        if config.trainable_blocks == 0 and not every_batch:
            head_views = [load(take(v, split.train_rows)).float() for v in views]
        elif config.trainable_blocks == 0 or config.two_stage:
            head_views = frozen.pooled_train(None if every_batch else views)
        head_labels = None
        if shard is not None:  # every worker fits the same head on everyone's examples; then they fine-tune
            total = len(split.whole.train_rows)
            if head_views is not None:
                head_views = [gather_shards(v, total) for v in head_views]
            head_labels = gather_shards(torch.as_tensor(y_train), total).numpy()
        stages = train_stages(model, config, boundary=boundary, train_batches=train_batches, head_views=head_views,
                              val_activations=val_acts, val_features=pretrained, y_train=y_train, y_val=y_val,
                              device=device, head_labels=head_labels, distributed=shard is not None,
                              callbacks=callbacks)
    timings["train"] = time.perf_counter() - t
    pretrained = pretrained.numpy()

    t = time.perf_counter()
    proba = torch.softmax(predict_logits(model, val_acts, boundary, device=device), dim=1).numpy()
    fine_tuned = pretrained if config.trainable_blocks == 0 else predict_features(model, val_acts, boundary,
                                                                                  device=device).numpy()
    params = freeze_summary(model, config.trainable_blocks)
    timings["evaluate"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    val_examples = split.examples("val")
    whole = split.whole or split  # a worker's run tells of all of them
    y_all = whole.labels("train", classes)
    cluster = PLACE.get()
    if shard is not None:
        cluster = {**(cluster or {}), "train_per_worker": [len(whole.train_rows[r::shard[1]]) for r in range(shard[1])]}
    facts = RunFacts(
        n_train=len(y_all), best_epoch=stages.best_epoch, epochs_run=len(stages.history),
        device=describe_device(device), stages=stages.stages,
        timings_s={k: round(v, 3) for k, v in timings.items()},
        reuse=Reuse.of(frozen.cache.reused, frozen.cache.computed, frozen_every_batch=every_batch,
                       has_blocks=info.num_blocks > 0),
        train_counts=np.bincount(y_all, minlength=len(classes)).tolist(),
        duplicates=duplicates_across(whole.examples("train"), val_examples),
        trainable_params=params.trainable_params, total_params=params.trainable_params + params.frozen_params,
        batch_size_used=stages.batch_size_used, cluster=cluster, **adapter.facts())
    classifier = Classifier(model.eval(), classes, adapter, backbone=config.backbone,
                            trainable_blocks=config.trainable_blocks, head=config.head,
                            feature_block=config.feature_block, device=device)
    return Run(
        task=modality, classes=classes, config=config, history=stages.history, facts=facts, y_val=y_val,
        val_proba=proba, val_names=[e.name for e in val_examples],
        val_texts=None if modality == "image" else [e.text for e in val_examples],
        features={"pretrained": pretrained, "fine-tuned": fine_tuned},
        load_pixels=(lambda: load(take(frozen.inputs(split.val_set), split.val_rows))) if modality == "image"
        else None,
        load_classifier=lambda: classifier)


