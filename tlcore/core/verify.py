"""Small checks for reading files a user may have changed: a failed check raises ValueError naming
what is wrong, which the reader turns into one sentence about the file."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors import safe_open


def check(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def whole(value, low: int, high: float) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def number(value, low: float = -math.inf, high: float = math.inf) -> bool:
    """A number from JSON within [low, high] (NaN is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def tensor_specs(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Each tensor's dtype ('F32', 'I64', ...) and shape, from a safetensors header (no data read)."""
    with safe_open(str(path), "pt") as tensors:
        return {key: (tensors.get_slice(key).get_dtype(), tuple(tensors.get_slice(key).get_shape()))
                for key in tensors.keys()}


def check_finite(tensors: dict[str, torch.Tensor], file: str) -> None:
    for key, t in tensors.items():
        check(not t.is_floating_point() or bool(torch.isfinite(t).all()),
               f"{file} holds {key} values that are not finite")
