"""Compare: runs side by side (AUC, accuracy, time, trainable parameters, curves overlaid), a depth
sweep that trains the same data at several trainable-block depths, and a layer sweep that finds the
block whose features transfer best."""
import pandas as pd
import streamlit as st

from tlcore import TLCoreError, get_backbone_info
from tlcore.app import (
    SweepWork, chart, csv_download, explain, explanations_switch, follow_job, glossary, jobs, load_choice, plain,
    layer_sweep_section, readable_seconds, run_choices, run_intervals, run_label, runs_history_figure,
    runs_roc_figure, show_error, sweep_estimates, sweep_problem, workspace,
)

ws = workspace()
st.title("Compare runs")
explanations_switch()
explain(glossary.COMPARE)

st.subheader("Depth sweep")
if ws.dataset is None:
    st.caption("Load data on the Data page to run a sweep over trainable blocks. Saved runs can be compared below.")
else:
    cfg = ws.config
    info = get_backbone_info(cfg.backbone)
    problem = sweep_problem(cfg)
    if problem is not None:
        st.caption(plain(problem))
    else:
        estimates = sweep_estimates(ws)
        with st.form("sweep"):
            kept = info.kept_blocks(cfg.feature_block)
            depths = st.multiselect(
                "Trainable blocks to try", list(range(kept + 1)), [0, 1, 2][:kept + 1],
                format_func=lambda k: f"{k} (about {readable_seconds(estimates[k])})" if estimates else str(k),
                help=f"{info.title} has {kept} blocks" + (" up to the feature block" if cfg.feature_block else "")
                     + ". Each depth is one training run with every other "
                     "setting from the Train page; the frozen part is computed once per depth and reused next time.")
            if estimates:
                st.caption("Times are estimates from timing each block on this machine"
                           + (" and your last run's frozen pass" if ws.has_run else "")
                           + "; a depth trained before takes less, as its frozen part is reused. Deep fine-tuning "
                             "on a processor without a GPU is slow: start with few blocks.")
            start = st.form_submit_button("Run the sweep", type="primary", icon=":material/play_arrow:",
                                          disabled=bool(ws.dataset.report.problems()))
        sweep = ws.sweep_job
        if start and sweep is not None and not sweep.snapshot().finished:
            st.warning("A sweep is already running. Wait for it or cancel it first.")
        elif start and not depths:
            st.warning("Choose at least one depth.")
        elif start:
            try:
                sweep = jobs.submit(SweepWork(ws.dataset, cfg, tuple(sorted(depths)), ws.val_dataset),
                                     cfg.planned_epochs)
                ws.sweep_job_id = sweep.job_id
            except TLCoreError as exc:
                show_error(exc)

        shown = sweep.snapshot() if sweep is not None else None

        @st.fragment(run_every=shown.poll_s if shown else None)
        def sweep_progress() -> None:
            job = ws.sweep_job
            if job is None:
                return
            snap = follow_job(job, shown, "Cancel the sweep")
            if not snap.finished:
                return
            if snap.status == jobs.FAILED:
                st.error(plain(snap.error or "The sweep failed."), icon=":material/error:")
            elif snap.status == jobs.CANCELLED:
                st.warning("The sweep was cancelled.")
            else:
                st.success(f"Sweep done: {len(snap.result)} runs, selected below. Each can also be opened on the "
                           "Evaluate page.")

        sweep_progress()

    st.subheader("Layer sweep")
    layer_sweep_section(ws)

st.subheader("Side by side")
choices = run_choices(ws)
if not choices:
    st.info("No runs yet: train one on the Train page, run a sweep above, or save runs from the Evaluate page.")
    st.stop()
sweep_runs = [c for c in choices if c.startswith("Sweep: ")]
if sweep_runs and st.session_state.get("compare_sweep_shown") != ws.sweep_job_id:
    st.session_state["compare_sweep_shown"] = ws.sweep_job_id  # a finished sweep adds its runs, once
    kept = st.session_state.get("compare_runs", [])
    st.session_state["compare_runs"] = kept + [c for c in sweep_runs if c not in kept]
# The selection lives in session state (first visit: the newest two), kept to runs that still exist.
st.session_state["compare_runs"] = [c for c in st.session_state.get("compare_runs", choices[:2]) if c in choices]
chosen = st.multiselect("Runs", choices, format_func=lambda c: run_label(ws, c), key="compare_runs")
records = [r for r in (load_choice(ws, c) for c in chosen) if r is not None]
if not records:
    st.stop()


def auc_interval(record) -> str:
    interval = run_intervals(record)["auc"]
    return "" if interval is None else f"{interval.low:.3f} – {interval.high:.3f}"


table = pd.DataFrame([{
    "run": r.label, "backbone": r.config.backbone, "feature block": r.config.feature_block or "last",
    "trainable blocks": r.config.trainable_blocks,
    "head": r.config.head, "AUC": r.report.auc, "AUC 95% interval": auc_interval(r),
    "accuracy": r.report.accuracy, "training time (s)": r.facts.timings_s["total"],
    "trainable parameters": r.facts.trainable_params, "epochs run": r.facts.epochs_run,
    "validation examples": len(r.y_val),
} for r in records])
st.dataframe(table, hide_index=True, column_config={
    "AUC": st.column_config.NumberColumn(format="%.3f"),
    "accuracy": st.column_config.NumberColumn(format="percent"),
    "training time (s)": st.column_config.NumberColumn(format="%.1f"),
    "trainable parameters": st.column_config.NumberColumn(format="localized")})
csv_download(table, "runs-compared.csv", key="compare_csv")
if len({tuple(r.classes) for r in records}) > 1:
    st.warning("These runs have different classes, so their numbers are not directly comparable.")
if len({len(r.y_val) for r in records}) > 1:
    st.caption("The runs were validated on different numbers of examples; compare the intervals, not just the AUC.")
left, right = st.columns(2)
with left:
    chart(runs_roc_figure([(r.label, r.report) for r in records]), "compare_roc", "roc-curves-compared")
with right:
    histories = [(r.label, r.history) for r in records if r.history]
    if histories:
        best = [r.facts.best_epoch for r in records if r.history]
        chart(runs_history_figure(histories, best_epochs=best), "compare_history", "training-curves-compared")
    else:
        st.caption("No training curves: these runs used a scikit-learn head, which trains in one step.")
