"""The only module that imports Streamlit: the workspace, cached loaders and shared widgets."""
from __future__ import annotations

import base64
import hashlib
import html
import io
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx
from PIL import Image

from ..runs import jobs
from ..backbones import create_backbone, get_backbone_info
from ..core.config import TrainConfig
from ..data import (
    LabelledDataset, Table, build_dataset, build_text_dataset, digits_sample, read_table, text_sample,
)
from ..core.errors import RunLoadError, TLCoreError
from ..core.formats import csv_text
from ..engine.freezing import FreezeSummary, freeze_summary
from ..insight.metrics import bootstrap_intervals
from ..engine.model import TransferModel
from ..runs.persistence import list_runs, load_record, load_run
from ..runs.run import RunRecord
from ..core.settings import job_settings
from ..runs.sweep import block_seconds, calibrate, estimate_seconds
from ..runs.work import default_config

KEY = "tl_workspace"
SESSION_PARAM = "session"  # the address carries the session's id, so a refresh finds its workspace again
THIS_SESSION = "This session's run"


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
    sweep_job_id: str | None = None  # a depth sweep started on the Compare page
    saved: dict[str, str] = field(default_factory=dict)  # this session's run folder -> where it was saved
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
        runs = {THIS_SESSION: folder for folder in _run_folders(self.job)}
        for folder in _run_folders(self.sweep_job):
            runs[sweep_label(int(folder.name.rsplit("-", 1)[1]))] = folder
        return runs

    @property
    def has_run(self) -> bool:
        return bool(_run_folders(self.job))

    def set_task(self, task: str) -> None:
        """Switching between images and texts starts over: other data, other backbones."""
        if task != self.task:
            self.task, self.config, self.val_dataset = task, default_config(task), None
            self.set_data(None, "", None)

    def set_data(self, dataset: LabelledDataset | None, label: str, key: str | None) -> None:
        """New data makes any earlier model stale: its jobs are stopped and forgotten (a saved copy
        stays), so they neither hold the device nor a place in the queue."""
        for job in (self.job, self.sweep_job):
            if job is not None:
                jobs.forget(job.job_id)
        self.dataset, self.data_label, self.loaded_key, self.job_id = dataset, label, key, None
        self.sweep_job_id = None

    def use_sample(self) -> None:
        """The sample of the current task: handwritten digits, or short texts on three topics."""
        if self.task == "text":
            dataset = build_text_dataset(Table(text_sample(), "the sample"), "text", "label")
            self.set_data(dataset, "Sample: sentences about animals, space and cooking", "sample:texts")
        else:
            self.set_data(build_dataset(digits_sample()), "Sample: handwritten digits", "sample:digits")

    def update_config(self, **changes) -> None:
        self.config = replace(self.config, **changes)


def _run_folders(job: jobs.Job | None) -> list[Path]:
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
    jobs.POOL.prewarm()  # the next Train click finds a worker with the engine already imported
    return ws


def _browser_session() -> str | None:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def _in_use_elsewhere(ws: Workspace, browser: str | None) -> bool:
    """True while another open browser tab uses the workspace (after a refresh, the old tab has gone)."""
    if ws.owner is None or ws.owner == browser or not Runtime.exists():
        return False
    return Runtime.instance().is_active_session(ws.owner)


MARKDOWN_SPECIALS = set("\\`*_[]<>$:~&|#")  # what can render inline (list and heading marks need a line start)


def plain(text: object) -> str:
    """User-made text (a class name, a file name, a message quoting them) escaped for st.markdown and
    its kin, so `<script>`, `**`, `:red[...]`, `$x$` or a link show as typed and never render."""
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in str(text))


def show_error(exc: TLCoreError) -> None:
    st.error(plain(exc.user_message), icon=":material/error:")


@st.cache_resource(show_spinner=False)
def _skeleton_backbone(backbone: str):
    """Random-weight backbone used only to count parameters (shared by every session; never trained)."""
    return create_backbone(backbone, pretrained=False)


@st.cache_data(show_spinner=False)
def cached_freeze_summary(backbone: str, trainable_blocks: int, num_classes: int, head: str) -> FreezeSummary:
    return freeze_summary(TransferModel(_skeleton_backbone(backbone), num_classes, head), trainable_blocks)


def image_data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _missing(message: str, page: str, label: str, icon: str) -> bool:
    st.info(message)
    st.page_link(page, label=label, icon=icon)
    return True


