"""The device queue and the worker pool behind background jobs (tlcore.runs.jobs), and what the app and
its workers (tlcore.runs.worker) agree on: the status names and the files in a job's folder.

At most `max_running` jobs hold the device at once; the others wait their turn, first come first
served. Workers are processes started as `python -m tlcore.runs.worker` with the engine imported
before a job arrives; one fresh worker is kept ready, and a worker idle for WORKER_IDLE_S after its
jobs is told to exit, giving their memory back.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from ..core.settings import job_settings

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATUS_FILE, CANCEL_FILE = "status.json", "cancel"
WORKER_IDLE_S = 60.0  # a worker that has run jobs is told to exit after this long without one


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
                self._changed.wait(timeout=5.0)  # woken at once by release() or wake()
            self._waiting.popleft()
            self._running.add(job_id)
            self._changed.notify_all()
            return True

    def release(self, job_id: str) -> None:
        with self._changed:
            self._running.discard(job_id)
            self._changed.notify_all()

    def wake(self) -> None:
        """Let waiting jobs look again (one of them was cancelled)."""
        with self._changed:
            self._changed.notify_all()

    def place(self, job_id: str) -> int | None:
        with self._changed:
            return self._waiting.index(job_id) + 1 if job_id in self._waiting else None


@functools.cache
def device_queue() -> DeviceQueue:
    """The process-wide queue, sized by the max_running setting."""
    return DeviceQueue(job_settings().max_running)


class WorkerPool:
    """Worker processes with the engine already imported. A worker runs jobs one after the other; one
    that has been idle for WORKER_IDLE_S after a job is told to exit (its stdin closed), so the memory
    jobs used goes back to the system. One fresh worker is always kept ready, so pressing Train never
    waits for the imports."""

    def __init__(self):
        self._lock = threading.Lock()
        self._idle: list[tuple[subprocess.Popen, float | None]] = []  # (worker, idle since; None: fresh)
        self._retiring: threading.Thread | None = None  # started with the first worker

    @staticmethod
    def _start() -> subprocess.Popen:
        root = str(Path(__file__).resolve().parents[2])  # the folder holding tlcore: the worker imports this very one
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        # Below the app's pages when both want the processor (POSIX workers lower their own priority).
        flags = getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
        return subprocess.Popen([sys.executable, "-m", "tlcore.runs.worker"], stdin=subprocess.PIPE, env=env,
                                creationflags=flags)

    def _usable(self, now: float) -> list[tuple[subprocess.Popen, float | None]]:
        """The idle workers that are alive; those idle too long after a job are told to exit. (Called
        under the lock by everything that hands out workers, so it also starts the retiring thread.)"""
        if self._retiring is None:
            self._retiring = threading.Thread(target=self._retire_idle, name="worker-pool", daemon=True)
            self._retiring.start()
        kept = []
        for worker, since in self._idle:
            if since is not None and now - since > WORKER_IDLE_S:
                worker.stdin.close()  # no more jobs: the worker exits
            elif worker.poll() is None:
                kept.append((worker, since))
        return kept

    def _retire_idle(self) -> None:
        while True:
            time.sleep(5.0)
            with self._lock:
                self._idle = self._usable(time.monotonic())

    def prewarm(self) -> None:
        """Have an idle worker ready (starting one if none is usable)."""
        with self._lock:
            self._idle = self._usable(time.monotonic())
            if not self._idle:
                self._idle.append((self._start(), None))

    def take(self) -> subprocess.Popen:
        """A worker for a job now: the most recently used usable one, else a new one."""
        with self._lock:
            self._idle = self._usable(time.monotonic())
            if self._idle:
                return self._idle.pop()[0]
        return self._start()

    def give_back(self, worker: subprocess.Popen) -> None:
        """A worker whose job ended; it stays usable until it has been idle for WORKER_IDLE_S."""
        if worker.poll() is None:
            with self._lock:
                self._idle.append((worker, time.monotonic()))


POOL = WorkerPool()
