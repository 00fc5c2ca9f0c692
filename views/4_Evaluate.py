"""Evaluate: honest numbers, a confusion matrix you can click, the threshold, curves, the embedding
map and what the model looks at; for this session's run or any saved run."""
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from tlcore import TLCoreError, get_backbone_info
from tlcore.app import (
    chart, confusion_chart, copy_run, csv_download, curve_charts, embedding_chart, example_caption, explain,
    explanations_switch, export_section, glossary, heat_legend, heat_overlays, highlighted_words, load_choice,
    majority_baseline, methods, need_result, operating_point, plain, predictions_frame, predictions_table,
    project_download, run_choices, run_folder, run_folder_name, run_intervals, run_label, run_projection,
    run_separation, run_upload, run_word_importance, runs_dir, show_error, thumbnails, validation_image, workspace,
    zip_run,
)

ws = workspace()
st.title("Evaluate")
explanations_switch()
with st.sidebar:
    project_download(ws, "eval-project")
    st.caption("Your data, settings and runs in one file: open it on **Home** next lesson to continue.")
run_upload(ws, "eval_run")
choices = run_choices(ws)
if not choices and need_result(ws):
    st.stop()
choice = st.selectbox("Run", choices, format_func=lambda c: run_label(ws, c), key="eval_run",
                      help="This session's training, a run opened from a file, or a run saved earlier (from the "
                           "runs folder).")
record = load_choice(ws, choice)
if record is None:
    st.stop()

classes, report, y_val = record.classes, record.report, record.y_val
binary = len(classes) == 2
unit = "image" if record.task == "image" else "text"
folder = run_folder(ws, choice)
key = f"{folder.parent.name}-{folder.name}"  # widget keys per run
# Every tab runs on every rerun: whatever takes time below comes from tlcore.app's caches, keyed by the
# run's version and the row, target or layout, and downloads are written only when clicked.

# The threshold (two classes) decides the answers every view below shows.
threshold = None
if binary:
    threshold = st.slider(f"Threshold: call it '{plain(classes[1])}' from this probability on", 0.0, 1.0, 0.5,
                          0.01, key=f"threshold-{key}")
    point = operating_point(y_val, record.val_proba[:, 1], threshold)
    matrix = point.confusion_matrix
else:
    point, matrix = None, report.confusion_matrix
answers, accuracy = record.answers(threshold), record.accuracy(threshold)

ci = run_intervals(record)
counts = record.facts.train_counts
c1, c2, c3, c4, c5 = st.columns(5)
auc_text = "n/a" if report.auc is None else f"{report.auc:.3f}"
c1.metric("AUC", auc_text, help=glossary.AUC)
if ci["auc"]:
    c1.caption(f"95% interval {ci['auc'].low:.3f} – {ci['auc'].high:.3f}")
if counts:
    majority, baseline = majority_baseline(counts, y_val)
    c2.metric("Accuracy", f"{accuracy:.1%}", f"{100 * (accuracy - baseline):+.1f} points vs baseline")
    c3.metric("Baseline", f"{baseline:.1%}", help=f"Always answering the most common class, '{classes[majority]}'.")
    c3.caption(f"always '{plain(classes[majority])}'")
else:
    c2.metric("Accuracy", f"{accuracy:.1%}")
if ci["accuracy"] and threshold in (None, 0.5):
    c2.caption(f"95% interval {ci['accuracy'].low:.1%} – {ci['accuracy'].high:.1%}")
c4.metric(f"Validation {unit}s", len(y_val))
c5.metric("Training time", f"{record.facts.timings_s['total']:.1f}s", help=record.facts.device)
if report.auc is None:
    st.warning("AUC cannot be computed: the validation data does not contain every class.")
for warning in record.warnings():
    st.warning(plain(warning), icon=":material/warning:")
explain(glossary.AUC + "\n\n" + glossary.BASELINE)


def probability_caption(row: int) -> str:
    return example_caption(record, answers, row)


def show_examples(rows: np.ndarray, empty: str, key_: str) -> None:
    """Thumbnails (images) or a table (texts) of validation examples, with their probabilities."""
    if not len(rows):
        st.caption(empty)
        return
    if record.task == "image":
        shown = thumbnails(record)
        st.image([shown[r] for r in rows[:24]], caption=[probability_caption(r) for r in rows[:24]], width=128)
        if len(rows) > 24:
            st.caption(f"Showing 24 of {len(rows)}; the CSV below lists all.")
    else:
        table = pd.DataFrame({"row": [record.val_names[r] for r in rows], "text": [record.val_texts[r] for r in rows],
                              "true": [classes[y_val[r]] for r in rows], "answer": [classes[answers[r]] for r in rows],
                              "confidence": record.val_proba[rows, answers[rows]]})
        st.dataframe(table, hide_index=True, key=key_, column_config={
            "text": st.column_config.TextColumn("text", width="large"),
            "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f")})