def need_data(ws: Workspace) -> bool:
    """Point to the Data page when there is no data yet; True if the page should stop."""
    how = ("upload a CSV or Excel file, type examples per class" if ws.task == "text"
           else "upload a zip, add images per class")
    return ws.dataset is None and _missing(
        f"No data yet. Start on the **Data** page: {how}, or load the sample.",
        "views/1_Data.py", "Go to Data", ":material/upload:")


def need_result(ws: Workspace) -> bool:
    """Point to the Train page when nothing is trained yet; True if the page should stop."""
    return not ws.has_run and _missing(
        "No trained model yet. Train one on the **Train** page first.",
        "views/3_Train.py", "Go to Train", ":material/model_training:")


def follow_job(job: jobs.Job, shown: jobs.JobSnapshot, cancel_label: str) -> jobs.JobSnapshot:
    """Inside a fragment that polls a job (every `shown.poll_s`): the job's snapshot now. A new state
    reruns the whole page, with the polling that suits it; an unfinished job gets its notes, its place
    in the queue or its progress, and a Cancel button."""
    snap = job.snapshot()
    if snap.status != shown.status:
        st.rerun()
    for note in snap.notes:
        st.info(note, icon=":material/memory:")
    if not snap.finished:
        _show_progress(snap)
        if st.button(cancel_label, icon=":material/stop:"):
            job.cancel()
    return snap


def _show_progress(snap: jobs.JobSnapshot) -> None:
    """A waiting or running job: its place in the queue, or its phase with a count and an ETA."""
    if snap.queue_place is not None:
        ahead = snap.queue_place - 1
        st.info(f"Waiting for the device: place {snap.queue_place} in the queue "
                f"({'next to start' if not ahead else f'{ahead} waiting ahead of you'}). Other training on this "
                "machine finishes first; this page updates by itself.", icon=":material/hourglass_top:")
        return
    eta = "" if snap.eta_s is None else f", about {readable_seconds(snap.eta_s)} left"
    if snap.phase == "Training":
        st.progress(snap.epoch / snap.epochs, text=f"Epoch {snap.epoch} of {snap.epochs}{eta}")
    elif snap.total:
        st.progress(snap.done / snap.total, text=f"{snap.phase}: {snap.done:,} of {snap.total:,}{eta}")
    else:
        st.progress(0.0, text=f"{snap.phase}...")


@st.cache_data(show_spinner="Timing the backbone's blocks...", max_entries=8)
def _block_seconds(backbone: str, texts: tuple[str, ...]) -> list[float]:
    return block_seconds(backbone, texts)


def sweep_estimates(ws: Workspace) -> dict[int, float]:
    """Seconds each depth of a sweep would take on the workspace's data and settings, from each block's
    measured cost (scaled to this session's last run when it ran the frozen blocks); {} if unknown."""
    cfg, dataset = ws.config, ws.dataset
    texts = tuple(e.text for e in dataset.examples[:16]) if ws.task == "text" else ()
    try:
        costs = _block_seconds(cfg.backbone, texts)
    except TLCoreError:
        return {}
    n_train = len(dataset) if ws.val_dataset else round(len(dataset) * (1 - cfg.val_fraction))
    n_examples = len(dataset) + (len(ws.val_dataset) if ws.val_dataset else 0)
    record = load_choice(ws, THIS_SESSION) if ws.has_run else None
    if record is not None and record.config.backbone == cfg.backbone:
        costs = calibrate(costs, record.facts, record.config.trainable_blocks,
                          record.facts["n_train"] + record.facts["n_val"])
    return {k: estimate_seconds(costs, k, n_examples=n_examples, n_train=n_train, epochs=cfg.epochs,
                                augment=cfg.augment) for k in range(len(costs) + 1)}


def readable_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def backbone_title(name: str) -> str:
    info = get_backbone_info(name)
    return f"{info.title}" + ("" if info.offline else " (downloads on first use)")


@st.cache_data(show_spinner="Reading the table...", max_entries=8)
def cached_table(data: bytes, name: str) -> Table:
    """A table read once per content (widget changes rerun the page without re-reading the file)."""
    return read_table(data, name)


@st.cache_resource(show_spinner="Loading the model...", max_entries=16)
def cached_run(path: str, mtime: float):
    """A run's classifier, loaded once per folder version and shared read-only by every session (16 kept:
    a class on Evaluate and Predict at once would otherwise load models again on their reruns)."""
    return load_run(path)


@st.cache_resource(show_spinner="Reading the run...", max_entries=16)
def _saved_record(path: str, mtime: float) -> RunRecord:
    record = load_record(path)
    record.load_classifier = lambda: cached_run(path, mtime)
    return record


