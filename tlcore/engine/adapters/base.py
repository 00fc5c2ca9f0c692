"""What every adapter provides: the engine calls only these. The defaults suit inputs that need no
preparation, are read as they are, and save nothing besides the weights."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from ..activations import Activations


class Adapter:
    """Turns a modality's examples into the first stage's input, and back into rows for people."""

    modality: str
    preprocessing = None  # the backbone's ImagePreprocessing or TextPreprocessing (in config.json)
    cacheable = True  # inputs and frozen activations may be kept in the cache for later runs
    augments = False  # `augment` changes a batch without changing its class
    facts_need_inputs = False  # `facts` reads the inputs of every dataset, so they are fetched even when cached
    input_item: str  # what the inputs are called when a run says what it reused or computed
    input_phase: str  # the progress phase while they are made

    def fit(self, backbone, examples: Sequence) -> None:
        """Learn from the training examples before the head is built (nothing, by default)."""

    def attach(self, backbone) -> None:
        """Give the backbone what it takes from this adapter once fitted or loaded (nothing, by default)."""

    def prepare(self, batch: Activations) -> Activations:
        """A batch of inputs, on the device, as the first block takes it."""
        return batch

    def order(self, inputs: Activations) -> torch.Tensor | None:
        """The order to run rows in without gradients (None: as they are)."""
        return None

    def augment(self, x: Activations, generator: torch.Generator) -> Activations:
        return x

    def encode(self, raw: Sequence) -> Activations:
        """Inputs for prediction from raw inputs (files or texts)."""
        raise NotImplementedError

    def encode_readable(self, raw: Sequence) -> tuple[Activations, dict[int, str]]:
        """Inputs of the usable raw inputs, and {index: reason} of those that are not."""
        return self.encode(raw), {}

    def describe(self, item) -> dict:
        """The columns that name one raw input in a table of predictions."""
        return {"text": item}

    def facts(self) -> dict:
        """What a run should record about its inputs (e.g. texts cut at the maximum length)."""
        return {}

    def config(self) -> dict:
        """What config.json keeps to prepare inputs again."""
        return {"preprocessing": self.preprocessing.to_dict()} if self.preprocessing is not None else {}

    def save(self, folder: Path) -> None:
        """Files a saved run needs besides the weights and config.json (nothing, by default)."""
