"""Background jobs: jobs run in worker processes, outside the UI process.

The UI process only queues jobs, hands them to workers and reads their progress: a small status file
each worker rewrites in the job's folder (see tlcore.runs.worker). So training never competes with page
renders for the interpreter, and workers run at a lower priority than the pages. Workers have the
engine imported before a job arrives, so pressing Train does not wait for Python, torch and the
models to import, and a worker idle for a while after its jobs exits, giving their memory back.

Jobs outlive page reruns, refreshes and closed tabs. At most `max_running` jobs use the device at once;
the others wait their turn in a first-come queue. A job nobody has looked at for `abandoned_minutes`
is stopped and forgotten, and its folder deleted (see tlcore.core.settings). The queue, the worker
pool and the status names and files that app and workers share live in tlcore.runs.workers.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.device import describe_device, resolve_device
from ..core.errors import JobStartError
from ..core.settings import job_settings
from ..engine.loop import EpochLog
from .workers import (
    CANCEL_FILE, CANCELLED, DONE, FAILED, POOL, QUEUED, RUNNING, STATUS_FILE, WORKER_IDLE_S, DeviceQueue, WorkerPool,
    device_queue,
)

__all__ = [
    "QUEUED", "RUNNING", "DONE", "FAILED", "CANCELLED", "STATUS_FILE", "CANCEL_FILE", "CANCEL_GRACE_S",
    "WORKER_IDLE_S", "JobSnapshot", "DeviceQueue", "device_queue", "WorkerPool", "POOL", "jobs_root", "JOB_ID",
    "Job", "submit", "runs_on", "prewarm", "get_job", "forget", "reap_abandoned",
]
CANCEL_GRACE_S = 30.0  # a worker that has not stopped this long after Cancel is killed


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
    eta_s: float | None  # of the current phase (of training, during the epochs)
    elapsed_s: float
    error: str | None
    queue_place: int | None = None  # 1 = next to start; None when not waiting
    notes: list[str] = field(default_factory=list)
    result: object = None  # what the work returned (JSON), once done
    on_cluster: bool = False  # queued on a Ray cluster: its scheduler, not a queue here, decides when

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED, CANCELLED)

    @property
    def poll_s(self) -> float | None:
        """How often a page should look again: rarely while waiting in this machine's queue (a cluster's
        wait is mostly a worker starting: seconds), never once finished."""
        return None if self.finished else 4.0 if self.status == QUEUED and not self.on_cluster else 1.0


def jobs_root() -> Path:
    """Where job folders live: a hidden folder beside the saved runs (never listed as runs). Folders
    an earlier app process left there are deleted once they are older than abandoned_minutes."""
    from .folders import runs_dir

    root = runs_dir() / ".jobs"
    if root not in _CLEANED:
        _CLEANED.add(root)
        cutoff = time.time() - job_settings().abandoned_s
        for folder in root.glob("*") if root.is_dir() else []:
            if JOB_ID.fullmatch(folder.name) and folder.name not in _JOBS and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
    return root


_CLEANED: set[Path] = set()
JOB_ID = re.compile(r"[0-9a-f]{12}")


class Job:
    """One unit of work run by a worker process: `work(callbacks, folder)` with `folder` its own job
    folder, where it writes its runs. `work` must be picklable (a module-level function or an object of
    a module-level class); what it returns (as tlcore.runs.work.to_json makes it) becomes the snapshot's
    `result`. On a cluster, see tlcore.runs.cluster.ClusterJob."""

    WAITING = "Waiting for the device"  # the phase shown while queued
    ON_CLUSTER = False

    def __init__(self, work: Callable, epochs: int):
        self.work, self.epochs = work, epochs
        self.job_id = uuid.uuid4().hex[:12]
        self.folder = jobs_root() / self.job_id
        try:
            self.folder.mkdir(parents=True)
        except OSError as exc:
            raise JobStartError(f"Training could not start: the runs folder cannot be written ({exc}). Start the "
                                "app from a folder you can write to, or set TLCORE_RUNS_DIR to one.") from None
        self.last_seen = time.monotonic()  # when a page last showed this job
        self._queue = device_queue()
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._status, self._error = QUEUED, None
        self._submitted = time.monotonic()
        self._started: float | None = None
        self._read: dict = {}  # the status file as the job's thread last read it (pages never read the file)
        self._thread = threading.Thread(target=self._run, name=f"job-{self.job_id}", daemon=True)

    def start(self) -> "Job":
        self._queue.join(self.job_id)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()
        self._queue.wake()
        if self.folder.is_dir():
            (self.folder / CANCEL_FILE).touch()

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        self._thread.join(timeout)
        return self.snapshot()

    def _run(self) -> None:
        if not self._queue.acquire(self.job_id, self._cancel.is_set):
            self._finish(CANCELLED)
            return
        try:
            with self._lock:
                self._status, self._started = RUNNING, time.monotonic()
            payload = pickle.dumps({"work": self.work, "folder": str(self.folder), "epochs": self.epochs,
                                    "env": dict(os.environ), "cwd": os.getcwd()})
            # A worker that went away before it began the job (it was just ending) gets one successor.
            if not (self._supervise(POOL.take(), payload) or self._supervise(POOL.take(), payload)):
                self._finish(FAILED, "The training process could not start. Press Train again; if this "
                                     "repeats, restart the app.")
        except Exception as exc:  # e.g. work that cannot be sent to a worker: say so, never hang as "running"
            traceback.print_exc()
            self._finish(FAILED, f"Training could not start ({exc}). Load the data again and press Train.")
        finally:
            self._queue.release(self.job_id)

    def _supervise(self, worker: subprocess.Popen, payload: bytes) -> bool:
        """Hand the job to a worker, then follow its status file until the job ends; a worker that
        does not stop within the grace time after Cancel is killed. False if the worker ended before
        it began the job (so another one can take it)."""
        try:
            worker.stdin.write(len(payload).to_bytes(8, "big") + payload)
            worker.stdin.flush()
        except OSError:
            pass  # the worker died before its job: reported below
        cancelled_at = None
        while (status := self._read_status().get("status")) not in (DONE, FAILED, CANCELLED):
            if worker.poll() is not None:
                break
            if self._cancel.is_set():
                cancelled_at = cancelled_at or time.monotonic()
                if time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                    worker.kill()
            time.sleep(0.1)
        if status in (DONE, FAILED, CANCELLED):
            POOL.give_back(worker)
            self._finish(status, self._read.get("error"))
        elif self._cancel.is_set():
            self._finish(CANCELLED)
        elif not self._read:
            return False
        else:
            worker.wait()
            self._finish(FAILED, "The training process was stopped unexpectedly, most likely because the machine ran "
                                 "out of memory. Try a smaller batch size, fewer trainable blocks or fewer examples, "
                                 "or wait until other training has finished.")
        return True

    def _finish(self, status: str, error: str | None = None) -> None:
        with self._lock:
            self._status, self._error = status, error

    def _read_status(self) -> dict:
        """Read the worker's status file (a few kB, read every time: a file's time stamp may not change
        between two quick writes). Only the job's thread reads it; snapshots use what it read."""
        try:
            self._read = json.loads((self.folder / STATUS_FILE).read_text())
        except (OSError, ValueError):
            pass  # not written yet, or being replaced while we looked: keep the last one read
        return self._read

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            status, error, started = self._status, self._error, self._started
        info = self._read if status != QUEUED else {}
        history = [EpochLog(**h) for h in info.get("history", [])]
        eta = info.get("eta_s")
        if eta is not None and status == RUNNING:
            eta = max(0.0, eta - (time.time() - info.get("written_at", time.time())))
        now = time.monotonic()
        return JobSnapshot(
            self.job_id, status, info.get("phase", self.WAITING if status == QUEUED else "Starting"),
            info.get("done", 0), info.get("total", 0), len(history), self.epochs, history,
            eta if status == RUNNING else None, now - (started or self._submitted), error,
            self._queue.place(self.job_id) if status == QUEUED else None, list(info.get("notes", [])),
            info.get("result") if status == DONE else None, self.ON_CLUSTER)

    def forget(self) -> None:
        """Stop the job and delete its folder (once the worker has gone)."""
        self.cancel()
        threading.Thread(target=self._remove_when_done, daemon=True).start()

    def _remove_when_done(self) -> None:
        self._thread.join(CANCEL_GRACE_S + 10)
        shutil.rmtree(self.folder, ignore_errors=True)


