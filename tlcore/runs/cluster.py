"""Jobs on a Ray cluster, behind the same job interface as the local worker processes (tlcore.runs.jobs).

A job is one small coordinating actor that asks for no processor; each part of the job's work (one
training, one depth of a sweep, one backbone of a recommendation) is a Ray task that asks for a GPU
when the cluster has them, else `cpus_per_job` processors, so Ray's scheduler, not ours, decides
where and when parts run, side by side when there is room. The work (with its data) goes once into
Ray's object store; each part reports its progress to the job's actor, which the app polls; a part
writes its runs in a folder on its worker, whose files come back to the app's job folder. The
content-keyed caches are each worker's own. Cancel kills the job's actor: Ray then ends its parts and
frees their resources. A part whose worker process dies is run again once by Ray.

Ray is imported only by this module and tlcore.runs.coordinator, when the Ray backend is used
(requirements-cluster.txt)."""
from __future__ import annotations

import functools
import shutil
import socket
import threading
import time
import traceback
from pathlib import Path

from ..core.errors import ClusterError, TLCoreError
from ..core.settings import job_settings
from .coordinator import WAITING, Coordinator, write_files
from .jobs import Job
from .work import to_json
from .workers import CANCELLED, DONE, FAILED, QUEUED, RUNNING

CONNECT_TIMEOUT_S = 5.0
POLL_S = 0.5
JOB_LOST = ("The cluster lost this job: the machine coordinating it went away. Start it again; if this repeats, "
            "check the cluster (`ray status` on the head).")


def _ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("Jobs are set to run on a Ray cluster, but Ray is not installed here. Install it with "
                           "`pip install -r requirements-cluster.txt`, or set backend = \"local\" under [jobs] in "
                           "tlcore.toml.") from None
    return ray


_CONNECTED: list[str] = []  # the address this process joined
_CONNECT_LOCK = threading.Lock()


def _where_set(address: str) -> str:
    return (f"Check the address ('{address}', from --cluster, TLCORE_RAY_ADDRESS or ray_address under [jobs] in "
            "tlcore.toml)")


