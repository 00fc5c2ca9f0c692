"""A finished run as the insight views read it: from this session's training or from a saved folder
(persistence.load_record), so every view works on both."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..insight.checks import trust_warnings
from ..core.config import TrainConfig
from .experiment import TrainResult
from ..backbones.preprocessing import load_pixels
from ..insight.metrics import EvalReport, evaluate
from ..engine.loop import EpochLog


@dataclass
class RunRecord:
    """Validation labels, probabilities, names (and texts), embeddings, history and facts of one run.
    Images and the classifier load on first use (`pixels`, `classifier`)."""

    label: str
    task: str
    classes: list[str]
    config: TrainConfig
    y_val: np.ndarray
    val_proba: np.ndarray
    val_names: list[str]
    facts: dict  # the metrics.json fields: timings_s, n_train, train_counts, duplicates, parameters, ...
    history: list[EpochLog] = field(default_factory=list)
    val_texts: list[str] | None = None
    features: dict[str, np.ndarray] = field(default_factory=dict)  # "pretrained" / "fine-tuned"
    load_pixels: Callable[[], torch.Tensor] | None = None  # uint8 [n, 3, size, size], images only
    load_classifier: Callable[[], object] | None = None
    folder: Path | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_result(cls, result: TrainResult, label: str = "This session's run") -> "RunRecord":
        examples = result.val_examples
        image = result.task == "image"
        prep = getattr(result.classifier, "preprocessing", None)
        return cls(
            label=label, task=result.task, classes=list(result.classifier.classes), config=result.config,
            y_val=np.asarray(result.y_val), val_proba=np.asarray(result.val_proba),
            val_names=[e.name for e in examples], facts=result.metrics_dict(), history=list(result.history),
            val_texts=None if image else [e.text for e in examples], features=dict(result.val_features),
            load_pixels=(lambda: load_pixels([(e.name, e.data) for e in examples], prep)) if image else None,
            load_classifier=lambda: result.classifier,
        )

    @property
    def report(self) -> EvalReport:
        if "report" not in self._cache:
            self._cache["report"] = evaluate(self.y_val, self.val_proba, classes=self.classes)
        return self._cache["report"]

    @property
    def pixels(self) -> torch.Tensor | None:
        """The validation images as the model saw them (resized and cropped), decoded once."""
        if self.load_pixels is not None and "pixels" not in self._cache:
            self._cache["pixels"] = self.load_pixels()
        return self._cache.get("pixels")

    @property
    def classifier(self):
        if "classifier" not in self._cache:
            self._cache["classifier"] = self.load_classifier()
        return self._cache["classifier"]

    def image(self, row: int) -> Image.Image:
        return Image.fromarray(self.pixels[row].permute(1, 2, 0).numpy())

    @property
    def y_pred(self) -> np.ndarray:
        return self.val_proba.argmax(1)

    @property
    def losses(self) -> np.ndarray:
        """Each validation example's cross-entropy: how surprised the model was by the true class."""
        true_proba = self.val_proba[np.arange(len(self.y_val)), self.y_val]
        return -np.log(np.clip(true_proba, 1e-12, 1.0))

    def predictions(self) -> pd.DataFrame:
        """One row per validation example: file (or row and text), true and predicted class, loss, one
        probability column per class."""
        source = ({"file": self.val_names} if self.val_texts is None
                  else {"row": self.val_names, "text": self.val_texts})
        frame = pd.DataFrame({**source, "true": [self.classes[i] for i in self.y_val],
                              "predicted": [self.classes[i] for i in self.y_pred]})
        frame["correct"] = frame["true"] == frame["predicted"]
        frame["loss"] = self.losses
        for i, c in enumerate(self.classes):
            frame[f"p_{c}"] = self.val_proba[:, i]
        return frame

    def warnings(self) -> list[str]:
        counts = self.facts.get("train_counts")
        return trust_warnings(
            classes=self.classes, train_counts=counts or [], y_val=self.y_val,
            duplicates=self.facts.get("duplicates", []), unit="image" if self.task == "image" else "text")

    def confidently_wrong(self, predictions: np.ndarray | None = None) -> np.ndarray:
        """Rows of the mistakes, most confident first (highest loss); predictions default to argmax."""
        predictions = self.y_pred if predictions is None else predictions
        wrong = np.flatnonzero(predictions != self.y_val)
        return wrong[np.argsort(-self.losses[wrong], kind="stable")]

    def cell_rows(self, true: int, predicted: int, predictions: np.ndarray | None = None) -> np.ndarray:
        """Rows behind one confusion-matrix cell, most confident first (predictions default to argmax)."""
        predictions = self.y_pred if predictions is None else predictions
        rows = np.flatnonzero((self.y_val == true) & (predictions == predicted))
        return rows[np.argsort(-self.val_proba[rows, predicted], kind="stable")]

    def answers(self, threshold: float | None = None) -> np.ndarray:
        """Each validation example's answer: the most probable class, or for two classes, the second
        class from `threshold` on (None: the most probable)."""
        if threshold is None or len(self.classes) != 2:
            return self.y_pred
        return (self.val_proba[:, 1] >= threshold).astype(np.int64)

    def accuracy(self, threshold: float | None = None) -> float:
        return float(np.mean(self.answers(threshold) == self.y_val))