tab_names = ["Mistakes", "Curves", "Embedding map", "What the model looks at", "All predictions"]
tabs = dict(zip(tab_names, st.tabs(tab_names)))

with tabs["Mistakes"]:
    explain(glossary.CONFUSION)
    cell_key = f"cell-{key}"
    cells = [None] + [(t, p) for t in range(len(classes)) for p in range(len(classes))]
    left, right = st.columns([1, 1])
    with left:
        state = st.session_state.get(f"confusion-{key}")  # the click, read before drawing so the outline is current
        clicked = [p["point_index"] for p in (state.selection.points if state else []) if "point_index" in p]
        if clicked and st.session_state.get(f"{cell_key}-clicked") != clicked[0]:
            st.session_state[f"{cell_key}-clicked"] = clicked[0]  # a new click chooses the cell below
            st.session_state[cell_key] = cells[1 + clicked[0]]
        chart(confusion_chart(record, threshold, st.session_state.get(cell_key)), f"confusion-{key}",
              "confusion-matrix", on_select="rerun", selection_mode="points")
        csv_download(lambda: pd.DataFrame(matrix, index=[f"true {c}" for c in classes],
                                          columns=[f"answered {c}" for c in classes]).reset_index(names=""),
                     "confusion-matrix.csv", key=f"cm-csv-{key}")
    with right:
        cell = st.selectbox(
            "Examples in the cell", cells, key=cell_key,
            format_func=lambda c: ("Click a cell of the matrix, or choose one here" if c is None else
                                   f"true {classes[c[0]]}, answered {classes[c[1]]} ({matrix[c[0]][c[1]]})"))
        if cell is not None:
            show_examples(record.cell_rows(*cell, predictions=answers), "No examples in this cell.",
                          f"cell-table-{key}")
    st.subheader("Most confidently wrong")
    show_examples(record.confidently_wrong(answers)[:12], "No mistakes at this threshold." if binary else "No mistakes.", f"wrong-{key}")

with tabs["Curves"]:
    if binary:
        explain(glossary.THRESHOLD.format(positive=classes[1]))
        m1, m2, m3 = st.columns(3)
        m1.metric("Precision", f"{point.precision:.1%}", help=f"Of the {unit}s called '{classes[1]}', the share that are.")
        m2.metric("Recall", f"{point.recall:.1%}", help=f"Of the real '{classes[1]}' {unit}s, the share found.")
        m3.metric("False alarms", f"{point.false_positive_rate:.1%}", help=f"Of the '{classes[0]}' {unit}s, the share "
                  f"wrongly called '{classes[1]}'.")
        roc, pr = curve_charts(record, threshold)
        left, right = st.columns(2)
        with left:
            chart(roc, f"roc-{key}", "roc-curve")
        with right:
            chart(pr, f"pr-{key}", "precision-recall-curve")
    else:
        explain(glossary.curves(len(classes)))
        chart(curve_charts(record, None)[0], f"roc-{key}", "roc-curves")
    csv_download(lambda: pd.DataFrame([{"class": c.label, "false_positive_rate": x, "true_positive_rate": y}
                                       for c in report.roc_curves for x, y in zip(c.fpr, c.tpr)]),
                 "roc-curves.csv", key=f"roc-csv-{key}")
    st.subheader("Per class")
    st.dataframe(pd.DataFrame(report.per_class).round(3), hide_index=True)

with tabs["Embedding map"]:
    explain(glossary.embedding(record.task, get_backbone_info(record.config.backbone), record.config.trainable_blocks,
                               record.config.feature_block)
            + "\n\n" + glossary.SEPARATION)
    if not record.features:
        st.info("This run has no saved embeddings. Train it again to see the map.")
    else:
        method = st.radio("Layout", methods(), horizontal=True, key=f"map-method-{key}",
                          help="PCA is instant and keeps large distances; t-SNE and UMAP keep neighbours together.")
        columns = st.columns(2)
        picked_row, points = None, {}
        for column, (name, title) in zip(columns, (("pretrained", "Pretrained backbone (before training)"),
                                                    ("fine-tuned", "After training"))):
            with column:
                points[name] = run_projection(record, name, method)
                event = chart(embedding_chart(record, name, method, threshold, title),
                              f"map-{name}-{key}", f"embedding-{name}", on_select="rerun", selection_mode="points")
                score = run_separation(record, name)
                if score is not None:
                    st.metric("Separation", f"{score:.2f}", help=glossary.SEPARATION)
                chosen = [p.get("customdata") for p in (event.selection.points if event else [])]
                if chosen and isinstance(chosen[0], (int, float)):
                    picked_row = int(chosen[0])
        csv_download(lambda: pd.DataFrame({
            "example": record.val_names, "true": [classes[i] for i in y_val], "answer": [classes[i] for i in answers],
            **{f"{n}_{a}": points[n][:, i] for n in points for i, a in enumerate("xy")}}),
            "embedding-map.csv", key=f"map-csv-{key}")
        if picked_row is not None:
            st.markdown(f"**Selected:** {plain(probability_caption(picked_row))}")
            if record.task == "image":
                st.image(validation_image(record, picked_row), width=224)
            else:
                st.text(record.val_texts[picked_row])
        else:
            st.caption("Click a dot to see its example.")

