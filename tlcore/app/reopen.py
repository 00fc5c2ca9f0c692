"""Continue another day: a run zip opened on Evaluate or Predict, and a whole project (data, settings,
runs) saved to one file and opened again on Home. A file is read in full before anything in the
workspace changes, so a bad one costs nothing but its sentence."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..core.errors import ConfigError, TLCoreError
from ..runs.archive import unpack_run
from ..runs.folders import run_folder_name
from ..runs.project import SUFFIX, Project, project_bytes, read_project
from .widgets import plain, show_error
from .workspace import THIS_SESSION, OpenedRun, Workspace, run_choices

LAST_RUN = "Last run"  # how the Train page's run is named in a project (it is no longer "this session's")


def run_upload(ws: Workspace, picker: str) -> None:
    """An uploader for a run zip (downloaded from Evaluate, or an export's zip), placed by a page above
    its run picker (the widget key `picker`). The run is unpacked once per content, listed in run_choices
    as "<name> (uploaded)" and chosen in the picker; a bad file shows its sentence."""
    key = f"{picker}-upload"
    with st.expander("Open a run from a zip file", expanded=not run_choices(ws), icon=":material/upload_file:"):
        st.file_uploader("A run downloaded from Evaluate, or an export's zip", type=["zip"], key=key,
                         on_change=_open_run, args=(ws, key, picker))
    _show_problem(key)


def _open_run(ws: Workspace, key: str, picker: str) -> None:
    uploaded = st.session_state.get(key)
    st.session_state.pop(f"{key}-problem", None)
    if uploaded is None:
        return
    try:
        folder = str(unpack_run(uploaded.getvalue(), uploaded.name))
    except TLCoreError as exc:
        st.session_state[f"{key}-problem"] = exc
        return
    ws.opened_runs.setdefault(folder, OpenedRun(Path(folder).name, "uploaded"))
    st.session_state[picker] = folder


def _show_problem(key: str) -> None:
    problem = st.session_state.get(f"{key}-problem")
    if problem is not None:
        show_error(problem)


def session_project(ws: Workspace) -> Project:
    """The workspace as a project: its data, settings and runs (the Train page's and a sweep's under the
    name they were saved as, and the runs it opened)."""
    runs = {}
    for label, folder in ws.session_runs().items():
        saved = ws.saved.get(str(folder))
        runs[str(folder)] = Path(saved).name if saved else LAST_RUN if label == THIS_SESSION else label
    runs.update({folder: opened.name for folder, opened in ws.opened_runs.items()})
    runs = {folder: name for folder, name in runs.items() if Path(folder).is_dir()}  # the cache may have let one go
    return Project(ws.task, ws.data_label, ws.dataset, ws.val_dataset, ws.config, runs)


def project_file_name(ws: Workspace) -> str:
    """<data name>.tlproject, e.g. weather_music.tlproject for data from weather_music.csv."""
    try:
        return run_folder_name(Path(ws.data_label).stem) + SUFFIX
    except ConfigError:  # a label without letters or digits
        return "project" + SUFFIX


def project_download(ws: Workspace, key: str) -> None:
    """"Save project": the data, settings and runs in one file, written only when clicked."""
    st.download_button("Save project", lambda: project_bytes(session_project(ws)), project_file_name(ws),
                       "application/octet-stream", key=key, on_click="ignore", icon=":material/save:",
                       disabled=ws.dataset is None,
                       help="One file with your data, settings and runs. Open it on the Home page next time, on "
                            "this machine or another one, to continue where you stopped.")


def project_upload(ws: Workspace) -> None:
    """"Open project": a .tlproject file read in full, then it takes the place of the session's data,
    settings and runs; a bad file shows its sentence and changes nothing."""
    key = "project-upload"
    st.file_uploader("Open a project", type=[SUFFIX.lstrip(".")], key=key, on_change=_open_project, args=(ws, key),
                     help="A .tlproject file saved with Save project. It replaces the data, settings and runs "
                          "of this session.")
    _show_problem(key)
    name, dataset = st.session_state.get(f"{key}-opened", (None, None))
    if dataset is not None and dataset is ws.dataset:  # said until other data takes its place
        runs = len(ws.opened_runs)
        st.success(f"Opened {plain(name)}: {len(dataset)} {dataset.report.unit}s in {len(dataset.classes)} classes "
                   f"and {runs} run{'' if runs == 1 else 's'}, listed at the top of **Evaluate** and **Predict**.")


def _open_project(ws: Workspace, key: str) -> None:
    uploaded = st.session_state.get(key)
    st.session_state.pop(f"{key}-problem", None)
    st.session_state.pop(f"{key}-opened", None)
    if uploaded is None:
        return
    try:
        with st.spinner(f"Opening {plain(uploaded.name)}..."):
            project = read_project(uploaded.getvalue(), uploaded.name)
    except TLCoreError as exc:
        st.session_state[f"{key}-problem"] = exc
        return
    ws.open_project(project, uploaded.name)
    st.session_state[f"{key}-opened"] = (uploaded.name, project.dataset)
