"""Plotly figures from reports and histories; they only draw what was computed elsewhere."""
from __future__ import annotations

import html

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .metrics import EvalReport, OperatingPoint, PrCurve
from .training import EpochLog

PALETTE = plotly.colors.qualitative.Plotly + plotly.colors.qualitative.Dark24


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


def confusion_figure(matrix: list[list[int]], classes: list[str], title: str = "Confusion matrix") -> go.Figure:
    """The confusion matrix as one square marker per cell (row-major: point index = true * k + predicted),
    so a click selects a cell; plotly heat maps report no clicks."""
    k = len(classes)
    names = [_text(c) for c in classes]
    cells = [(t, p) for t in range(k) for p in range(k)]
    counts = [matrix[t][p] for t, p in cells]
    top = max(max(counts), 1)
    size = max(12, min(80, 400 // k))
    fig = go.Figure(go.Scatter(
        x=[names[p] for _, p in cells], y=[names[t] for t, _ in cells], mode="markers+text",
        text=[str(c) for c in counts],
        textfont={"size": max(9, min(18, size // 3)), "color": ["white" if c > top / 2 else "#222" for c in counts]},
        marker={"symbol": "square", "size": size, "color": counts, "colorscale": "Blues", "cmin": 0, "cmax": top,
                "line": {"width": 1, "color": "#ccc"}},
        selected={"marker": {"opacity": 1}}, unselected={"marker": {"opacity": 0.55}},
        hovertemplate="true %{y}, predicted %{x}: %{text}<br>click to see them<extra></extra>",
    ))
    fig.update_layout(title=title, xaxis_title="Predicted class", yaxis_title="True class",
                      height=min(900, 160 + k * (size + 4)), width=None,
                      xaxis={"type": "category", "categoryorder": "array", "categoryarray": names, "showgrid": False},
                      yaxis={"type": "category", "categoryorder": "array", "categoryarray": names[::-1],
                             "showgrid": False, "scaleanchor": "x"},
                      clickmode="event+select", dragmode=False, plot_bgcolor="white")
    return fig


def operating_point_figures(report: EvalReport, pr: PrCurve, point: OperatingPoint | None) -> tuple[go.Figure, go.Figure]:
    """The ROC curve and the precision-recall curve, each with the threshold's point marked."""
    roc = roc_figure(report)
    positive = _text(report.classes[1])
    pr_fig = go.Figure(go.Scatter(x=pr.recall, y=pr.precision, mode="lines",
                                  name=f"'{positive}' (average precision {pr.average_precision or 0:.3f})"))
    pr_fig.update_layout(title="Precision-recall curve", xaxis_title=f"Recall (share of '{positive}' found)",
                         yaxis_title="Precision (share of alarms that are right)", xaxis_range=[0, 1],
                         yaxis_range=[0, 1.02], height=450, showlegend=True, legend={"font": {"size": 11}})
    if point is not None:
        label = f"threshold {point.threshold:.2f}"
        roc.add_trace(go.Scatter(x=[point.false_positive_rate], y=[point.recall], mode="markers", name=label,
                                 marker={"size": 14, "color": "#d62728"}))
        pr_fig.add_trace(go.Scatter(x=[point.recall], y=[point.precision], mode="markers", name=label,
                                    marker={"size": 14, "color": "#d62728"}))
    return roc, pr_fig


def embedding_figure(points, y_true, y_pred, classes: list[str], hover: list[str], title: str) -> go.Figure:
    """Validation examples as dots coloured by true class; mistakes drawn as crosses."""
    fig = go.Figure()
    for i, name in enumerate(classes):
        for wrong in (False, True):
            rows = [r for r in range(len(y_true)) if y_true[r] == i and (y_pred[r] != y_true[r]) == wrong]
            if not rows:
                continue
            fig.add_trace(go.Scatter(
                x=[points[r][0] for r in rows], y=[points[r][1] for r in rows], mode="markers",
                name=f"{_text(name)}{' (wrong)' if wrong else ''}", legendgroup=str(i),
                marker={"symbol": "x" if wrong else "circle", "size": 11 if wrong else 8,
                        "color": PALETTE[i % len(PALETTE)], "line": {"width": 1, "color": "black"} if wrong else None},
                text=[hover[r] for r in rows], customdata=rows,
                hovertemplate="%{text}<extra></extra>",
            ))
    fig.update_layout(title=title, height=430, xaxis={"showticklabels": False, "title": ""},
                      yaxis={"showticklabels": False, "title": ""}, legend={"font": {"size": 11}})
    return fig


def runs_roc_figure(runs: list[tuple[str, EvalReport]]) -> go.Figure:
    """One ROC curve per run, coloured as in runs_history_figure: binary, the positive class's curve;
    otherwise the one-against-the-rest curves averaged, with the macro AUC in the name."""
    fig = go.Figure()
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dash", "color": "grey"})
    for i, (name, report) in enumerate(runs):
        curves = [c for c in report.roc_curves if c.auc is not None]
        if not curves:
            continue
        grid = np.linspace(0, 1, 101)
        tpr = np.mean([np.interp(grid, c.fpr, c.tpr) for c in curves], axis=0)
        fig.add_trace(go.Scatter(x=grid, y=tpr, mode="lines", line={"color": PALETTE[i % len(PALETTE)]},
                                 name=f"{_text(name)} (AUC {report.auc or 0:.3f})"))
    fig.update_layout(title="ROC curves" + (" (mean over classes)" if any(len(r.classes) > 2 for _, r in runs) else ""),
                      xaxis_title="False positive rate", yaxis_title="True positive rate", xaxis_range=[0, 1],
                      yaxis_range=[0, 1.02], height=430, legend={"font": {"size": 11}})
    return fig


def runs_history_figure(runs: list[tuple[str, list[EpochLog]]]) -> go.Figure:
    """Validation loss and accuracy per epoch, one line per run."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Validation loss", "Validation accuracy"))
    for i, (name, history) in enumerate(runs):
        colour = PALETTE[i % len(PALETTE)]
        for col, metric in ((1, "val_loss"), (2, "val_accuracy")):
            fig.add_trace(go.Scatter(x=[h.epoch for h in history], y=[getattr(h, metric) for h in history],
                                     mode="lines+markers", name=_text(name), legendgroup=name,
                                     showlegend=col == 1, line={"color": colour}), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=340, margin={"t": 40, "b": 10})
    return fig
