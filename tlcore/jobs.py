"""Background training jobs: the page polls a snapshot; only the job's thread touches the model.

Jobs outlive page reruns, refreshes and closed tabs (the page finds its job again by the id in its URL).
At most `max_running` jobs use the device at once; the others wait their turn in a first-come queue.
A job nobody has looked at for `abandoned_minutes` is stopped and forgotten (see tlcore.settings).
"""
from __future__ import annotations

import functools
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from .errors import TLCoreError
from .memory import free_memory
from .settings import job_settings
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
    queue_place: int | None = None  # 1 = next to start; None when not waiting
    notes: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED, CANCELLED)


class DeviceQueue:
    """At most `max_running` jobs hold the device; the others wait, first come first served."""

    def __init__(self, max_running: int):
        self.max_running = max_running
        self._changed = threading.Condition()
        self._waiting: deque[str] = deque()
        self._running: set[str] = set()

    def join(self, job_id: str) -> None:
        """Take a place at the back of the queue (when the job is submitted, so places follow that order)."""
        with self._changed:
            self._waiting.append(job_id)

    def acquire(self, job_id: str, is_cancelled: Callable[[], bool]) -> bool:
        """Wait until the job is first in the queue and a slot is free; False if cancelled while waiting."""
        with self._changed:
            while not (self._waiting[0] == job_id and len(self._running) < self.max_running):
                if is_cancelled():
                    self._waiting.remove(job_id)
                    self._changed.notify_all()
                    return False
                self._changed.wait(timeout=0.2)
            self._waiting.popleft()
            self._running.add(job_id)
            self._changed.notify_all()
            return True

    def release(self, job_id: str) -> None:
        with self._changed:
            self._running.discard(job_id)
            self._changed.notify_all()

    def place(self, job_id: str) -> int | None:
        with self._changed:
            return self._waiting.index(job_id) + 1 if job_id in self._waiting else None


@functools.cache
def device_queue() -> DeviceQueue:
    """The process-wide queue, sized by the max_running setting."""
    return DeviceQueue(job_settings().max_running)


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
        self._status, self._phase, self._done, self._total = QUEUED, "Waiting for the device", 0, 0
        self._history: list[EpochLog] = []
        self._notes: list[str] = []
        self._error: str | None = None
        self._started = time.monotonic()
        self.last_seen = self._started  # when a page last showed this job
        self._queue = device_queue()
        self._train_started: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"train-{self.job_id}", daemon=True)

    def start(self) -> "TrainingJob":
        self._queue.join(self.job_id)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        self._thread.join(timeout)
        return self.snapshot()

    def _run(self) -> None:
        if not self._queue.acquire(self.job_id, self._cancel.is_set):
            with self._lock:
                self._status = CANCELLED
            return
        with self._lock:
            self._status, self._phase, self._started = RUNNING, "Starting", time.monotonic()
        try:
            self._work()
        finally:
            self._queue.release(self.job_id)
            free_memory()  # a cancelled or failed run's model and batches are unreachable by now

    def _work(self) -> None:
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
    def on_batch_size(self, batch_size: int) -> None:
        with self._lock:
            self._notes.append(f"Ran out of memory, so the batch size was lowered to {batch_size} and training went on.")

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
            place = self._queue.place(self.job_id) if self._status == QUEUED else None
            return JobSnapshot(self.job_id, self._status, self._phase, self._done, self._total, epoch,
                               self.epochs, list(self._history), eta, time.monotonic() - self._started,
                               self._error, place, list(self._notes))


_JOBS: dict[str, TrainingJob] = {}
_JOBS_LOCK = threading.Lock()


def submit(work: Callable[[list[Callback]], object], epochs: int, context: dict | None = None) -> TrainingJob:
    """Start a job and keep it in the process-wide registry (it outlives page reruns and refreshes)."""
    reap_abandoned()
    job = TrainingJob(work, epochs, context or {})
    with _JOBS_LOCK:
        _JOBS[job.job_id] = job
    return job.start()


def get_job(job_id: str | None) -> TrainingJob | None:
    """The job a page shows (which counts as a viewer's visit), or None if unknown or cleaned up."""
    reap_abandoned()
    with _JOBS_LOCK:
        job = _JOBS.get(job_id) if job_id else None
    if job is not None:
        job.last_seen = time.monotonic()
    return job


def reap_abandoned(now: float | None = None) -> list[str]:
    """Cancel and forget the jobs no page has shown for the abandoned_minutes setting; their ids."""
    cutoff = (now or time.monotonic()) - job_settings().abandoned_s
    with _JOBS_LOCK:
        gone = [job_id for job_id, job in _JOBS.items() if job.last_seen < cutoff]
        for job_id in gone:
            _JOBS.pop(job_id).cancel()
    return gone
