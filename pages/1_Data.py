"""Data: a zip of class folders, images added per class, or the sample; then the validation report."""
import hashlib

import pandas as pd
import streamlit as st

from tlcore import TLCoreError, build_dataset, read_zip, records_from_uploads
from tlcore.ui import show_error, workspace

st.set_page_config(page_title="Data", page_icon=":material/upload:", layout="wide")
ws = workspace()
st.title("Data")


def load_zip(uploaded, target: str) -> None:
    """Read an uploaded zip once (keyed by its content hash) into the training or validation set."""
    data = uploaded.getvalue()
    key = f"zip:{hashlib.sha1(data).hexdigest()}"
    if target == "train" and key == ws.loaded_key:
        return
    try:
        with st.spinner(f"Reading {uploaded.name}..."):
            dataset = build_dataset(*read_zip(data))
    except TLCoreError as exc:
        show_error(exc)
        return
    if target == "train":
        ws.set_data(dataset, uploaded.name, key)
    else:
        ws.val_dataset = dataset


zip_tab, classes_tab, sample_tab = st.tabs(["Upload a zip", "Add images per class", "Sample data"])
with zip_tab:
    st.markdown("One folder per class inside the zip, e.g. `cats/…jpg`, `dogs/…jpg`. "
                "A single top folder, `__MACOSX` and `.DS_Store` files are fine.")
    uploaded = st.file_uploader("Zip of class folders", type=["zip"], key="data_zip")
    if uploaded is not None:
        load_zip(uploaded, "train")

with classes_tab:
    st.markdown("Name each class and drop its images. Add as many classes as you need.")
    n_classes = st.session_state.setdefault("data_n_classes", 2)
    for i in range(n_classes):
        name_col, files_col = st.columns([1, 3])
        name_col.text_input("Class name", key=f"data_class_name_{i}", placeholder=f"class {i + 1}")
        files_col.file_uploader("Images", accept_multiple_files=True, key=f"data_class_files_{i}",
                                type=["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"])
    add_col, use_col = st.columns([1, 3])
    if add_col.button("Add a class", icon=":material/add:"):
        st.session_state["data_n_classes"] += 1
        st.rerun()
    if use_col.button("Use these images", type="primary"):
        uploads = {}
        for i in range(n_classes):
            name = st.session_state.get(f"data_class_name_{i}", "").strip()
            files = st.session_state.get(f"data_class_files_{i}") or []
            if files and not name:
                st.warning(f"Class {i + 1} has images but no name; give it a name to include it.")
            if name:
                uploads.setdefault(name, []).extend((f.name, f.getvalue()) for f in files)
        with st.spinner("Checking images..."):
            ws.set_data(build_dataset(records_from_uploads(uploads)), "Images added per class", "classes")

with sample_tab:
    st.markdown("400 handwritten digits, 40 of each digit 0–9, from scikit-learn. No download needed.")
    if st.button("Load the sample data", icon=":material/auto_awesome:"):
        ws.use_sample()

with st.expander("Validation: split or separate data"):
    fraction = st.slider("Share of each class kept aside for validation", 0.05, 0.5, ws.config.val_fraction, 0.05,
                         help="These images are never trained on; the AUC and confusion matrix come from them.")
    seed = st.number_input("Random seed for the split", 0, 10_000, ws.config.seed, 1)
    ws.update_config(val_fraction=fraction, seed=int(seed))
    val_zip = st.file_uploader("Or: a separate validation zip (same class folders)", type=["zip"], key="val_zip")
    if val_zip is not None:
        load_zip(val_zip, "val")
    elif ws.val_dataset is not None:
        ws.val_dataset = None

if ws.dataset is None:
    st.info("Upload a zip, add images per class, or load the sample data to begin.")
    st.stop()

dataset = ws.dataset
report = dataset.report
st.header(f"Check your data: {ws.data_label}")
problems = report.problems()
for problem in problems:
    st.error(problem, icon=":material/error:")
c1, c2, c3 = st.columns(3)
c1.metric("Images", len(dataset))
c2.metric("Classes", len(dataset.classes))
c3.metric("Skipped files", len(report.skipped))

for label in dataset.classes:
    examples = [e for e in dataset.examples if e.label == label]
    st.markdown(f"**{label}**: {len(examples)} images")
    st.image([e.thumbnail for e in examples[:8]], width=72)

if report.skipped:
    st.subheader("Skipped files")
    st.dataframe(pd.DataFrame([{"file": s.name, "reason": s.reason} for s in report.skipped]), hide_index=True)

if ws.val_dataset is not None:
    st.info(f"Separate validation data: {len(ws.val_dataset)} images in {len(ws.val_dataset.classes)} classes; "
            "the split above is not used.")
if not problems:
    st.page_link("pages/2_Model.py", label="Next: choose a model", icon=":material/arrow_forward:")