with tabs["What the model looks at"]:
    order = list(np.argsort(-record.losses, kind="stable"))  # the most surprising examples first
    row = st.selectbox(f"Validation {unit}", order, key=f"look-{key}", format_func=probability_caption,
                       help="Sorted by loss: the examples the model found hardest come first.")
    targets = [int(answers[row])] + ([int(y_val[row])] if answers[row] != y_val[row] else [])
    if record.task == "image":
        explain(glossary.GRAD_CAM)
        heat = heat_overlays(record, row, targets)
        columns = st.columns(1 + len(targets))
        columns[0].image(validation_image(record, row), caption="as the model sees it", width=224)
        for column, target, image in zip(columns[1:], targets, heat):
            column.image(image, width=224,
                         caption=f"where it sees '{classes[target]}' ({record.val_proba[row, target]:.2f})")
            column.image(heat_legend(), width=224)
    else:
        explain(glossary.OCCLUSION)
        for target in targets:
            found = run_word_importance(record, row, target)
            st.markdown(f"Towards **{plain(classes[target])}** (probability {found.probability:.2f}):")
            st.html(highlighted_words(found.words, found.importance))
            csv_download(lambda found=found: pd.DataFrame({"word": found.words, "importance": found.importance}),
                         "word-importance.csv", key=f"words-{key}-{target}")

with tabs["All predictions"]:
    frame, shown = predictions_frame(record), predictions_table(record)  # shown: with thumbnails for images
    only_wrong = st.toggle(f"Show only mistakes ({int((~frame['correct']).sum())})", key=f"only-wrong-{key}")
    if only_wrong:
        shown = shown[~shown["correct"]]
    prob_cols = [c for c in frame.columns if c.startswith("p_")]
    st.dataframe(shown, hide_index=True, row_height=36 if record.task == "text" else 64, column_config={
        "image": st.column_config.ImageColumn("image"),
        "text": st.column_config.TextColumn("text", max_chars=90, width="large"),
        "loss": st.column_config.NumberColumn("loss", format="%.3f"),
        **{c: st.column_config.ProgressColumn(c[2:], min_value=0.0, max_value=1.0, format="%.2f") for c in prob_cols}})
    csv_download(frame, "predictions.csv", "Download predictions (CSV)", key=f"predictions-{key}")

if choice not in ws.session_runs():
    st.download_button("Download this saved run (zip)", lambda: zip_run(folder), f"{folder.name}.zip",
                       "application/zip", icon=":material/download:", key=f"zip-{key}")
    export_section(record, key)
    st.stop()

st.subheader("Save this model")
saved = ws.saved.get(str(folder))
name = st.text_input("Run name", key=f"run-name-{key}",
                     value=Path(saved).name if saved else
                     f"{record.config.backbone}-k{record.config.trainable_blocks}-{folder.parent.name}",
                     help="Letters, digits, dots, dashes and underscores; anything else becomes a dash.")
if st.button("Save", icon=":material/save:", key=f"save-{key}"):
    try:
        target = runs_dir() / run_folder_name(name)
        path = copy_run(folder, target, overwrite=str(target) in ws.saved.values())  # only this session's saves
    except TLCoreError as exc:
        show_error(exc)
    else:
        ws.saved[str(folder)] = str(path)
        st.rerun()  # the run picker above names where it was saved
if saved:
    st.success(f"Saved to {plain(saved)}. Load it on the Predict page any time.")
try:
    zip_name = Path(saved).name if saved else run_folder_name(name)
except TLCoreError:
    zip_name = folder.parent.name
st.download_button("Download this run (zip)", lambda: zip_run(saved or folder), f"{zip_name}.zip", "application/zip",
                   icon=":material/download:", key=f"zip-{key}")
export_section(record, key)
st.page_link("views/5_Predict.py", label="Next: predict new examples", icon=":material/arrow_forward:")
