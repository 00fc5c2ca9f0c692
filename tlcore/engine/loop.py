"""One fit loop over the trainable stages and the head; variations are callbacks."""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from typing import Callable, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .activations import Activations, load, take, to_device
from .distributed import first_workers, summed, workers
from .inference import autocast, infer
from .freezing import set_train_mode
from .memory import in_shrinking_batches
from .model import TransferModel

BACKBONE_LR_FACTOR = 0.1  # pretrained blocks learn ten times slower than the new head


class TrainingCancelled(Exception):
    """Raised by a callback to stop the run at once."""


@dataclass
class EpochLog:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    stage: int = 1  # 1: the head on the frozen backbone (or a one-stage run); 2: fine-tuning blocks too

    def to_dict(self) -> dict:
        return asdict(self)


class Callback:
    """Hooks with fixed names; override the ones you need."""

    def on_phase(self, phase: str, done: int, total: int) -> None: ...
    def on_batch_size(self, batch_size: int) -> None: ...
    def on_batch_end(self, trainer: "Trainer") -> None: ...
    def on_epoch_end(self, trainer: "Trainer", log: EpochLog) -> None: ...
    def on_train_end(self, trainer: "Trainer") -> None: ...


def emit(callbacks: Sequence[Callback], phase: str) -> Callable[[int, int], None]:
    """progress(done, total) passed on to every callback as `phase`."""
    def progress(done: int, total: int) -> None:
        for cb in callbacks:
            cb.on_phase(phase, done, total)
    return progress


