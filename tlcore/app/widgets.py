"""Shared widgets: escaped text and errors, pointers to an earlier step, a polled job's progress, the
plain-language explanations, charts, downloads built when clicked, and words coloured by importance."""
from __future__ import annotations

import base64
import html
import io
from typing import Callable

import numpy as np
import streamlit as st
from PIL import Image

from ..backbones import get_backbone_info
from ..core.errors import TLCoreError
from ..core.formats import csv_text
from ..runs import jobs

MARKDOWN_SPECIALS = set("\\`*_[]<>$:~&|#")  # what can render inline (list and heading marks need a line start)


def plain(text: object) -> str:
    """User-made text (a class name, a file name, a message quoting them) escaped for st.markdown and
    its kin, so `<script>`, `**`, `:red[...]`, `$x$` or a link show as typed and never render."""
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in str(text))


def setting_widget(widget: Callable, label: str, *args, key: str, setting, **options):
    """`widget(label, *args, key=key, **options)` showing `setting`, a value kept outside the widget (the
    workspace's settings): the widget follows the setting when it changed elsewhere (a button, another
    page, a refresh) and otherwise keeps what the user chose. (Passing the setting as the widget's
    default instead gives the widget a new identity whenever the setting changes, and that drops every
    second change the user makes.)"""
    shown = f"{key}.setting"
    chosen = key in st.session_state and st.session_state.get(shown) == setting
    # Set every time: a widget whose options changed (a slider's range) is new to Streamlit, and starts here.
    st.session_state[key] = st.session_state[key] if chosen else setting
    value = widget(label, *args, key=key, **options)
    st.session_state[shown] = value
    return value


def show_error(exc: TLCoreError) -> None:
    st.error(plain(exc.user_message), icon=":material/error:")


def image_bytes(image: Image.Image | np.ndarray) -> bytes:
    """An RGB image (PIL, or uint8 [h, w, 3]) encoded once as st.image would encode it (JPEG at quality
    100), so a cached copy looks the same and st.image sends it as it is, without encoding it again on
    each rerun."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=100)
    return buffer.getvalue()


def thumbnail_uri(image: Image.Image) -> str:
    """A thumbnail as a JPEG data URI, for st.image and a table's image column: a fifth of a PNG's size,
    which counts when a table shows a thousand of them on every rerun."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _missing(message: str, page: str, label: str, icon: str) -> bool:
    st.info(message)
    st.page_link(page, label=label, icon=icon)
    return True


def need_data(ws) -> bool:
    """Point to the Data page when the workspace has no data yet; True if the page should stop."""
    how = ("upload a CSV or Excel file, type examples per class" if ws.task == "text"
           else "upload a zip, add images per class")
    return ws.dataset is None and _missing(
        f"No data yet. Start on the **Data** page: {how}, or load the sample.",
        "views/1_Data.py", "Go to Data", ":material/upload:")


def need_result(ws) -> bool:
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
    if snap.status == jobs.QUEUED and snap.on_cluster:
        st.info(f"{snap.phase}: every worker that could run this is busy or still starting. It starts as soon as "
                "one is free; this page updates by itself.", icon=":material/hourglass_top:")
        return
    if snap.queue_place is not None:
        ahead = snap.queue_place - 1
        st.info(f"Waiting for the device: place {snap.queue_place} in the queue "
                f"({'next to start' if not ahead else f'{ahead} waiting ahead of you'}). Other training on this "
                "machine finishes first; this page updates by itself.", icon=":material/hourglass_top:")
        return
    eta = "" if snap.eta_s is None else f", about {readable_seconds(snap.eta_s)} left"
    if snap.phase == "Training":
        st.progress(min(1.0, snap.epoch / max(1, snap.epochs)), text=f"Epoch {snap.epoch} of {snap.epochs}{eta}")
    elif snap.total:
        st.progress(min(1.0, snap.done / snap.total), text=f"{snap.phase}: {snap.done:,} of {snap.total:,}{eta}")
    else:
        st.progress(0.0, text=f"{snap.phase}...")


def readable_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def backbone_title(name: str) -> str:
    info = get_backbone_info(name)
    return f"{info.title}" + ("" if info.offline else " (downloads on first use)")


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
    """A CSV download of `frame` (a DataFrame, or a function that makes one), written only when clicked."""
    make: Callable = frame if callable(frame) else (lambda: frame)
    st.download_button(label, lambda: csv_text(make()), filename, "text/csv", icon=":material/download:", key=key)


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
