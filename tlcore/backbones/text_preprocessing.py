"""How texts must be prepared for a transformer's weights: its tokenizer, and the longest text it
reads in tokens. The settings are saved in each run's config.json, the tokenizer's files beside it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..core.errors import ConfigError

MAX_TOKENS = 8192  # a saved maximum length beyond this is refused


@dataclass(frozen=True)
class TextPreprocessing:
    """Texts are tokenized and cut at `max_length` tokens (sentence-transformers' max_seq_length)."""

    max_length: int

    def __post_init__(self):
        if not (isinstance(self.max_length, int) and not isinstance(self.max_length, bool)
                and 1 <= self.max_length <= MAX_TOKENS):
            raise ConfigError(f"The maximum text length must be 1 to {MAX_TOKENS} tokens, not {self.max_length!r}.")

    def to_dict(self) -> dict:
        return {"max_length": self.max_length}

    @classmethod
    def from_dict(cls, data: dict) -> "TextPreprocessing":
        if not isinstance(data, dict) or set(data) != {"max_length"}:
            raise ConfigError("The text preprocessing must name max_length only.")
        return cls(data["max_length"])

    def key(self) -> tuple:
        """Every setting as plain values, for the cache keys of what it made."""
        return (self.max_length,)


def tokenize(tokenizer, texts: Sequence[str], prep: TextPreprocessing) -> tuple[torch.Tensor, ...]:
    """(ids [N, L], mask [N, L], truncated [N]: 1 where a text was cut at max_length), padded to the
    longest text."""
    # One pass: a text longer than max_length also yields overflow rows; keep each text's first row.
    batch = tokenizer(list(texts), truncation=True, max_length=prep.max_length, padding=True,
                      return_overflowing_tokens=True, return_tensors="pt")
    source = batch["overflow_to_sample_mapping"]
    first = torch.ones_like(source, dtype=torch.bool)
    first[1:] = source[1:] != source[:-1]
    mask = batch["attention_mask"][first]
    width = int(mask.sum(1).max()) if len(mask) else 0
    truncated = (torch.bincount(source, minlength=len(texts)) > 1).to(torch.uint8)
    return batch["input_ids"][first, :width], mask[:, :width], truncated
