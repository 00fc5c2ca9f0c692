"""The work a background job does: train once, or sweep depths, and save the runs in the job's folder;
or find the best start for the data, its learning curve or the best feature block, answered as JSON.

Each work is a list of independent parts and a `gather` of their results. A worker process on this
machine runs the parts one after the other (`work(callbacks, folder)`); a cluster runs them side by
side on its workers (tlcore.runs.cluster) and gathers the same results: one part never depends on
another. A part is `part(callbacks, folder)`, writing any runs into `folder`."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

from ..core.config import TrainConfig
from ..data import LabelledDataset
from ..engine.loop import Callback
from .data_parallel import train_data_parallel
from .files import save_run
from .layer_sweep import sweep_layers
from .learning_curve import learning_curve
from .recommend import gather_recommendation, probe_backbone, usable_backbones
from .sweep import RunProgress, depth_label
from .train import train

RUN_FOLDER = "run"
Part = Callable[[Sequence[Callback], Path], object]


class Work:
    """Parts and how their results make the job's result; calling it runs the parts in turn."""

    def parts(self) -> list[Part]:
        raise NotImplementedError

    def gather(self, results: list) -> object:
        return results[0]

    def resources(self, default: dict) -> dict:
        """What each part asks a cluster for (`default`: a GPU or cpus_per_job processors)."""
        return default

    def __call__(self, callbacks: Sequence[Callback], folder: Path) -> object:
        return self.gather([part(callbacks, folder) for part in self.parts()])


def to_json(result: object) -> object:
    """A work's result as a page reads it: answers become their JSON."""
    return result.to_dict() if hasattr(result, "to_dict") else result


def _train_part(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None, name: str,
                label: str | None, callbacks: Sequence[Callback], folder: Path) -> str:
    """Train once and save the run as `folder/name`; `label` names the run in the progress of a sweep."""
    if label is not None:
        callbacks = [RunProgress(callbacks, label, config.planned_epochs)]
    save_run(train(dataset, config, val_dataset=val_dataset, callbacks=callbacks), folder / name)
    return name


@dataclass(frozen=True)
class TrainWork(Work):
    """Train once and save the run in the job's folder; on a cluster, with `workers` above 1, a fine-tune
    shared by that many workers (tlcore.runs.data_parallel)."""

    dataset: LabelledDataset
    config: TrainConfig
    val_dataset: LabelledDataset | None = None
    workers: int = 1

    def parts(self) -> list[Part]:
        if self.workers > 1:
            return [partial(train_data_parallel, self.dataset, self.config, self.val_dataset, self.workers,
                            RUN_FOLDER)]
        return [partial(_train_part, self.dataset, self.config, self.val_dataset, RUN_FOLDER, None)]

    def gather(self, results: list) -> list[str]:
        return results

    def resources(self, default: dict) -> dict:
        return {"num_cpus": 0} if self.workers > 1 else default  # its workers ask for their own


@dataclass(frozen=True)
class SweepWork(Work):
    """A depth sweep: one saved run per depth, in the job's folder; the same seed gives every run the
    same split, so their numbers compare fairly."""

    dataset: LabelledDataset
    config: TrainConfig
    depths: tuple[int, ...]
    val_dataset: LabelledDataset | None = None

    def parts(self) -> list[Part]:
        return [partial(_train_part, self.dataset, replace(self.config, trainable_blocks=depth), self.val_dataset,
                        f"{RUN_FOLDER}-{depth}", depth_label(i, self.depths))
                for i, depth in enumerate(self.depths)]

    def gather(self, results: list) -> list[str]:
        return results


def _answer_part(answer: Callable, dataset: LabelledDataset, config: TrainConfig,
                 val_dataset: LabelledDataset | None, options: dict, callbacks: Sequence[Callback], folder: Path):
    return answer(dataset, config, val_dataset=val_dataset, callbacks=callbacks, **options)


@dataclass(frozen=True)
class AnswerWork(Work):
    """Guidance as one part: `answer(dataset, config, val_dataset=, callbacks=, **options)` (learning_curve
    or sweep_layers, module-level so it pickles); the job's result is the answer (a page reads its JSON)."""

    answer: Callable
    dataset: LabelledDataset
    config: TrainConfig
    val_dataset: LabelledDataset | None = None
    options: dict = field(default_factory=dict)

    def parts(self) -> list[Part]:
        return [partial(_answer_part, self.answer, self.dataset, self.config, self.val_dataset, self.options)]


def _probe_part(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None, name: str,
                label: str, callbacks: Sequence[Callback], folder: Path):
    return probe_backbone(dataset, config, name, label, val_dataset=val_dataset, callbacks=callbacks)


@dataclass(frozen=True)
class RecommendWork(Work):
    """Find the best start: one part per backbone (default: every one usable for the data's task)."""

    dataset: LabelledDataset
    config: TrainConfig
    val_dataset: LabelledDataset | None = None
    backbones: tuple[str, ...] | None = None

    def parts(self) -> list[Part]:
        names = list(self.backbones or usable_backbones(self.dataset.report.unit))
        return [partial(_probe_part, self.dataset, self.config, self.val_dataset, name,
                        f"Backbone {i + 1} of {len(names)}") for i, name in enumerate(names)]

    def gather(self, results: list):
        return gather_recommendation(results, self.dataset.report.unit)


def recommend_work(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None) -> Work:
    """Probe every usable backbone on the data."""
    return RecommendWork(dataset, config, val_dataset)


def curve_work(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None) -> Work:
    """The learning curve of config.backbone on the data."""
    return AnswerWork(learning_curve, dataset, config, val_dataset)


def layer_work(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None) -> Work:
    """A linear probe on every block of config.backbone."""
    return AnswerWork(sweep_layers, dataset, config, val_dataset)
