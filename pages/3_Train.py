"""Train: settings, then a background job with live progress, curves and Cancel."""
import streamlit as st

from tlcore import TrainConfig, TLCoreError, describe_device, resolve_device
from tlcore import jobs
from tlcore.heads import HEADS
from tlcore.tasks import train_classifier
from tlcore.plots import history_figure
from tlcore.ui import backbone_title, need_data, plain, show_error, workspace

st.set_page_config(page_title="Train", page_icon=":material/model_training:", layout="wide")
ws = workspace()
st.title("Train")
if need_data(ws):
    st.stop()

cfg = ws.config
st.markdown(f"**Data:** {plain(ws.data_label)} · **Backbone:** {backbone_title(cfg.backbone)} · "
            f"**Trainable blocks:** {cfg.trainable_blocks} · **Head:** {HEADS[cfg.head]} · "
            f"**Device:** {describe_device(resolve_device('auto'))}")

with st.form("train_settings"):
    c1, c2, c3 = st.columns(3)
    epochs = c1.number_input("Epochs", 1, 500, cfg.epochs)
    lr = c2.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], cfg.learning_rate,
                          help="How big each learning step is. The default suits the new layer; "
                               "fine-tuned backbone blocks use a tenth of it.")
    batch = c3.select_slider("Batch size", [8, 16, 32, 64, 128], cfg.batch_size)
    c4, c5, c6 = st.columns(3)
    augment = ws.task == "image" and c4.toggle("Augmentation (flip, small rotation)", cfg.augment)
    patience = c5.number_input("Early stopping: patience in epochs (0 = off)", 0, 100, cfg.early_stopping_patience,
                               help="Stop when the validation loss has not improved for this many epochs, "
                                    "and keep the best weights.")
    seed = c6.number_input("Seed", 0, 10_000, cfg.seed)
    start = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:",
                                  disabled=bool(ws.dataset.report.problems()))

if ws.dataset.report.problems():
    st.error("Fix the data first: " + plain(" ".join(ws.dataset.report.problems())))

running = ws.job is not None and not ws.job.snapshot().finished
if start and running:
    st.warning("A training run is already going. Cancel it first to start another.")
elif start:
    try:
        ws.update_config(epochs=int(epochs), learning_rate=float(lr), batch_size=int(batch), augment=augment,
                         early_stopping_patience=int(patience), seed=int(seed))
    except TLCoreError as exc:
        show_error(exc)
    else:
        config: TrainConfig = ws.config
        dataset, val_dataset = ws.dataset, ws.val_dataset
        job = jobs.submit(
            lambda callbacks: train_classifier(dataset, config, val_dataset=val_dataset, callbacks=callbacks),
            config.epochs,
            context={"dataset": dataset, "val_dataset": val_dataset, "config": config, "data_label": ws.data_label,
                     "task": ws.task},
        )
        ws.job_id = job.job_id
        st.query_params["job"] = job.job_id


polling = ws.job is not None and not ws.job.snapshot().finished


@st.fragment(run_every=1.0 if polling else None)
def progress_panel() -> None:
    """Redrawn every second while the job runs; the job itself never calls Streamlit."""
    job = ws.job
    if job is None:
        return
    snap = job.snapshot()
    if polling and snap.finished:
        st.rerun()  # redraw the whole page once, which also stops the polling
    for note in snap.notes:
        st.info(note, icon=":material/memory:")
    if snap.status in (jobs.QUEUED, jobs.RUNNING):
        if snap.queue_place is not None:
            ahead = snap.queue_place - 1
            st.info(f"Waiting for the device: place {snap.queue_place} in the queue "
                    f"({'next to start' if not ahead else f'{ahead} waiting ahead of you'}). Other training on this "
                    "machine finishes first; this page updates by itself.", icon=":material/hourglass_top:")
        elif snap.phase == "Training":
            eta = f", about {snap.eta_s:.0f}s left" if snap.eta_s is not None else ""
            st.progress(snap.epoch / snap.epochs, text=f"Epoch {snap.epoch} of {snap.epochs}{eta}")
        else:
            fraction = snap.done / snap.total if snap.total else 0.0
            st.progress(fraction, text=f"{snap.phase}: {snap.done} of {snap.total}")
        if st.button("Cancel", icon=":material/stop:"):
            job.cancel()
    elif snap.status == jobs.DONE:
        result = job.result
        auc = "n/a" if result.report.auc is None else f"{result.report.auc:.3f}"
        best = f" (best epoch {result.best_epoch})" if result.history else ""
        st.success(f"Done in {result.timings_s['total']:.1f}s: validation AUC {auc}, "
                   f"accuracy {result.report.accuracy:.1%}{best}.")
        if result.extra.get("reused"):
            st.caption(f"Reused from an earlier run on the same data: {' and '.join(result.extra['reused'])}, "
                       "so the frozen part of the backbone did not run again.")
        if result.extra.get("truncated_texts"):
            st.info(f"{result.extra['truncated_texts']} texts were longer than the backbone's maximum of "
                    f"{result.extra['max_tokens']} tokens; only their beginning was used.")
        st.page_link("pages/4_Evaluate.py", label="See the evaluation", icon=":material/insights:")
    elif snap.status == jobs.CANCELLED:
        st.warning("Training was cancelled. Change the settings and press Train to start again.")
    else:
        st.error(plain(snap.error or "Training failed."), icon=":material/error:")
    if snap.history:
        st.plotly_chart(history_figure(snap.history), key=f"history_{snap.job_id}")


progress_panel()
