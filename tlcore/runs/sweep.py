"""A depth sweep: the same data and settings trained at several trainable-block depths, one after the
other, sharing the engine's caches (decoded images, token ids and frozen activations); and an
estimate of each depth's time from the measured cost of each block."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Sequence

import torch

from ..backbones import create_backbone, get_backbone_info
from ..core.config import SKLEARN_HEADS, TrainConfig
from ..data import LabelledDataset
from ..core.device import autocast_dtype
from ..backbones.text_preprocessing import tokenize
from .run import Run, RunFacts
from .train import train
from ..engine.loop import Callback, EpochLog, Trainer
from ..engine.reuse import ONCE


class RunProgress(Callback):
    """Passes one run's progress on as phases named after the run, so a job shows 'run 2 of 4'."""

    def __init__(self, callbacks: Sequence[Callback], prefix: str, epochs: int):
        self.callbacks, self.prefix, self.epochs = callbacks, prefix, epochs

    def on_phase(self, phase: str, done: int, total: int) -> None:
        for cb in self.callbacks:
            cb.on_phase(f"{self.prefix}: {phase.lower()}", done, total)

    def on_batch_size(self, batch_size: int) -> None:
        for cb in self.callbacks:
            cb.on_batch_size(batch_size)

    def on_batch_end(self, trainer: Trainer) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(trainer)  # lets Cancel stop the sweep mid-epoch

    def on_epoch_end(self, trainer: Trainer, log: EpochLog) -> None:
        self.on_phase("Training", log.epoch, self.epochs)


def sweep_depths(dataset: LabelledDataset, config: TrainConfig, depths: Sequence[int], *,
                 val_dataset: LabelledDataset | None = None, callbacks: Sequence[Callback] = ()) -> list[Run]:
    """Train once per depth in `depths` with everything else in `config` fixed; results in that order.
    The same seed gives every run the same split, so their numbers compare fairly."""
    results = []
    for i, depth in enumerate(depths):
        run_config = replace(config, trainable_blocks=depth)
        progress = RunProgress(callbacks, depth_label(i, depths), run_config.planned_epochs)
        results.append(train(dataset, run_config, val_dataset=val_dataset, callbacks=[progress]))
    return results


def depth_label(i: int, depths: Sequence[int]) -> str:
    """How the progress names the sweep's i-th run."""
    return f"Run {i + 1} of {len(depths)} ({depths[i]} trainable blocks)"


def sweep_problem(config: TrainConfig) -> str | None:
    """Why a depth sweep cannot run with these settings (a sentence), or None when it can: it needs a
    pretrained network and a head that trains on top of fine-tuned blocks."""
    info = get_backbone_info(config.backbone)
    if info.classic or config.head in SKLEARN_HEADS:
        return (f"A sweep needs a pretrained network and a trainable head: {info.title} with this head only "
                "trains at 0 blocks. Pick another backbone or head on the Model page.")
    return None


FIXED_S = 2.0  # loading the backbone, reading the data and saving the run, roughly, per depth


def block_seconds(backbone: str, texts: Sequence[str] = (), batch: int = 16) -> list[float]:
    """Seconds one example takes through each block of the backbone on this machine's processor, with
    the engine's precision and memory layout, measured on a small batch: random pixels for images,
    `texts` for a text model (which needs its tokenizer, so its pretrained files)."""
    text = get_backbone_info(backbone).modality == "text"
    model = create_backbone(backbone, pretrained=text).eval()
    if text:
        x = tokenize(model.tokenizer, list(texts)[:batch] or ["A short sentence to time the model with."],
                     get_backbone_info(backbone).preprocessing)[:2]
    else:
        size = get_backbone_info(backbone).preprocessing.input_size
        x = torch.rand(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    rows = len(x[0]) if isinstance(x, tuple) else len(x)
    dtype = autocast_dtype(torch.device("cpu"))
    seconds = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        model.run(x)  # the first pass pays one-off set-up costs
        for block in model.blocks:
            started = time.perf_counter()
            x = block(x)
            seconds.append((time.perf_counter() - started) / rows)
    return seconds


def estimate_seconds(costs: Sequence[float], depth: int, *, n_examples: int, n_train: int, epochs: int,
                     augment: bool) -> float:
    """About how long training at `depth` trainable blocks takes: the frozen blocks run once over every
    example (every epoch when augmenting with trainable blocks), the trainable ones forward and
    backward (about 3x a forward pass) over the training examples and forward over the rest, each epoch."""
    frozen, trainable = sum(costs[:len(costs) - depth]), sum(costs[len(costs) - depth:])
    frozen_rows = epochs * n_train if augment and depth > 0 else n_examples
    return FIXED_S + frozen * frozen_rows + trainable * epochs * (3 * n_train + (n_examples - n_train))


def calibrate(costs: Sequence[float], facts: RunFacts, trainable_blocks: int, n_examples: int) -> list[float]:
    """Block costs scaled so that an earlier run's frozen pass on this data costs what it measured
    (its metrics: the frozen blocks ran once over `n_examples`); unchanged when it did not run them."""
    if facts.reuse.frozen_blocks_ran != ONCE:
        return list(costs)
    timings = facts.timings_s
    measured = timings.get("features", 0.0) - timings.get("inputs", timings.get("decode", 0.0))
    predicted = sum(costs[:len(costs) - trainable_blocks]) * n_examples
    return [c * measured / predicted for c in costs] if measured > 0 and predicted > 0 else list(costs)
