"""Evaluate: AUC, ROC curves, confusion matrix, per-class scores and every validation prediction."""
from pathlib import Path

import pandas as pd
import streamlit as st

from tlcore import TLCoreError, predictions_frame
from tlcore.exports import csv_text
from tlcore.persistence import run_folder_name, runs_dir, save_run, zip_run
from tlcore.plots import confusion_figure, roc_figure
from tlcore.ui import image_data_uri, need_result, plain, show_error, workspace

st.set_page_config(page_title="Evaluate", page_icon=":material/insights:", layout="wide")
ws = workspace()
st.title("Evaluate")
if need_result(ws):
    st.stop()

result = ws.result
report = result.report
c1, c2, c3, c4 = st.columns(4)
c1.metric("AUC", "n/a" if report.auc is None else f"{report.auc:.3f}",
          help="Area under the ROC curve, from predicted probabilities: 1.0 = perfect ranking, 0.5 = guessing."
               + (" Macro average of one class against the rest." if len(report.classes) > 2 else ""))
c2.metric("Accuracy", f"{report.accuracy:.1%}")
c3.metric(f"Validation {ws.dataset.report.unit if ws.dataset else 'example'}s", report.n)
c4.metric("Training time", f"{result.timings_s['total']:.1f}s", help=result.device)
if report.auc is None:
    st.warning("AUC cannot be computed: the validation data does not contain every class.")

left, right = st.columns(2)
left.plotly_chart(roc_figure(report), key="roc")
right.plotly_chart(confusion_figure(report), key="confusion")

st.subheader("Per class")
st.dataframe(pd.DataFrame(report.per_class).round(3), hide_index=True)

st.subheader("Validation predictions")
frame = predictions_frame(result)
text_task = result.task == "text"
shown = frame.copy()
if not text_task:
    shown.insert(0, "image", [image_data_uri(e.thumbnail) for e in result.val_examples])
only_wrong = st.toggle(f"Show only mistakes ({int((~frame['correct']).sum())})")
if only_wrong:
    shown = shown[~shown["correct"]]
prob_cols = [c for c in frame.columns if c.startswith("p_")]
selection = st.dataframe(
    shown, hide_index=True, row_height=36 if text_task else 64, key="eval_predictions",
    on_select="rerun" if text_task else "ignore", selection_mode="single-row",
    column_config={"image": st.column_config.ImageColumn("image"),
                   "text": st.column_config.TextColumn("text", max_chars=90, width="large"),
                   **{c: st.column_config.ProgressColumn(c[2:], min_value=0.0, max_value=1.0, format="%.2f")
                      for c in prob_cols}},
)
if text_task:
    rows = selection.selection.rows if selection else []
    if rows:
        picked = shown.iloc[rows[0]]
        st.markdown(f"**{picked['row']}**: true class **{plain(picked['true'])}**, "
                    f"predicted **{plain(picked['predicted'])}**")
        st.text(picked["text"])
    else:
        st.caption("Select a row to read its full text.")
st.download_button("Download predictions (CSV)", csv_text(frame),
                   "predictions.csv", "text/csv", icon=":material/download:")

st.subheader("Save this model")
name = st.text_input("Run name", value=f"{result.config.backbone}-k{result.config.trainable_blocks}-{ws.job_id}",
                     help="Letters, digits, dots, dashes and underscores; anything else becomes a dash.")
if st.button("Save", icon=":material/save:"):
    mine = st.session_state.setdefault("eval_saved_here", set())  # runs this session may replace
    try:
        target = runs_dir() / run_folder_name(name)
        path = save_run(result, target, overwrite=str(target) in mine)
    except TLCoreError as exc:
        show_error(exc)
    else:
        mine.add(str(path))
        st.session_state["eval_saved"] = str(path)
if st.session_state.get("eval_saved"):
    st.success(f"Saved to {plain(st.session_state['eval_saved'])}. Load it on the Predict page any time.")
    st.download_button("Download the saved run (zip)", zip_run(st.session_state["eval_saved"]),
                       f"{Path(st.session_state['eval_saved']).name}.zip", "application/zip", icon=":material/download:")
st.page_link("pages/5_Predict.py", label="Next: predict new examples", icon=":material/arrow_forward:")
