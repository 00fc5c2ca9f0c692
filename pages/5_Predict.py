"""Predict: new images or texts through the model trained here or a saved run; CSV download."""
from pathlib import Path

import streamlit as st

from tlcore import TLCoreError, load_run
from tlcore.data import texts_from_upload
from tlcore.data.images import decode_image, make_thumbnail
from tlcore.exports import csv_text
from tlcore.persistence import list_runs
from tlcore.ui import image_data_uri, plain, show_error, workspace

st.set_page_config(page_title="Predict", page_icon=":material/online_prediction:", layout="wide")
ws = workspace()
st.title("Predict")


@st.cache_resource(show_spinner="Loading the saved model...", max_entries=4)
def cached_run(path: str, mtime: float):
    return load_run(path)


sources = (["The model trained in this session"] if ws.result is not None else []) + [str(p) for p in list_runs()]
if not sources:
    st.info("No model yet: train one on the Train page, or save one from the Evaluate page.")
    st.stop()
choice = st.selectbox("Model", sources)
try:
    if ws.result is not None and choice == sources[0]:
        classifier = ws.result.classifier
    else:
        classifier = cached_run(choice, Path(choice).stat().st_mtime)
except TLCoreError as exc:
    show_error(exc)
    st.stop()
st.caption(f"Classes: {plain(', '.join(classifier.classes))} · backbone {classifier.backbone}")


def download(table) -> None:
    st.download_button("Download predictions (CSV)", csv_text(table), "predictions.csv", "text/csv",
                       icon=":material/download:")


if classifier.task == "text":
    typed = st.text_area("Texts to classify, one per line", key="predict_texts", height=150,
                         placeholder="Type or paste a sentence here")
    upload = st.file_uploader("Or a file of texts (CSV/TSV/Excel column, or one per line in .txt)",
                              type=["csv", "tsv", "txt", "xlsx"], key="predict_text_file")
    texts = [line.strip() for line in typed.splitlines() if line.strip()]
    if upload is not None:
        try:
            texts += texts_from_upload(upload.getvalue(), upload.name)
        except TLCoreError as exc:
            show_error(exc)
    if not texts:
        st.stop()
    table = classifier.predict_table(texts)
    prob_cols = [c for c in table.columns if c.startswith("p_")]
    st.dataframe(
        table, hide_index=True,
        column_config={"text": st.column_config.TextColumn("text", max_chars=120, width="large"),
                       "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0,
                                                                     format="%.2f"),
                       **{c: st.column_config.NumberColumn(c[2:], format="%.3f") for c in prob_cols}},
    )
    download(table)
    st.stop()

files = st.file_uploader("Images to classify", accept_multiple_files=True,
                         type=["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"], key="predict_files")
if not files:
    st.stop()

pairs = [(f.name, f.getvalue()) for f in files]
with st.spinner(f"Classifying {len(pairs)} images..."):
    table = classifier.predict_table(pairs)


def thumbnail(name: str, data: bytes) -> str | None:
    try:
        return image_data_uri(make_thumbnail(decode_image(data, name, draft_size=128)))
    except TLCoreError:
        return None


shown = table.copy()
shown.insert(0, "image", [thumbnail(n, d) for n, d in pairs])
prob_cols = [c for c in table.columns if c.startswith("p_")]
st.dataframe(
    shown, hide_index=True, row_height=64,
    column_config={"image": st.column_config.ImageColumn("image"),
                   "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f"),
                   **{c: st.column_config.NumberColumn(c[2:], format="%.3f") for c in prob_cols}},
)
download(table)
