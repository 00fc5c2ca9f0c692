"""Activations between backbone blocks: a tensor (images) or a tuple of tensors (texts: hidden
states and their attention mask). These helpers treat both alike."""
from __future__ import annotations

import torch

Activations = torch.Tensor | tuple[torch.Tensor, ...]


def take(acts: Activations, index) -> Activations:
    """Rows `index` (a tensor of indices or a slice) of every part."""
    return tuple(t[index] for t in acts) if isinstance(acts, tuple) else acts[index]


def to_device(acts: Activations, device: torch.device) -> Activations:
    if isinstance(acts, tuple):
        return tuple(t.to(device, non_blocking=True) for t in acts)
    return acts.to(device, non_blocking=True)


def num_rows(acts: Activations) -> int:
    return len(acts[0]) if isinstance(acts, tuple) else len(acts)


def nbytes(acts: Activations) -> int:
    return sum(t.nbytes for t in acts) if isinstance(acts, tuple) else acts.nbytes


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
