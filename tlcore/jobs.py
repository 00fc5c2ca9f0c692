"""Background training jobs: the page polls a snapshot; only the job's thread touches the model."""
from __future__ import annotations

import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Callable

from .errors import TLCoreError
from .training import Callback, CancelCheck, EpochLog, Trainer, TrainingCancelled

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


@dataclass
class JobSnapshot:
    """A copy of a job's progress, safe to read from any thread."""

    job_id: str
    status: str
    phase: str
    done: int
    total: int
    epoch: int
    epochs: int
    history: list[EpochLog]
    eta_s: float | None
    elapsed_s: float
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED, CANCELLED)


@dataclass
class TrainingJob(Callback):
    """Runs `work(callbacks)` in a daemon thread and records its progress through callback hooks."""

    work: Callable[[list[Callback]], object]
    epochs: int
    context: dict = field(default_factory=dict)  # what the job was started with, to restore a page
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    result: object = None

    def __post_init__(self):
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._status, self._phase, self._done, self._total = QUEUED, "Waiting to start", 0, 0
        self._history: list[EpochLog] = []
        self._error: str | None = None
        self._started = time.monotonic()
        self._train_started: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"train-{self.job_id}", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        self._thread.join(timeout)
        return self.snapshot()

    def _run(self) -> None:
        with self._lock:
            self._status = RUNNING
        try:
            result = self.work([self, CancelCheck(self._cancel.is_set)])
            with self._lock:
                self.result, self._status = result, DONE
        except TrainingCancelled:
            with self._lock:
                self._status = CANCELLED
        except TLCoreError as exc:
            with self._lock:
                self._status, self._error = FAILED, exc.user_message
        except Exception as exc:  # unexpected: keep the app alive, show the cause, log the trace
            traceback.print_exc()
            with self._lock:
                self._status, self._error = FAILED, f"Training failed unexpectedly: {exc}"

    # Callback hooks, called from the job's thread.
    def on_phase(self, phase: str, done: int, total: int) -> None:
        with self._lock:
            self._phase, self._done, self._total = phase, done, total

    def on_epoch_end(self, trainer: Trainer, log: EpochLog) -> None:
        with self._lock:
            if self._train_started is None:
                self._train_started = time.monotonic() - log.seconds
            self._history.append(log)
            self._phase, self._done, self._total = "Training", log.epoch, self.epochs

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            epoch = len(self._history)
            eta = None
            if epoch and self._status == RUNNING:
                per_epoch = (time.monotonic() - self._train_started) / epoch
                eta = per_epoch * (self.epochs - epoch)
            return JobSnapshot(self.job_id, self._status, self._phase, self._done, self._total, epoch,
                               self.epochs, list(self._history), eta, time.monotonic() - self._started,
                               self._error)


_JOBS: dict[str, TrainingJob] = {}
_JOBS_LOCK = threading.Lock()


def submit(work: Callable[[list[Callback]], object], epochs: int, context: dict | None = None) -> TrainingJob:
    """Start a job and keep it in the process-wide registry (it outlives page reruns and refreshes)."""
    job = TrainingJob(work, epochs, context or {})
    with _JOBS_LOCK:
        _JOBS[job.job_id] = job
    return job.start()


def get_job(job_id: str | None) -> TrainingJob | None:
    with _JOBS_LOCK:
        return _JOBS.get(job_id) if job_id else None
