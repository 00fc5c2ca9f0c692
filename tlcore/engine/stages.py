"""Training in stages (fastai's `fine_tune`, the Keras transfer-learning guide). Stage 1: the new head
alone on the frozen backbone's pooled features: a linear head is fitted to convergence (linear_fit), a
small network trains in the fit loop. Stage 2, when blocks are trainable: those blocks and the head
together, starting from stage 1's weights at a lower learning rate, every BatchNorm keeping its
pretrained statistics (eval mode; the Keras guide: the head was fitted on features made with them);
stage 1's weights are kept unless fine-tuning beats them on validation loss."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..core.config import TrainConfig
from .activations import Activations
from .linear_fit import fit_linear
from .loop import (
    BatchSource, Callback, EarlyStopping, EpochLog, Trainer, cached_views, emit, fit, loss_and_accuracy,
)
from .model import TransferModel

FINE_TUNE_LR_FACTOR = 0.1  # stage 2 starts from a trained head, so every group learns ten times slower


@dataclass
class Stages:
    """What the stages did: the epochs (numbered across both), the kept epoch, and per stage a record."""

    history: list[EpochLog] = field(default_factory=list)
    best_epoch: int = 0
    batch_size_used: int | None = None
    stages: list[dict] = field(default_factory=list)


def _fit_linear_head(model: TransferModel, views: Sequence[torch.Tensor], y_train: np.ndarray,
                     val_features: torch.Tensor, y_val: np.ndarray, *, seed: int, device: torch.device,
                     callbacks: Sequence[Callback]) -> tuple[EpochLog, dict]:
    started = time.perf_counter()
    result = fit_linear(views, y_train, len(model.head[1].bias), seed=seed, device=device,
                        progress=emit(callbacks, "Fitting the new layer on the frozen features"))
    layer = model.head[1]
    layer.weight.data.copy_(result.weight.to(layer.weight))
    layer.bias.data.copy_(result.bias.to(layer.bias))
    with torch.no_grad():
        head = model.head.eval()
        train_loss, train_acc = loss_and_accuracy(head(views[0].to(device).float()).cpu(), torch.as_tensor(y_train))
        val_loss, val_acc = loss_and_accuracy(head(val_features.to(device).float()).cpu(), torch.as_tensor(y_val))
    log = EpochLog(1, train_loss, train_acc, val_loss, val_acc, time.perf_counter() - started, stage=1)
    for cb in callbacks:
        cb.on_epoch_end(Trainer(model, len(model.backbone.stages), 0), log)
    return log, result.to_dict()


def train_stages(model: TransferModel, config: TrainConfig, *, boundary: int, train_batches: BatchSource,
                 head_views: Sequence[torch.Tensor] | None, val_activations: Activations,
                 val_features: torch.Tensor, y_train: np.ndarray, y_val: np.ndarray, device: torch.device,
                 head_labels: np.ndarray | None = None, distributed: bool = False,
                 callbacks: Sequence[Callback] = ()) -> Stages:
    """Train `model` (frozen from stage `boundary` down) on the training batches. `head_views` are the
    training examples' pooled features from the pretrained backbone (one tensor per view) and
    `val_features` the validation ones; None for a one-stage run (two_stage off with trainable blocks).
    `distributed`: the fine-tuning is data-parallel (see fit); then `head_views` hold every worker's
    examples, labelled by `head_labels`, so each worker fits the same head in stage 1."""
    head_labels = y_train if head_labels is None else head_labels
    top = len(model.backbone.stages)
    out = Stages()
    patience = config.early_stopping_patience
    stopper = EarlyStopping(patience) if patience else None
    if head_views is not None:
        if config.head == "linear":
            log, record = _fit_linear_head(model, head_views, head_labels, val_features, y_val, seed=config.seed,
                                           device=device, callbacks=callbacks)
            out.history.append(log)
            if stopper:
                stopper.on_epoch_end(Trainer(model, top, config.batch_size), log)
        else:
            started = time.perf_counter()
            head_stopper = EarlyStopping(patience) if patience else None
            trainer = fit(model, boundary=top, train_batches=cached_views(head_views), y_train=head_labels,
                          val_activations=val_features, y_val=y_val, epochs=config.epochs,
                          learning_rate=config.learning_rate, batch_size=config.batch_size, device=device,
                          seed=config.seed, stage=1, callbacks=[*callbacks, *([head_stopper] if head_stopper else [])])
            out.history += trainer.history
            out.batch_size_used = trainer.batch_size if trainer.batch_size < config.batch_size else None
            kept = head_stopper.best_epoch if head_stopper else len(trainer.history)
            record = {"method": "the fit loop on the frozen features", "epochs": len(trainer.history),
                      "best_epoch": kept, "seconds": round(time.perf_counter() - started, 3)}
            if stopper:
                stopper.on_epoch_end(Trainer(model, top, config.batch_size), trainer.history[kept - 1])
        out.stages.append({"stage": 1, "trains": "the new head on the frozen backbone", **record})
        out.best_epoch = len(out.history) if not stopper else stopper.best_epoch
        if config.trainable_blocks == 0:
            if stopper:
                stopper.on_train_end(Trainer(model, top, config.batch_size))
            return out
    factor = FINE_TUNE_LR_FACTOR if head_views is not None else 1.0
    first = len(out.history) + 1
    if stopper:
        stopper.restart_patience(first - 1)  # fine-tuning gets its full patience
    trainer = fit(model, boundary=boundary, train_batches=train_batches, y_train=y_train,
                  val_activations=val_activations, y_val=y_val, epochs=config.epochs,
                  learning_rate=config.learning_rate * factor, batch_size=config.batch_size, device=device,
                  seed=config.seed, first_epoch=first, stage=2 if head_views is not None else 1,
                  keep_norm_statistics=head_views is not None, distributed=distributed,
                  callbacks=[*callbacks, *([stopper] if stopper else [])])
    out.history += trainer.history
    out.best_epoch = stopper.best_epoch if stopper else len(out.history)
    if trainer.batch_size < config.batch_size:
        out.batch_size_used = trainer.batch_size
    out.stages.append({"stage": len(out.stages) + 1,
                       "trains": f"the top {config.trainable_blocks} blocks and the head",
                       "learning_rate": config.learning_rate * factor, "epochs": len(trainer.history),
                       "first_epoch": first})
    return out

