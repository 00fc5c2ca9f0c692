"""Jobs on a Ray cluster against jobs on this machine (not a test; prints a table). A Ray head is
started here (127.0.0.1, token authentication). Measured from submitting the job to its run in the
job folder, as the Train page waits for it:

- the app's sample (400 digits, default settings): a local worker process, then the cluster (the
  first job pays for starting a worker and importing the engine; the second finds one ready);
- a sweep over 0, 1, 2 and 3 trainable blocks on the sample: a local worker (one after the other), and
  the cluster with 1 and with 2 processors (one per part: side by side on 2);
- a fine-tune of 2 blocks on the sample (5 epochs) on one cluster worker (its frozen part cached by the
  sweep) and shared by two (DDP), the first time (each share's frozen pass runs) and again.

Run from the repository root: python -m benchmarks.bench_cluster
"""
from __future__ import annotations

import os
import tempfile
import time

from tests.ray_head import ray_head  # before Ray: its token

from tlcore import TrainConfig, build_dataset, describe_device, resolve_device
from tlcore.data import digits_sample
from tlcore.runs import jobs
from tlcore.runs.cluster import ClusterJob
from tlcore.runs.work import SweepWork, TrainWork

os.environ.setdefault("TLCORE_CACHE_DIR", tempfile.mkdtemp(prefix="bench-cluster-cache-"))
os.environ.setdefault("TLCORE_RUNS_DIR", tempfile.mkdtemp(prefix="bench-cluster-runs-"))


def timed(job) -> float:
    started = time.perf_counter()
    snap = job.start().wait()
    assert snap.status == jobs.DONE, snap.error
    return time.perf_counter() - started


def main() -> None:
    dataset = build_dataset(digits_sample())
    train = TrainWork(dataset, TrainConfig())
    sweep = SweepWork(dataset, TrainConfig(epochs=5, early_stopping_patience=0), (0, 1, 2, 3))
    fine_tune = TrainConfig(trainable_blocks=2, epochs=5, early_stopping_patience=0)
    print(f"{describe_device(resolve_device('auto'))}, {os.cpu_count()} processors; the app's sample, seed 0")
    rows = [("train, local worker (cache empty)", timed(jobs.Job(train, 20))),
            ("train, local worker (cached)", timed(jobs.Job(train, 20))),
            ("4-depth sweep, local worker", timed(jobs.Job(sweep, 5)))]
    for cpus in (1, 2):
        with ray_head(cpus=cpus) as address:
            os.environ["TLCORE_CPUS_PER_JOB"] = "1"
            if cpus == 1:
                rows += [("train, cluster, first job", timed(ClusterJob(train, 20, address))),
                         ("train, cluster, next job", timed(ClusterJob(train, 20, address)))]
            timed(ClusterJob(TrainWork(dataset, TrainConfig(epochs=1)), 1, address))  # a worker with the engine
            rows.append((f"4-depth sweep, cluster of {cpus} processor{'s' if cpus > 1 else ''}",
                         timed(ClusterJob(sweep, 5, address))))
            if cpus == 2:
                for workers, again in ((1, ""), (2, ""), (2, ", again (its shares cached)")):
                    rows.append((f"fine-tune 2 blocks, {workers} worker{'s' if workers > 1 else ''}{again}",
                                 timed(ClusterJob(TrainWork(dataset, fine_tune, workers=workers), 5, address))))
    for name, seconds in rows:
        print(f"{name:45} {seconds:6.1f} s", flush=True)


if __name__ == "__main__":
    main()
