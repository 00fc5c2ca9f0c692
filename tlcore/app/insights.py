"""What the Evaluate and Predict pages show that takes time, computed once and cached: per run version
(its folder and time stamp) and row, target or layout for a run's validation examples; per model and
content digest for an uploaded image or a typed text. A rerun (a slider moved, another tab's widget
changed) finds every result already made, images already encoded (bytes, or data URIs)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from ..backbones.preprocessing import load_pixels
from ..data.images import decode_image, make_thumbnail
from ..core.errors import TLCoreError
from ..insight.embedding_map import project, separation
from ..insight.explain import ImagenetModel, WordImportance, colour_bar, grad_cam, overlay, word_importance
from ..runs.run import Run
from .loaders import cached_run, choice_version, run_version
from .widgets import image_bytes, thumbnail_uri
from .workspace import Workspace


# A run's validation examples, keyed by the run's version (path, mtime); the record itself is unhashed.

@st.cache_data(show_spinner=False, max_entries=16)
def _predictions(path: str, mtime: float, _record: Run) -> pd.DataFrame:
    return _record.predictions()


def predictions_frame(record: Run) -> pd.DataFrame:
    """One row per validation example (see Run.predictions), made once per run version."""
    return _predictions(*run_version(record), record)


@st.cache_data(show_spinner=False, max_entries=8)  # with a thousand thumbnails, a few megabytes each
def _predictions_table(path: str, mtime: float, _record: Run) -> pd.DataFrame:
    frame = _record.predictions()
    if _record.task == "image":
        frame.insert(0, "image", list(thumbnails(_record)))
    return frame


def predictions_table(record: Run) -> pd.DataFrame:
    """The predictions frame to show: for images, with each example's thumbnail (a data URI) first."""
    return _predictions_table(*run_version(record), record)


@st.cache_resource(show_spinner="Making the thumbnails...", max_entries=8)
def _thumbnails(path: str, mtime: float, _record: Run) -> tuple[str, ...]:
    return tuple(thumbnail_uri(make_thumbnail(_record.image(row))) for row in range(len(_record.y_val)))


def thumbnails(record: Run) -> tuple[str, ...]:
    """Every validation image's thumbnail as a JPEG data URI (for st.image and an image column), once
    per run version."""
    return _thumbnails(*run_version(record), record)


@st.cache_resource(show_spinner=False, max_entries=64)
def _validation_image(path: str, mtime: float, row: int, _record: Run) -> bytes:
    return image_bytes(_record.image(row))


def validation_image(record: Run, row: int) -> bytes:
    """One validation image as the model saw it, encoded once."""
    return _validation_image(*run_version(record), int(row), record)


@st.cache_resource(show_spinner="Computing the heat map...", max_entries=64)
def _heat_overlays(path: str, mtime: float, row: int, targets: tuple[int, ...], _record: Run) -> tuple[bytes, ...]:
    pixels = _record.pixels[[row] * len(targets)]
    heat = grad_cam(_record.classifier, pixels, list(targets))
    return tuple(image_bytes(overlay(pixels[0], h)) for h in heat)


def heat_overlays(record: Run, row: int, targets: list[int]) -> tuple[bytes, ...]:
    """A validation image's Grad-CAM for each target class, laid over the image (encoded), once per
    (run version, row, targets)."""
    return _heat_overlays(*run_version(record), int(row), tuple(int(t) for t in targets), record)


@st.cache_data(show_spinner="Scoring the text without each word...", max_entries=64)
def _run_words(path: str, mtime: float, row: int, target: int, _record: Run) -> WordImportance:
    return word_importance(_record.classifier, _record.val_texts[row], target)


def run_word_importance(record: Run, row: int, target: int) -> WordImportance:
    """Word occlusion of a validation text towards `target`, once per (run version, row, target)."""
    return _run_words(*run_version(record), int(row), int(target), record)


