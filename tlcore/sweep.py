"""A depth sweep: the same data and settings trained at several trainable-block depths, one after the
other, sharing the engine's caches (decoded images, token ids and frozen activations)."""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from .config import TrainConfig
from .data import LabelledDataset
from .experiment import TrainResult
from .tasks import train_classifier
from .training import Callback, EpochLog, Trainer


class _RunProgress(Callback):
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
                 val_dataset: LabelledDataset | None = None, callbacks: Sequence[Callback] = ()) -> list[TrainResult]:
    """Train once per depth in `depths` with everything else in `config` fixed; results in that order.
    The same seed gives every run the same split, so their numbers compare fairly."""
    results = []
    for i, depth in enumerate(depths):
        progress = _RunProgress(callbacks, f"Run {i + 1} of {len(depths)} ({depth} trainable blocks)", config.epochs)
        results.append(train_classifier(dataset, replace(config, trainable_blocks=depth), val_dataset=val_dataset,
                                        callbacks=[progress]))
    return results
