"""Arrays in, numbers out: the EvalReport, a binary operating point, the PR curve, the majority
baseline and bootstrap intervals. AUC always comes from probabilities, via scikit-learn."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import (
    accuracy_score, auc, average_precision_score, confusion_matrix, precision_recall_curve,
    precision_recall_fscore_support, roc_auc_score, roc_curve,
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


@dataclass
class OperatingPoint:
    """A binary model read at one threshold: positive when p(positive class) >= threshold."""

    threshold: float
    confusion_matrix: list[list[int]]  # [[TN, FP], [FN, TP]], rows = true class
    precision: float
    recall: float  # = true positive rate
    false_positive_rate: float
    accuracy: float


def operating_point(y_true, positive_proba, threshold: float) -> OperatingPoint:
    """Threshold 0 calls every example positive; a threshold above every score calls none positive."""
    y_true = np.asarray(y_true, dtype=np.int64)
    predicted = (np.asarray(positive_proba, dtype=np.float64) >= threshold).astype(np.int64)
    cm = confusion_matrix(y_true, predicted, labels=[0, 1])
    (tn, fp), (fn, tp) = cm
    return OperatingPoint(
        threshold=float(threshold), confusion_matrix=cm.tolist(),
        precision=float(tp / (tp + fp)) if tp + fp else 0.0,
        recall=float(tp / (tp + fn)) if tp + fn else 0.0,
        false_positive_rate=float(fp / (fp + tn)) if fp + tn else 0.0,
        accuracy=float((tp + tn) / len(y_true)) if len(y_true) else 0.0,
    )


@dataclass
class PrCurve:
    precision: list[float]
    recall: list[float]
    average_precision: float | None


def pr_curve(y_true, positive_proba) -> PrCurve:
    """Precision against recall for the positive class (index 1), with average precision."""
    y_true = np.asarray(y_true) == 1
    if not y_true.any():
        return PrCurve([], [], None)
    precision, recall, _ = precision_recall_curve(y_true, positive_proba)
    return PrCurve(precision.tolist(), recall.tolist(), float(average_precision_score(y_true, positive_proba)))


def majority_baseline(train_counts, y_val) -> tuple[int, float]:
    """(class, validation accuracy) of always answering the most common training class (counts per
    class index): what a model that learnt nothing would score."""
    majority = int(np.argmax(train_counts))
    return majority, float(np.mean(np.asarray(y_val) == majority)) if len(y_val) else 0.0


@dataclass
class Interval:
    low: float
    high: float


def _resampled_auc(y_true: np.ndarray, proba: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """AUC of each resample (a row of `rows`), the way roc_auc scores it (binary: class 1; otherwise the
    macro one-vs-rest mean), by the rank-sum formula so that a thousand resamples take milliseconds.
    NaN where a resample lacks a class."""
    n_classes = proba.shape[1]
    columns = [1] if n_classes == 2 else range(n_classes)
    per_class = []
    for c in columns:
        positive = y_true[rows] == c
        n_pos = positive.sum(1)
        n_neg = rows.shape[1] - n_pos
        ranks = rankdata(proba[rows, c], axis=1)  # ties share their mean rank, as in the AUC's definition
        with np.errstate(divide="ignore", invalid="ignore"):
            per_class.append(((ranks * positive).sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    complete = np.array([len(np.unique(y_true[r])) == n_classes for r in rows])
    return np.where(complete, np.mean(per_class, axis=0), np.nan)


def bootstrap_aucs(y_true, proba, *, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The AUC of each bootstrap resample of the validation examples (NaN where one lacks a class)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    rows = np.random.default_rng(seed).integers(0, len(y_true), (n_resamples, len(y_true)))
    return _resampled_auc(y_true, np.asarray(proba, dtype=np.float64), rows)


def percentile_interval(values: np.ndarray, n_resamples: int, level: float = 0.95) -> Interval | None:
    """The central `level` of the resampled values that are defined; None when fewer than half of the
    `n_resamples` are."""
    values = values[~np.isnan(values)]
    if len(values) < n_resamples / 2:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high))


def bootstrap_intervals(y_true, proba, *, n_resamples: int = 1000, seed: int = 0,
                        level: float = 0.95) -> dict[str, Interval | None]:
    """Percentile bootstrap intervals for accuracy and AUC: resample the validation examples with
    replacement and see how much the numbers move. AUC skips resamples missing a class; None when
    it is undefined or fewer than half the resamples have every class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if not len(y_true):
        return {"accuracy": None, "auc": None}
    rows = np.random.default_rng(seed).integers(0, len(y_true), (n_resamples, len(y_true)))
    accuracies = (proba.argmax(1) == y_true)[rows].mean(1)
    aucs = _resampled_auc(y_true, proba, rows)
    return {"accuracy": percentile_interval(accuracies, n_resamples, level),
            "auc": percentile_interval(aucs, n_resamples, level)}
