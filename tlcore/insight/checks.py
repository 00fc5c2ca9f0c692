"""Plain-language warnings about how far a run's numbers can be trusted: a tiny validation set,
badly imbalanced classes, and the same image or text in both training and validation."""
from __future__ import annotations

import numpy as np

TINY_VALIDATION = 30  # fewer validation examples than this and one mistake moves accuracy by > 3 points
TINY_CLASS = 5  # fewer validation examples of a class than this and its recall is a coin toss
IMBALANCE_RATIO = 3.0  # largest training class at least this many times the smallest
LISTED = 3  # examples named in a message


def trust_warnings(*, classes: list[str], train_counts: list[int], y_val: np.ndarray, duplicates: list[dict],
                   unit: str) -> list[str]:
    """Each warning says what is wrong, what it does to the numbers, and what to do."""
    warnings = []
    n_val = len(y_val)
    if duplicates:
        named = ", ".join(f"'{d['val']}' = '{d['train']}'" for d in duplicates[:LISTED])
        more = f" and {len(duplicates) - LISTED} more" if len(duplicates) > LISTED else ""
        warnings.append(
            f"{len(duplicates)} validation {unit}(s) also appear in the training data ({named}{more}). The model has "
            f"seen them, so the scores look better than they will on new {unit}s. Remove the copies and train again.")
    if n_val < TINY_VALIDATION:
        warnings.append(
            f"Only {n_val} validation {unit}s: one more mistake would move accuracy by {100 / max(n_val, 1):.0f} points. "
            f"Read the 95% intervals, and add {unit}s (or raise the validation share) for firmer numbers.")
    val_counts = np.bincount(np.asarray(y_val, dtype=np.int64), minlength=len(classes))
    thin = [c for c, n in zip(classes, val_counts) if n < TINY_CLASS]
    if thin and n_val >= TINY_VALIDATION:
        warnings.append(
            f"Some classes have fewer than {TINY_CLASS} validation {unit}s ({', '.join(thin[:LISTED])}"
            f"{' ...' if len(thin) > LISTED else ''}); their scores rest on a handful of {unit}s.")
    if min(train_counts, default=0) and max(train_counts) / min(train_counts) >= IMBALANCE_RATIO:
        big, small = int(np.argmax(train_counts)), int(np.argmin(train_counts))
        warnings.append(
            f"The classes are imbalanced: '{classes[big]}' has {train_counts[big]} training {unit}s, '{classes[small]}' "
            f"only {train_counts[small]}. A model can score well by mostly answering '{classes[big]}': compare accuracy "
            f"with the baseline and look at each class's recall. Adding {unit}s to the small classes helps most.")
    return warnings
