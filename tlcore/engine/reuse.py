"""What a training run took from the cache, what it computed, and how often the frozen blocks ran:
facts for metrics.json, and one plain sentence that says exactly that."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

# What a run can find in the cache or compute (the names metrics.json lists)
DECODED_IMAGES = "decoded images"
TOKEN_IDS = "token ids"
FROZEN_ACTIVATIONS = "frozen activations"
FLIPPED_ACTIVATIONS = "frozen activations of the flipped images"
WORD_FEATURES = "word features"

# How often the frozen blocks ran (the metrics.json field "frozen_blocks_ran")
NOT_RUN = "not at all"
ONCE = "once"
EVERY_BATCH = "every batch"
NO_BLOCKS = "no pretrained blocks"

_RAN = {
    NOT_RUN: "the frozen blocks of the backbone did not run at all",
    ONCE: "the frozen blocks ran once over the examples, not in every epoch",
    EVERY_BATCH: ("the frozen blocks ran again on every training batch: with augmentation and trainable blocks "
                  "their output changes every epoch, so it cannot be kept"),
    NO_BLOCKS: "a classic method has no pretrained blocks to run",
}


def item_name(what: str, dataset, *, train_set, val_set) -> str:
    """`what`, naming its set when training and validation are separate sets."""
    if train_set is val_set:
        return what
    return f"{what} of the {'validation' if dataset is val_set else 'training'} set"


@dataclass(frozen=True)
class Reuse:
    """What a run found in the cache, what it computed, and how often its frozen blocks ran."""

    reused: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    frozen_blocks_ran: str | None = None  # NOT_RUN, ONCE, EVERY_BATCH or NO_BLOCKS; None in old runs

    @classmethod
    def of(cls, reused: Iterable[str], computed: Iterable[str], *, frozen_every_batch: bool,
           has_blocks: bool = True) -> "Reuse":
        computed = sorted(computed)
        if not has_blocks:
            ran = NO_BLOCKS
        elif frozen_every_batch:
            ran = EVERY_BATCH
        else:
            ran = ONCE if any(item.startswith(FROZEN_ACTIVATIONS) for item in computed) else NOT_RUN
        return cls(sorted(reused), computed, ran)

    def to_dict(self) -> dict:
        return {"reused": self.reused, "computed": self.computed, "frozen_blocks_ran": self.frozen_blocks_ran}


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe_reuse(reuse: Reuse) -> str:
    """One sentence for people: what was reused, what was computed, what ran."""
    clauses = []
    if reuse.reused:
        clauses.append(f"reused from earlier work on the same data (a run, a sweep or the guidance): {_listed(reuse.reused)}")
    if reuse.computed:
        clauses.append(f"computed in this run: {_listed(reuse.computed)}")
    if reuse.frozen_blocks_ran in _RAN:
        clauses.append(_RAN[reuse.frozen_blocks_ran])
    if not clauses:
        return "This run saved no record of what it reused."
    sentence = "; ".join(clauses)
    return sentence[0].upper() + sentence[1:] + "."
