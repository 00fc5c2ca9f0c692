"""The two task types side by side: each one's trainer and default settings."""
from __future__ import annotations

from .config import DEFAULT_BACKBONE, DEFAULT_TEXT_BACKBONE, TrainConfig
from .data import LabelledDataset, TextDataset
from .experiment import TrainResult, train_image_classifier
from .text_experiment import train_text_classifier


def train_classifier(dataset: LabelledDataset, config: TrainConfig, **options) -> TrainResult:
    """Train on images or texts, whichever the dataset holds (same options as the task's trainer)."""
    trainer = train_text_classifier if isinstance(dataset, TextDataset) else train_image_classifier
    return trainer(dataset, config, **options)


def default_config(task: str) -> TrainConfig:
    """Defaults per task. Sentence embeddings have unit length, so their new layer learns faster at 0.01."""
    if task == "text":
        return TrainConfig(backbone=DEFAULT_TEXT_BACKBONE, learning_rate=1e-2)
    return TrainConfig(backbone=DEFAULT_BACKBONE)
