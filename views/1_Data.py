"""Data: images (a zip, images or webcam shots per class, the sample) or texts (a table, examples per
class, the sample); then the validation report."""
import pandas as pd
import streamlit as st

from tlcore import TLCoreError, build_dataset, build_text_dataset, read_zip, records_from_uploads, text_sample
from tlcore.app import (
    ClassRows, cached_table, camera_shots, column_choices, guess_columns, limits, plain, readable, setting_widget,
    show_error, table_from_pasted, upload_digest, webcam_works, workspace,
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


def per_class_inputs(rows: ClassRows, prefix: str, noun: str, use_label: str, draw,
                     examples) -> dict[str, list] | None:
    """One row per class (a name, then `draw(row)` for its examples beside it) and an "Add a class"
    button. When `use_label` is pressed, returns {class name: the examples of its rows, `examples(row)`};
    else None."""
    names = []
    for i in range(rows.count):
        name_col, content_col = st.columns([1, 3])
        names.append(rows.text(name_col.text_input, f"{prefix}_name_{i}", label="Class name",
                               placeholder=f"class {i + 1}").strip())
        with content_col:
            draw(i)
    add_col, use_col = st.columns([1, 3])
    add_col.button("Add a class", icon=":material/add:", key=f"{prefix}_add", on_click=rows.add)
    if not use_col.button(use_label, type="primary"):
        return None
    chosen: dict[str, list] = {}
    for i, name in enumerate(names):
        found = examples(i)
        if not name and found:
            st.warning(f"Class {i + 1} has {noun} but no name; give it a name to include it.")
        elif name:
            chosen.setdefault(name, []).extend(found)
    return chosen


def class_images(row: int, webcam: bool) -> None:
    st.file_uploader("Images", accept_multiple_files=True, key=f"data_class_files_{row}",
                     type=["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"])
    camera_shots(ws.camera, row, f"data_camera_{row}", webcam)


def image_files(row: int) -> list[tuple[str, bytes]]:
    """A class row's uploaded images and webcam shots, as (file name, bytes)."""
    uploads = st.session_state.get(f"data_class_files_{row}") or []
    return [(f.name, f.getvalue()) for f in uploads] + ws.camera.files(row)


def example_lines(row: int) -> None:
    ws.text_rows.text(st.text_area, f"data_text_lines_{row}", label="Examples, one per line", height=120)


def typed_lines(row: int) -> list[str]:
    return [line for line in ws.text_rows.typed.get(f"data_text_lines_{row}", "").splitlines() if line.strip()]


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
        st.markdown("Name each class, then drop its images or take photos with the webcam. Add as many classes "
                    "as you need, then press **Use these images**.")
        webcam = webcam_works()
        files = per_class_inputs(ws.image_rows, "data_class", "images", "Use these images",
                                 lambda row: class_images(row, webcam), image_files)
        if files is not None:
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
        typed = per_class_inputs(ws.text_rows, "data_text", "examples", "Use these examples", example_lines,
                                 typed_lines)
        if typed is not None:
            try:
                table = table_from_pasted({name: "\n".join(lines) for name, lines in typed.items()})
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
    fraction = setting_widget(st.slider, "Share of each class kept aside for validation", 0.05, 0.5, step=0.05,
                              key="data_val_fraction", setting=ws.config.val_fraction,
                              help="These examples are never trained on; the AUC and confusion matrix come from them.")
    seed = setting_widget(st.number_input, "Random seed for the split", 0, 10_000, step=1, key="data_seed",
                          setting=ws.config.seed)
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
