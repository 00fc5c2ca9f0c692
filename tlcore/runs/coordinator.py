"""What runs on a Ray cluster for a job (see tlcore.runs.cluster): the job's coordinating actor, which
starts the parts of its work as Ray tasks, gathers their results and keeps their progress; and a part
on its worker, reporting to that actor in a status file's terms and sending back the files it wrote."""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import traceback
from pathlib import Path, PurePosixPath

from ..core.errors import TLCoreError
from .place import ASKS, PLACE
from .work import Work
from .worker import StatusWriter
from .workers import DONE, FAILED, QUEUED, RUNNING

WAITING = "Waiting for the cluster"
WORKER_LOST = ("A cluster worker running this job stopped twice: its process was killed, or its machine went "
               "away or ran out of memory. Start the job again; if this repeats, check the cluster's machines "
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
    """Every file under `folder`, by its path there (what a part sends back)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Files sent back by a part, written under `folder` (never outside it)."""
    for name, data in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            continue
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def run_part(work, index: int, job, epochs: int, asks: dict) -> tuple:
    """On a cluster worker: part `index` of `work` in a folder of its own, each of its workers asking for
    `asks`; (status, result or error, files, its last progress or None when another process reported it)."""
    reporter = PartReporter(job, index, epochs)
    reporter.write()
    started = reporter.state["written_at"]
    tokens = PLACE.set(here()), ASKS.set(asks)
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
        PLACE.reset(tokens[0])
        ASKS.reset(tokens[1])
    return (*outcome, reporter.state if reporter.state["written_at"] > started else None)


def parts_of(work) -> list:
    """A work's parts; any other callable `work(callbacks, folder)` is one part."""
    return work.parts() if isinstance(work, Work) else [work]


class Coordinator:
    """A job's actor (no resources of its own): starts the parts, gathers them, and keeps their progress."""

    def __init__(self):
        self._lock = threading.Lock()
        self._states: dict[int, dict] = {}
        self._pids: dict[int, set] = {}
        self._ended: set[int] = set()
        self._n = 0

    def run(self, boxed: list, epochs: int, asks: dict) -> dict:
        """Run the work's parts (each asking for `asks`) and gather them; the outcome as a dict."""
        import ray

        try:
            return self._run(ray, boxed, epochs, asks)
        except TLCoreError as exc:
            return {"status": FAILED, "error": exc.user_message}
        except Exception as exc:  # unexpected: said, never a hang; the trace goes to the actor's log
            traceback.print_exc()
            return {"status": FAILED, "error": f"Training failed unexpectedly on the cluster: {exc}"}

    def _run(self, ray, boxed: list, epochs: int, asks: dict) -> dict:
        work = ray.get(boxed[0])
        self._n = len(parts := parts_of(work))
        me = ray.get_runtime_context().current_actor
        resources = work.resources(asks) if isinstance(work, Work) else asks
        task = ray.remote(run_part).options(max_retries=1, retry_exceptions=False, **resources)
        refs = [task.remote(boxed[0], i, me, epochs, asks) for i in range(len(parts))]  # the work itself: no copy
        outcomes: dict = {}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                status, answer, files, state = outcomes[ready[0]] = ray.get(ready[0])
            except ray.exceptions.RayError:  # its worker died again after Ray's one retry
                status, answer, state = FAILED, WORKER_LOST, None
            self._end(refs.index(ready[0]), state)
            if status == FAILED:
                for ref in pending:
                    ray.cancel(ref, force=True)
                return {"status": FAILED, "error": answer}
        results = [outcomes[ref][1] for ref in refs]
        result = work.gather(results) if isinstance(work, Work) else results[0]
        files = {name: data for ref in refs for name, data in outcomes[ref][2].items()}
        return {"status": DONE, "result": result, "files": files, "state": self.status(0)}

    def _end(self, index: int, state: dict | None) -> None:
        """A part has ended: its last progress is `state` (None: keep what its reports said)."""
        with self._lock:
            self._states[index] = {**(state or self._states.get(index, {})), "status": DONE}
            self._ended.add(index)

    def report(self, index: int, state: dict) -> None:
        with self._lock:
            if index in self._ended or state.get("written_at", 0) < self._states.get(index, {}).get("written_at", 0):
                return  # overtaken by a later report (they may arrive out of order), or the part has ended
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
