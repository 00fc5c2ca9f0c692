"""What every use of a backbone on a dataset starts with: the split, the backbone and its adapter
fitted to the training examples, the model frozen at the chosen depth, and the frozen blocks' output
per dataset through the cache (shared by training runs, probes and learning curves)."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
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
from ..engine.frozen import frozen_pass, pooled_blocks
from ..engine.loop import Callback, emit, predict_features
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
    whole: "Split | None" = None  # a worker's shard (see shard): the split it is part of

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

    def shard(self, rank: int, workers: int) -> "Split":
        """Worker `rank`'s part of a data-parallel run: every `workers`-th training example from the rank-th
        on, the list first padded with its own beginning to a multiple of `workers` (as PyTorch's
        DistributedSampler does: every worker then takes as many steps), as a dataset of its own so its
        frozen pass runs over those alone; and all the validation examples."""
        def own(dataset: LabelledDataset, rows: torch.Tensor) -> LabelledDataset:
            return replace(dataset, examples=[dataset.examples[i] for i in rows.tolist()])

        count = len(self.train_rows)
        size = -(-count // workers) * workers  # rounded up to a multiple of workers
        padded = torch.cat([self.train_rows] * -(-size // count))[:size]
        train_rows = padded[rank::workers]
        return Split(own(self.train_set, train_rows), torch.arange(len(train_rows)),
                     own(self.val_set, self.val_rows), torch.arange(len(self.val_rows)), whole=self)

    def _part(self, which: str) -> tuple[LabelledDataset, torch.Tensor]:
        return (self.train_set, self.train_rows) if which == "train" else (self.val_set, self.val_rows)

    def examples(self, which: str) -> list:
        dataset, rows = self._part(which)
        return [dataset.examples[i] for i in rows.tolist()]

    def labels(self, which: str, classes: list[str]) -> np.ndarray:
        dataset, rows = self._part(which)
        return dataset.label_indices(classes)[rows.numpy()]


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
            callbacks: Sequence[Callback] = (), cache: TensorCache | None = None,
            shard: tuple[int, int] | None = None) -> Prepared:
    """Check that the backbone reads this data, split it, build the backbone with its adapter (fitted on
    the training examples) and the model with config.trainable_blocks trainable. With `shard` (rank,
    workers) the split is that worker's part of a data-parallel run (the adapter still fits on all)."""
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
    if shard is not None:
        split = split.shard(*shard)
    classes = list(dataset.classes)
    model = TransferModel(backbone, len(classes), config.head, generator=torch.Generator().manual_seed(config.seed))
    boundary = apply_freeze(model, config.trainable_blocks)
    model.to(device)
    timings = {"load_backbone": time.perf_counter() - started, "inputs": 0.0}
    frozen = Frozen(adapter, model, boundary, device, RunCache(cache or default_cache()), split, callbacks, timings,
                    info=info, feature_block=config.feature_block)
    return Prepared(info, device, split, backbone, adapter, classes, model, boundary, frozen, timings)


def frozen_key(info: BackboneInfo, feature_block: int | None, boundary: int, device: torch.device) -> tuple:
    """What names a backbone's frozen activations in the cache besides the data: weights, feature block
    (only for its pooled output: below it, a cut backbone's activations are the whole one's), boundary
    and precision."""
    cut = feature_block is not None and feature_block < info.num_blocks and boundary > feature_block
    return (info.name, info.weights_id, *((f"feature block {feature_block}",) if cut else ()), boundary,
            str(autocast_dtype(device)))


class Frozen:
    """A run's first-stage inputs and frozen activations per dataset, through the cache (each entry
    noted as reused or computed), timed and reported as phases."""

    def __init__(self, adapter: Adapter, model: TransferModel, boundary: int, device: torch.device, cache: RunCache,
                 split: Split, callbacks: Sequence[Callback], timings: dict, *, info: BackboneInfo,
                 feature_block: int | None):
        self.adapter, self.model, self.boundary, self.device = adapter, model, boundary, device
        self.cache, self.split, self.callbacks, self.timings = cache, split, callbacks, timings
        self.info, self.key = info, frozen_key(info, feature_block, boundary, device)
        # The pooled output of a whole image backbone comes from a pass that pools every block on the way
        # (at no extra cost), kept too: a layer sweep, or a run on an earlier block, then finds them.
        self.pools_every_block = (info.modality == "image" and info.num_blocks > 0 and feature_block in (
            None, info.num_blocks) and boundary == info.num_blocks + 1)
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
            if self.pools_every_block and not flip:
                return self._every_block(dataset)[-1]
            return frozen_pass(self.model, self.adapter, self.inputs(dataset), self.boundary, device=self.device,
                               flip=flip, progress=emit(self.callbacks, "Running the frozen blocks"))

        found = ("activations", id(dataset), flip)
        if found not in self._found:
            if self.adapter.cacheable:
                what = self._named(FLIPPED_ACTIVATIONS if flip else FROZEN_ACTIVATIONS, dataset)
                self._found[found] = self.cache.fetch(self._key(dataset, self.key, flip), compute, what)
                self._keep_earlier_blocks(dataset)
            else:
                self._found[found] = compute()
        return self._found[found]

    def _key(self, dataset: LabelledDataset, key: tuple, flip: bool = False) -> tuple:
        return ("activations", dataset.content_hash, *key, *self.adapter.preprocessing.key(), flip)

    def _block_key(self, dataset: LabelledDataset, block: int) -> tuple:
        """Where block `block`'s pooled output is cached: as a run on that feature block at 0 trainable
        blocks keeps its features."""
        return self._key(dataset, frozen_key(self.info, block, block + 1, self.device))

    def block_features(self, dataset: LabelledDataset) -> list:
        """Every block's pooled output for a whole dataset, through the cache: one pass computes those
        missing."""
        what = self._named(FROZEN_ACTIVATIONS, dataset)
        return [self.cache.fetch(self._block_key(dataset, block), lambda b=block: self._every_block(dataset)[b - 1],
                                 what) for block in range(1, self.info.num_blocks + 1)]

    def _every_block(self, dataset: LabelledDataset) -> tuple[torch.Tensor, ...]:
        """One pass pooling every block's output (once per dataset and run)."""
        found = ("every block", id(dataset))
        if found not in self._found:
            self._found[found] = pooled_blocks(self.model, self.adapter, self.inputs(dataset), device=self.device,
                                               progress=emit(self.callbacks, "Running the frozen blocks"))
        return self._found[found]

    def _keep_earlier_blocks(self, dataset: LabelledDataset) -> None:
        """After a pass that pooled every block for the last one's output, keep the others as well."""
        pooled = self._found.get(("every block", id(dataset)))
        for block, value in enumerate(pooled[:-1] if pooled else (), 1):
            self.cache.cache.fetch(self._block_key(dataset, block), lambda v=value: v)

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
