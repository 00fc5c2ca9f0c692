"""The guidance measured on the user's data. The Model page's: what the number of examples suggests;
"find the best start for my data" (a background job probing every usable backbone), with its ranking
and a button to apply it; and "how much data do I need?" (a background job drawing the learning
curve). The Compare page's layer sweep (a background job probing every block of the backbone)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ..core.errors import TLCoreError
from ..runs import jobs
from ..runs.recommend import examples_advice, smallest_class
from ..backbones import get_backbone_info
from ..insight.plots import layer_sweep_figure, learning_curve_figure
from ..runs.work import curve_work, layer_work, recommend_work
from .loaders import load_choice
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
        st.info(plain(" ".join([examples_advice(per_class), *_evidence(ws)])), icon=":material/school:")
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


def _evidence(ws) -> list[str]:
    """What this session measured on the data about depth and feature block, for the backbone (and
    block) chosen now: the depth sweep's AUC per depth, and the layer sweep's conclusion."""
    said, cfg = [], ws.config
    title = get_backbone_info(cfg.backbone).title
    runs = (load_choice(ws, c) for c in ws.session_runs() if c.startswith("Sweep: "))
    sweep = sorted((r.config.trainable_blocks, r.report.auc) for r in runs
                   if r is not None and (r.config.backbone, r.config.feature_block) == (cfg.backbone, cfg.feature_block))
    if sweep:
        said.append(f"Your depth sweep of {title} measured a validation AUC of " + ", ".join(
            f"{'n/a' if auc is None else f'{auc:.3f}'} with {k} trainable block{'' if k == 1 else 's'}"
            for k, auc in sweep) + ".")
    layers = jobs.get_job(ws.layer_job_id)
    snap = layers.snapshot() if layers is not None else None
    if snap is not None and snap.status == jobs.DONE and snap.result["backbone"] == cfg.backbone:
        said.append("Your layer sweep: " + snap.result["recommended"]["reason"])
    return said


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
    block = curve.get("feature_block")
    name = get_backbone_info(curve["backbone"]).title + (f", features from block {block}" if block else "")
    st.plotly_chart(learning_curve_figure(curve["points"], curve.get("zero_shot"), name, curve["baseline"]),
                    key="learning_curve")
    st.success(plain(curve["advice"]), icon=":material/trending_up:")


def _show_result(ws, result: dict) -> None:
    rows = [{"backbone": b["title"] + (f" (block {b['feature_block']})" if b.get("feature_block") else ""),
             "AUC": b["auc"],
             "AUC 95% interval": "" if b["auc_low"] is None else f"{b['auc_low']:.3f} – {b['auc_high']:.3f}",
             "seconds": b["seconds"], "problem": b["problem"] or ""} for b in result["backbones"]]
    table = pd.DataFrame(rows)
    if not table["problem"].any():
        table = table.drop(columns="problem")
    st.dataframe(table, hide_index=True, column_config={
        "AUC": st.column_config.NumberColumn(format="%.3f"), "seconds": st.column_config.NumberColumn(format="%.1f")})
    chosen = result["recommended"]
    st.success(plain(chosen["reason"]), icon=":material/recommend:")
    block = chosen.get("feature_block")
    applied = (ws.config.backbone, ws.config.trainable_blocks, ws.config.feature_block) == (
        chosen["backbone"], chosen["trainable_blocks"], block)
    label = (f"Use it: {next(b['title'] for b in result['backbones'] if b['name'] == chosen['backbone'])}, "
             f"{chosen['trainable_blocks']} trainable blocks" + (f", feature block {block}" if block else ""))
    if st.button(label, icon=":material/check:", disabled=applied, type="primary"):
        head = ws.config.head if chosen["trainable_blocks"] == 0 else "linear"
        ws.update_config(backbone=chosen["backbone"], trainable_blocks=chosen["trainable_blocks"], head=head,
                         feature_block=block)
        st.rerun()
    if applied:
        st.caption("These are the settings below.")


def layer_sweep_section(ws) -> None:
    """The layer sweep of the chosen image backbone, and a button to use the block it found."""
    info = get_backbone_info(ws.config.backbone)
    if info.modality != "image" or info.classic:
        st.caption("The layer sweep is for pretrained image backbones: their earlier blocks can transfer better to "
                   "data unlike photos. Text models are used whole.")
        return
    result = _job_button(
        ws, "layer_job_id", f"Find the best feature block of {info.title}", ":material/layers:",
        f"Fits a linear layer on the pooled output of each of the {info.num_blocks} blocks, on the same split, and "
        "scores each on the validation examples. The backbone runs once; training on any block afterwards reuses "
        "its features.", layer_work, "the layer sweep")
    if not result:
        return
    st.plotly_chart(layer_sweep_figure(result["blocks"], result["recommended"]["feature_block"]), key="layer_sweep")
    st.success(plain(result["recommended"]["reason"]), icon=":material/layers:")
    block = result["recommended"]["feature_block"]
    setting = None if block == info.num_blocks else block
    applied = (ws.config.backbone, ws.config.feature_block) == (result["backbone"], setting)
    if result["backbone"] != ws.config.backbone:
        st.caption(f"This sweep measured {get_backbone_info(result['backbone']).title}; run it again for "
                   f"{info.title}.")
    elif st.button(f"Use feature block {block} ({info.block_names[block - 1]})", icon=":material/check:",
                   disabled=applied):
        ws.update_config(feature_block=setting, trainable_blocks=min(ws.config.trainable_blocks, block))
        st.rerun()
    if applied and result["backbone"] == ws.config.backbone:
        st.caption("The Model page uses this block now.")
