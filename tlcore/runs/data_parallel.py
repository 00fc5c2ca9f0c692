"""One fine-tune on several workers of a Ray cluster: Ray Train starts `workers` processes joined by
PyTorch's DistributedDataParallel (gloo on processors, NCCL on GPUs); each runs the frozen blocks once
over its share of the training examples (and over the validation examples, which every worker scores
alike), then fine-tunes on its share while their gradients are averaged. The first worker reports the
progress and sends the finished run back. Ray is imported only when such a run starts."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from ..core.config import TrainConfig
from ..core.errors import ConfigError, TLCoreError
from ..data import LabelledDataset
from ..engine.distributed import agree
from ..engine.loop import Callback
from .files import save_run
from .place import ASKS, PLACE
from .train import train


def check_workers(config: TrainConfig, workers: int) -> None:
    """Several workers are for fine-tuning: with the backbone frozen only the head trains, in seconds."""
    if workers > 1 and config.trainable_blocks == 0:
        raise ConfigError(f"{workers} workers share a fine-tune, but with 0 trainable blocks only the head trains, "
                          "in seconds, on one worker. Set some trainable blocks, or train on one worker.")


class Inbox:
    """A Ray actor that holds the finished run's files until the part that started the workers takes them."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def put(self, files: dict[str, bytes]) -> None:
        self.files = files

    def take(self) -> dict[str, bytes]:
        return self.files


def _worker(setup: dict) -> None:
    """In each of Ray Train's processes: this worker's share of the run; the first saves and sends it."""
    import ray
    import ray.train

    from .coordinator import files_in, here

    context = ray.train.get_context()
    rank, workers = context.get_world_rank(), context.get_world_size()
    token = PLACE.set(here(workers))
    try:
        run = train(setup["dataset"], setup["config"], val_dataset=setup["val_dataset"],
                    callbacks=setup["callbacks"] if rank == 0 else [], shard=(rank, workers))
    finally:
        PLACE.reset(token)
    weights = float(sum(p.double().sum() for p in run.load_classifier().model.parameters()))
    if not agree(weights):  # averaged gradients keep every worker's model the same, to the last bit
        raise TLCoreError("The workers' models came out different, so the shared fine-tune went wrong. Train "
                          "again; if this repeats, train on one worker.")
    if rank == 0:
        with tempfile.TemporaryDirectory(prefix="tlcore-run-") as folder:
            save_run(run, Path(folder) / "run")
            ray.get(setup["inbox"].put.remote(files_in(Path(folder) / "run")))


def _users_error(exc: Exception) -> TLCoreError:
    """A worker's failure as a sentence: its own, if it had one, else what Ray Train says happened."""
    for failure in getattr(exc, "worker_failures", {}).values():
        while failure is not None and not isinstance(failure, TLCoreError):
            failure = getattr(failure, "cause", None) or failure.__cause__
        if failure is not None:
            return TLCoreError(failure.user_message)
    return TLCoreError(f"A worker of the shared fine-tune failed ({type(exc).__name__}). Train again, or train on "
                       "one worker (leave out --workers).")


def train_data_parallel(dataset: LabelledDataset, config: TrainConfig, val_dataset: LabelledDataset | None,
                        workers: int, name: str, callbacks: Sequence[Callback], folder: Path) -> str:
    """Fine-tune on `workers` processes of the cluster, each asking for what the job's parts ask for (a
    GPU when the cluster has them, else cpus_per_job processors), and save the run as `folder/name`."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from .coordinator import write_files

    check_workers(config, workers)
    asks = ASKS.get()
    gpu = "num_gpus" in asks
    inbox = ray.remote(Inbox).options(num_cpus=0).remote()
    setup = {"dataset": dataset, "config": config, "val_dataset": val_dataset, "callbacks": list(callbacks),
             "inbox": inbox}
    try:
        with tempfile.TemporaryDirectory(prefix="tlcore-train-") as storage:
            try:
                TorchTrainer(_worker, train_loop_config=setup, run_config=RunConfig(storage_path=storage, name="run"),
                             scaling_config=ScalingConfig(num_workers=workers, use_gpu=gpu, resources_per_worker=(
                                 {"GPU": 1} if gpu else {"CPU": asks["num_cpus"]}))).fit()
            except Exception as exc:
                raise _users_error(exc) from None
        write_files(folder / name, ray.get(inbox.take.remote()))
    finally:
        ray.kill(inbox)
    return name
