"""Cached loaders: uploads hashed once, tables read once per content, runs and their classifiers read
once per folder version and shared read-only by every session, predictions computed once per model and
inputs, parameter counts and sweep estimates. Caches are keyed by small facts (a folder and its time
stamp, a digest); what is large is passed unhashed (a leading underscore)."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import streamlit as st

from ..backbones import create_backbone, get_backbone_info
from ..core.errors import RunLoadError, TLCoreError
from ..data import Table, read_table
from ..engine.freezing import FreezeSummary, freeze_summary
from ..engine.model import TransferModel
from ..insight.metrics import bootstrap_intervals
from ..runs.files import load_classifier as read_classifier, load_run
from ..runs.run import Run
from ..runs.sweep import block_seconds, calibrate, estimate_seconds
from .widgets import show_error
from .workspace import THIS_SESSION, Workspace, run_folder, run_label

RunVersion = tuple[str, float]  # a run folder and its time stamp: what every per-run cache is keyed by


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_resource(show_spinner=False, max_entries=1024)
def _upload_digest(file_id: str, _uploaded) -> str:
    return digest(_uploaded.getvalue())


def upload_digest(uploaded) -> str:
    """The content digest of an uploaded file, hashed once per upload (its file_id), not on each rerun."""
    return _upload_digest(uploaded.file_id, uploaded)


@st.cache_data(show_spinner="Reading the table...", max_entries=8)
def _table(content: str, name: str, _uploaded) -> Table:
    return read_table(_uploaded.getvalue(), name)


def cached_table(uploaded) -> Table:
    """An uploaded table read once per content (widget changes rerun the page without re-reading it)."""
    return _table(upload_digest(uploaded), uploaded.name, uploaded)


@st.cache_resource(show_spinner=False, max_entries=8)
def _skeleton_backbone(backbone: str, feature_block: int | None):
    """Random-weight backbone used only to count parameters (shared by every session; never trained)."""
    return create_backbone(backbone, pretrained=False, feature_block=feature_block)


@st.cache_data(show_spinner=False)
def cached_freeze_summary(backbone: str, feature_block: int | None, trainable_blocks: int, num_classes: int,
                          head: str) -> FreezeSummary:
    model = TransferModel(_skeleton_backbone(backbone, feature_block), num_classes, head)
    return freeze_summary(model, trainable_blocks)


@st.cache_resource(show_spinner="Loading the model...", max_entries=16)
def cached_run(path: str, mtime: float):
    """A run's classifier, loaded once per folder version and shared read-only by every session (16 kept:
    a class on Evaluate and Predict at once would otherwise load models again on their reruns)."""
    return read_classifier(path)


@st.cache_resource(show_spinner="Reading the run...", max_entries=16)
def _saved_record(path: str, mtime: float) -> Run:
    record = load_run(path)
    record.load_classifier = lambda: cached_run(path, mtime)
    return record


def folder_version(folder: Path) -> RunVersion:
    """A run folder and its time stamp (what the caches are keyed by); RunLoadError if it went away."""
    try:
        return str(folder), folder.stat().st_mtime
    except OSError as exc:
        raise RunLoadError(f"'{folder.name}' cannot be read ({exc}).") from None


def run_version(record: Run) -> RunVersion:
    """The folder version a record was read from: the key of everything computed from it."""
    return folder_version(Path(record.folder))


def load_choice(ws: Workspace, choice: str) -> Run | None:
    """The Run behind a run_choices entry; None (after a clear message) if it cannot be read.
    Records are read once per folder version and shared; a session run gets its session label."""
    session = ws.session_runs()
    try:
        record = _saved_record(*folder_version(session.get(choice) or Path(choice)))
    except TLCoreError as exc:
        show_error(exc)
        return None
    return replace(record, label=run_label(ws, choice)) if choice in session else record


def choice_version(ws: Workspace, choice: str) -> RunVersion:
    """The folder version of a run_choices entry."""
    return folder_version(run_folder(ws, choice))


def load_classifier(ws: Workspace, choice: str):
    """The classifier of a run_choices entry (loaded once per folder version, shared read-only)."""
    return cached_run(*choice_version(ws, choice))


@st.cache_data(show_spinner=False, max_entries=16)
def _predictions(path: str, mtime: float, inputs_digest: str, _inputs: list):
    return cached_run(path, mtime).predict_table(_inputs)


def inputs_digest(inputs: list, digests: list[str] | None = None) -> str:
    """One digest of every input (texts, or (name, bytes) pairs whose contents' `digests` are known)."""
    total = hashlib.sha256()
    for i, item in enumerate(inputs):
        parts = (item[0], digests[i]) if digests is not None else item if isinstance(item, tuple) else (item,)
        for part in parts:
            total.update(part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogatepass"))
            total.update(b"\0")
    return total.hexdigest()


def predict_table(ws: Workspace, choice: str, inputs: list, digests: list[str] | None = None):
    """The classifier's table for these inputs (texts, or (name, bytes) pairs with their contents'
    digests), computed once per model and inputs: a rerun of the page (another example to look at)
    does not classify again."""
    return _predictions(*choice_version(ws, choice), inputs_digest(inputs, digests), inputs)


@st.cache_data(show_spinner=False, max_entries=32)
def _intervals(path: str, mtime: float, _record: Run) -> dict:
    return bootstrap_intervals(_record.y_val, _record.val_proba)


def run_intervals(record: Run) -> dict:
    """Bootstrap 95% intervals of a run's AUC and accuracy, once per run version."""
    return _intervals(*run_version(record), record)


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
    costs = costs[:get_backbone_info(cfg.backbone).kept_blocks(cfg.feature_block)]
    n_train = len(dataset) if ws.val_dataset else round(len(dataset) * (1 - cfg.val_fraction))
    n_examples = len(dataset) + (len(ws.val_dataset) if ws.val_dataset else 0)
    record = load_choice(ws, THIS_SESSION) if ws.has_run else None
    if record is not None and (record.config.backbone, record.config.feature_block) == (cfg.backbone,
                                                                                        cfg.feature_block):
        costs = calibrate(costs, record.facts, record.config.trainable_blocks,
                          record.facts.n_train + len(record.y_val))
    return {k: estimate_seconds(costs, k, n_examples=n_examples, n_train=n_train, epochs=cfg.epochs,
                                augment=cfg.augment) for k in range(len(costs) + 1)}