_JOBS: dict[str, Job] = {}
_JOBS_LOCK = threading.Lock()


def submit(work: Callable, epochs: int) -> Job:
    """Queue a job (on this machine, or on the cluster when the backend setting is "ray") and keep it in
    the process-wide registry (it outlives page reruns and refreshes). Raises JobStartError when its
    folder cannot be written."""
    reap_abandoned()
    if job_settings().backend == "ray":
        from .cluster import ClusterJob

        job = ClusterJob(work, epochs)
    else:
        job = Job(work, epochs)
    with _JOBS_LOCK:
        _JOBS[job.job_id] = job
    return job.start()


def runs_on() -> str:
    """Where jobs run, in words: this machine's device, or the cluster."""
    settings = job_settings()
    if settings.backend == "ray":
        return ("a Ray cluster on this machine" if settings.ray_address == "local" else
                f"the Ray cluster at {settings.ray_address}")
    return describe_device(resolve_device("auto"))


def prewarm() -> None:
    """Get ready for the next job: a worker with the engine imported (a cluster's workers are Ray's)."""
    if job_settings().backend == "local":
        POOL.prewarm()


def get_job(job_id: str | None) -> Job | None:
    """The job a page shows (which counts as a viewer's visit), or None if unknown or cleaned up."""
    reap_abandoned()
    with _JOBS_LOCK:
        job = _JOBS.get(job_id) if job_id else None
    if job is not None:
        job.last_seen = time.monotonic()
    return job


def forget(job_id: str) -> None:
    """Stop a job and delete its folder (its session has moved on to other data)."""
    with _JOBS_LOCK:
        job = _JOBS.pop(job_id, None)
    if job is not None:
        job.forget()


def reap_abandoned(now: float | None = None) -> list[str]:
    """Cancel and forget the jobs no page has shown for the abandoned_minutes setting; their ids."""
    cutoff = (now or time.monotonic()) - job_settings().abandoned_s
    with _JOBS_LOCK:
        gone = [job_id for job_id, job in _JOBS.items() if job.last_seen < cutoff]
        for job_id in gone:
            _JOBS.pop(job_id).forget()
    return gone
