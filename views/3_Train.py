"""Train: settings, then a background job with live progress, curves and Cancel."""
import streamlit as st

from tlcore import TLCoreError, get_backbone_info
from tlcore.app import (
    HEADS, THIS_SESSION, TrainWork, backbone_title, describe_reuse, follow_job, history_figure, jobs, load_choice,
    need_data, plain, setting_widget, show_error, workspace,
)

ws = workspace()
st.title("Train")
if need_data(ws):
    st.stop()

cfg = ws.config
cut = (f" · **Features from:** block {cfg.feature_block} ({get_backbone_info(cfg.backbone).block_names[cfg.feature_block - 1]})"
       if cfg.feature_block else "")
st.markdown(f"**Data:** {plain(ws.data_label)} · **Backbone:** {backbone_title(cfg.backbone)}{cut} · "
            f"**Trainable blocks:** {cfg.trainable_blocks} · **Head:** {HEADS[cfg.head]} · "
            f"**Device:** {jobs.runs_on()}")

with st.form("train_settings"):
    if cfg.trainable_blocks == 0 and cfg.head == "linear":
        st.caption("On a frozen backbone the linear head is fitted to convergence in one step, on all training "
                   "examples at once, with its regularisation chosen by cross-validation on them. Epochs, learning "
                   "rate and batch size apply to the small neural network head and to fine-tuning.")
    c1, c2, c3 = st.columns(3)
    epochs = setting_widget(c1.number_input, "Epochs", 1, 500, key="train_epochs", setting=cfg.epochs)
    lr = setting_widget(c2.select_slider, "Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], key="train_lr",
                        setting=cfg.learning_rate,
                        help="How big each learning step is. The default suits the new layer; "
                             "fine-tuned backbone blocks use a tenth of it.")
    batch = setting_widget(c3.select_slider, "Batch size", [8, 16, 32, 64, 128], key="train_batch",
                           setting=cfg.batch_size)
    c4, c5, c6 = st.columns(3)
    augment = ws.task == "image" and setting_widget(c4.toggle, "Augmentation (flip, small rotation)",
                                                    key="train_augment", setting=cfg.augment)
    patience = setting_widget(c5.number_input, "Early stopping: patience in epochs (0 = off)", 0, 100,
                              key="train_patience", setting=cfg.early_stopping_patience,
                              help="Stop when the validation loss has not improved for this many epochs, "
                                   "and keep the best weights.")
    seed = setting_widget(c6.number_input, "Seed", 0, 10_000, key="train_seed", setting=cfg.seed)
    two_stage = cfg.two_stage
    if cfg.trainable_blocks > 0:
        two_stage = setting_widget(
            st.toggle, "Two stages: first the head alone on the frozen backbone, then fine-tune at a tenth of the "
            "learning rate", key="train_two_stage", setting=cfg.two_stage,
            help="A new head starts random; fine-tuning pretrained blocks under it at once sends them large, random "
                 "corrections. Training the head first, then unfreezing gently (fastai's fine_tune, the Keras guide) "
                 "keeps what the blocks learnt. With early stopping on, the first stage is kept if fine-tuning does "
                 "not beat it on the validation loss.")
    start = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:",
                                  disabled=bool(ws.dataset.report.problems()))

if ws.dataset.report.problems():
    st.error("Fix the data first: " + plain(" ".join(ws.dataset.report.problems())))

job = ws.job
if start and job is not None and not job.snapshot().finished:
    st.warning("A training run is already going. Cancel it first to start another.")
elif start:
    try:
        ws.update_config(epochs=int(epochs), learning_rate=float(lr), batch_size=int(batch), augment=augment,
                         early_stopping_patience=int(patience), seed=int(seed), two_stage=two_stage)
        job = jobs.submit(TrainWork(ws.dataset, ws.config, ws.val_dataset), ws.config.planned_epochs)
        ws.job_id = job.job_id
    except TLCoreError as exc:
        show_error(exc)

shown = job.snapshot() if job is not None else None


@st.fragment(run_every=shown.poll_s if shown else None)
def progress_panel() -> None:
    """Looks at the job again while it runs (rarely while it waits); the job itself runs in a worker
    process and never calls Streamlit."""
    job = ws.job
    if job is None:
        return
    snap = follow_job(job, shown, "Cancel")
    record = None
    if snap.status == jobs.DONE:
        record = load_choice(ws, THIS_SESSION)
        if record is None:
            return
        facts = record.facts
        auc = "n/a" if record.report.auc is None else f"{record.report.auc:.3f}"
        best = f" (best epoch {facts.best_epoch})" if record.history else ""
        block = f" with features from block {record.config.feature_block}" if record.config.feature_block else ""
        where = f" on the cluster's {facts.cluster['node']}" if facts.cluster else ""
        st.success(f"Done in {facts.timings_s['total']:.1f}s{where}{block}: validation AUC {auc}, "
                   f"accuracy {record.report.accuracy:.1%}{best}.")
        st.caption(describe_reuse(facts.reuse))
        if facts.truncated_texts:
            st.info(f"{facts.truncated_texts} texts were longer than the backbone's maximum of "
                    f"{facts.max_tokens} tokens; only their beginning was used.")
        st.page_link("views/4_Evaluate.py", label="See the evaluation", icon=":material/insights:")
    elif snap.status == jobs.CANCELLED:
        st.warning("Training was cancelled. Change the settings and press Train to start again.")
    elif snap.status == jobs.FAILED:
        st.error(plain(snap.error or "Training failed."), icon=":material/error:")
    if snap.history:
        best = record.facts.best_epoch if record is not None else None
        st.plotly_chart(history_figure(snap.history, best_epoch=best), key=f"history_{snap.job_id}")


progress_panel()
