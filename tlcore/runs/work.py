"""The work a background job does in a worker process: train once, or sweep depths, and save the runs
in the job's folder; or find the best start for the data, its learning curve or the best feature block,
answered as JSON."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..core.config import TrainConfig
from ..data import LabelledDataset
from ..engine.loop import Callback
from .files import save_run
from .layer_sweep import sweep_layers
from .learning_curve import learning_curve
from .recommend import recommend
from .sweep import sweep_depths
from .train import train


RUN_FOLDER = "run"


@dataclass(frozen=True)
class TrainWork:
    """A job's work (run in a worker process): train once and save the run in the job's folder."""

    dataset: LabelledDataset
    config: TrainConfig
    val_dataset: LabelledDataset | None = None

    def __call__(self, callbacks: Sequence[Callback], folder: Path) -> list[str]:
        run = train(self.dataset, self.config, val_dataset=self.val_dataset, callbacks=callbacks)
        save_run(run, folder / RUN_FOLDER)
        return [RUN_FOLDER]


@dataclass(frozen=True)
class SweepWork:
    """A depth sweep as a job's work: one saved run per depth, in the job's folder."""

    dataset: LabelledDataset
    config: TrainConfig
    depths: tuple[int, ...]
    val_dataset: LabelledDataset | None = None

    def __call__(self, callbacks: Sequence[Callback], folder: Path) -> list[str]:
        runs = sweep_depths(self.dataset, self.config, self.depths, val_dataset=self.val_dataset,
                               callbacks=callbacks)
        names = [f"{RUN_FOLDER}-{run.config.trainable_blocks}" for run in runs]
        for run, name in zip(runs, names):
            save_run(run, folder / name)
        return names


@dataclass(frozen=True)
class AnswerWork:
    """Guidance as a job's work: `answer(dataset, config, val_dataset=, callbacks=)` (recommend,
    learning_curve or sweep_layers, module-level so it pickles); the job's result is the answer's JSON."""

    answer: Callable
    dataset: LabelledDataset
    config: TrainConfig
    val_dataset: LabelledDataset | None = None

    def __call__(self, callbacks: Sequence[Callback], folder: Path) -> dict:
        return self.answer(self.dataset, self.config, val_dataset=self.val_dataset, callbacks=callbacks).to_dict()


def recommend_work(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None) -> AnswerWork:
    """Probe every usable backbone on the data."""
    return AnswerWork(recommend, dataset, config, val_dataset)


def curve_work(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None) -> AnswerWork:
    """The learning curve of config.backbone on the data."""
    return AnswerWork(learning_curve, dataset, config, val_dataset)


def layer_work(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None) -> AnswerWork:
    """A linear probe on every block of config.backbone."""
    return AnswerWork(sweep_layers, dataset, config, val_dataset)