def _check_reachable(address: str) -> None:
    """Fail in seconds, with what to do, when nothing answers at host:port (Ray itself would wait minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"'{address}' is not a cluster address: give the head's host and port, e.g. "
                           "192.168.1.10:6379, or \"local\" for a Ray on this machine.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(f"No Ray cluster answers at {address} ({exc.strerror or exc}). Start its head on that "
                           f"machine with `RAY_AUTH_MODE=token ray start --head --port {port}` (README: \"Past one "
                           "machine\"), then try again. "
                           f"{_where_set(address)}.") from None


def connect(address: str) -> None:
    """Join the cluster at `address` (host:port of its head; "local" starts a Ray on this machine), once per
    process. Workers import this very tlcore, shipped with the job, so the app and its workers agree."""
    ray = _ray()
    with _CONNECT_LOCK:
        if _CONNECTED == [address] and ray.is_initialized():
            return
        if address != "local":
            _check_reachable(address)  # before leaving a cluster that works
        if ray.is_initialized():
            ray.shutdown()
        _CONNECTED.clear()
        package = Path(__file__).resolve().parents[1]
        try:  # "local": Ray's own word for a new Ray here (None would join whatever Ray ran here last)
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     runtime_env={"py_modules": [str(package)], "excludes": ["__pycache__", "*.pyc"]})
        except Exception as exc:  # reachable, but not a Ray head of this version, or refused us
            raise ClusterError(f"The Ray cluster at {address} could not be joined ({exc}). Check that it is a Ray "
                               "head started with `ray start --head` with the same Ray version as here, and, when "
                               "it asks for a token (RAY_AUTH_MODE=token), that this machine has the head's "
                               f"~/.ray/auth_token. {_where_set(address)}.") from None
        _CONNECTED.append(address)


def asks(work) -> dict:
    """What each part of `work` (or each worker of a shared fine-tune) asks the cluster for: a GPU when the
    cluster has one (unless the work is set to the processor), else the cpus_per_job setting. Refused
    with a sentence when no machine of the cluster has that much, or too few for the work's workers."""
    ray = _ray()
    device = getattr(getattr(work, "config", None), "device", "auto")
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(n.get("GPU", 0) >= 1 for n in nodes) and device in ("auto", "cuda"):
        wanted, unit, key, each = {"num_gpus": 1, "num_cpus": 1}, "GPU", "GPU", 1.0
    else:
        each = job_settings().cpus_per_job
        wanted, unit, key = {"num_cpus": each}, f"{each:g} processor{'s' if each != 1 else ''}", "CPU"
    fits = sum(int(n.get(key, 0) // each) for n in nodes)
    needed = max(1, getattr(work, "workers", 1))
    if fits < needed:
        largest = max((n.get(key, 0) for n in nodes), default=0)
        raise ClusterError(f"The cluster has room for {fits} worker{'s' if fits != 1 else ''} of {unit} and this "
                           f"job needs {needed} (its largest machine has {largest:g} {key}). Lower cpus_per_job "
                           "under [jobs] in tlcore.toml (TLCORE_CPUS_PER_JOB) or --workers, or add machines.")
    return wanted


@functools.cache
def _coordinator():
    return _ray().remote(Coordinator).options(num_cpus=0, max_concurrency=8, max_restarts=0)


class ClusterJob(Job):
    """A job run on the Ray cluster at the ray_address setting; the same snapshot, cancel and forget as
    a local job, and its runs land in the job's folder on this machine. `outcome` is the work's own
    result (for the command line), `snapshot().result` its JSON (for the pages)."""

    WAITING = WAITING
    ON_CLUSTER = True

    def __init__(self, work, epochs: int, address: str | None = None):
        super().__init__(work, epochs)
        self.address = address or job_settings().ray_address
        self.outcome = None

    def start(self) -> "ClusterJob":
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def _run(self) -> None:
        try:
            connect(self.address)
            ray = _ray()
            coordinator = _coordinator().remote()
            ref = coordinator.run.remote([ray.put(self.work)], self.epochs, asks(self.work))
        except TLCoreError as exc:
            self._finish(FAILED, exc.user_message)
            return
        except Exception as exc:  # e.g. work that cannot be sent: say so, never hang as "waiting"
            traceback.print_exc()
            self._finish(FAILED, f"Training could not start on the cluster ({exc}). Start it again.")
            return
        try:
            outcome = self._follow(ray, coordinator, ref)
            if outcome["status"] == DONE:
                write_files(self.folder, outcome["files"])
                self.outcome = outcome["result"]
                self._read = {**outcome["state"], "result": to_json(self.outcome), "eta_s": None}
        except Exception as exc:  # e.g. the disk is full: said, never stuck as "running"
            traceback.print_exc()
            outcome = {"status": FAILED, "error": f"The finished job could not be kept here ({exc}). Start it again."}
        finally:
            ray.kill(coordinator, no_restart=True)  # ends any part still running (Cancel) and frees its resources
        self._finish(outcome["status"], outcome.get("error"))

    def _follow(self, ray, coordinator, ref) -> dict:
        """Poll the job's actor until its work ends, or kill it on Cancel."""
        while not ray.wait([ref], timeout=POLL_S)[0]:
            if self._cancel.is_set():
                return {"status": CANCELLED}
            try:
                state = ray.get(coordinator.status.remote(), timeout=10 * POLL_S)
            except ray.exceptions.GetTimeoutError:
                continue
            except ray.exceptions.RayError:
                break  # the actor is gone: said below
            with self._lock:
                self._read = state
                if state["status"] == RUNNING and self._status == QUEUED:
                    self._status, self._started = RUNNING, time.monotonic()
        try:
            return ray.get(ref)
        except ray.exceptions.RayError:  # its actor died (its machine went away): the coordinator never fails
            return {"status": FAILED, "error": JOB_LOST}


def run_on_cluster(work, epochs: int, *, address: str, callbacks=()) -> ClusterJob:
    """Run `work` on the cluster at `address` and wait, passing its progress on to `callbacks` (the command
    line's console); the finished job, whose folder holds its runs. Raises the job's failure as a
    sentence; Ctrl+C cancels the job on the cluster too."""
    job = ClusterJob(work, epochs, address).start()
    shown = (None, 0, 0)  # the phase and count last passed on, and the epochs
    try:
        while True:
            snap = job.wait(POLL_S)
            for log in snap.history[shown[2]:]:
                for cb in callbacks:
                    cb.on_epoch_end(None, log)
            if (snap.phase, snap.done) != shown[:2] and len(snap.history) == shown[2] and not snap.finished:
                for cb in callbacks:
                    cb.on_phase(snap.phase, snap.done, snap.total)
            shown = (snap.phase, snap.done, len(snap.history))
            if snap.finished:
                break
    except KeyboardInterrupt:
        job.cancel()
        job.wait()
        shutil.rmtree(job.folder, ignore_errors=True)
        raise
    if snap.status != DONE:
        shutil.rmtree(job.folder, ignore_errors=True)
        raise ClusterError(snap.error or "The job was cancelled on the cluster.")
    return job
