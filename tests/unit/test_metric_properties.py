"""Properties of the insight metrics, checked against scikit-learn on generated inputs."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import precision_score, recall_score, roc_auc_score

from tlcore import evaluate
from tlcore.insight.metrics import _resampled_auc, bootstrap_intervals, majority_baseline, operating_point, roc_auc

SCORE = st.integers(0, 1000).map(lambda i: i / 1000)  # probabilities to 3 decimals, ties likely


@st.composite
def binary_scores(draw, min_size=4, max_size=60):
    """Labels with both classes present and positive-class scores in [0, 1] (ties allowed)."""
    n = draw(st.integers(min_size, max_size))
    y = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    y[0], y[1] = 0, 1
    scores = np.array(draw(st.lists(SCORE, min_size=n, max_size=n)))
    return y, scores


@st.composite
def labelled_proba(draw, max_classes=5, max_size=60):
    k = draw(st.integers(2, max_classes))
    n = draw(st.integers(k, max_size))
    y = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    y[:k] = np.arange(k)
    raw = draw(arrays(np.float64, (n, k), elements=st.floats(0.01, 1.0)))
    return y, raw / raw.sum(1, keepdims=True)


def _proba(scores):
    return np.stack([1 - scores, scores], 1)


@settings(max_examples=80, deadline=None)
@given(binary_scores(), st.sampled_from([np.sqrt, np.exp, lambda s: 3 * s + 1, lambda s: s ** 3]))
def test_auc_is_unchanged_by_a_monotone_transform_of_the_scores(data, transform):
    y, scores = data
    assert np.isclose(roc_auc(y, _proba(scores), 2), roc_auc_score(y, transform(scores)))


@settings(max_examples=80, deadline=None)
@given(binary_scores())
def test_auc_of_negated_scores_is_one_minus_auc(data):
    y, scores = data
    assert np.isclose(roc_auc_score(y, -scores), 1 - roc_auc(y, _proba(scores), 2))


@settings(max_examples=60, deadline=None)
@given(labelled_proba())
def test_confusion_matrix_sums_to_n_and_rows_to_class_counts(data):
    y, proba = data
    k = proba.shape[1]
    cm = np.array(evaluate(y, proba, classes=[str(i) for i in range(k)]).confusion_matrix)
    assert cm.sum() == len(y)
    assert cm.sum(1).tolist() == np.bincount(y, minlength=k).tolist()
    assert np.isclose(np.trace(cm) / len(y), np.mean(proba.argmax(1) == y))


@settings(max_examples=80, deadline=None)
@given(binary_scores(), SCORE)
def test_operating_point_matches_sklearn_and_its_ends_are_all_positive_and_all_negative(data, threshold):
    y, scores = data
    point = operating_point(y, scores, threshold)
    predicted = (scores >= threshold).astype(int)
    assert np.isclose(point.precision, precision_score(y, predicted, zero_division=0))
    assert np.isclose(point.recall, recall_score(y, predicted, zero_division=0))
    assert np.array(point.confusion_matrix).sum() == len(y)
    everything = operating_point(y, scores, 0.0)
    assert everything.recall == 1.0 and everything.false_positive_rate == 1.0
    assert np.array(everything.confusion_matrix)[:, 0].sum() == 0  # no example called negative
    nothing = operating_point(y, scores, np.nextafter(scores.max(), np.inf))
    assert nothing.recall == 0.0 and nothing.false_positive_rate == 0.0
    assert np.array(nothing.confusion_matrix)[:, 1].sum() == 0  # no example called positive


@settings(max_examples=40, deadline=None)
@given(labelled_proba(), st.integers(0, 2**31))
def test_fast_resampled_auc_equals_sklearn_per_resample(data, seed):
    y, proba = data
    k = proba.shape[1]
    rows = np.random.default_rng(seed).integers(0, len(y), (20, len(y)))
    fast = _resampled_auc(y, proba, rows)
    for value, r in zip(fast, rows):
        if len(np.unique(y[r])) < k:
            assert np.isnan(value)
        else:
            assert np.isclose(value, roc_auc(y[r], proba[r], k))


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_data():
    rng = np.random.default_rng(0)

    def interval_width(n):
        y = rng.integers(0, 2, n)
        p = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
        intervals = bootstrap_intervals(y, _proba(p), seed=1)
        auc, accuracy = roc_auc(y, _proba(p), 2), np.mean((p >= 0.5) == y)
        assert intervals["auc"].low <= auc <= intervals["auc"].high
        assert intervals["accuracy"].low <= accuracy <= intervals["accuracy"].high
        return intervals["auc"].high - intervals["auc"].low

    assert interval_width(1000) < interval_width(30) / 2


def test_bootstrap_gives_no_auc_interval_when_auc_is_undefined():
    intervals = bootstrap_intervals(np.zeros(10, int), _proba(np.linspace(0, 1, 10)))
    assert intervals["auc"] is None and intervals["accuracy"] is not None


def test_majority_baseline_uses_the_most_common_training_class():
    assert majority_baseline([1, 3, 1], [1, 1, 0, 2]) == (1, 0.5)