def sweep_label(trainable_blocks: int) -> str:
    return f"Sweep: {trainable_blocks} trainable block{'' if trainable_blocks == 1 else 's'}"


def run_choices(ws: Workspace) -> list[str]:
    """This session's finished runs (Train page, then sweep), then every saved run folder, newest
    first. A session run that was saved is listed once, as the session's."""
    copies = set(ws.saved.values())
    return list(ws.session_runs()) + [str(p) for p in list_runs() if str(p) not in copies]


def run_label(ws: Workspace, choice: str) -> str:
    """How a run_choices entry reads: its session label (with where it was saved), or its folder name."""
    folder = ws.session_runs().get(choice)
    if folder is None:
        return Path(choice).name
    saved = ws.saved.get(str(folder))
    return f"{choice} (saved as {Path(saved).name})" if saved else choice


def run_folder(ws: Workspace, choice: str) -> Path:
    """The folder behind a run_choices entry."""
    return ws.session_runs().get(choice) or Path(choice)


def load_choice(ws: Workspace, choice: str) -> RunRecord | None:
    """The RunRecord behind a run_choices entry; None (after a clear message) if it cannot be read.
    Records are read once per folder version and shared; a session run gets its session label."""
    session = ws.session_runs()
    try:
        folder, mtime = _folder_version(session.get(choice) or Path(choice))
        record = _saved_record(str(folder), mtime)
    except TLCoreError as exc:
        show_error(exc)
        return None
    return replace(record, label=run_label(ws, choice)) if choice in session else record


def _folder_version(folder: Path) -> tuple[Path, float]:
    """A run folder and its time stamp (what the caches are keyed by); RunLoadError if it went away."""
    try:
        return folder, folder.stat().st_mtime
    except OSError as exc:
        raise RunLoadError(f"'{folder.name}' cannot be read ({exc}).") from None


def load_classifier(ws: Workspace, choice: str):
    """The classifier of a run_choices entry (loaded once per folder version, shared read-only)."""
    folder, mtime = _folder_version(run_folder(ws, choice))
    return cached_run(str(folder), mtime)


@st.cache_data(show_spinner=False, max_entries=16)
def _predictions(path: str, mtime: float, digest: str, _inputs: list):
    return cached_run(path, mtime).predict_table(_inputs)


def predict_table(ws: Workspace, choice: str, inputs: list):
    """The classifier's table for these inputs (texts, or (name, bytes) pairs), computed once per
    model and inputs: a rerun of the page (another example to look at) does not classify again."""
    digest = hashlib.sha256()
    for item in inputs:
        for part in (item if isinstance(item, tuple) else (item,)):
            digest.update(part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
    folder, mtime = _folder_version(run_folder(ws, choice))
    return _predictions(str(folder), mtime, digest.hexdigest(), inputs)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_intervals(y_val, val_proba) -> dict:
    """Bootstrap 95% intervals of a run's AUC and accuracy, once per run (keyed by the arrays)."""
    return bootstrap_intervals(y_val, val_proba)


def explain(text: str) -> None:
    """A plain-language explanation, unless the reader switched them off in the sidebar."""
    if st.session_state.get("show_explanations", True):
        st.info(text, icon=":material/school:")


def explanations_switch() -> None:
    st.sidebar.toggle("Explain the charts", value=True, key="show_explanations",
                      help="Short explanations in plain language beside each chart.")


def chart(figure, key: str, filename: str, **options):
    """A plotly chart whose camera button saves a PNG named after the view."""
    return st.plotly_chart(figure, key=key, config={"toImageButtonOptions": {"filename": filename, "scale": 2}},
                           **options)


def csv_download(frame, filename: str, label: str = "Download the data (CSV)", key: str | None = None) -> None:
    st.download_button(label, csv_text(frame), filename, "text/csv", icon=":material/download:", key=key)


def highlighted_words(words: list[str], importance: list[float]) -> str:
    """Words as HTML spans, green when they pushed towards the class and red when away (escaped)."""
    scale = max((abs(v) for v in importance), default=0) or 1.0
    spans = []
    for word, value in zip(words, importance):
        alpha = min(abs(value) / scale, 1.0) * 0.75
        colour = f"rgba(44,160,44,{alpha:.2f})" if value > 0 else f"rgba(214,39,40,{alpha:.2f})"
        spans.append(f'<span title="{value:+.3f}" style="background:{colour};padding:2px 3px;border-radius:3px">'
                     f"{html.escape(word)}</span>")
    return '<div style="line-height:2.1">' + " ".join(spans) + "</div>"
