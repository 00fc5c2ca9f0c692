"""Validated, frozen settings for a training run; round-trip to JSON."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .device import DEVICE_CHOICES
from .errors import ConfigError

DEFAULT_BACKBONE = "efficientnet_lite0"
DEFAULT_TEXT_BACKBONE = "all-MiniLM-L6-v2"

HEADS = {
    "linear": "Linear layer (default)",
    "mlp": "Small neural network (one hidden layer)",
    "logistic_regression": "Logistic regression (scikit-learn)",
    "random_forest": "Random forest (scikit-learn)",
    "linear_svm": "Linear SVM, calibrated probabilities (scikit-learn)",
}
SKLEARN_HEADS = ("logistic_regression", "random_forest", "linear_svm")


def check_head(name: str, trainable_blocks: int) -> None:
    if name not in HEADS:
        raise ConfigError(f"Unknown head '{name}'. Choose one of: {', '.join(HEADS)}.")
    if name in SKLEARN_HEADS and trainable_blocks > 0:
        raise ConfigError(f"The {HEADS[name]} head works on a frozen backbone only. Set trainable blocks to 0, "
                          "or pick the linear or small neural network head to fine-tune.")


def head_choices(trainable_blocks: int) -> list[str]:
    """The heads that can train at this depth (the scikit-learn ones only on a frozen backbone)."""
    return [h for h in HEADS if trainable_blocks == 0 or h not in SKLEARN_HEADS]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run besides the data. Defaults suit a first try on a laptop."""

    backbone: str = DEFAULT_BACKBONE
    trainable_blocks: int = 0
    epochs: int = 15
    learning_rate: float = 3e-3
    batch_size: int = 32
    augment: bool = False
    early_stopping_patience: int = 5
    val_fraction: float = 0.2
    seed: int = 0
    device: str = "auto"
    head: str = "linear"
    two_stage: bool = True  # with trainable blocks: the head first on the frozen backbone, then fine-tuning
    feature_block: int | None = None  # images: pool this block's output (counted from 1), dropping those above
    word_vectors_file: str | None = None  # a GloVe-format .txt for the word-vectors featuriser

    def __post_init__(self):
        checks = [
            (self.trainable_blocks >= 0, "Trainable blocks must be 0 or more."),
            (0 <= self.seed < 2**32, "The seed must be a whole number from 0 to 4294967295."),
            (1 <= self.epochs <= 1000, "Epochs must be between 1 and 1000."),
            (0 < self.learning_rate < 1, "Learning rate must be between 0 and 1 (try 0.001)."),
            (1 <= self.batch_size <= 4096, "Batch size must be between 1 and 4096."),
            (self.early_stopping_patience >= 0, "Early-stopping patience must be 0 (off) or more."),
            (0.05 <= self.val_fraction <= 0.5, "Validation fraction must be between 0.05 and 0.5."),
            (self.device in DEVICE_CHOICES, f"Device must be one of {', '.join(DEVICE_CHOICES)}."),
            (self.feature_block is None or self.feature_block >= 1,
             "The feature block is counted from 1 (the first block); leave it empty for the last."),
            (self.feature_block is None or self.trainable_blocks <= self.feature_block,
             f"With feature block {self.feature_block}, at most {self.feature_block} blocks can train."),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        check_head(self.head, self.trainable_blocks)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def planned_epochs(self) -> int:
        """Epochs the run will log at most (1 for a scikit-learn head, which logs none): a linear head's
        first stage is one full-batch fit, a small network's takes `epochs`; fine-tuning adds `epochs`."""
        if self.head in SKLEARN_HEADS:
            return 1
        head_stage = 1 if self.head == "linear" else self.epochs
        if self.trainable_blocks == 0:
            return head_stage
        return (head_stage if self.two_stage else 0) + self.epochs

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """From to_dict's output (unknown keys are ignored); a value of the wrong type is a ConfigError."""
        if not isinstance(data, dict):
            raise ConfigError(f"The training settings must be a table of names and values, not {type(data).__name__}.")
        known = {f.name: f.default for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name, value in values.items():
            kind, described = OPTIONAL.get(name, (known[name], None))
            if not (value is None and name in OPTIONAL or _same_kind(value, kind)):
                raise ConfigError(f"The setting {name} must be {described or _kind(kind)}, not {value!r:.40}.")
        return cls(**values)


# Settings that may be null: an example of the kind they hold otherwise, and how a message says it.
OPTIONAL = {"word_vectors_file": ("", "a file name or nothing"), "feature_block": (0, "a whole number or nothing")}


def _same_kind(value, default) -> bool:
    """Whether a value read from JSON fits a field with this default (whole numbers where ints go)."""
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return type(value) is type(default)


def _kind(default) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a name"}[type(default)]


def default_config(task: str) -> TrainConfig:
    """Defaults per task. Sentence embeddings have unit length, so their new layer learns faster at 0.01."""
    if task == "text":
        return TrainConfig(backbone=DEFAULT_TEXT_BACKBONE, learning_rate=1e-2)
    return TrainConfig(backbone=DEFAULT_BACKBONE)
