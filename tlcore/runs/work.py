"""The two task types side by side: each one's trainer and default settings, and the work a
background job does (train, or sweep depths, and save the runs)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..core.config import DEFAULT_BACKBONE, DEFAULT_TEXT_BACKBONE, TrainConfig
from ..data import LabelledDataset, TextDataset
from .experiment import TrainResult, train_image_classifier
from .persistence import save_run
from .text_experiment import train_text_classifier
from ..engine.loop import Callback


def train_classifier(dataset: LabelledDataset, config: TrainConfig, **options) -> TrainResult:
    """Train on images or texts, whichever the dataset holds (same options as the task's trainer)."""
    trainer = train_text_classifier if isinstance(dataset, TextDataset) else train_image_classifier
    return trainer(dataset, config, **options)


def default_config(task: str) -> TrainConfig:
    """Defaults per task. Sentence embeddings have unit length, so their new layer learns faster at 0.01."""
    if task == "text":
        return TrainConfig(backbone=DEFAULT_TEXT_BACKBONE, learning_rate=1e-2)
    return TrainConfig(backbone=DEFAULT_BACKBONE)


RUN_FOLDER = "run"


@dataclass(frozen=True)
class TrainWork:
    """A job's work (run in a worker process): train once and save the run in the job's folder."""

    dataset: LabelledDataset
    config: TrainConfig
    val_dataset: LabelledDataset | None = None

    def __call__(self, callbacks: Sequence[Callback], folder: Path) -> list[str]:
        result = train_classifier(self.dataset, self.config, val_dataset=self.val_dataset, callbacks=callbacks)
        save_run(result, folder / RUN_FOLDER)
        return [RUN_FOLDER]


@dataclass(frozen=True)
class SweepWork:
    """A depth sweep as a job's work: one saved run per depth, in the job's folder."""

    dataset: LabelledDataset
    config: TrainConfig
    depths: tuple[int, ...]
    val_dataset: LabelledDataset | None = None

    def __call__(self, callbacks: Sequence[Callback], folder: Path) -> list[str]:
        from .sweep import sweep_depths

        results = sweep_depths(self.dataset, self.config, self.depths, val_dataset=self.val_dataset,
                               callbacks=callbacks)
        names = [f"{RUN_FOLDER}-{r.config.trainable_blocks}" for r in results]
        for result, name in zip(results, names):
            save_run(result, folder / name)
        return names
