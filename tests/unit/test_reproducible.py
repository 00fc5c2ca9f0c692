"""Same seed, same run, whatever else runs at the same time: each run draws its shuffling, head
initialisation and the head's dropout from its own generators, not the process's global one."""
import threading

import numpy as np

from tlcore import TrainConfig, train
from tlcore.engine.cache import TensorCache
from tlcore.engine.loop import Callback


class Lockstep(Callback):
    """Makes two runs take turns batch by batch, so their random draws interleave."""

    def __init__(self, barrier: threading.Barrier):
        self.barrier = barrier

    def on_batch_end(self, trainer) -> None:
        self.barrier.wait(timeout=60)


def test_two_runs_at_once_in_one_process_give_each_run_alone(shapes_dataset):
    config = TrainConfig(head="mlp", epochs=4, batch_size=4, early_stopping_patience=0, device="cpu")
    alone = train(shapes_dataset, config, cache=TensorCache(None))
    other = train(shapes_dataset, TrainConfig(**{**config.to_dict(), "seed": 1}), cache=TensorCache(None))
    assert not np.allclose(alone.val_proba, other.val_proba)  # the seed matters, so the test can fail

    barrier, results = threading.Barrier(2), [None, None]

    def run(i: int) -> None:
        results[i] = train(shapes_dataset, config, cache=TensorCache(None), callbacks=[Lockstep(barrier)])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    for result in results:
        np.testing.assert_array_equal(result.val_proba, alone.val_proba)
        assert [h.train_loss for h in result.history] == [h.train_loss for h in alone.history]
