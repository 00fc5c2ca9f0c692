"""Where the training in progress runs: None on this machine, or what a cluster's worker says of itself
(set by tlcore.runs.cluster around each part it runs; training records it in the run's metrics)."""
from __future__ import annotations

from contextvars import ContextVar

PLACE: ContextVar[dict | None] = ContextVar("place", default=None)
