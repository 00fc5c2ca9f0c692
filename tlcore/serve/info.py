"""What GET /info says about the served run: its classes, model, preprocessing, scores and limits."""
from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import RunLoadError
from ..core.settings import Limits
from ..engine.classifier import Classifier
from .schemas import Info, Metrics, RequestLimits


def read_metrics(folder: Path) -> Metrics:
    """The scores in a run folder's metrics.json (none for a run without one)."""
    path = folder / "metrics.json"
    if not path.is_file():
        return Metrics()
    try:
        return Metrics.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or pydantic's ValidationError (a wrong field)
        reason = exc.strerror if isinstance(exc, OSError) else "it is not the metrics training wrote"
        raise RunLoadError(f"The metrics.json of '{folder}' cannot be read ({reason}). Train and save the run again, "
                           "or remove metrics.json to serve it without its scores.") from None


def run_info(folder: Path, classifier: Classifier, limits: Limits) -> Info:
    """/info's answer for the classifier loaded from this run folder."""
    preprocessing = classifier.preprocessing
    return Info(task=classifier.task, classes=classifier.classes, backbone=classifier.backbone,
                feature_block=classifier.feature_block, trainable_blocks=classifier.trainable_blocks,
                head=classifier.head,
                preprocessing=preprocessing.to_dict() if preprocessing is not None else None,
                metrics=read_metrics(folder),
                limits=RequestLimits(**{name: getattr(limits, name) for name in RequestLimits.model_fields}))
