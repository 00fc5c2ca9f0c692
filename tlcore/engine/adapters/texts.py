"""Texts for a transformer: its tokenizer turns them into (token ids, mask), the first stage's input,
cached per data and tokenizer; texts of similar length share a batch, cut to its longest text."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from ...backbones import BackboneInfo
from ...backbones.text_preprocessing import TextPreprocessing, tokenize
from ...core.errors import BackboneUnavailable
from ...data import LabelledDataset
from ..activations import Activations, load
from ..cache import RunCache
from .base import Adapter
from ..reuse import TOKEN_IDS

TOKENIZER_FOLDER = "tokenizer"


class TextAdapter(Adapter):
    """A transformer's tokenizer and its settings (saved with a run: tokenizer/ and config.json)."""

    modality = "text"
    input_item = TOKEN_IDS
    input_phase = "Reading texts"
    facts_need_inputs = True  # texts cut at max_length, counted from the token ids

    def __init__(self, tokenizer, preprocessing: TextPreprocessing, source: str = ""):
        if tokenizer is None:
            raise BackboneUnavailable("This text model has no tokenizer loaded. Load it from a saved run folder.")
        self.tokenizer, self.preprocessing = tokenizer, preprocessing
        self.source = source  # names the tokenizer in cache keys (backbone and weights)
        self._truncated: dict[str, int] = {}  # per text set: texts cut at max_length

    @classmethod
    def for_backbone(cls, info: BackboneInfo, backbone, config) -> "TextAdapter":
        return cls(backbone.tokenizer, info.preprocessing, f"{info.name}:{info.weights_id}")

    def inputs(self, dataset: LabelledDataset, cache: RunCache, what: str, progress=None) -> Activations:
        """(ids, mask) of every text, tokenized once per data and tokenizer."""
        key = ("tokens", dataset.content_hash, self.source, *self.preprocessing.key())
        ids, mask, truncated = cache.fetch(key, lambda: tokenize(self.tokenizer, dataset.texts, self.preprocessing),
                                           what)
        self._truncated[dataset.content_hash] = int(load(truncated).sum())
        return ids, mask

    def order(self, inputs: Activations) -> torch.Tensor:
        """Longest texts first, so each batch is cut to a length its texts share."""
        return torch.argsort(load(inputs[1]).sum(1), descending=True, stable=True)

    def encode(self, texts: Sequence[str]) -> Activations:
        return tokenize(self.tokenizer, [str(t) for t in texts], self.preprocessing)[:2]

    def facts(self) -> dict:
        return {"truncated_texts": sum(self._truncated.values()), "max_tokens": self.preprocessing.max_length}

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(str(folder / TOKENIZER_FOLDER))

    @classmethod
    def load(cls, info: BackboneInfo, folder: Path, config: dict, state: dict) -> "TextAdapter":
        """The saved tokenizer, if every token id it gives has a row in the model's word embeddings.
        Runs saved before the settings were kept use the backbone's."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder / TOKENIZER_FOLDER), local_files_only=True)
        rows = next((t.shape[0] for key, t in state.items() if key.endswith("word_embeddings.weight")), 0)
        if len(tokenizer) > rows:
            raise ValueError(f"the tokenizer knows {len(tokenizer)} tokens, the model {rows}")
        saved = config.get("preprocessing")
        prep = info.preprocessing if saved is None else TextPreprocessing.from_dict(saved)
        return cls(tokenizer, prep)
