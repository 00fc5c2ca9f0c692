"""The Model page's guidance: what the number of examples suggests; "find the best start for my data"
(a background job probing every usable backbone), with its ranking and a button to apply it; and "how
much data do I need?" (a background job drawing the learning curve)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ..core.errors import TLCoreError
from ..runs import jobs
from ..runs.recommend import examples_advice, smallest_class
from ..insight.plots import learning_curve_figure
from ..runs.work import curve_work, recommend_work
from .widgets import follow_job, plain, show_error


@st.cache_data(show_spinner=False, max_entries=64)
def _smallest_class(data_hash: str, val_hash: str | None, val_fraction: float, seed: int, _ws) -> int | None:
    """None when the data cannot be split yet (the Data page says why)."""
    try:
        return smallest_class(_ws.dataset, _ws.val_dataset, _ws.config)
    except (TLCoreError, ValueError):
        return None


def advice_section(ws) -> None:
    """Draws the guidance; applying a recommendation changes ws.config and reruns the page."""
    val_hash = ws.val_dataset.content_hash if ws.val_dataset is not None else None
    per_class = _smallest_class(ws.dataset.content_hash, val_hash, ws.config.val_fraction, ws.config.seed, ws)
    if per_class is not None:
        st.info(examples_advice(per_class), icon=":material/school:")
    left, right = st.columns(2)
    with left:
        result = _job_button(
            ws, "advice_job_id", "Find the best start for my data", ":material/travel_explore:",
            "Tries every backbone that works on this machine with a frozen backbone and a linear head, on the same "
            "split, and ranks them by validation AUC. Features computed here are reused by training later.",
            recommend_work, "the search")
    with right:
        curve = _job_button(
            ws, "curve_job_id", "How much data do I need?", ":material/trending_up:",
            "Validation AUC with 1, 2, 5, 10, ... training examples per class, with the chosen backbone and without "
            "pretrained knowledge, and what doubling your data would likely buy. The backbone runs once.",
            curve_work, "the learning curve")
    if result:
        _show_result(ws, result)
    if curve:
        _show_curve(curve)


def _job_button(ws, attr: str, label: str, icon: str, help: str, work, what: str) -> dict | None:
    """A button that starts `work(dataset, config, val_dataset)` as a job kept in ws.<attr>, its progress
    while it runs, and its result (JSON) once done."""
    job = jobs.get_job(getattr(ws, attr))
    running = job is not None and not job.snapshot().finished
    if st.button(label, icon=icon, disabled=running, help=help):
        try:
            job = jobs.submit(work(ws.dataset, ws.config, ws.val_dataset), 1)
            setattr(ws, attr, job.job_id)
        except TLCoreError as exc:
            show_error(exc)
    if job is None:
        return None
    shown = job.snapshot()

    @st.fragment(run_every=shown.poll_s)
    def progress() -> None:
        snap = follow_job(job, shown, f"Cancel {what}")
        if snap.status == jobs.FAILED:
            st.error(plain(snap.error or f"{what.capitalize()} failed."), icon=":material/error:")
        elif snap.status == jobs.CANCELLED:
            st.warning(f"{what.capitalize()} was cancelled.")

    progress()
    return shown.result if shown.status == jobs.DONE else None


def _show_curve(curve: dict) -> None:
    st.plotly_chart(learning_curve_figure(curve["points"], curve.get("zero_shot"), curve["backbone"],
                                          curve["baseline"]), key="learning_curve")
    st.success(plain(curve["advice"]), icon=":material/trending_up:")


def _show_result(ws, result: dict) -> None:
    rows = [{"backbone": b["title"], "AUC": b["auc"],
             "AUC 95% interval": "" if b["auc_low"] is None else f"{b['auc_low']:.3f} – {b['auc_high']:.3f}",
             "seconds": b["seconds"], "problem": b["problem"] or ""} for b in result["backbones"]]
    table = pd.DataFrame(rows)
    if not table["problem"].any():
        table = table.drop(columns="problem")
    st.dataframe(table, hide_index=True, column_config={
        "AUC": st.column_config.NumberColumn(format="%.3f"), "seconds": st.column_config.NumberColumn(format="%.1f")})
    chosen = result["recommended"]
    st.success(plain(chosen["reason"]), icon=":material/recommend:")
    applied = ws.config.backbone == chosen["backbone"] and ws.config.trainable_blocks == chosen["trainable_blocks"]
    label = (f"Use it: {next(b['title'] for b in result['backbones'] if b['name'] == chosen['backbone'])}, "
             f"{chosen['trainable_blocks']} trainable blocks")
    if st.button(label, icon=":material/check:", disabled=applied, type="primary"):
        head = ws.config.head if chosen["trainable_blocks"] == 0 else "linear"
        ws.update_config(backbone=chosen["backbone"], trainable_blocks=chosen["trainable_blocks"], head=head)
        st.rerun()
    if applied:
        st.caption("These are the settings below.")
