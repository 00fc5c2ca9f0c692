"""The same example twice: an image's bytes, or a text up to case and spacing."""
from __future__ import annotations

import hashlib
import re


def content_key(example) -> str:
    """What makes two examples 'the same': an image's bytes, or a text up to case and spacing."""
    if hasattr(example, "data"):
        return hashlib.sha1(example.data).hexdigest()
    return hashlib.sha1(re.sub(r"\s+", " ", example.text).strip().casefold().encode("utf-8")).hexdigest()


def duplicates_across(train_examples: list, val_examples: list) -> list[dict]:
    """Validation examples whose content also appears in training: [{"val": name, "train": name}]."""
    seen = {}
    for example in train_examples:
        seen.setdefault(content_key(example), example.name)
    return [{"val": e.name, "train": seen[key]} for e in val_examples if (key := content_key(e)) in seen]
