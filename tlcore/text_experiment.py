"""From a text dataset and a TrainConfig to a trained TextClassifier with its evaluation."""
from __future__ import annotations

import time
from typing import Sequence

import torch

from .activations import take
from .backbones import create_backbone
from .backbones.classic_text import make_featurizer
from .classifier import TextClassifier
from .config import TrainConfig
from .data import TextDataset
from .experiment import TrainResult, _emit, fit_and_evaluate, prepare_run
from .features import ACTIVATION_CACHE, ActivationCache
from .freezing import apply_freeze
from .model import TransferModel, features_only
from .text_features import compute_text_activations, text_fingerprint
from .training import Callback, cached_views


def train_text_classifier(dataset: TextDataset, config: TrainConfig, *, val_dataset: TextDataset | None = None,
                          callbacks: Sequence[Callback] = (), cache: ActivationCache = ACTIVATION_CACHE) -> TrainResult:
    """Split, embed (frozen layers once, cached) or featurise, fit the head, evaluate."""
    started = time.perf_counter()
    train_set, train_idx, val_set, val_idx, info, device = prepare_run(dataset, val_dataset, config, "text")
    extra = {}

    if info.classic:
        featurizer = make_featurizer(config.backbone, config.word_vectors_file)
        timings = {"load_backbone": time.perf_counter() - started}
        t = time.perf_counter()
        _emit(callbacks, "Computing word features")(0, 1)
        train_texts = [train_set.examples[i].text for i in train_idx]
        featurizer.fit(train_texts)
        train_acts = featurizer.transform(train_texts)
        val_acts = featurizer.transform([val_set.examples[i].text for i in val_idx])
        model = TransferModel(features_only(featurizer.num_features), len(dataset.classes), config.head).to(device)
        boundary = apply_freeze(model, config.trainable_blocks)
    else:
        featurizer = None
        model = TransferModel(create_backbone(config.backbone), len(dataset.classes), config.head)
        boundary = apply_freeze(model, config.trainable_blocks)
        model.to(device)
        timings = {"load_backbone": time.perf_counter() - started}
        t = time.perf_counter()
        backbone = model.backbone

        def activations(texts: list[str]):
            """Token ids, then activations at the boundary, for a whole set (cached; rows taken later)."""
            key = text_fingerprint(texts)
            ids, mask, truncated = cache.get_or_compute(("tokens", key, config.backbone),
                                                        lambda: backbone.tokenize(texts))
            acts = cache.get_or_compute(
                ("activations", key, config.backbone, boundary),
                lambda: compute_text_activations(backbone, ids, mask, boundary, device=device,
                                                 progress=_emit(callbacks, "Running the frozen layers")),
            )
            return acts, int(truncated.sum())

        train_all, truncated = activations(train_set.texts)
        if val_set is train_set:
            val_all = train_all
        else:
            val_all, val_truncated = activations(val_set.texts)
            truncated += val_truncated
        train_acts, val_acts = take(train_all, torch.as_tensor(train_idx)), take(val_all, torch.as_tensor(val_idx))
        extra["truncated_texts"] = truncated
        extra["max_tokens"] = backbone.max_length
    timings["features"] = time.perf_counter() - t

    y_train = train_set.label_indices(dataset.classes)[train_idx]
    y_val = val_set.label_indices(dataset.classes)[val_idx]
    classifier = TextClassifier(model, list(dataset.classes), config.backbone, config.trainable_blocks, device,
                                config.head, featurizer)
    return fit_and_evaluate(
        classifier, boundary, config, train_batches=cached_views([train_acts]), train_acts=train_acts,
        y_train=y_train, val_acts=val_acts, y_val=y_val, val_examples=[val_set.examples[i] for i in val_idx],
        callbacks=callbacks, timings=timings, started=started, extra=extra,
    )