def loss_and_accuracy(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of logits against class indices."""
    return F.cross_entropy(logits.float(), y).item(), (logits.argmax(1) == y).float().mean().item()


class BatchSource(Protocol):
    def __call__(self, index: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...


def cached_views(views: Sequence[Activations], rows: torch.Tensor | None = None) -> BatchSource:
    """Precomputed activations of a whole set, of which `rows` are the training examples; with several
    views (e.g. original and flipped) each example gets a random one per epoch."""

    def batch(index: torch.Tensor, generator: torch.Generator) -> Activations:
        index = index if rows is None else rows[index]
        if len(views) == 1:
            return take(views[0], index)
        choice = torch.randint(len(views), (len(index),), generator=generator)
        stacked = torch.stack([load(take(v, index)) for v in views])
        return stacked[choice, torch.arange(len(index))]

    return batch


class Trainer:
    """State shared with callbacks: the model, the history, and a stop flag."""

    def __init__(self, model: TransferModel, boundary: int, batch_size: int):
        self.model = model
        self.boundary = boundary
        self.batch_size = batch_size  # halved when a batch runs out of memory
        self.history: list[EpochLog] = []
        self.stop = False


def predict_logits(model: TransferModel, activations: Activations, boundary: int, *,
                   device: torch.device, batch_size: int = 256) -> torch.Tensor:
    """Logits in eval mode from activations at stage `boundary`."""
    return infer(model, activations, lambda x: model.forward_from(x, boundary), device=device,
                 batch_size=batch_size, doing="scoring the validation set")


def predict_features(model: TransferModel, activations: Activations, boundary: int, *,
                     device: torch.device, batch_size: int = 256) -> torch.Tensor:
    """The backbone's pooled features (what the head sees) from activations at stage `boundary`."""
    return infer(model, activations, lambda x: model.backbone.run(x, boundary), device=device,
                 batch_size=batch_size, doing="scoring the validation set")


def _announce_batch_size(callbacks: Sequence[Callback], batch_size: int) -> None:
    for cb in callbacks:
        cb.on_batch_size(batch_size)


def _optimizer(model: TransferModel, lr: float) -> torch.optim.Optimizer:
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    groups = [{"params": list(model.head.parameters()), "lr": lr}]
    if backbone:
        groups.append({"params": backbone, "lr": lr * BACKBONE_LR_FACTOR})
    return torch.optim.AdamW(groups, weight_decay=1e-4)


class FromBoundary(torch.nn.Module):
    """The model from stage `boundary` on, as one module (what data-parallel training wraps)."""

    def __init__(self, model: TransferModel, boundary: int):
        super().__init__()
        self.model, self.boundary = model, boundary

    def forward(self, x: Activations) -> torch.Tensor:
        return self.model.forward_from(x, self.boundary)


def fit(model: TransferModel, *, boundary: int, train_batches: BatchSource, y_train: np.ndarray,
        val_activations: Activations, y_val: np.ndarray, epochs: int, learning_rate: float,
        batch_size: int, device: torch.device, seed: int, first_epoch: int = 1, stage: int = 1,
        keep_norm_statistics: bool = False, distributed: bool = False,
        callbacks: Sequence[Callback] = ()) -> Trainer:
    """Train the stages from `boundary` on and the head. Returns the Trainer with its history, whose
    epochs count from `first_epoch` and belong to `stage`. keep_norm_statistics leaves every BatchNorm in
    eval mode (its scale and shift still learn), as the Keras guide fine-tunes under a trained head.
    Shuffling, augmentation and the head's dropout draw from generators seeded with `seed` that belong
    to this run. `distributed`: this process trains on its share of the examples together with the
    others (equal shares; DistributedDataParallel averages their gradients), the history counts every
    share, and the first worker's validation score stands for all."""
    trainer = Trainer(model, boundary, batch_size)
    optimizer = _optimizer(model, learning_rate)
    forward = FromBoundary(model, boundary)
    together = distributed and workers() > 1
    if together:
        forward = torch.nn.parallel.DistributedDataParallel(forward)
    generator = torch.Generator().manual_seed(seed)  # this run's own: shuffling and augmentation
    model.set_generator(torch.Generator(device).manual_seed(seed))  # and the head's dropout
    y_train_t = torch.as_tensor(y_train)
    y_val_t = torch.as_tensor(y_val)
    for epoch in range(first_epoch, first_epoch + epochs):
        started = time.perf_counter()
        set_train_mode(model, boundary, keep_norm_statistics=keep_norm_statistics)
        order = torch.randperm(len(y_train_t), generator=generator)
        totals = {"loss": 0.0, "correct": 0}

        def step(start: int, stop: int) -> None:
            index = order[start:stop]
            optimizer.zero_grad(set_to_none=True)  # first, so a batch retried after running out of memory starts clean
            x = to_device(train_batches(index, generator), device)
            y = y_train_t[index].to(device)
            with autocast(device):
                logits = forward(x)
            loss = F.cross_entropy(logits.float(), y)
            loss.backward()
            optimizer.step()
            totals["loss"] += loss.item() * len(index)
            totals["correct"] += (logits.argmax(1) == y).sum().item()
            for cb in callbacks:
                cb.on_batch_end(trainer)

        if together:  # equal shares, every batch together (halving one worker's batch would part them)
            for start in range(0, len(order), batch_size):
                step(start, start + batch_size)
            seen, loss_sum, correct = summed(len(order), totals["loss"], totals["correct"])
        else:
            trainer.batch_size = in_shrinking_batches(len(order), trainer.batch_size, step, doing="training",
                                                      on_shrink=lambda size: _announce_batch_size(callbacks, size))
            seen, loss_sum, correct = len(order), totals["loss"], totals["correct"]
        val_loss, val_accuracy = loss_and_accuracy(predict_logits(model, val_activations, boundary, device=device),
                                                   y_val_t)
        if together:  # the first worker's score decides early stopping for all
            val_loss, val_accuracy = first_workers(val_loss, val_accuracy)
        log = EpochLog(
            epoch=epoch,
            train_loss=loss_sum / seen,
            train_accuracy=correct / seen,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            seconds=time.perf_counter() - started,
            stage=stage,
        )
        trainer.history.append(log)
        for cb in callbacks:
            cb.on_epoch_end(trainer, log)
        if trainer.stop:
            break
    for cb in callbacks:
        cb.on_train_end(trainer)
    model.set_generator(None)
    model.eval()
    return trainer


class EarlyStopping(Callback):
    """Stop when validation loss has not improved for `patience` epochs; restore the best weights."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best_loss = float("inf")
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.waiting_since = 0  # the epoch patience counts from: the best one, or a new stage's start

    def restart_patience(self, epoch: int) -> None:
        """Count patience from `epoch` on (a new stage), keeping the best weights so far."""
        self.waiting_since = max(self.best_epoch, epoch)

    def on_epoch_end(self, trainer: Trainer, log: EpochLog) -> None:
        if log.val_loss < self.best_loss:
            self.best_loss, self.best_epoch = log.val_loss, log.epoch
            self.waiting_since = log.epoch
            self.best_state = copy.deepcopy(trainer.model.state_dict())
        elif log.epoch - self.waiting_since >= self.patience:
            trainer.stop = True

    def on_train_end(self, trainer: Trainer) -> None:
        if self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)


class CancelCheck(Callback):
    """Raise TrainingCancelled as soon as `is_cancelled()` is true (checked every batch and phase)."""

    def __init__(self, is_cancelled: Callable[[], bool]):
        self.is_cancelled = is_cancelled

    def _check(self) -> None:
        if self.is_cancelled():
            raise TrainingCancelled("Training was cancelled.")

    def on_phase(self, phase: str, done: int, total: int) -> None:
        self._check()

    def on_batch_end(self, trainer: Trainer) -> None:
        self._check()
