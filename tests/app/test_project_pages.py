"""Reopening work on the pages: a run zip uploaded on Evaluate or Predict, a project opened on Home;
a bad file shows its sentence and the session keeps what it had."""
import os

import pytest

from tests.app.test_pages import page, session_with
from tlcore import save_run
from tlcore.app import KEY, Workspace
from tlcore.app.reopen import session_project
from tlcore.runs.archive import zip_run
from tlcore.runs.project import project_bytes


@pytest.fixture(scope="module")
def text_run_zip(trained_text, tmp_path_factory) -> bytes:
    return zip_run(save_run(trained_text, tmp_path_factory.mktemp("saved") / "weather-music"))


@pytest.fixture()
def finished(trained, shapes_dataset) -> Workspace:
    """An image session that has trained a run."""
    return session_with(trained, shapes_dataset)


@pytest.fixture(autouse=True)
def empty_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path / "runs"))  # no saved runs: only what is uploaded


def upload(app, key: str, name: str, data: bytes):
    return app.file_uploader(key=key).set_value((name, data, "application/octet-stream")).run()


def errors(app) -> list[str]:
    """The error messages as a person reads them (markdown escapes taken out)."""
    return [e.value.replace("\\", "") for e in app.error]


def test_a_run_zip_uploaded_on_evaluate_is_chosen_and_shows_its_auc(finished, trained, trained_text, text_run_zip):
    app = page("views/4_Evaluate.py", finished)
    assert app.metric[0].value == f"{trained.report.auc:.3f}"  # this session's run, first in the picker
    upload(app, "eval_run-upload", "weather-music.zip", text_run_zip)
    assert not app.exception
    picker = app.selectbox(key="eval_run")
    assert picker.options == ["This session's run", "weather-music (uploaded)"]
    assert picker.format_func(picker.value) == "weather-music (uploaded)"
    assert app.metric[0].label == "AUC" and app.metric[0].value == f"{trained_text.report.auc:.3f}"
    upload(app, "eval_run-upload", "weather-music.zip", text_run_zip)  # the same file again
    assert len(app.selectbox(key="eval_run").options) == 2 and len(app.session_state[KEY].opened_runs) == 1


def test_a_run_zip_opens_on_evaluate_before_anything_is_trained(trained_text, text_run_zip):
    app = page("views/4_Evaluate.py", Workspace(task="text"))
    assert not app.exception and any("No trained model yet" in i.value for i in app.info)
    upload(app, "eval_run-upload", "weather-music.zip", text_run_zip)
    assert app.metric[0].value == f"{trained_text.report.auc:.3f}"


def test_a_run_zip_uploaded_on_predict_is_chosen_and_predicts(finished, text_run_zip):
    app = page("views/5_Predict.py", finished)
    assert any(c.value.startswith("Classes: circle, stripes") for c in app.caption)
    upload(app, "predict_model-upload", "weather-music.zip", text_run_zip)
    assert not app.exception
    picker = app.selectbox(key="predict_model")
    assert picker.format_func(picker.value) == "weather-music (uploaded)"
    assert any(c.value.startswith("Classes: music, weather") for c in app.caption)
    app.text_area(key="predict_texts").set_value("It will snow in the hills.")
    next(b for b in app.button if b.label == "Classify").click().run()
    assert app.dataframe[0].value["predicted"].tolist() == ["weather"]


@pytest.mark.parametrize("where", ["views/4_Evaluate.py", "views/5_Predict.py"])
def test_a_bad_run_zip_shows_its_sentence_and_keeps_the_session(where, text_dataset):
    ws = Workspace(task="text", dataset=text_dataset, data_label="weather.csv")
    key = "eval_run-upload" if "Evaluate" in where else "predict_model-upload"
    app = upload(page(where, ws), key, "notes.zip", os.urandom(800))
    assert not app.exception
    assert any("'notes.zip' cannot be opened as a saved run: it is not a valid zip" in e for e in errors(app))
    ws = app.session_state[KEY]
    assert ws.dataset is text_dataset and not ws.opened_runs


def test_opening_a_project_on_home_restores_data_settings_and_runs(trained_text, text_dataset):
    made = session_with(trained_text, text_dataset, "text")
    made.update_config(epochs=9, seed=4)
    saved = project_bytes(session_project(made))
    app = page("app.py", Workspace())  # an image session with nothing in it, as on another machine
    upload(app, "project-upload", "weather.tlproject", saved)
    assert not app.exception
    ws = app.session_state[KEY]
    assert ws.task == "text" and app.radio[0].value == "text" and ws.data_label == "test data"
    assert [(e.label, e.text) for e in ws.dataset.examples] == [(e.label, e.text) for e in text_dataset.examples]
    assert ws.config == made.config
    [(folder, opened)] = ws.opened_runs.items()
    assert opened.label == "Last run (from weather.tlproject)"
    assert any("Opened weather.tlproject: 40 texts in 2 classes and 1 run" in s.value for s in app.success)
    evaluate = page("views/4_Evaluate.py", ws)
    picker = evaluate.selectbox(key="eval_run")
    assert picker.options == ["Last run (from weather.tlproject)"] and picker.value == folder
    assert evaluate.metric[0].value == f"{trained_text.report.auc:.3f}"


def test_a_bad_project_shows_its_sentence_and_keeps_the_data(finished, shapes_dataset):
    ws = finished
    app = upload(page("app.py", ws), "project-upload", "lesson.tlproject", b"PK\x03\x04 truncated")
    assert not app.exception
    assert any("'lesson.tlproject' cannot be opened as a project: it is not a project file" in e for e in errors(app))
    after = app.session_state[KEY]
    assert after.dataset is shapes_dataset and after.job_id == ws.job_id and after.has_run


def test_a_saved_project_holds_the_runs_under_their_saved_names(trained_text, text_dataset, tmp_path):
    ws = session_with(trained_text, text_dataset, "text")
    [folder] = ws.session_runs().values()
    ws.saved[str(folder)] = str(tmp_path / "weather-v1")
    assert list(session_project(ws).runs.values()) == ["weather-v1"]
