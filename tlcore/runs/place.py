"""Where the training in progress runs: None on this machine, or what a cluster's worker says of itself
(set by tlcore.runs.coordinator around each part it runs; training records it in the run's metrics);
and what each worker of the job asks the cluster for (a data-parallel run starts more of them)."""
from __future__ import annotations

from contextvars import ContextVar

PLACE: ContextVar[dict | None] = ContextVar("place", default=None)
ASKS: ContextVar[dict] = ContextVar("asks", default={"num_cpus": 1})
