"""The only module that imports Streamlit: the workspace, cached loaders and shared widgets."""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st
from PIL import Image

from . import jobs
from .backbones import create_backbone, get_backbone_info
from .config import TrainConfig
from .data import (
    LabelledDataset, Table, build_dataset, build_text_dataset, digits_sample, read_table, text_sample,
)
from .errors import RunLoadError, TLCoreError
from .exports import csv_text
from .experiment import TrainResult
from .freezing import FreezeSummary, freeze_summary
from .metrics import bootstrap_intervals
from .model import TransferModel
from .persistence import list_runs, load_record, load_run
from .record import RunRecord
from .tasks import default_config

KEY = "tl_workspace"
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
    records: dict = field(default_factory=dict)  # (job id, run label) -> RunRecord, built once per run

    @property
    def job(self) -> jobs.TrainingJob | None:
        return jobs.get_job(self.job_id)

    @property
    def result(self) -> TrainResult | None:
        job = self.job
        return job.result if job is not None and isinstance(job.result, TrainResult) else None

    @property
    def sweep_job(self) -> jobs.TrainingJob | None:
        return jobs.get_job(self.sweep_job_id)

    def session_runs(self) -> dict[str, tuple[str, TrainResult]]:
        """Finished runs of this session by label: the Train page's run, then each depth of a sweep.
        Values are (job id, result)."""
        runs = {THIS_SESSION: (self.job_id, self.result)} if self.result is not None else {}
        sweep = self.sweep_job
        if sweep is not None and isinstance(sweep.result, list):
            for result in sweep.result:
                runs[sweep_label(result.config.trainable_blocks)] = (sweep.job_id, result)
        return runs

    def set_task(self, task: str) -> None:
        """Switching between images and texts starts over: other data, other backbones."""
        if task != self.task:
            self.task, self.config, self.val_dataset = task, default_config(task), None
            self.set_data(None, "", None)

    def set_data(self, dataset: LabelledDataset | None, label: str, key: str | None) -> None:
        """New data makes any earlier model stale: forget it (a running job carries on unseen)."""
        self.dataset, self.data_label, self.loaded_key, self.job_id = dataset, label, key, None
        self.sweep_job_id, self.records = None, {}

    def use_sample(self) -> None:
        """The sample of the current task: handwritten digits, or short texts on three topics."""
        if self.task == "text":
            dataset = build_text_dataset(Table(text_sample(), "the sample"), "text", "label")
            self.set_data(dataset, "Sample: sentences about animals, space and cooking", "sample:texts")
        else:
            self.set_data(build_dataset(digits_sample()), "Sample: handwritten digits", "sample:digits")

    def update_config(self, **changes) -> None:
        self.config = replace(self.config, **changes)


def workspace() -> Workspace:
    """This session's workspace; after a browser refresh, a job id in the URL brings the job back."""
    if KEY not in st.session_state:
        ws = Workspace()
        job = jobs.get_job(st.query_params.get("job"))
        if job is not None:
            ws.job_id = job.job_id
            ws.dataset, ws.val_dataset, ws.config = job.context.get("dataset"), job.context.get("val_dataset"), job.context["config"]
            ws.data_label, ws.task = job.context.get("data_label", ""), job.context.get("task", "image")
        st.session_state[KEY] = ws
    return st.session_state[KEY]


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
        "pages/1_Data.py", "Go to Data", ":material/upload:")


def need_result(ws: Workspace) -> bool:
    """Point to the Train page when nothing is trained yet; True if the page should stop."""
    return ws.result is None and _missing(
        "No trained model yet. Train one on the **Train** page first.",
        "pages/3_Train.py", "Go to Train", ":material/model_training:")


def backbone_title(name: str) -> str:
    info = get_backbone_info(name)
    return f"{info.title}" + ("" if info.offline else " (downloads on first use)")


@st.cache_data(show_spinner="Reading the table...", max_entries=8)
def cached_table(data: bytes, name: str) -> Table:
    """A table read once per content (widget changes rerun the page without re-reading the file)."""
    return read_table(data, name)


@st.cache_resource(show_spinner="Loading the saved model...", max_entries=4)
def cached_run(path: str, mtime: float):
    """A saved run's classifier, loaded once per folder version (shared read-only by every session)."""
    return load_run(path)


@st.cache_resource(show_spinner="Reading the saved run...", max_entries=8)
def _saved_record(path: str, mtime: float) -> RunRecord:
    record = load_record(path)
    record.load_classifier = lambda: cached_run(path, mtime)
    return record


def sweep_label(trainable_blocks: int) -> str:
    return f"Sweep: {trainable_blocks} trainable block{'' if trainable_blocks == 1 else 's'}"


def run_choices(ws: Workspace) -> list[str]:
    """This session's finished runs (Train page, then sweep), then every saved run folder, newest first."""
    return list(ws.session_runs()) + [str(p) for p in list_runs()]


def run_label(choice: str) -> str:
    return choice if choice == THIS_SESSION or choice.startswith("Sweep: ") else Path(choice).name


def load_choice(ws: Workspace, choice: str) -> RunRecord | None:
    """The RunRecord behind a run_choices entry; None (after a clear message) if it cannot be read."""
    session = ws.session_runs()
    if choice in session:
        job_id, result = session[choice]
        current = {(j, label) for label, (j, _) in session.items()}
        ws.records = {k: r for k, r in ws.records.items() if k in current}  # forget replaced runs' images
        if (job_id, choice) not in ws.records:
            ws.records[(job_id, choice)] = RunRecord.from_result(result, choice)
        return ws.records[(job_id, choice)]
    try:
        return _saved_record(choice, Path(choice).stat().st_mtime)
    except (TLCoreError, OSError) as exc:
        show_error(exc if isinstance(exc, TLCoreError) else RunLoadError(f"'{choice}' cannot be read ({exc})."))
        return None


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
