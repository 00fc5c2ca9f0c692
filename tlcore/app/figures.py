"""The Evaluate page's figures of a run, built once per (run version, threshold, and the cell, layout
or embedding they show) and shared read-only: building a plotly figure validates every point, which
for a map of a thousand examples takes longer than the rest of a rerun. A widget changed in another
tab finds them built; only a new threshold draws the views that depend on it again."""
from __future__ import annotations

import numpy as np
import streamlit as st

from ..insight.metrics import operating_point, pr_curve
from ..insight.plots import confusion_figure, embedding_figure, operating_point_figures, roc_figure
from ..runs.run import Run
from .insights import run_projection
from .loaders import run_version


def example_caption(record: Run, answers: np.ndarray, row: int) -> str:
    """A validation example in one line: its name, true class, the answer and its probability (and the
    true class's probability when the answer is wrong)."""
    classes, y_val, proba = record.classes, record.y_val, record.val_proba
    true, predicted = classes[y_val[row]], classes[answers[row]]
    text = f"{record.val_names[row]} · true {true}, answered {predicted} ({proba[row, answers[row]]:.2f})"
    return text if true == predicted else text + f", p({true}) {proba[row, y_val[row]]:.2f}"


@st.cache_resource(show_spinner=False, max_entries=64)
def _confusion(path: str, mtime: float, threshold: float | None, chosen: tuple[int, int] | None, _record: Run):
    matrix = (_record.report.confusion_matrix if threshold is None else
              operating_point(_record.y_val, _record.val_proba[:, 1], threshold).confusion_matrix)
    return confusion_figure(matrix, _record.classes, chosen=chosen)


def confusion_chart(record: Run, threshold: float | None, chosen: tuple[int, int] | None):
    """The confusion matrix at `threshold` (None: the most probable class), `chosen` cell outlined."""
    chosen = None if chosen is None else (int(chosen[0]), int(chosen[1]))
    return _confusion(*run_version(record), _threshold(threshold), chosen, record)


@st.cache_resource(show_spinner=False, max_entries=64)
def _curves(path: str, mtime: float, threshold: float | None, _record: Run):
    if threshold is None:
        return (roc_figure(_record.report),)
    positive = _record.val_proba[:, 1]
    point = operating_point(_record.y_val, positive, threshold)
    return operating_point_figures(_record.report, pr_curve(_record.y_val, positive), point)


def curve_charts(record: Run, threshold: float | None) -> tuple:
    """Two classes: the ROC and precision-recall curves with the threshold's point marked; more: the
    ROC curves of every class (threshold None)."""
    return _curves(*run_version(record), _threshold(threshold), record)


@st.cache_resource(show_spinner=False, max_entries=32)  # a map of a thousand examples holds about a megabyte
def _embedding(path: str, mtime: float, name: str, method: str, threshold: float | None, title: str, _record: Run):
    answers = _record.answers(threshold)
    texts = _record.val_texts
    hover = [example_caption(_record, answers, r) + (f"<br>{texts[r][:80]}" if texts else "")
             for r in range(len(_record.y_val))]
    return embedding_figure(run_projection(_record, name, method), _record.y_val, answers, _record.classes, hover,
                            title)


def embedding_chart(record: Run, name: str, method: str, threshold: float | None, title: str):
    """The map of one embedding ("pretrained" or "fine-tuned") in a layout, mistakes at `threshold`
    drawn as crosses."""
    return _embedding(*run_version(record), name, method, _threshold(threshold), title, record)


def _threshold(threshold: float | None) -> float | None:
    return None if threshold is None else round(float(threshold), 6)  # one key per slider position