@st.cache_data(show_spinner="Measuring how far apart the classes are...", max_entries=32)
def _separation(path: str, mtime: float, name: str, _record: Run) -> float | None:
    return separation(_record.features[name], _record.y_val)


def run_separation(record: Run, name: str) -> float | None:
    """The silhouette score of one of the run's embeddings ("pretrained" or "fine-tuned"), once."""
    return _separation(*run_version(record), name, record)


@st.cache_data(show_spinner="Placing the examples on the map...", max_entries=32)
def _projection(path: str, mtime: float, name: str, method: str, _record: Run) -> np.ndarray:
    return project(_record.features[name], method)


def run_projection(record: Run, name: str, method: str) -> np.ndarray:
    """One of the run's embeddings in two dimensions, once per (run version, embedding, layout)."""
    return _projection(*run_version(record), name, method, record)


@st.cache_resource(show_spinner=False)
def heat_legend() -> bytes:
    """The colour bar under every heat map, drawn and encoded once."""
    return image_bytes(colour_bar())


# Uploads on the Predict page, keyed by the model's version and the file's content digest.

@st.cache_resource(show_spinner=False, max_entries=1024)
def _upload_thumbnail(name: str, content: str, _data: bytes) -> str | None:
    try:
        return thumbnail_uri(make_thumbnail(decode_image(_data, name, draft_size=128)))
    except TLCoreError:
        return None


def upload_thumbnail(name: str, content: str, data: bytes) -> str | None:
    """An uploaded image's thumbnail as a data URI (None if it cannot be read), once per content."""
    return _upload_thumbnail(name, content, data)


@st.cache_resource(show_spinner=False, max_entries=32)
def _upload_pixels(path: str, mtime: float, name: str, content: str, _data: bytes) -> torch.Tensor:
    return load_pixels([(name, _data)], cached_run(path, mtime).preprocessing)


@st.cache_resource(show_spinner="Computing the heat map...", max_entries=32)
def _upload_heat(path: str, mtime: float, name: str, content: str, target: int, _data: bytes) -> tuple[bytes, bytes]:
    pixels = _upload_pixels(path, mtime, name, content, _data)
    heat = grad_cam(cached_run(path, mtime), pixels, [target])[0]
    return image_bytes(pixels[0].permute(1, 2, 0).numpy()), image_bytes(overlay(pixels[0], heat))


def upload_heat(ws: Workspace, choice: str, name: str, content: str, data: bytes, target: int) -> tuple[bytes, bytes]:
    """An uploaded image as the model sees it and its Grad-CAM for `target` (both encoded), once per
    (model version, content, target)."""
    return _upload_heat(*choice_version(ws, choice), name, content, int(target), data)


@st.cache_resource(show_spinner="Loading the pretrained backbone...", max_entries=2)
def imagenet_model(backbone: str) -> ImagenetModel:
    return ImagenetModel(backbone)


@st.cache_data(show_spinner=False, max_entries=64)
def _imagenet_top(path: str, mtime: float, name: str, content: str, _data: bytes) -> list[tuple[str, float]]:
    pixels = _upload_pixels(path, mtime, name, content, _data)
    return imagenet_model(cached_run(path, mtime).backbone).top(pixels)[0]


def imagenet_top(ws: Workspace, choice: str, name: str, content: str, data: bytes) -> list[tuple[str, float]]:
    """The backbone's own five likeliest ImageNet labels for an uploaded image, before any training,
    once per (model version, content). TLCoreError when the backbone cannot be made."""
    return _imagenet_top(*choice_version(ws, choice), name, content, data)


@st.cache_data(show_spinner="Scoring the text without each word...", max_entries=256)
def _text_words(path: str, mtime: float, text: str) -> WordImportance:
    return word_importance(cached_run(path, mtime), text)


def text_importance(ws: Workspace, choice: str, text: str) -> WordImportance:
    """Word occlusion of a typed text towards its predicted class, once per (model version, text)."""
    return _text_words(*choice_version(ws, choice), text)
