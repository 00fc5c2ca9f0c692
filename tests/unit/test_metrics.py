import numpy as np
from sklearn.metrics import roc_auc_score

from tlcore import evaluate


def test_binary_auc_equals_sklearn_from_probabilities():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    proba = np.stack([1 - p1, p1], 1)
    report = evaluate(y, proba, classes=["no", "yes"])
    assert report.auc == roc_auc_score(y, p1)
    # AUC from hard predictions would differ: the report must use the probabilities
    assert report.auc != roc_auc_score(y, proba.argmax(1))
    assert report.roc_curves[0].label == "yes"


def test_multiclass_auc_is_macro_one_vs_rest():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + np.eye(3)[y] * 1.5
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    report = evaluate(y, proba, classes=["a", "b", "c"])
    assert np.isclose(report.auc, roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert len(report.roc_curves) == 3
    assert np.isclose(np.mean([c.auc for c in report.roc_curves]), report.auc)


def test_confusion_matrix_rows_are_true_classes():
    y = np.array([0, 0, 1, 2])
    proba = np.eye(3)[[0, 1, 1, 1]]
    report = evaluate(y, proba, classes=["a", "b", "c"])
    assert report.confusion_matrix == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    assert report.accuracy == 0.5
    assert [row["support"] for row in report.per_class] == [2, 1, 1]


def test_auc_is_none_when_a_class_is_missing():
    report = evaluate(np.array([0, 0, 1]), np.eye(3)[[0, 0, 1]], classes=["a", "b", "c"])
    assert report.auc is None
