"""One browser session's workspace (its data, settings, jobs and saves), found again after a refresh,
and the runs it can look at: its own (the Train page's, a sweep's), those it opened from a file (a run
zip, a project), then every saved run folder."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ..core.config import TrainConfig, default_config
from ..core.settings import job_settings
from ..data import LabelledDataset, Table, build_dataset, build_text_dataset, digits_sample, text_sample
from ..runs import jobs
from ..runs.folders import list_runs
from ..runs.project import Project
from .camera import CameraShots
from .class_rows import ClassRows

KEY = "tl_workspace"
SESSION_PARAM = "session"  # the address carries the session's id, so a refresh finds its workspace again
THIS_SESSION = "This session's run"
GUIDANCE_JOBS = ("advice_job_id", "curve_job_id", "layer_job_id")  # measured on the data and its split


@dataclass(frozen=True)
class OpenedRun:
    """A run this session opened from a file: its name, and where it came from ("uploaded", or the project)."""

    name: str
    source: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.source})"


@dataclass
class Workspace:
    """Everything one browser session has done, in one typed object in session_state."""

    task: str = "image"
    dataset: LabelledDataset | None = None
    data_label: str = ""
    val_dataset: LabelledDataset | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    job_id: str | None = None
    loaded_key: str | None = None  # which upload the dataset came from (skip re-reading on reruns)
    val_key: str | None = None  # likewise for the separate validation data
    sweep_job_id: str | None = None  # a depth sweep started on the Compare page
    advice_job_id: str | None = None  # "find the best start for my data", started on the Model page
    curve_job_id: str | None = None  # the learning curve, started on the Model page
    layer_job_id: str | None = None  # the layer sweep, started on the Compare page
    saved: dict[str, str] = field(default_factory=dict)  # this session's run folder -> where it was saved
    image_rows: ClassRows = field(default_factory=ClassRows)  # the Data page's classes named for images
    text_rows: ClassRows = field(default_factory=ClassRows)  # ... and for texts, with their typed examples
    camera: CameraShots = field(default_factory=CameraShots)  # webcam shots per image class row
    opened_runs: dict[str, OpenedRun] = field(default_factory=dict)  # run folder -> a run opened from a file
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    last_seen: float = field(default_factory=time.monotonic)
    owner: str | None = None  # the browser session (Streamlit's id) using this workspace now

    @property
    def job(self) -> jobs.Job | None:
        self.last_seen = time.monotonic()  # a page polling the job counts as a visit
        return jobs.get_job(self.job_id)

    @property
    def sweep_job(self) -> jobs.Job | None:
        return jobs.get_job(self.sweep_job_id)


    def session_runs(self) -> dict[str, Path]:
        """Finished runs of this session by label: the Train page's run, then each depth of a sweep.
        Values are the run folders the worker wrote."""
        runs = {THIS_SESSION: folder for folder in run_folders(self.job)}
        for folder in run_folders(self.sweep_job):
            runs[sweep_label(int(folder.name.rsplit("-", 1)[1]))] = folder
        return runs

    @property
    def has_run(self) -> bool:
        return bool(run_folders(self.job))

    def set_task(self, task: str) -> None:
        """Switching between images and texts starts over: other data, other backbones."""
        if task != self.task:
            self.task, self.config = task, default_config(task)
            self.set_validation(None, None)
            self.set_data(None, "", None)

    def set_data(self, dataset: LabelledDataset | None, label: str, key: str | None) -> None:
        """New data makes any earlier model stale: its jobs are stopped and forgotten (a saved copy
        stays), so they neither hold the device nor a place in the queue."""
        self._forget("job_id", "sweep_job_id", *GUIDANCE_JOBS)
        self.dataset, self.data_label, self.loaded_key = dataset, label, key

    def set_validation(self, dataset: LabelledDataset | None, key: str | None) -> None:
        """Separate validation data (None: split the training data), and the upload it came from. The
        guidance measured on the old split is forgotten."""
        self._forget(*GUIDANCE_JOBS)
        self.val_dataset, self.val_key = dataset, key

    def _forget(self, *attrs: str) -> None:
        """Stop and forget the jobs kept in these attributes."""
        for attr in attrs:
            if getattr(self, attr) is not None:
                jobs.forget(getattr(self, attr))
            setattr(self, attr, None)

    def use_sample(self) -> None:
        """The sample of the current task: handwritten digits, or short texts on three topics."""
        if self.task == "text":
            dataset = build_text_dataset(Table(text_sample(), "the sample"), "text", "label")
            self.set_data(dataset, "Sample: sentences about animals, space and cooking", "sample:texts")
        else:
            self.set_data(build_dataset(digits_sample()), "Sample: handwritten digits", "sample:digits")

    def update_config(self, **changes) -> None:
        """New settings; a new split (validation share or seed) forgets the guidance measured on the old one."""
        config = replace(self.config, **changes)
        if (config.val_fraction, config.seed) != (self.config.val_fraction, self.config.seed):
            self._forget(*GUIDANCE_JOBS)
        self.config = config

    def open_project(self, project: Project, file_name: str) -> None:
        """A project read in full (from the file `file_name`) takes the place of the session's data,
        settings and runs; the session's own runs are forgotten, as with new data."""
        self.task, key = project.task, f"project:{file_name}"
        self.set_validation(project.val_dataset, key if project.val_dataset is not None else None)
        self.set_data(project.dataset, project.data_label, key)
        self.config, self.saved = project.config, {}
        self.opened_runs = {folder: OpenedRun(name, f"from {file_name}") for folder, name in project.runs.items()}


