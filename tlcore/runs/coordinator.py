"""What runs on a Ray cluster for a job (see tlcore.runs.cluster): the job's coordinating actor, which
starts the parts of its work as Ray tasks, gathers their results and keeps their progress; and a part
on its worker, reporting to that actor in a status file's terms and sending back the files it wrote."""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import traceback
from pathlib import Path

from ..core.errors import TLCoreError
from .place import PLACE
from .work import Work
from .worker import StatusWriter
from .workers import DONE, FAILED, QUEUED, RUNNING

WAITING = "Waiting for the cluster"
WORKER_LOST = ("A cluster worker running this job stopped twice: its process was killed, or its machine went "
               "away or ran out of memory. Press the button again; if this repeats, check the cluster's machines "
               "(`ray status` on the head).")
RESTARTED = ("A cluster worker stopped during this job (its process was killed, or its machine went away), so Ray "
             "started that part again from the beginning.")


def here(workers: int = 1) -> dict:
    """What a cluster worker records of itself in a run's metrics."""
    import ray

    return {"backend": "ray", "node": f"{socket.gethostname()} ({ray.util.get_node_ip_address()})",
            "workers": workers}


class PartReporter(StatusWriter):
    """A part's progress, in a status file's terms, sent to its job's actor instead of a file."""

    def __init__(self, job, index: int, epochs: int):
        super().__init__(None, epochs)
        self.job, self.index = job, index
        self.state["pid"] = os.getpid()

    def publish(self) -> None:
        self.job.report.remote(self.index, dict(self.state))


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_part(work, index: int, job, epochs: int) -> tuple:
    """On a cluster worker: part `index` of `work` in a folder of its own; (status, result or error, files,
    its last progress)."""
    reporter = PartReporter(job, index, epochs)
    reporter.write()
    token = PLACE.set(here())
    try:
        with tempfile.TemporaryDirectory(prefix="tlcore-part-") as folder:
            result = parts_of(work)[index]([reporter], Path(folder))
            outcome = DONE, result, files_in(Path(folder))
    except TLCoreError as exc:
        outcome = FAILED, exc.user_message, {}
    except Exception as exc:  # unexpected: the job says so; the trace goes to the worker's log
        traceback.print_exc()
        outcome = FAILED, f"Training failed unexpectedly on the cluster: {exc}", {}
    finally:
        PLACE.reset(token)
    reporter.write(status=DONE)
    return (*outcome, reporter.state)


def parts_of(work) -> list:
    """A work's parts; any other callable `work(callbacks, folder)` is one part."""
    return work.parts() if isinstance(work, Work) else [work]


class Coordinator:
    """A job's actor (no resources of its own): starts the parts, gathers them, and keeps their progress."""

    def __init__(self):
        self._lock = threading.Lock()
        self._states: dict[int, dict] = {}
        self._pids: dict[int, set] = {}
        self._n = 0

    def run(self, boxed: list, epochs: int, resources: dict) -> dict:
        import ray

        work = ray.get(boxed[0])
        self._n = len(parts := parts_of(work))
        me = ray.get_runtime_context().current_actor
        if isinstance(work, Work):
            resources = work.resources(resources)
        task = ray.remote(run_part).options(max_retries=1, retry_exceptions=False, **resources)
        refs = [task.remote(boxed[0], i, me, epochs) for i in range(len(parts))]  # the work itself: no copy
        outcomes: dict = {}
        try:
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                status, answer, files, state = outcomes[ready[0]] = ray.get(ready[0])
                self.report(refs.index(ready[0]), state)  # its last word, whatever arrived before
                if status == FAILED:
                    for ref in pending:
                        ray.cancel(ref, force=True)
                    return {"status": FAILED, "error": answer}
        except ray.exceptions.RayError:  # a part's worker died again after Ray's one retry
            return {"status": FAILED, "error": WORKER_LOST}
        results = [outcomes[ref][1] for ref in refs]
        try:
            result = work.gather(results) if isinstance(work, Work) else results[0]
        except TLCoreError as exc:
            return {"status": FAILED, "error": exc.user_message}
        files = {name: data for ref in refs for name, data in outcomes[ref][2].items()}
        return {"status": DONE, "result": result, "files": files, "state": self.status(0)}

    def report(self, index: int, state: dict) -> None:
        with self._lock:
            if state.get("written_at", 0) < self._states.get(index, {}).get("written_at", 0):
                return  # overtaken by a later report (they may arrive out of order)
            self._states[index] = state
            self._pids.setdefault(index, set()).add(state.get("pid"))

    def status(self, shown: int | None = None) -> dict:
        """The job's progress as a status file would say it: the first running part's (or part `shown`'s),
        with every part's notes; "queued" (waiting for the cluster) until a part has started."""
        with self._lock:
            running = sorted(i for i, s in self._states.items() if s.get("status") == RUNNING)
            if shown is not None:
                running = [shown]
            elif not running:
                ended = sum(s.get("status") == DONE for s in self._states.values())
                return {"status": RUNNING if self._states else QUEUED, "history": [], "notes": [],
                        "phase": "Gathering the results" if ended == self._n else WAITING}
            state = dict(self._states[running[0]])
            notes = [n for i in sorted(self._states) for n in self._states[i].get("notes", [])]
            if any(len(pids) > 1 for pids in self._pids.values()):
                notes.append(RESTARTED)
        if len(running) > 1:
            state["phase"] = f"{state['phase']} (and {len(running) - 1} more at once on the cluster)"
        return {**state, "notes": notes}
