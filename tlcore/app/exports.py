"""The Evaluate page's way out of the app: the run as an ONNX folder for plain Python (downloaded as a
zip), made once per run version in the cache folder and checked against the app before it is offered."""
from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from ..backbones import get_backbone_info
from ..core.errors import TLCoreError
from ..core.settings import cache_settings
from ..runs.archive import zip_run
from ..runs.export import export_labels, export_onnx
from ..runs.run import Run
from .loaders import run_version
from .widgets import plain, show_error


def export_folder(record: Run) -> Path:
    """Where this version of the run is exported to (the same folder for every session)."""
    digest = hashlib.sha256(repr(run_version(record)).encode()).hexdigest()[:20]
    config = record.config
    cut = f"-b{config.feature_block}" if config.feature_block else ""
    name = f"{config.backbone}{cut}-k{config.trainable_blocks}-{Path(record.folder).name}"  # distinct for every run
    return cache_settings().folder / "exports" / digest / f"{name}-onnx"


def export_section(record: Run, key: str) -> None:
    """Export button, then what was checked and the download, with the two commands to use it."""
    st.subheader("Use it outside the app")
    if get_backbone_info(record.config.backbone).classic:
        st.info(f"{plain(record.config.backbone)} runs cannot be exported to ONNX: their features are computed "
                "from the words outside the network. Download the run (zip) instead; `python -m tlcore predict` "
                "and the app open it.", icon=":material/info:")
        return
    st.markdown("Export the model as **ONNX** with a small `predict.py` that runs with plain Python "
                "(onnxruntime, no PyTorch), plus a model card that says what it can and cannot do.")
    folder = export_folder(record)
    labels = export_labels(folder)  # read once per rerun: None until this run version is exported
    if labels is None:
        if not st.button("Export for Python (ONNX)", icon=":material/output:", key=f"onnx-{key}"):
            return
        try:
            with st.spinner("Exporting, then checking it answers like the app on the validation examples..."):
                export_onnx(record.folder, folder, name=record.label)
        except TLCoreError as exc:
            show_error(exc)
            return
        st.rerun()  # drawn again as made: the check and the download, without the button
    verified = labels["verified"]
    st.success(f"Checked on {verified['examples']} validation {record.task}s: the exported model's probabilities "
               f"are the app's within {verified['max_difference']:.0e}.", icon=":material/check_circle:")
    st.download_button("Download the ONNX export (zip)", lambda: zip_run(folder), f"{folder.name}.zip",
                       "application/zip", icon=":material/download:", key=f"onnx-zip-{key}")
    example = "photo.jpg more_photos/" if record.task == "image" else '"A text to classify"'
    st.code(f"cd {folder.name}\npip install -r requirements.txt\npython predict.py {example} --out predictions.csv",
            language="bash")
