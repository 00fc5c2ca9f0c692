"""Plotly figures from reports and histories; they only draw what was computed elsewhere."""
from __future__ import annotations

import html

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .metrics import EvalReport, OperatingPoint, PrCurve
from ..engine.loop import EpochLog

PALETTE = plotly.colors.qualitative.Plotly + plotly.colors.qualitative.Dark24


# Legends of charts that compare runs go under them: long run names beside a chart squeezed it to a sliver.
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0}

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


def history_figure(history: list[EpochLog], best_epoch: int | None = None) -> go.Figure:
    """Training and validation loss and accuracy per epoch; a two-stage run's first stage (the head
    alone) is shaded; when early stopping kept an earlier epoch's weights, a line marks that epoch."""
    epochs = [h.epoch for h in history]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for split, dash in (("train", None), ("val", "dot")):
            values = [getattr(h, f"{split}_{metric}") for h in history]
            label = "training" if split == "train" else "validation"
            fig.add_trace(go.Scatter(x=epochs, y=values, name=f"{label} {metric}", mode="lines+markers",
                                     line={"dash": dash}), row=1, col=col)
    _shade_first_stage(fig, history)
    if _kept_earlier(history, best_epoch):
        _mark_best_epoch(fig, best_epoch, history[-1].epoch, f"best epoch {best_epoch}:<br>these weights are kept")
    fig.update_xaxes(title_text="epoch", range=_epoch_range([history]))
    fig.update_layout(height=320, margin={"t": 40, "b": 10})
    return fig


def _shade_first_stage(fig: go.Figure, history: list[EpochLog]) -> None:
    """Grey behind the epochs of stage 1 (the head on the frozen backbone) when fine-tuning followed."""
    first = [h.epoch for h in history if h.stage == 1]
    if not first or not any(h.stage == 2 for h in history):
        return
    for col in (1, 2):
        fig.add_vrect(x0=0.5, x1=max(first) + 0.5, fillcolor="#888", opacity=0.12, line_width=0, row=1, col=col)
    fig.add_annotation(x=0.5, y=0, xref="x", yref="y domain", text="stage 1: the head alone", showarrow=False,
                       xanchor="left", yanchor="bottom", font={"size": 11, "color": "#555"})
    fig.add_annotation(x=max(first) + 0.5, y=0, xref="x", yref="y domain", text="stage 2: fine-tuning",
                       showarrow=False, xanchor="left", yanchor="bottom", font={"size": 11, "color": "#555"})


def _kept_earlier(history: list[EpochLog], best_epoch: int | None) -> bool:
    """True when the kept weights are from an epoch before the last one drawn."""
    return bool(history) and best_epoch is not None and 0 < best_epoch < history[-1].epoch


def _epoch_range(histories: list[list[EpochLog]]) -> list[float]:
    """The epochs drawn, fixed so that a label near the right edge does not stretch the axis."""
    return [0.5, max((h[-1].epoch for h in histories if h), default=1) + 0.5]


def _mark_best_epoch(fig: go.Figure, best_epoch: int, last_epoch: int, label: str, colour: str = "#444",
                     shift: int = 0) -> None:
    """A dashed vertical line at the kept epoch on both panels, labelled on the first (on the side
    with more room)."""
    side = "right" if best_epoch <= last_epoch / 2 else "left"
    for col in (1, 2):
        fig.add_vline(x=best_epoch, line={"dash": "dash", "color": colour, "width": 2}, row=1, col=col)
    fig.add_annotation(x=best_epoch, y=1, xref="x", yref="y domain", text=label, showarrow=False,
                       xanchor="left" if side == "right" else "right", yanchor="top", yshift=-34 * shift,
                       font={"color": colour, "size": 12}, bgcolor="rgba(255,255,255,0.85)")


CHOSEN_CELL = "#f2a900"  # amber: the outline of the clicked or chosen cell of a confusion matrix


