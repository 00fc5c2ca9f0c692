"""Validated image datasets: decode every file once, report what was skipped, split by class."""
from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from typing import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .duplicates import content_key
from ..core.errors import DataError, ImageReadError
from ..core.settings import Limits, limits
from .images import IMAGE_SUFFIXES, decode_image, make_thumbnail
from .sources import Record, Skipped, class_name

MIN_CLASSES = 2
MIN_PER_CLASS = 2
NUMBER = re.compile(r"-?\d{1,15}(\.\d+)?")
LISTED_CLASSES = 5  # problems name at most this many small classes, then count the rest


def sort_classes(labels) -> list[str]:
    """Class names in the order people expect: numbers by value (2 before 10), then the rest by name."""
    def key(label: str):
        return (0, float(label), label) if NUMBER.fullmatch(label) else (1, 0.0, label)
    return sorted(labels, key=key)


def same_content_other_label(examples: list) -> list[tuple]:
    """Pairs (first example, later example) with the same content (by `checks.content_key`, as for
    training/validation duplicates) filed under different classes."""
    first_seen, pairs = {}, []
    for example in examples:
        first = first_seen.setdefault(content_key(example), example)
        if first.label != example.label:
            pairs.append((first, example))
    return pairs


def label_conflict_note(examples: list, unit: str) -> list[str]:
    """A warning sentence when one image or text is under two labels, naming an example; else nothing."""
    pairs = same_content_other_label(examples)
    if not pairs:
        return []
    first, other = pairs[0]
    more = f" ({len(pairs) - 1:,} more {unit}s like it)" if len(pairs) > 1 else ""
    return [f"The same {unit} is in two classes: '{other.name}' ({other.label}) is the same as '{first.name}' "
            f"({first.label}){more}. A model cannot learn two answers for one {unit}: keep each {unit} in the "
            "class it belongs to and remove the other copy."]


@dataclass
class ImageExample:
    name: str
    label: str
    data: bytes
    thumbnail: Image.Image


@dataclass
class DataReport:
    """What the data looks like before training: counts per class, every skipped file or row, and
    (texts) how many rows were dropped and why, and which encoding the file was read with."""

    class_counts: dict[str, int]
    skipped: list[Skipped] = field(default_factory=list)
    unit: str = "image"
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Sentences that block training, each saying how to fix it."""
        add_class = ("Add another class folder (or another class in the page)." if self.unit == "image"
                     else "Add rows with another label (or another class in the page).")
        if len(self.class_counts) < MIN_CLASSES:
            found = ", ".join(self.class_counts) or "none"
            return [f"Found {len(self.class_counts)} class ({found}); at least {MIN_CLASSES} are needed. {add_class}"]
        limit = limits()
        if len(self.class_counts) > limit.max_classes:
            where = "folders" if self.unit == "image" else "labels"
            return [f"Found {len(self.class_counts):,} classes for {sum(self.class_counts.values()):,} {self.unit}s; "
                    f"{limit.says('max_classes')}. Check that the {where} are the classes you mean "
                    f"(is the label column the right one?)."]
        small = [label for label, count in self.class_counts.items() if count < MIN_PER_CLASS]
        if len(small) > LISTED_CLASSES:
            named = ", ".join(f"'{label}'" for label in small[:LISTED_CLASSES])
            return [f"{len(small):,} classes have fewer than {MIN_PER_CLASS} {self.unit}s ({named} and "
                    f"{len(small) - LISTED_CLASSES:,} more); each class needs at least {MIN_PER_CLASS}. "
                    f"Add {self.unit}s to them or remove them."]
        return [
            f"Class '{label}' has {self.class_counts[label]} {self.unit}; each class needs at least {MIN_PER_CLASS}. "
            f"Add more {self.unit}s to it."
            for label in small
        ]


@dataclass
class LabelledDataset:
    """Examples with their classes (sorted names) and the data report; images and texts alike."""

    examples: list
    classes: list[str]
    report: DataReport

    @property
    def labels(self) -> np.ndarray:
        return self.label_indices(self.classes)

    def label_indices(self, classes: list[str]) -> np.ndarray:
        """Each example's class as an index into `classes`."""
        index = {c: i for i, c in enumerate(classes)}
        return np.array([index[e.label] for e in self.examples], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.examples)

    @functools.cached_property
    def content_hash(self) -> str:
        """A hash of every example's content, in order (not names): the data part of cache keys."""
        digest = hashlib.sha1()
        for content in self._contents():
            digest.update(hashlib.sha1(content).digest())
        return digest.hexdigest()

    def _contents(self) -> Iterator[bytes]:
        raise NotImplementedError

    def require_trainable(self) -> "LabelledDataset":
        problems = self.report.problems()
        if problems:
            raise DataError(" ".join(problems))
        return self


class ImageDataset(LabelledDataset):
    """Decodable images (ImageExample) and their report."""

    def _contents(self) -> Iterator[bytes]:
        return (e.data for e in self.examples)


def _check(record: Record, max_megapixels: float) -> ImageExample | Skipped:
    try:
        image = decode_image(record.data, record.name, draft_size=128, max_megapixels=max_megapixels)
    except ImageReadError as exc:
        hint = "" if record.name.lower().endswith(IMAGE_SUFFIXES) else " (not an image file)"
        return Skipped(record.name, exc.user_message + hint)
    return ImageExample(record.name, class_name(record.label), record.data, make_thumbnail(image))


def build_dataset(records: list[Record], skipped: list[Skipped] = (), *, workers: int = 4,
                  limit: Limits | None = None) -> ImageDataset:
    """Decode every record (in parallel) and keep the readable ones; never raises for bad files, only
    for more images than the max_images setting."""
    limit = limit or limits()
    if len(records) > limit.max_images:
        raise DataError(f"There are {len(records):,} images; {limit.says('max_images')}. "
                        "Use fewer images per class.")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        checked = list(pool.map(lambda r: _check(r, limit.max_megapixels), records))
    examples = [c for c in checked if isinstance(c, ImageExample)]
    skipped = list(skipped) + [c for c in checked if isinstance(c, Skipped)]
    counts = Counter(e.label for e in examples)
    classes = sort_classes(counts)
    report = DataReport({c: counts[c] for c in classes}, skipped, notes=label_conflict_note(examples, "image"))
    return ImageDataset(examples, classes, report)


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class, about val_fraction of the examples go to validation: at least 1, never all."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_val = min(max(1, round(len(idx) * val_fraction)), len(idx) - 1)
        val.extend(idx[:n_val])
        train.extend(idx[n_val:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(val, dtype=np.int64))
