"""A trained classifier, ready to predict images or texts alike: the network, its classes and the
adapter that prepares raw inputs. predict_proba columns follow `classes`, as in scikit-learn."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .activations import Activations, num_rows
from .adapters import Adapter
from .inference import DEVICE_LOCK, infer
from .model import TransferModel


class Classifier:
    """`model` (in eval mode; shared read-only once loaded), `classes` (predict_proba's columns) and the
    `adapter` of its inputs (images: files as (name, bytes); texts: strings)."""

    def __init__(self, model: TransferModel, classes: list[str], adapter: Adapter, *, backbone: str,
                 trainable_blocks: int, head: str, feature_block: int | None = None,
                 device: torch.device | None = None):
        self.model, self.classes, self.adapter = model, list(classes), adapter
        self.backbone, self.trainable_blocks, self.head = backbone, trainable_blocks, head
        self.feature_block = feature_block  # None: the whole backbone
        self.device = device or torch.device("cpu")

    @property
    def task(self) -> str:
        return self.adapter.modality

    @property
    def preprocessing(self):
        return self.adapter.preprocessing

    def proba(self, inputs: Activations) -> np.ndarray:
        """Probabilities [n, len(classes)] of inputs already prepared by the adapter."""
        if not num_rows(inputs):
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        with DEVICE_LOCK:
            logits = infer(self.model, inputs, lambda x: self.model.forward_from(self.adapter.prepare(x), 0),
                           device=self.device, order=self.adapter.order(inputs), doing="predicting")
        return torch.softmax(logits.float(), dim=1).numpy()

    def predict_proba(self, raw: Sequence) -> np.ndarray:
        """Probabilities [n, len(classes)]; an unreadable image raises ImageReadError."""
        return self.proba(self.adapter.encode(list(raw)))

    def predict_table(self, raw: Sequence) -> pd.DataFrame:
        """One row per input: what it is (file, or text), predicted class, confidence, one probability
        column per class. An unreadable file gets a row with the reason in `problem` instead."""
        inputs, problems = self.adapter.encode_readable(list(raw))
        proba = iter(self.proba(inputs))
        rows = []
        for i, item in enumerate(raw):
            row = {**self.adapter.describe(item), "predicted": None, "confidence": None}
            if i in problems:
                row["problem"] = problems[i]
            else:
                p = next(proba)
                row.update(predicted=self.classes[int(p.argmax())], confidence=float(p.max()))
                row.update({f"p_{c}": float(v) for c, v in zip(self.classes, p)})
            rows.append(row)
        return pd.DataFrame(rows)
