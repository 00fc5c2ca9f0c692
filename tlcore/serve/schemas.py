"""The shapes of the service's answers and of a texts request, as pydantic models (they make the
OpenAPI schema at /openapi.json and the docs at /docs)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Prediction(BaseModel):
    name: str = Field(description="The file name as uploaded (images), or the text itself (texts).")
    label: str | None = Field(None, description="The most probable class. Absent when `problem` is set.")
    probabilities: dict[str, float] | None = Field(
        None, description="One probability per class (summing to 1), in the order of /info's classes.")
    problem: str | None = Field(
        None, description="Why this file got no prediction (e.g. it is not an image). Only present then; "
                          "the other files of the request are still predicted.")


class Predictions(BaseModel):
    predictions: list[Prediction] = Field(description="One per image or text, in the order they were sent.")


class TextsRequest(BaseModel):
    texts: list[str] = Field(description="The texts to classify (each non-empty).",
                             examples=[["It will rain all night.", "The band played a slow song."]])


class Problem(BaseModel):
    detail: str = Field(description="What was wrong with the request, and how to fix it.")


class PerClass(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_name: str = Field(alias="class")
    precision: float
    recall: float
    f1: float
    support: int


class Metrics(BaseModel):
    """Scores on the run's validation data, from its metrics.json (absent: not recorded)."""

    auc: float | None = Field(None, description="ROC AUC from probabilities (macro one-vs-rest for 3+ classes).")
    accuracy: float | None = None
    n_train: int | None = Field(None, description="Training examples.")
    n_val: int | None = Field(None, description="Validation examples the scores were measured on.")
    per_class: list[PerClass] | None = None
    confusion_matrix: list[list[int]] | None = Field(None, description="Rows: true class; columns: predicted.")
    best_epoch: int | None = Field(None, description="The epoch whose weights were kept.")
    epochs_run: int | None = None
    trainable_params: int | None = None
    total_params: int | None = None


class RequestLimits(BaseModel):
    """What one request may hold (settings in tlcore.toml or TLCORE_<NAME>)."""

    max_request_items: int = Field(description="Images or texts in one request.")
    max_file_mb: float = Field(description="One image file, in MB.")
    max_megapixels: float = Field(description="One image, in millions of pixels.")
    max_text_chars: int = Field(description="One text, in characters.")


class Info(BaseModel):
    task: Literal["image", "text"]
    classes: list[str] = Field(description="The classes, in the order of every `probabilities`.")
    backbone: str
    feature_block: int | None = Field(None, description="Images: the block whose pooled output the head reads, "
                                                         "counted from 1 (null: the last, the whole backbone).")
    trainable_blocks: int = Field(description="Backbone blocks fine-tuned from the top (0: only the head trained).")
    head: str
    preprocessing: dict | None = Field(description="How inputs are prepared for the backbone (image size, "
                                                   "normalisation; or the longest text in tokens).")
    metrics: Metrics
    limits: RequestLimits


class Served(BaseModel):
    requests: int = Field(description="Prediction requests that reached the model.")
    items: int = Field(description="Images or texts predicted.")
    passes: int = Field(description="Forward passes; fewer than requests when requests arriving together "
                                    "shared one.")


class Health(BaseModel):
    status: Literal["ok"]
    served: Served
