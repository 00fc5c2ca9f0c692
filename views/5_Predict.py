"""Predict: new images (uploaded, or a webcam photo) or texts through the model trained here or a saved
run; CSV download; a closer look at one input (heat map or word importance, and the backbone's own
ImageNet labels)."""
import pandas as pd
import streamlit as st

from tlcore import TLCoreError
from tlcore.app import (
    csv_download, explain, explanations_switch, glossary, heat_legend, highlighted_words, imagenet_top,
    load_classifier, plain, predict_table, run_choices, run_label, show_error, text_importance, texts_from_upload,
    upload_digest, upload_heat, upload_thumbnail, webcam_works, workspace,
)
from tlcore.app import run_upload

ws = workspace()
st.title("Predict")
explanations_switch()
# Reruns (another example to look closer at) classify, draw and explain nothing twice: tlcore.app caches
# each result by the model's version and the input's content digest.

run_upload(ws, "predict_model")  # above the picker, so a run zip opens before any model exists
sources = run_choices(ws)
if not sources:
    st.info("No model yet: train one on the Train page, save one from the Evaluate page, or open a run zip above.")
    st.stop()
choice = st.selectbox("Model", sources, format_func=lambda c: run_label(ws, c), key="predict_model")
try:
    classifier = load_classifier(ws, choice)
except TLCoreError as exc:
    show_error(exc)
    st.stop()
st.caption(f"Classes: {plain(', '.join(classifier.classes))} · backbone {classifier.backbone}")


def download(table) -> None:
    csv_download(table, "predictions.csv", "Download predictions (CSV)")


if classifier.task == "text":
    with st.form("predict_text_form", border=False):
        typed = st.text_area("Texts to classify, one per line", key="predict_texts", height=150,
                             placeholder="Type or paste a sentence here")
        upload = st.file_uploader("Or a file of texts (CSV/TSV/Excel column, or one per line in .txt)",
                                  type=["csv", "tsv", "txt", "xlsx"], key="predict_text_file")
        st.form_submit_button("Classify", type="primary", icon=":material/play_arrow:")
    texts = [line.strip() for line in typed.splitlines() if line.strip()]
    if upload is not None:
        try:
            texts += texts_from_upload(upload.getvalue(), upload.name)
        except TLCoreError as exc:
            show_error(exc)
    if not texts:
        st.stop()
    table = predict_table(ws, choice, texts)
    prob_cols = [c for c in table.columns if c.startswith("p_")]
    st.dataframe(
        table, hide_index=True,
        column_config={"text": st.column_config.TextColumn("text", max_chars=120, width="large"),
                       "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0,
                                                                     format="%.2f"),
                       **{c: st.column_config.NumberColumn(c[2:], format="%.3f") for c in prob_cols}},
    )
    download(table)
    st.subheader("Look closer")
    explain(glossary.OCCLUSION)
    text = st.selectbox("Text", texts, key="predict_look_text")
    found = text_importance(ws, choice, text)
    st.markdown(f"Towards **{plain(classifier.classes[found.target])}** (probability {found.probability:.2f}):")
    st.html(highlighted_words(found.words, found.importance))
    csv_download(lambda: pd.DataFrame({"word": found.words, "importance": found.importance}), "word-importance.csv")
    st.stop()

WEBCAM = "A webcam photo"
source = st.radio("Classify", ["Images you upload", WEBCAM], horizontal=True, key="predict_source")
if source == WEBCAM:
    camera, answer = st.columns(2)
    files = []
    with camera:
        if webcam_works():
            photo = st.camera_input("Webcam", key="predict_camera", resolution="480p",
                                    help="Press Take Photo. To try another, press Clear photo, then Take Photo again.")
            files = [] if photo is None else [photo]
else:
    files = st.file_uploader("Images to classify", accept_multiple_files=True,
                             type=["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"], key="predict_files")
if not files:
    st.stop()

pairs = [("webcam photo.jpg" if source == WEBCAM else f.name, f.getvalue()) for f in files]
digests = [upload_digest(f) for f in files]  # each upload or photo hashed once, the keys of everything below
with st.spinner(f"Classifying {len(pairs)} images..."):
    table = predict_table(ws, choice, pairs, digests)

shown = table.copy()
shown.insert(0, "image", [upload_thumbnail(n, c, d) for (n, d), c in zip(pairs, digests)])
if "problem" in table.columns:  # unreadable files: named with their reason, not rows of empty cells
    failed = table["problem"].notna()
    st.warning(f"{int(failed.sum())} of {len(table)} files could not be read and were left out: "
               + "; ".join(f"{plain(str(n))}: {plain(str(r))}" for n, r in zip(table["file"][failed],
                                                                           table["problem"][failed])),
               icon=":material/warning:")
    shown = shown[~failed].drop(columns="problem")
prob_cols = [c for c in table.columns if c.startswith("p_")]
st.dataframe(
    shown, hide_index=True, row_height=64,
    column_config={"image": st.column_config.ImageColumn("image"),
                   "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f"),
                   **{c: st.column_config.NumberColumn(c[2:], format="%.3f") for c in prob_cols}},
)
download(table)

readable = [i for i in range(len(pairs)) if "problem" not in table.columns or pd.isna(table["problem"][i])]
if source == WEBCAM and readable:  # the answer beside the photo: a bar per class
    answer.markdown(f"The model says: **{plain(table['predicted'][0])}**")
    for column in prob_cols:
        answer.progress(float(table[column][0]), text=f"{plain(column[2:])}: {table[column][0]:.2f}")
if not readable:
    st.stop()
st.subheader("Look closer")
row = st.selectbox("Image", readable, format_func=lambda i: pairs[i][0], key="predict_look_image")
(name, data), content = pairs[row], digests[row]
predicted = int(classifier.classes.index(table["predicted"][row]))
seen, heat = upload_heat(ws, choice, name, content, data, predicted)
left, middle, right = st.columns(3)
left.image(seen, caption="as the model sees it", width=224)
middle.image(heat, width=224,
             caption=f"where it sees '{classifier.classes[predicted]}' ({table['confidence'][row]:.2f})")
middle.image(heat_legend(), width=224)
with right:
    st.markdown("**What the backbone already knew** (ImageNet, before training)")
    try:
        top = imagenet_top(ws, choice, name, content, data)
    except TLCoreError as exc:
        show_error(exc)
    else:
        st.dataframe(pd.DataFrame(top, columns=["ImageNet label", "probability"]), hide_index=True,
                     column_config={"probability": st.column_config.ProgressColumn(
                         "probability", min_value=0.0, max_value=1.0, format="%.2f")})
explain(glossary.GRAD_CAM + "\n\n" + glossary.IMAGENET)
