"""Activations between backbone blocks: a tensor (images) or a tuple of tensors (texts: hidden
states and their attention mask). Any part may be a DiskTensor, read from disk a batch at a time.
These helpers treat all of them alike."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class DiskTensor:
    """Rows of an .npy file, read through a memory map only when `load` is called, so a dataset larger
    than memory costs one batch of memory at a time. Indexing gives a view (no reading)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, rows: np.ndarray | None = None):
        self.path, self.rows = path, rows
        self._shape, self._numpy_dtype = shape, dtype

    @classmethod
    def open(cls, path: Path) -> "DiskTensor":
        array = np.load(path, mmap_mode="r")
        return cls(path, array.shape, array.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._shape[0] if self.rows is None else len(self.rows), *self._shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self._numpy_dtype.itemsize

    def __getitem__(self, index) -> "DiskTensor":
        if isinstance(index, torch.Tensor):
            index = index.numpy()
        rows = np.arange(self._shape[0]) if self.rows is None else self.rows
        return DiskTensor(self.path, self._shape, self._numpy_dtype, np.atleast_1d(rows[index]))

    def load(self) -> torch.Tensor:
        array = np.load(self.path, mmap_mode="r")
        return torch.from_numpy(np.array(array if self.rows is None else array[self.rows]))


Activations = torch.Tensor | DiskTensor | tuple[torch.Tensor | DiskTensor, ...]


def take(acts: Activations, index) -> Activations:
    """Rows `index` (a tensor of indices or a slice) of every part; a view for parts on disk."""
    return tuple(t[index] for t in acts) if isinstance(acts, tuple) else acts[index]


def load(acts: Activations) -> Activations:
    """The same rows as in-memory tensors."""
    if isinstance(acts, tuple):
        return tuple(load(t) for t in acts)
    return acts.load() if isinstance(acts, DiskTensor) else acts


def to_device(acts: Activations, device: torch.device) -> Activations:
    """In-memory copy on `device`; half-precision storage comes back as float32 (pinned, asynchronous
    copies on CUDA). A text pair (hidden states or ids, mask) is cut to its longest row first."""
    if isinstance(acts, tuple):
        return tuple(to_device(t, device) for t in _trim_padding(load(acts)))
    t = load(acts)
    if device.type == "cuda" and not t.is_pinned():
        t = t.pin_memory()
    t = t.to(device, non_blocking=True)
    return t.float() if t.dtype == torch.float16 else t


def _trim_padding(pair: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    x, mask = pair
    width = int(mask.sum(1).max()) if len(mask) else mask.shape[1]
    return x[:, :width], mask[:, :width]


def num_rows(acts: Activations) -> int:
    return len(acts[0]) if isinstance(acts, tuple) else len(acts)


def concat(chunks: list[Activations]) -> Activations:
    """Join batches along rows; text batches are padded to the longest sequence first."""
    if not chunks:
        return torch.empty(0)
    if not isinstance(chunks[0], tuple):
        return torch.cat(chunks)
    length = max(c[0].shape[1] for c in chunks)
    padded = [tuple(_pad_to(t, length) for t in c) for c in chunks]
    return tuple(torch.cat(parts) for parts in zip(*padded))


def _pad_to(t: torch.Tensor, length: int) -> torch.Tensor:
    missing = length - t.shape[1]
    if missing == 0:
        return t
    shape = (t.shape[0], missing, *t.shape[2:])
    return torch.cat([t, t.new_zeros(shape)], dim=1)