def run_folders(job: jobs.Job | None) -> list[Path]:
    """The run folders a finished job wrote (none while it runs, or if it failed)."""
    snap = job.snapshot() if job is not None else None
    if snap is None or snap.status != jobs.DONE:
        return []
    return [job.folder / name for name in snap.result or []]


_SESSIONS: dict[str, Workspace] = {}  # every session's workspace by id, so a refresh gets its own back
_SESSIONS_LOCK = threading.Lock()


def workspace() -> Workspace:
    """This session's workspace; after a browser refresh, the session id in the address brings back
    everything the session made (data, settings, runs, a sweep)."""
    ws = st.session_state.get(KEY)
    now = time.monotonic()
    browser = _browser_session()
    with _SESSIONS_LOCK:
        if ws is None:
            ws = _SESSIONS.get(st.query_params.get(SESSION_PARAM, ""))
            if ws is None or _in_use_elsewhere(ws, browser):
                ws = Workspace()  # a copied address opened in another tab or by another student: their own
            st.session_state[KEY] = ws
        _SESSIONS[ws.id], ws.last_seen, ws.owner = ws, now, browser
        cutoff = now - job_settings().abandoned_s
        for gone in [i for i, w in _SESSIONS.items() if w.last_seen < cutoff]:
            del _SESSIONS[gone]
    if st.query_params.get(SESSION_PARAM) != ws.id:
        st.query_params[SESSION_PARAM] = ws.id
    jobs.prewarm()  # the next Train click finds a worker with the engine already imported
    return ws


def _browser_session() -> str | None:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def _in_use_elsewhere(ws: Workspace, browser: str | None) -> bool:
    """True while another open browser tab uses the workspace (after a refresh, the old tab has gone)."""
    if ws.owner is None or ws.owner == browser or not Runtime.exists():
        return False
    return Runtime.instance().is_active_session(ws.owner)


def sweep_label(trainable_blocks: int) -> str:
    return f"Sweep: {trainable_blocks} trainable block{'' if trainable_blocks == 1 else 's'}"


def run_choices(ws: Workspace) -> list[str]:
    """This session's finished runs (Train page, then sweep), the runs it opened from a file, then every
    saved run folder, newest first. A session run that was saved is listed once, as the session's."""
    runs = ws.session_runs()
    copies = {ws.saved[str(folder)] for folder in runs.values() if str(folder) in ws.saved}  # others: listed as saved
    return list(runs) + list(ws.opened_runs) + [str(p) for p in list_runs() if str(p) not in copies]


def run_label(ws: Workspace, choice: str) -> str:
    """How a run_choices entry reads: its session label (with where it was saved), the name of a run opened
    from a file with where it came from, or its folder name."""
    if choice in ws.opened_runs:
        return ws.opened_runs[choice].label
    folder = ws.session_runs().get(choice)
    if folder is None:
        return Path(choice).name
    saved = ws.saved.get(str(folder))
    return f"{choice} (saved as {Path(saved).name})" if saved else choice


def run_folder(ws: Workspace, choice: str) -> Path:
    """The folder behind a run_choices entry."""
    return ws.session_runs().get(choice) or Path(choice)
