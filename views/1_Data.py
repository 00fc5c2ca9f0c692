"""Data: images (a zip, images per class, the sample) or texts (a table, examples per class, the sample);
then the validation report."""
import pandas as pd
import streamlit as st

from tlcore import TLCoreError, build_dataset, build_text_dataset, read_zip, records_from_uploads, text_sample
from tlcore.app import (
    cached_table, column_choices, guess_columns, limits, plain, readable, show_error, table_from_pasted, upload_digest,
    workspace,
)

ws = workspace()
st.title("Data")
TABLE_TYPES = ["csv", "tsv", "txt", "xlsx"]
try:
    LIMITS = limits()
except TLCoreError as exc:  # a broken tlcore.toml: say which setting, do not crash
    show_error(exc)
    st.stop()
UPLOAD_MB = st.get_option("server.maxUploadSize")


def load_zip(uploaded, target: str) -> None:
    """Read an uploaded zip once (keyed by its content digest, hashed once per upload) into the
    training or validation set; a rerun with the same zip reads nothing."""
    key = f"zip:{upload_digest(uploaded)}"
    if key == (ws.loaded_key if target == "train" else ws.val_key):
        return
    try:
        with st.spinner(f"Reading {uploaded.name}..."):
            dataset = build_dataset(*read_zip(uploaded.getvalue()))
    except TLCoreError as exc:
        show_error(exc)
        return
    if target == "train":
        ws.set_data(dataset, uploaded.name, key)
    else:
        ws.set_validation(dataset, key)


def per_class_inputs(prefix: str, content: str, noun: str, use_label: str, widget) -> dict[str, list] | None:
    """One row per class (a name, then `widget(column, key)` for its examples) and an "Add a class"
    button. When `use_label` is pressed, returns {class name: [each row's value]}; else None."""
    count_key = f"{prefix}_n_classes"
    n_classes = st.session_state.setdefault(count_key, 2)
    for i in range(n_classes):
        name_col, content_col = st.columns([1, 3])
        name_col.text_input("Class name", key=f"{prefix}_name_{i}", placeholder=f"class {i + 1}")
        widget(content_col, f"{prefix}_{content}_{i}")
    add_col, use_col = st.columns([1, 3])
    if add_col.button("Add a class", icon=":material/add:", key=f"{prefix}_add"):
        st.session_state[count_key] += 1
        st.rerun()
    if not use_col.button(use_label, type="primary"):
        return None
    chosen: dict[str, list] = {}
    for i in range(n_classes):
        name = st.session_state.get(f"{prefix}_name_{i}", "").strip()
        value = st.session_state.get(f"{prefix}_{content}_{i}")
        if not name and (value.strip() if isinstance(value, str) else value):
            st.warning(f"Class {i + 1} has {noun} but no name; give it a name to include it.")
        elif name:
            chosen.setdefault(name, []).append(value)  # None when the row has no examples
    return chosen


def image_drop(column, key: str) -> None:
    column.file_uploader("Images", accept_multiple_files=True, key=key,
                         type=["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"])


def example_lines(column, key: str) -> None:
    column.text_area("Examples, one per line", key=key, height=120)


def sample_loader(description: str) -> None:
    st.markdown(description)
    if st.button("Load the sample data", icon=":material/auto_awesome:"):
        ws.use_sample()