def confusion_figure(matrix: list[list[int]], classes: list[str], title: str = "Confusion matrix",
                     chosen: tuple[int, int] | None = None) -> go.Figure:
    """The confusion matrix as a heat map with its counts, under one invisible marker per cell
    (row-major: point index = true * k + predicted) so that a click selects a cell (plotly heat maps
    report no clicks). A clicked cell, and `chosen` (true, predicted), get an amber outline; nothing
    else changes, so every count stays readable."""
    k = len(classes)
    names = [_text(c) for c in classes]
    cells = [(t, p) for t in range(k) for p in range(k)]
    size = max(12, min(80, 400 // k))  # pixels per cell
    fig = go.Figure(go.Heatmap(  # rows bottom up, as the y axis lists them
        x=names, y=names[::-1], z=matrix[::-1], colorscale="Blues", zmin=0, zmax=max(max(map(max, matrix)), 1),
        texttemplate="%{z}", textfont={"size": max(9, min(18, size // 3))}, showscale=False, hoverinfo="skip",
        xgap=1, ygap=1,
    ))
    fig.add_trace(go.Scatter(
        x=[names[p] for _, p in cells], y=[names[t] for t, _ in cells], mode="markers",
        customdata=[matrix[t][p] for t, p in cells],
        marker={"symbol": "square-open", "size": int(size * 0.8), "color": CHOSEN_CELL, "opacity": 0,
                "line": {"width": 4, "color": CHOSEN_CELL}},
        selected={"marker": {"opacity": 1}}, unselected={"marker": {"opacity": 0}},
        hovertemplate="true %{y}, predicted %{x}: %{customdata}<br>click to see them<extra></extra>",
        showlegend=False,
    ))
    if chosen is not None:
        x, y = chosen[1], k - 1 - chosen[0]  # category positions; the y axis lists the classes bottom up
        fig.add_shape(type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.5, y1=y + 0.5,
                      line={"color": CHOSEN_CELL, "width": 4})
    fig.update_layout(title=title, xaxis_title="Predicted class", yaxis_title="True class",
                      height=min(900, 110 + k * (size + 4)), width=None, margin={"t": 50, "b": 60},
                      xaxis={"type": "category", "categoryorder": "array", "categoryarray": names, "showgrid": False,
                             "fixedrange": True},
                      yaxis={"type": "category", "categoryorder": "array", "categoryarray": names[::-1],
                             "showgrid": False, "scaleanchor": "x", "fixedrange": True},
                      # a click selects one cell; a drag neither moves the matrix nor draws a selection box
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
                      yaxis_range=[0, 1.02], height=430 + 22 * len(runs),
                      legend={"font": {"size": 11}, **LEGEND_BELOW})
    return fig


def runs_history_figure(runs: list[tuple[str, list[EpochLog]]],
                        best_epochs: list[int | None] | None = None) -> go.Figure:
    """Validation loss and accuracy per epoch, one line per run; best_epochs (aligned with runs) marks
    each run whose early stopping kept an earlier epoch's weights."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Validation loss", "Validation accuracy"))
    marked = 0
    for i, ((name, history), best) in enumerate(zip(runs, best_epochs or [None] * len(runs))):
        colour = PALETTE[i % len(PALETTE)]
        for col, metric in ((1, "val_loss"), (2, "val_accuracy")):
            fig.add_trace(go.Scatter(x=[h.epoch for h in history], y=[getattr(h, metric) for h in history],
                                     mode="lines+markers", name=_text(name), legendgroup=name,
                                     showlegend=col == 1, line={"color": colour}), row=1, col=col)
        if _kept_earlier(history, best):
            _mark_best_epoch(fig, best, history[-1].epoch, f"best epoch {best}:<br>these weights are kept",
                             colour, shift=marked)  # in the run's colour; the legend names the run
            marked += 1
    fig.update_xaxes(title_text="epoch", range=_epoch_range([history for _, history in runs]))
    fig.update_layout(height=340 + 22 * len(runs), margin={"t": 40, "b": 10}, legend=LEGEND_BELOW)
    return fig


def learning_curve_figure(points: list[dict], zero_shot: dict | None, backbone: str, baseline: str) -> go.Figure:
    """Validation AUC against training examples per class (log axis), with transfer and without, each
    with its 95 % band; for texts, the zero-shot point at 0 drawn at the left edge."""
    fig = go.Figure()
    for i, (method, name) in enumerate((("transfer", f"{_text(backbone)} (transfer)"),
                                        ("baseline", f"{_text(baseline)} (no transfer)"))):
        rows = [p for p in points if p["method"] == method and p["auc"] is not None]
        x = [p["per_class"] for p in rows]
        banded = [p for p in rows if p["auc_low"] is not None]
        colour = PALETTE[i]
        fig.add_trace(go.Scatter(x=[p["per_class"] for p in banded] + [p["per_class"] for p in banded[::-1]],
                                 y=[p["auc_high"] for p in banded] + [p["auc_low"] for p in banded[::-1]],
                                 fill="toself", fillcolor=colour, opacity=0.15, line={"width": 0}, mode="lines",
                                 hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=[p["auc"] for p in rows], mode="lines+markers", name=name,
                                 line={"color": colour}))
    if zero_shot and zero_shot.get("auc") is not None:
        fig.add_trace(go.Scatter(x=[0.7], y=[zero_shot["auc"]], mode="markers", marker={"symbol": "star", "size": 12},
                                 name="no examples: similarity to the class names"))
    sizes = sorted({p["per_class"] for p in points})
    fig.update_xaxes(type="log", title_text="training examples per class", tickvals=sizes,
                     ticktext=[f"{k:,}" for k in sizes])
    fig.update_yaxes(title_text="validation AUC", range=[0.4, 1.02])
    fig.update_layout(height=380, margin={"t": 30, "b": 10}, legend=LEGEND_BELOW)
    return fig


def layer_sweep_figure(blocks: list[dict], recommended: int) -> go.Figure:
    """Validation AUC of a linear layer on each block's pooled output, with 95 % intervals; the block
    to use stands out."""
    x = [f"{b['block']} {_text(b['name'])}" for b in blocks]
    auc = [b["auc"] for b in blocks]
    fig = go.Figure(go.Scatter(
        x=x, y=auc, mode="lines+markers", name="validation AUC", line={"color": PALETTE[0]},
        error_y={"type": "data", "symmetric": False,
                 "array": [None if b["auc_high"] is None else b["auc_high"] - b["auc"] for b in blocks],
                 "arrayminus": [None if b["auc_low"] is None else b["auc"] - b["auc_low"] for b in blocks]},
        hovertemplate="block %{x}: AUC %{y:.3f}<extra></extra>"))
    chosen = next(b for b in blocks if b["block"] == recommended)
    fig.add_trace(go.Scatter(x=[f"{chosen['block']} {_text(chosen['name'])}"], y=[chosen["auc"]], mode="markers",
                             marker={"size": 16, "symbol": "star", "color": PALETTE[1]}, name="the block to use"))
    fig.update_xaxes(title_text="feature block (the new layer learns from its pooled output)")
    lowest = min([b["auc_low"] if b["auc_low"] is not None else b["auc"] for b in blocks if b["auc"] is not None],
                 default=0.5)
    fig.update_yaxes(title_text="validation AUC", range=[max(0.0, lowest - 0.03), 1.01])
    fig.update_layout(height=360, margin={"t": 30, "b": 10}, legend=LEGEND_BELOW)
    return fig
