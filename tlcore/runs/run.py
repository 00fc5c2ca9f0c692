"""A finished run: one object, built once when training ends or read from a saved folder (see
tlcore.runs.files), that the Evaluate, Predict and Compare pages, the sweep and the command line all
read. What is large loads on first use: the validation images and the classifier."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..core.config import TrainConfig
from ..engine.classifier import Classifier
from ..engine.loop import EpochLog
from ..engine.reuse import Reuse
from ..insight.checks import trust_warnings
from ..insight.metrics import EvalReport, evaluate


@dataclass(frozen=True)
class RunFacts:
    """What metrics.json records about how the run went, besides its scores."""

    timings_s: dict[str, float]  # per phase, and "total"
    n_train: int = 0
    best_epoch: int = 0  # the epoch whose weights were kept
    epochs_run: int = 0
    device: str = ""  # in words, e.g. "CPU (4 threads)"
    reuse: Reuse = field(default_factory=Reuse)
    train_counts: list[int] | None = None  # training examples per class (None in old runs)
    duplicates: list[dict] = field(default_factory=list)  # [{"val": name, "train": name}]
    trainable_params: int | None = None
    total_params: int | None = None
    truncated_texts: int | None = None  # texts only: cut at max_tokens
    max_tokens: int | None = None
    batch_size_used: int | None = None  # when running out of memory lowered the batch size
    stages: list[dict] = field(default_factory=list)  # what each training stage did (see engine.stages)
    cluster: dict | None = None  # where a cluster ran it: {"backend": "ray", "node": ..., "workers": n}

    def to_dict(self) -> dict:
        """The metrics.json fields (flat, as earlier versions wrote them); unset optional ones left out."""
        facts = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "reuse"}
        optional = ("truncated_texts", "max_tokens", "batch_size_used", "cluster")
        return {**{k: v for k, v in facts.items() if v is not None or k not in optional}, **self.reuse.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "RunFacts":
        """From metrics.json (checked by tlcore.runs.checks); fields missing in old runs get their defaults."""
        names = {f.name for f in fields(cls)} - {"reuse"}
        reuse = Reuse(list(data.get("reused", [])), list(data.get("computed", [])), data.get("frozen_blocks_ran"))
        return cls(reuse=reuse, **{k: v for k, v in data.items() if k in names})


@dataclass
class Run:
    """A run's settings, history, facts and validation results; `pixels` and `classifier` load on first use."""

    task: str
    classes: list[str]
    config: TrainConfig
    history: list[EpochLog]
    facts: RunFacts
    y_val: np.ndarray
    val_proba: np.ndarray
    val_names: list[str]
    val_texts: list[str] | None = None
    features: dict[str, np.ndarray] = field(default_factory=dict)  # "pretrained" / "fine-tuned" embeddings
    folder: Path | None = None
    label: str = "This session's run"
    load_pixels: Callable[[], torch.Tensor] | None = field(default=None, repr=False)  # images only
    load_classifier: Callable[[], Classifier] | None = field(default=None, repr=False)
    loaded: dict = field(default_factory=dict, repr=False)  # computed once; shared by copies (replace)

    def _once(self, name: str, compute: Callable[[], object]):
        if name not in self.loaded:
            self.loaded[name] = compute()
        return self.loaded[name]

    @property
    def report(self) -> EvalReport:
        return self._once("report", lambda: evaluate(self.y_val, self.val_proba, classes=self.classes))

    @property
    def pixels(self) -> torch.Tensor | None:
        """The validation images as the model saw them (uint8 [n, 3, size, size], resized and cropped),
        from the training run's decoded images or the saved folder: never decoded twice."""
        return self._once("pixels", lambda: self.load_pixels() if self.load_pixels is not None else None)

    @property
    def classifier(self) -> Classifier:
        return self._once("classifier", self.load_classifier)

    def image(self, row: int) -> Image.Image:
        return Image.fromarray(self.pixels[row].permute(1, 2, 0).numpy())

    @property
    def y_pred(self) -> np.ndarray:
        return self.val_proba.argmax(1)

    def answers(self, threshold: float | None = None) -> np.ndarray:
        """Each validation example's answer: the most probable class, or for two classes, the second
        class from `threshold` on (None: the most probable)."""
        if threshold is None or len(self.classes) != 2:
            return self.y_pred
        return (self.val_proba[:, 1] >= threshold).astype(np.int64)

    def accuracy(self, threshold: float | None = None) -> float:
        return float(np.mean(self.answers(threshold) == self.y_val))

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
        return trust_warnings(classes=self.classes, train_counts=self.facts.train_counts or [], y_val=self.y_val,
                              duplicates=self.facts.duplicates, unit=self.task)

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

    def metrics_dict(self) -> dict:
        """The metrics.json contract: the evaluation report, then the facts."""
        report = asdict(self.report)
        return {"auc": report["auc"], "accuracy": report["accuracy"], "classes": report["classes"],
                "confusion_matrix": report["confusion_matrix"], "per_class": report["per_class"],
                "roc_curves": report["roc_curves"], "n_val": report["n"], "head": self.config.head,
                **self.facts.to_dict()}
