"""Faults: running out of memory, jobs that queue, get cancelled or are left without a viewer."""
import threading
import time

import pytest
import torch

from tlcore import TrainConfig, train_image_classifier
from tlcore import jobs
from tlcore.backbones.registry import BlockBackbone
from tlcore.cache import TensorCache
from tlcore.memory import OutOfMemory, in_shrinking_batches
from tlcore.model import TransferModel
from tlcore.training import Callback


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
    config = TrainConfig(epochs=15, batch_size=16, val_fraction=0.25, device="cpu")
    result = train_image_classifier(shapes_dataset, config, callbacks=[sizes])
    assert sizes.sizes == [8, 4]  # halved twice, then kept for the following epochs
    assert result.extra["batch_size_used"] == 4
    assert len(result.history) >= 5 and result.report.auc > 0.9


def test_cpu_out_of_memory_in_the_frozen_pass_is_survived_too(shapes_dataset, monkeypatch):
    error = RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
    monkeypatch.setattr(BlockBackbone, "run", fail_above(BlockBackbone.run, 5, error))
    config = TrainConfig(epochs=3, batch_size=4, val_fraction=0.25, device="cpu")
    result = train_image_classifier(shapes_dataset, config, cache=TensorCache(None))  # cold: the frozen pass runs
    assert len(result.history) == 3 and "batch_size_used" not in result.extra


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


@pytest.fixture
def one_slot(monkeypatch):
    """A fresh device queue with one slot (the default on a GPU)."""
    monkeypatch.setenv("TLCORE_MAX_RUNNING_JOBS", "1")
    jobs.device_queue.cache_clear()
    yield
    jobs.device_queue.cache_clear()


def blocking_work(release: threading.Event, ran: list):
    def work(callbacks):
        ran.append(True)
        while not release.wait(0.02):
            for cb in callbacks:
                cb.on_phase("Working", 0, 1)  # where a cancel is noticed
        return "done"
    return work


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_second_job_waits_its_turn_and_sees_its_place(one_slot):
    release_first, release_second, ran_first, ran_second = threading.Event(), threading.Event(), [], []
    first = jobs.submit(blocking_work(release_first, ran_first), 1)
    wait_for(lambda: first.snapshot().status == jobs.RUNNING)
    second = jobs.submit(blocking_work(release_second, ran_second), 1)
    time.sleep(0.3)
    snap = second.snapshot()
    assert snap.status == jobs.QUEUED and snap.queue_place == 1 and not ran_second
    release_first.set()
    wait_for(lambda: second.snapshot().status == jobs.RUNNING)
    assert first.wait(5).status == jobs.DONE and second.snapshot().queue_place is None
    release_second.set()
    assert second.wait(5).status == jobs.DONE and first.result == second.result == "done"


def test_cancel_while_queued_never_runs_and_cancel_while_running_frees_the_slot(one_slot):
    release, ran_first, ran_queued, ran_third = threading.Event(), [], [], []
    first = jobs.submit(blocking_work(release, ran_first), 1)
    wait_for(lambda: first.snapshot().status == jobs.RUNNING)
    queued = jobs.submit(blocking_work(release, ran_queued), 1)
    queued.cancel()
    assert queued.wait(5).status == jobs.CANCELLED and not ran_queued
    first.cancel()
    assert first.wait(5).status == jobs.CANCELLED
    third = jobs.submit(blocking_work(threading.Event(), ran_third), 1)
    wait_for(lambda: third.snapshot().status == jobs.RUNNING)  # the cancelled job gave the device back
    third.cancel()
    assert third.wait(5).status == jobs.CANCELLED


def test_cancel_stops_a_real_training_run_between_batches(shapes_dataset, one_slot):
    config = TrainConfig(epochs=500, batch_size=2, early_stopping_patience=0, device="cpu")
    job = jobs.submit(lambda callbacks: train_image_classifier(shapes_dataset, config, callbacks=callbacks), 500)
    wait_for(lambda: job.snapshot().epoch >= 1, timeout=120)
    job.cancel()
    snap = job.wait(30)
    assert snap.status == jobs.CANCELLED and snap.epoch < 500 and job.result is None


def test_jobs_without_a_viewer_are_cancelled_and_forgotten(one_slot, monkeypatch):
    monkeypatch.setenv("TLCORE_ABANDONED_MINUTES", "10")
    release, ran = threading.Event(), []
    job = jobs.submit(blocking_work(release, ran), 1)
    wait_for(lambda: job.snapshot().status == jobs.RUNNING)
    assert jobs.get_job(job.job_id) is job
    assert job.job_id not in jobs.reap_abandoned(now=time.monotonic() + 9 * 60)  # seen recently enough
    assert job.job_id in jobs.reap_abandoned(now=time.monotonic() + 11 * 60)
    assert job.wait(5).status == jobs.CANCELLED and jobs.get_job(job.job_id) is None
