"""Arrays in, EvalReport out. AUC always comes from probabilities, via scikit-learn."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score, auc, confusion_matrix, precision_recall_fscore_support, roc_auc_score, roc_curve,
)


@dataclass
class RocCurve:
    label: str
    fpr: list[float]
    tpr: list[float]
    auc: float | None


@dataclass
class EvalReport:
    """Plain numbers for the pages, the command line and metrics.json."""

    classes: list[str]
    accuracy: float
    auc: float | None
    confusion_matrix: list[list[int]]  # rows = true class, columns = predicted, in `classes` order
    per_class: list[dict]
    roc_curves: list[RocCurve]
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def _roc(y_true_binary: np.ndarray, scores: np.ndarray, label: str) -> RocCurve:
    if y_true_binary.all() or not y_true_binary.any():
        return RocCurve(label, [], [], None)  # undefined without both positives and negatives
    fpr, tpr, _ = roc_curve(y_true_binary, scores)
    return RocCurve(label, fpr.tolist(), tpr.tolist(), float(auc(fpr, tpr)))


def roc_auc(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> float | None:
    """Binary: AUC of the positive class (index 1); multi-class: macro one-vs-rest. None if undefined."""
    present = np.unique(y_true)
    if len(present) < 2:
        return None
    if n_classes == 2:
        return float(roc_auc_score(y_true, proba[:, 1]))
    if len(present) < n_classes:
        return None
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=np.arange(n_classes)))


def evaluate(y_true, proba, *, classes: list[str]) -> EvalReport:
    """y_true: class indices; proba: [n, len(classes)] with columns in `classes` order."""
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    labels = np.arange(len(classes))
    y_pred = proba.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_class = [
        {"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for c, p, r, f, s in zip(classes, precision, recall, f1, support)
    ]
    if len(classes) == 2:
        curves = [_roc(y_true == 1, proba[:, 1], classes[1])]
    else:
        curves = [_roc(y_true == i, proba[:, i], c) for i, c in enumerate(classes)]
    return EvalReport(
        classes=list(classes),
        accuracy=float(accuracy_score(y_true, y_pred)),
        auc=roc_auc(y_true, proba, len(classes)),
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        per_class=per_class,
        roc_curves=curves,
        n=int(len(y_true)),
    )
