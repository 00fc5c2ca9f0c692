"""Trained classifiers, ready to predict: images (with their preprocessing) and texts (with their
tokenizer or fitted featuriser). predict_proba columns follow `classes`, as in scikit-learn."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..backbones import ImagePreprocessing
from ..core.device import autocast_dtype
from ..backbones.preprocessing import load_pixels, load_readable_pixels, normalize
from .model import TransferModel
from .text_features import compute_text_activations
from .loop import predict_logits


@dataclass
class ImageClassifier:
    """predict_proba columns follow `classes`, as in scikit-learn."""

    model: TransferModel
    classes: list[str]
    preprocessing: ImagePreprocessing
    backbone: str
    trainable_blocks: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    head: str = "linear"
    task = "image"

    @torch.inference_mode()
    def _proba(self, pixels: torch.Tensor, batch_size: int = 32) -> np.ndarray:
        self.model.eval().to(self.device)
        dtype = autocast_dtype(self.device)
        out = [np.zeros((0, len(self.classes)), dtype=np.float32)]
        for i in range(0, len(pixels), batch_size):
            x = normalize(pixels[i:i + batch_size].to(self.device), self.preprocessing)
            with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
                out.append(torch.softmax(self.model(x).float(), dim=1).cpu().numpy())
        return np.concatenate(out)

    def predict_table(self, files: Sequence[tuple[str, bytes]]) -> pd.DataFrame:
        """One row per (name, bytes) file: predicted class, confidence, one probability column per
        class. An unreadable file gets a row with the reason in `problem` instead."""
        pixels, problems = load_readable_pixels(files, self.preprocessing)
        proba = iter(self._proba(pixels))
        rows = []
        for i, (name, _) in enumerate(files):
            row = {"file": name, "predicted": None, "confidence": None}
            if i in problems:
                row["problem"] = problems[i]
            else:
                p = next(proba)
                row.update(predicted=self.classes[int(p.argmax())], confidence=float(p.max()))
                row.update({f"p_{c}": float(v) for c, v in zip(self.classes, p)})
            rows.append(row)
        return pd.DataFrame(rows)

    def predict_proba(self, files: Sequence[tuple[str, bytes]]) -> np.ndarray:
        """Probabilities [n, len(classes)]; raises ImageReadError if a file is unreadable."""
        return self._proba(load_pixels(files, self.preprocessing))


@dataclass
class TextClassifier:
    """A text model: a transformer backbone (it tokenizes) or a classic featuriser, then the head."""

    model: TransferModel
    classes: list[str]
    backbone: str
    trainable_blocks: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    head: str = "linear"
    featurizer: object | None = None  # TfidfFeaturizer / WordVectorFeaturizer for the classic backbones
    task = "text"

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities [n, len(classes)]."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        self.model.eval().to(self.device)
        if self.featurizer is not None:
            features = self.featurizer.transform(texts)
        else:
            ids, mask, _ = self.model.backbone.tokenize(texts)
            features = compute_text_activations(self.model.backbone, ids, mask, None, device=self.device)
        logits = predict_logits(self.model, features, len(self.model.backbone.stages), device=self.device)
        return torch.softmax(logits, dim=1).numpy()

    def predict_table(self, texts: Sequence[str]) -> pd.DataFrame:
        """One row per text: the text, predicted class, confidence, one probability column per class."""
        proba = self.predict_proba(texts)
        frame = pd.DataFrame({"text": list(texts), "predicted": [self.classes[i] for i in proba.argmax(1)],
                              "confidence": proba.max(1)})
        for i, c in enumerate(self.classes):
            frame[f"p_{c}"] = proba[:, i]
        return frame
