"""From a text dataset and a TrainConfig to a trained TextClassifier with its evaluation."""
from __future__ import annotations

import time
from typing import Sequence

import torch

from ..engine.activations import load, take, to_device
from ..backbones import create_backbone
from ..backbones.classic_text import make_featurizer
from ..engine.classifier import TextClassifier
from ..core.config import TrainConfig
from ..data import TextDataset
from ..core.device import autocast_dtype
from .experiment import TrainResult, _emit, fit_and_evaluate, prepare_run
from ..backbones.sentence_transformers import TextBackbone
from ..engine.cache import RunCache, TensorCache, default_cache
from ..core.config import SKLEARN_HEADS
from ..engine.freezing import apply_freeze
from ..engine.model import TransferModel, features_only
from ..engine.reuse import FROZEN_ACTIVATIONS, NO_BLOCKS, TOKEN_IDS, WORD_FEATURES, item_name, reuse_facts
from ..engine.text_features import compute_text_activations
from ..engine.loop import BatchSource, Callback, cached_views


def train_text_classifier(dataset: TextDataset, config: TrainConfig, *, val_dataset: TextDataset | None = None,
                          callbacks: Sequence[Callback] = (), cache: TensorCache | None = None,
                          reuse_frozen: bool = True) -> TrainResult:
    """Split, embed (token ids and frozen blocks once, cached) or featurise, fit the head, evaluate.
    reuse_frozen=False re-runs the frozen blocks on every batch (the reference for the cached path)."""
    started = time.perf_counter()
    run_cache = RunCache(cache or default_cache())
    train_set, train_idx, val_set, val_idx, info, device = prepare_run(dataset, val_dataset, config, "text")
    train_rows, val_rows = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
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
        train_batches = cached_views([train_acts])
        extra.update(reused=[], computed=[WORD_FEATURES], frozen_blocks_ran=NO_BLOCKS)
    else:
        featurizer = None
        model = TransferModel(create_backbone(config.backbone), len(dataset.classes), config.head)
        boundary = apply_freeze(model, config.trainable_blocks)
        model.to(device)
        timings = {"load_backbone": time.perf_counter() - started}
        t = time.perf_counter()
        backbone = model.backbone

        def named(what: str, s: TextDataset) -> str:
            return item_name(what, s, train_set=train_set, val_set=val_set)

        def tokens(s: TextDataset):
            """(ids, mask, truncated) once per text set and backbone."""
            key = ("tokens", s.content_hash, config.backbone, info.weights_id)
            return run_cache.fetch(key, lambda: backbone.tokenize(s.texts), named(TOKEN_IDS, s))

        def activations(s: TextDataset):
            """The frozen blocks' output for a whole set, once per boundary."""
            ids, mask, _ = tokens(s)
            key = ("activations", s.content_hash, config.backbone, info.weights_id, boundary,
                   str(autocast_dtype(device)))
            return run_cache.fetch(key, lambda: compute_text_activations(
                backbone, ids, mask, boundary, device=device, progress=_emit(callbacks, "Running the frozen blocks")),
                named(FROZEN_ACTIVATIONS, s))

        train_acts = None
        if reuse_frozen:
            val_acts = take(activations(val_set), val_rows)
            train_all = activations(train_set)
            train_batches = cached_views([train_all], train_rows)
            if config.head in SKLEARN_HEADS:
                train_acts = take(train_all, train_rows)
        else:
            ids, mask, _ = tokens(val_set)
            val_acts = compute_text_activations(backbone, ids[val_rows], mask[val_rows], boundary, device=device)
            train_batches = _recomputed_batches(backbone, tokens(train_set), train_rows, boundary, device)
        truncated = int(load(tokens(train_set)[2]).sum())
        if val_set is not train_set:
            truncated += int(load(tokens(val_set)[2]).sum())
        extra.update(truncated_texts=truncated, max_tokens=backbone.max_length,
                     **reuse_facts(run_cache.reused, run_cache.computed, frozen_every_batch=not reuse_frozen))
    timings["features"] = time.perf_counter() - t

    y_train = train_set.label_indices(dataset.classes)[train_idx]
    y_val = val_set.label_indices(dataset.classes)[val_idx]
    classifier = TextClassifier(model, list(dataset.classes), config.backbone, config.trainable_blocks, device,
                                config.head, featurizer)
    return fit_and_evaluate(
        classifier, boundary, config, train_batches=train_batches, train_acts=train_acts,
        y_train=y_train, val_acts=val_acts, y_val=y_val, train_examples=[train_set.examples[i] for i in train_idx],
        val_examples=[val_set.examples[i] for i in val_idx],
        callbacks=callbacks, timings=timings, started=started, extra=extra,
    )


def _recomputed_batches(backbone: TextBackbone, tokens, rows: torch.Tensor, boundary: int,
                        device: torch.device) -> BatchSource:
    """Run the frozen blocks (without autograd) on every batch of token ids."""
    ids, mask, _ = tokens

    def batch(index: torch.Tensor, generator: torch.Generator):
        chosen = rows[index]
        x = to_device((ids[chosen], mask[chosen]), device)
        with torch.no_grad():
            return backbone.run(x, 0, boundary)

    return batch
