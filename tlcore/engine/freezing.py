"""Frozen depth, counted in named blocks from the top (fastai's freeze_to)."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..core.errors import ConfigError
from .model import TransferModel


def frozen_boundary(num_blocks: int, trainable_blocks: int) -> int:
    """Index of the first stage that trains. 0 trainable blocks also freezes the pool, so the
    cached activations are the pooled features and only the head trains."""
    if not 0 <= trainable_blocks <= num_blocks:
        raise ConfigError(
            f"This backbone has {num_blocks} blocks: choose between 0 and {num_blocks} trainable blocks."
        )
    return num_blocks + 1 if trainable_blocks == 0 else num_blocks - trainable_blocks


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def apply_freeze(model: TransferModel, trainable_blocks: int) -> int:
    """Set requires_grad per stage and return the boundary; the head always trains."""
    stages = model.backbone.stages
    boundary = frozen_boundary(len(model.backbone.blocks), trainable_blocks)
    for i, stage in enumerate(stages):
        stage.requires_grad_(i >= boundary)
    model.head.requires_grad_(True)
    return boundary


def set_train_mode(model: TransferModel, boundary: int, *, keep_norm_statistics: bool = False) -> None:
    """Train mode for what trains; frozen stages (and their BatchNorm statistics) stay in eval, and with
    keep_norm_statistics every BatchNorm does."""
    model.train()
    for stage in model.backbone.stages[:boundary]:
        stage.eval()
    if keep_norm_statistics:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


@dataclass(frozen=True)
class FreezeSummary:
    """Per block: name, parameters, trainable or not; totals for the page."""

    blocks: list[tuple[str, int, bool]]
    frozen_params: int
    trainable_params: int

    def rows(self) -> list[dict]:
        """One row per block for a table people read: name, parameters ("412,160"), trains or frozen."""
        return [{"block": name, "parameters": f"{n:,}", "state": "trains" if trains else "frozen"}
                for name, n, trains in self.blocks]


def freeze_summary(model: TransferModel, trainable_blocks: int) -> FreezeSummary:
    boundary = frozen_boundary(len(model.backbone.blocks), trainable_blocks)
    names = model.backbone.block_names + ["pool"]
    rows = [
        (name, _count(stage), i >= boundary)
        for i, (name, stage) in enumerate(zip(names, model.backbone.stages))
        if name != "pool" or _count(stage)
    ]
    rows.append(("new head", _count(model.head), True))
    frozen = sum(n for _, n, trains in rows if not trains)
    trainable = sum(n for _, n, trains in rows if trains)
    return FreezeSummary(rows, frozen, trainable)
