"""Faults: running out of memory (jobs that queue, fail or are cancelled: test_jobs.py)."""

import pytest
import torch

from tlcore import TrainConfig, train
from tlcore.backbones.registry import BlockBackbone
from tlcore.engine.cache import TensorCache
from tlcore.engine.memory import OutOfMemory, in_shrinking_batches
from tlcore.engine.model import TransferModel
from tlcore.engine.loop import Callback


class BatchSizes(Callback):
    def __init__(self):
        self.sizes = []

    def on_batch_size(self, batch_size: int) -> None:
        self.sizes.append(batch_size)


def fail_above(original, limit: int, error: Exception):
    """original(self, x, ...) that raises `error` for batches of more than `limit` rows, as a full GPU would."""
    def patched(self, x, *args):
        rows = x[0].shape[0] if isinstance(x, tuple) else x.shape[0]
        if rows > limit:
            raise error
        return original(self, x, *args)
    return patched


def test_out_of_memory_in_training_halves_the_batch_and_finishes(shapes_dataset, monkeypatch):
    monkeypatch.setattr(TransferModel, "forward_from",
                        fail_above(TransferModel.forward_from, 4, torch.OutOfMemoryError("CUDA out of memory.")))
    sizes = BatchSizes()
    config = TrainConfig(epochs=15, batch_size=16, val_fraction=0.25, device="cpu", head="mlp")  # the fit loop
    result = train(shapes_dataset, config, callbacks=[sizes])
    assert sizes.sizes == [8, 4]  # halved twice, then kept for the following epochs
    assert result.facts.batch_size_used == 4
    assert len(result.history) >= 5 and result.report.auc > 0.9


def test_cpu_out_of_memory_in_the_frozen_pass_is_survived_too(shapes_dataset, monkeypatch):
    error = RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
    monkeypatch.setattr(BlockBackbone, "run", fail_above(BlockBackbone.run, 5, error))
    config = TrainConfig(epochs=3, batch_size=4, val_fraction=0.25, device="cpu", head="mlp")
    result = train(shapes_dataset, config, cache=TensorCache(None))  # cold: the frozen pass runs
    assert len(result.history) == 3 and result.facts.batch_size_used is None


def test_out_of_memory_at_one_example_stops_with_what_to_change():
    def always_full(start, stop):
        raise torch.OutOfMemoryError("CUDA out of memory.")

    with pytest.raises(OutOfMemory, match="even one example at a time. Choose fewer trainable blocks"):
        in_shrinking_batches(10, 8, always_full, doing="training")


def test_other_errors_are_not_mistaken_for_out_of_memory():
    def broken(start, stop):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes"):
        in_shrinking_batches(10, 8, broken, doing="training")
