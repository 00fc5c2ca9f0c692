"""Plotly figures from reports and histories; they only draw what was computed elsewhere."""
from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .metrics import EvalReport
from .training import EpochLog


def _text(label: str) -> str:
    """A class name as plain text: plotly renders a few HTML tags in labels, so escape them."""
    return html.escape(str(label))


def roc_figure(report: EvalReport) -> go.Figure:
    fig = go.Figure()
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dash", "color": "grey"})
    for curve in report.roc_curves:
        if curve.auc is None:
            continue
        name = f"{_text(curve.label)} (AUC {curve.auc:.3f})"
        if len(report.classes) == 2:
            name = f"positive class '{_text(curve.label)}' (AUC {curve.auc:.3f})"
        fig.add_trace(go.Scatter(x=curve.fpr, y=curve.tpr, mode="lines", name=name))
    fig.update_layout(title="ROC curve" + ("s (one class against the rest)" if len(report.classes) > 2 else ""),
                      xaxis_title="False positive rate", yaxis_title="True positive rate",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02], height=450, legend={"font": {"size": 11}})
    return fig


def confusion_figure(report: EvalReport) -> go.Figure:
    classes = [_text(c) for c in report.classes]
    fig = go.Figure(go.Heatmap(
        z=report.confusion_matrix, x=classes, y=classes, colorscale="Blues",
        text=report.confusion_matrix, texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
    ))
    fig.update_layout(title="Confusion matrix", xaxis_title="Predicted class", yaxis_title="True class",
                      yaxis_autorange="reversed", xaxis_type="category", yaxis_type="category", height=450)
    return fig


def history_figure(history: list[EpochLog]) -> go.Figure:
    epochs = [h.epoch for h in history]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for split, dash in (("train", None), ("val", "dot")):
            values = [getattr(h, f"{split}_{metric}") for h in history]
            label = "training" if split == "train" else "validation"
            fig.add_trace(go.Scatter(x=epochs, y=values, name=f"{label} {metric}", mode="lines+markers",
                                     line={"dash": dash}), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=320, margin={"t": 40, "b": 10})
    return fig
