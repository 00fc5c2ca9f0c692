"""A run's network as an ONNX graph that takes what predict.py makes (uint8 pixels, or token ids and
mask) and answers probabilities, checked against the app's own float32 answers before it is kept."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...core.errors import ExportError
from ...engine.classifier import Classifier

OPSET = 18
TOLERANCE = 1e-4  # the largest difference in any probability allowed between the export and the app
MAX_CHECKED = 256  # validation examples the export is checked on


class ImageGraph(nn.Module):
    """pixels (uint8 [n, 3, size, size], resized and cropped) -> probabilities [n, classes]."""

    def __init__(self, classifier: Classifier):
        super().__init__()
        prep = classifier.preprocessing
        self.model = classifier.model.cpu().eval()
        self.register_buffer("pixel_mean", torch.tensor(prep.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(prep.std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels.float() / 255.0 - self.pixel_mean) / self.pixel_std
        return torch.softmax(self.model(x).float(), dim=1)


class TextGraph(nn.Module):
    """input_ids, attention_mask (int64 [n, tokens]) -> probabilities [n, classes]."""

    def __init__(self, classifier: Classifier):
        super().__init__()
        self.model = classifier.model.cpu().eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model.forward_from((input_ids, attention_mask), 0).float(), dim=1)


def graph_inputs(classifier: Classifier, inputs) -> dict[str, torch.Tensor]:
    """The graph's named inputs for inputs prepared by the classifier's adapter."""
    if classifier.task == "image":
        return {"pixels": inputs}
    ids, mask = inputs
    return {"input_ids": ids.to(torch.int64), "attention_mask": mask.to(torch.int64)}


def graph_of(classifier: Classifier) -> nn.Module:
    """The classifier's network (itself, not a copy, on the CPU in eval mode: an export works on a
    classifier it loaded for itself) with the preparation the graph takes over and the softmax."""
    return ImageGraph(classifier) if classifier.task == "image" else TextGraph(classifier)


def write_graph(graph: nn.Module, example: dict[str, torch.Tensor], path: Path, backbone: str) -> None:
    """Export the graph to path (one self-contained file), with the batch (and for texts the length)
    free; ExportError when the network cannot be converted."""
    batch = torch.export.Dim("batch")
    free = {"pixels": {0: batch}} if isinstance(graph, ImageGraph) else \
        {name: {0: batch, 1: torch.export.Dim("tokens")} for name in example}
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, tuple(example.values()), str(path), input_names=list(example),
                              output_names=["probabilities"], dynamic_shapes=free, opset_version=OPSET,
                              dynamo=True, external_data=False, optimize=False, verbose=False)
    except Exception as exc:  # the converter fails in many ways; each means this network is not exportable
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"The {backbone} network could not be converted to ONNX ({reason}). Nothing "
                          "was written. Export it as a zip instead (--format zip), which the app and "
                          "`python -m tlcore predict` open.") from None


def float32_probabilities(graph: nn.Module, feeds: dict[str, torch.Tensor]) -> np.ndarray:
    """The app's answers in full precision (no mixed precision), on the CPU."""
    with torch.inference_mode():
        return graph(*feeds.values()).numpy()


def onnx_probabilities(path: Path, feeds: dict[str, torch.Tensor]) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {name: t.numpy() for name, t in feeds.items()})[0]


def check_graph(graph: nn.Module, path: Path, feeds: dict[str, torch.Tensor], app_proba: np.ndarray) -> dict:
    """How the exported graph answers the validation examples against the app: the largest difference
    from its float32 probabilities (ExportError above TOLERANCE) and how often the top class agrees
    with the probabilities the run saved (computed with mixed precision where the device has it)."""
    exported = onnx_probabilities(path, feeds)
    difference = float(np.abs(exported - float32_probabilities(graph, feeds)).max())
    if not difference <= TOLERANCE:
        raise ExportError(f"The exported model answers differently from the app (probabilities differ by up to "
                          f"{difference:.2g}), so it was not kept. Export it as a zip instead (--format zip).")
    return {"examples": len(exported), "max_difference": difference,
            "top_class_agreement": float(np.mean(exported.argmax(1) == app_proba.argmax(1)))}
