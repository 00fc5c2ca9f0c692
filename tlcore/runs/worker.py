"""A worker process: `python -m tlcore.runs.worker` imports the engine, then runs the jobs that
tlcore.runs.jobs sends on its stdin, one at a time and at a lower priority than the app's pages,
reporting progress in each job folder's status file (its names, shared with the app, are in
tlcore.runs.workers). It exits when the app closes its stdin (a minute after its last job, or when
the app goes), so the memory its jobs used goes back to the system."""
from __future__ import annotations

import json
import os
import pickle
import sys
import time
import traceback
from pathlib import Path

from ..core.errors import TLCoreError
from ..engine.memory import free_memory
from ..engine.loop import Callback, CancelCheck, EpochLog, Trainer, TrainingCancelled
from .work import to_json
from .workers import CANCEL_FILE, CANCELLED, DONE, FAILED, RUNNING, STATUS_FILE

WRITE_EVERY_S = 0.5  # progress within a phase is written at most this often


class StatusWriter(Callback):
    """Writes the job's progress to its status file: phase, count, the phase's ETA, epochs, notes.
    (A cluster's part sends the same state to its job instead: see tlcore.runs.cluster.)"""

    def __init__(self, folder: Path | None, epochs: int):
        self.path, self.epochs = folder / STATUS_FILE if folder else None, epochs
        self.state = {"status": RUNNING, "phase": "Starting", "done": 0, "total": 0, "eta_s": None,
                      "history": [], "notes": [], "started_at": time.time()}
        self._phase_started = self._written = time.monotonic()
        self._phase_first_done = 0  # the count at the phase's first report: the rate is measured from there
        self._training_started: float | None = None

    def write(self, **changes) -> None:
        self.state.update(changes, written_at=time.time())
        self.publish()
        self._written = time.monotonic()

    def publish(self) -> None:
        """Replace the status file (a reader never sees half a file). Where the app has the file open
        at that instant (Windows refuses the replace), try again for a moment."""
        staging = self.path.with_suffix(".tmp")
        staging.write_text(json.dumps(self.state))
        for _ in range(50):
            try:
                os.replace(staging, self.path)
                break
            except PermissionError:
                time.sleep(0.02)

    def on_phase(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase != self.state["phase"]:
            self._phase_started, self._phase_first_done = now, done
        elif now - self._written < WRITE_EVERY_S and done < total:
            return
        counted = done - self._phase_first_done  # a phase first reported part-done has no time for that part
        eta = (now - self._phase_started) / counted * (total - done) if counted > 0 and total else None
        self.write(phase=phase, done=done, total=total, eta_s=eta)

    def on_batch_size(self, batch_size: int) -> None:
        self.write(notes=self.state["notes"] + [
            f"Ran out of memory, so the batch size was lowered to {batch_size} and training went on."])

    def on_epoch_end(self, trainer: Trainer, log: EpochLog) -> None:
        now = time.monotonic()
        if self._training_started is None:
            self._training_started = now - log.seconds
        history = self.state["history"] + [log.to_dict()]
        per_epoch = (now - self._training_started) / len(history)
        self.write(phase="Training", done=len(history), total=self.epochs, history=history,
                   eta_s=per_epoch * (self.epochs - len(history)))


def run_job(work, folder: Path, epochs: int) -> None:
    """Run `work(callbacks, folder)`, leaving its outcome in the status file."""
    status = StatusWriter(folder, epochs)
    status.write()
    cancel = CancelCheck(lambda: (folder / CANCEL_FILE).exists())
    try:
        result = work([status, cancel], folder)
    except TrainingCancelled:
        status.write(status=CANCELLED)
    except TLCoreError as exc:
        status.write(status=FAILED, error=exc.user_message)
    except Exception as exc:  # unexpected: the app stays up and shows the cause; the trace goes to the log
        traceback.print_exc()
        status.write(status=FAILED, error=f"Training failed unexpectedly: {exc}")
    else:
        status.write(status=DONE, result=to_json(result), eta_s=None)


def _import_engine() -> None:
    """Import what jobs use before a job arrives: the spare worker's head start on a Train click."""
    import torch

    from . import work  # noqa: F401  (and through it training, the sweep, the engine and saving)

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # its first use imports torch's compiler (seconds)
    try:
        import sentence_transformers  # noqa: F401  (texts; several seconds to import)
    except ImportError:
        pass


def _read_job() -> dict | None:
    """The next job from the app (a length-prefixed pickle on stdin); None when the app closed the pipe
    (it has no more jobs for this worker, or it has gone)."""
    head = sys.stdin.buffer.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(sys.stdin.buffer.read(int.from_bytes(head, "big")))  # from the app, never a user file


def main() -> None:
    """Run jobs until the app closes this worker's stdin."""
    if hasattr(os, "nice"):
        os.nice(10)  # the app's pages come first when both want the processor (Windows: set by the app)
    _import_engine()
    while (job := _read_job()) is not None:
        os.environ.clear()
        os.environ.update(job["env"])  # the settings in force when the job was submitted
        os.chdir(job["cwd"])
        run_job(job["work"], Path(job["folder"]), job["epochs"])
        del job
        free_memory()


if __name__ == "__main__":
    main()