def image_inputs() -> None:
    zip_tab, classes_tab, sample_tab = st.tabs(["Upload a zip", "Add images per class", "Sample data"])
    with zip_tab:
        st.markdown("One folder per class inside the zip, e.g. `cats/…jpg`, `dogs/…jpg`. "
                    "A single top folder, `__MACOSX` and `.DS_Store` files are fine.")
        uploaded = st.file_uploader("Zip of class folders", type=["zip"], key="data_zip")
        st.caption(f"Limits on this machine: {LIMITS.max_files:,} files and {readable(LIMITS.max_total_mb)} MB unpacked per zip, "
                   f"{readable(LIMITS.max_megapixels)} megapixels per image, {LIMITS.max_images:,} images in all, "
                   f"{UPLOAD_MB:,} MB per upload.")
        if uploaded is not None:
            load_zip(uploaded, "train")

    with classes_tab:
        st.markdown("Name each class and drop its images. Add as many classes as you need.")
        uploads = per_class_inputs("data_class", "files", "images", "Use these images", image_drop)
        if uploads is not None:
            files = {name: [(f.name, f.getvalue()) for group in groups for f in group or []]
                     for name, groups in uploads.items()}
            try:
                with st.spinner("Checking images..."):
                    ws.set_data(build_dataset(*records_from_uploads(files)), "Images added per class", "classes")
            except TLCoreError as exc:
                show_error(exc)

    with sample_tab:
        sample_loader("400 handwritten digits, 40 of each digit 0–9, from scikit-learn. No download needed.")


def text_inputs() -> None:
    file_tab, typed_tab, sample_tab = st.tabs(["Upload a table", "Type examples per class", "Sample data"])
    with file_tab:
        st.markdown("A CSV, TSV or Excel (.xlsx) file with one example per row: a column with the text and a "
                    "column with its label. Excel's semicolon CSVs and non-UTF-8 files are fine.")
        uploaded = st.file_uploader("Table of texts", type=TABLE_TYPES, key="data_table")
        st.caption(f"Limits on this machine: {LIMITS.max_text_rows:,} rows, {LIMITS.max_classes:,} classes, "
                   f"{UPLOAD_MB:,} MB per upload.")
        if uploaded is not None:
            load_table(uploaded)

    with typed_tab:
        st.markdown("Name each class and type one example per line. Ten short sentences per class are "
                    "enough for a first try.")
        typed = per_class_inputs("data_text", "lines", "examples", "Use these examples", example_lines)
        if typed is not None:
            try:
                table = table_from_pasted({name: "\n".join(b or "" for b in blocks) for name, blocks in typed.items()})
                ws.set_data(build_text_dataset(table, "text", "label"), "Typed examples", "typed")
            except TLCoreError as exc:
                show_error(exc)

    with sample_tab:
        sample_loader("90 short sentences made for this app: 30 each about animals, space and cooking.")
        st.download_button("Download the sample as CSV (to see the format)", text_sample().to_csv(index=False),
                           "sample_texts.csv", "text/csv", icon=":material/download:")


def pick_column(column, role: str, guess: str | None, choices: dict[str, int]) -> str | None:
    """A select of every column with its number of different values; preset only to a guess by name
    (or, for the texts, a column of words), else empty until the user picks one."""
    columns = list(choices)
    return column.selectbox(f"Column with the {role}s", columns, index=columns.index(guess) if guess else None,
                            format_func=lambda c: f"{c} ({choices[c]:,} different values)",
                            placeholder=f"Choose the column with the {role}s", key=f"data_{role}_column")


def load_table(uploaded) -> None:
    """Show the first rows, let the user pick the text and label columns (guessed only by name, or
    asked), build the dataset. Nothing trains until both are picked."""
    try:
        table = cached_table(uploaded)
    except TLCoreError as exc:
        show_error(exc)
        return
    st.dataframe(table.frame.head(5), hide_index=True)
    columns = list(table.frame.columns)
    if len(columns) < 2:
        st.error(f"{plain(uploaded.name)} has {len(columns)} column; two are needed, one with the texts and one with "
                 "the labels. Add a label column and upload it again.", icon=":material/error:")
        return
    guessed_text, guessed_label = guess_columns(table.frame)
    choices = column_choices(table.frame)
    c1, c2 = st.columns(2)
    text_column = pick_column(c1, "text", guessed_text, choices)
    label_column = pick_column(c2, "label", guessed_label, choices)
    key = f"table:{upload_digest(uploaded)}:{text_column}:{label_column}"
    if key == ws.loaded_key:
        return
    if text_column is None or label_column is None:
        st.info("No column is named like the labels (label, class, category, ...), so choose the column that holds "
                "them above: it has as many different values as there will be classes." if label_column is None else
                "Choose the column that holds the texts above.", icon=":material/touch_app:")
        ws.set_data(None, uploaded.name, key)  # nothing stale from an earlier table trains meanwhile
        return
    try:
        ws.set_data(build_text_dataset(table, text_column, label_column), uploaded.name, key)
    except TLCoreError as exc:
        show_error(exc)


def load_validation_table(uploaded) -> None:
    """The separate validation table, in the columns chosen for the training table; built once per
    content and columns."""
    try:
        table = cached_table(uploaded)
        text_column, label_column = guess_columns(table.frame)
        text_column = st.session_state.get("data_text_column", text_column)
        label_column = st.session_state.get("data_label_column", label_column)
        key = f"table:{upload_digest(uploaded)}:{text_column}:{label_column}"
        if key != ws.val_key:
            ws.set_validation(build_text_dataset(table, text_column, label_column), key)
    except TLCoreError as exc:
        show_error(exc)


text_task = ws.task == "text"
if text_task:
    text_inputs()
else:
    image_inputs()

with st.expander("Validation: split or separate data"):
    fraction = st.slider("Share of each class kept aside for validation", 0.05, 0.5, ws.config.val_fraction, 0.05,
                         help="These examples are never trained on; the AUC and confusion matrix come from them.")
    seed = st.number_input("Random seed for the split", 0, 10_000, ws.config.seed, 1)
    ws.update_config(val_fraction=fraction, seed=int(seed))
    if text_task:
        val_file = st.file_uploader("Or: a separate validation table (same columns)", type=TABLE_TYPES,
                                    key="val_table")
    else:
        val_file = st.file_uploader("Or: a separate validation zip (same class folders)", type=["zip"], key="val_zip")
    if val_file is not None and text_task:
        load_validation_table(val_file)
    elif val_file is not None:
        load_zip(val_file, "val")
    elif ws.val_dataset is not None:
        ws.set_validation(None, None)

if ws.dataset is None:
    st.info("Upload a table, type examples per class, or load the sample data to begin." if text_task else
            "Upload a zip, add images per class, or load the sample data to begin.")
    st.stop()

dataset = ws.dataset
report = dataset.report
unit = report.unit
st.header(f"Check your data: {plain(ws.data_label)}")
problems = report.problems()
for problem in problems:
    st.error(plain(problem), icon=":material/error:")
for note in report.notes:
    st.warning(plain(note), icon=":material/warning:")
c1, c2, c3 = st.columns(3)
c1.metric(f"{unit.capitalize()}s", len(dataset))
c2.metric("Classes", len(dataset.classes))
if text_task:
    c3.metric("Dropped rows", sum(report.dropped.values()),
              help="Rows without a text or without a label are left out.")
    for reason, count in report.dropped.items():
        st.caption(f"Left out {count} {'row' if count == 1 else 'rows'} with {reason}.")
else:
    c3.metric("Skipped files", len(report.skipped))

for label in dataset.classes:
    examples = [e for e in dataset.examples if e.label == label]
    st.markdown(f"**{plain(label)}**: {len(examples)} {unit}s")
    if text_task:
        st.dataframe(pd.DataFrame({"example": [e.text for e in examples[:3]]}), hide_index=True,
                     column_config={"example": st.column_config.TextColumn(max_chars=200, width="large")})
    else:
        st.image([e.thumbnail for e in examples[:8]], width=72)

if report.skipped:
    st.subheader("Skipped files")
    st.dataframe(pd.DataFrame([{"file": s.name, "reason": s.reason} for s in report.skipped]), hide_index=True)

if ws.val_dataset is not None:
    st.info(f"Separate validation data: {len(ws.val_dataset)} {unit}s in {len(ws.val_dataset.classes)} classes; "
            "the split above is not used.")
if not problems:
    st.page_link("views/2_Model.py", label="Next: choose a model", icon=":material/arrow_forward:")
