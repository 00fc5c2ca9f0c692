"""Each page rendered by Streamlit's AppTest with a prepared workspace."""
import re
import tempfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.job_work import Blocking, CopyRun
from tlcore import TrainConfig, build_dataset, save_run
from tlcore.runs import jobs
from tlcore.data import digits_sample
from tlcore.app import KEY, THIS_SESSION, Workspace, copy_run, run_choices

TIMEOUT = 120
REPO = Path(__file__).resolve().parents[2]


def page(path: str, ws: Workspace | None = None) -> AppTest:
    """Run `path` inside the multipage app (so links between pages resolve), with `ws` prepared."""
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    if ws is not None:
        app.session_state[KEY] = ws
    if path != "app.py":
        app.switch_page(path)
    return app.run()


def session_with(result, dataset, task: str = "image") -> Workspace:
    """A workspace whose finished job wrote `result`'s run, as if this session had just trained it."""
    saved = save_run(result, Path(tempfile.mkdtemp()) / "run")
    job = jobs.submit(CopyRun(str(saved)), 1)
    assert job.wait(120).status == jobs.DONE
    return Workspace(task=task, dataset=dataset, data_label="test data", job_id=job.job_id, config=result.config)


@pytest.fixture(scope="module")
def finished_workspace(trained, shapes_dataset):
    return session_with(trained, shapes_dataset)


def test_landing_loads_sample():
    app = page("app.py")
    assert not app.exception
    app.button[0].click().run()
    ws = app.session_state[KEY]
    assert ws.dataset is not None and len(ws.dataset.classes) == 10


def test_data_page_reports_counts_and_problems():
    one_class = build_dataset(digits_sample(per_class=3, classes=(1,)))
    app = page("views/1_Data.py", Workspace(dataset=one_class, data_label="ones"))
    assert not app.exception
    assert any("Found 1 class" in e.value for e in app.error)
    assert [m.value for m in app.metric][:2] == ["3", "1"]


def test_data_page_without_data_explains_what_to_do():
    app = page("views/1_Data.py")
    assert not app.exception and any("Upload a zip" in i.value for i in app.info)


def test_model_page_shows_frozen_and_trainable_counts(shapes_dataset):
    app = page("views/2_Model.py", Workspace(dataset=shapes_dataset))
    assert not app.exception
    labels = [m.label for m in app.metric]
    assert labels == ["Frozen parameters", "Trainable parameters"]
    assert app.metric[1].value == f"{1280 * 2 + 2:,}"
    app.slider[0].set_value(1).run()
    assert app.session_state[KEY].config.trainable_blocks == 1
    assert app.metric[1].value != f"{1280 * 2 + 2:,}"


def test_train_page_shows_device_and_result(finished_workspace):
    app = page("views/3_Train.py", finished_workspace)
    assert not app.exception
    assert any("Device:" in m.value for m in app.markdown)
    assert any("validation AUC" in s.value for s in app.success)


def test_train_page_without_data_points_to_data_page():
    app = page("views/3_Train.py")
    assert not app.exception and any("No data yet" in i.value for i in app.info)


def test_evaluate_page_shows_auc(finished_workspace, trained):
    app = page("views/4_Evaluate.py", finished_workspace)
    assert not app.exception
    assert app.metric[0].label == "AUC" and app.metric[0].value == f"{trained.report.auc:.3f}"


def test_predict_page_uses_session_model(finished_workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path))
    app = page("views/5_Predict.py", finished_workspace)
    assert not app.exception
    assert app.selectbox[0].value == "This session's run"
    assert any(m.value.startswith("Classes: circle, stripes") for m in app.caption)


def test_landing_switches_to_text_and_loads_its_sample():
    app = page("app.py")
    app.radio[0].set_value("text").run()
    assert not app.exception
    app.button[0].click().run()
    ws = app.session_state[KEY]
    assert ws.task == "text" and ws.config.backbone == "all-MiniLM-L6-v2"
    assert len(ws.dataset) == 90 and ws.dataset.classes == ["animals", "cooking", "space"]


def test_text_data_step_typed_examples_and_report():
    app = page("views/1_Data.py", Workspace(task="text"))
    assert not app.exception and any("Upload a table" in i.value for i in app.info)
    app.text_input(key="data_text_name_0").set_value("happy")
    app.text_area(key="data_text_lines_0").set_value("I love it\nWhat a great day\n")
    app.text_input(key="data_text_name_1").set_value("sad")
    app.text_area(key="data_text_lines_1").set_value("I miss you")
    next(b for b in app.button if b.label == "Use these examples").click().run()
    assert not app.exception
    ws = app.session_state[KEY]
    assert ws.dataset.report.class_counts == {"happy": 2, "sad": 1}
    assert any("Class 'sad' has 1 text" in e.value for e in app.error)
    assert [m.value for m in app.metric][:2] == ["3", "2"]


def test_text_data_page_reports_dropped_rows_and_encoding():
    from tlcore.data import build_text_dataset, read_table

    table = read_table("text,label\nCafé,a\n,a\nThé,b\nVin,b\nEau,a\n".encode("cp1252"), "menu.csv")
    ws = Workspace(task="text", dataset=build_text_dataset(table, "text", "label"), data_label="menu.csv")
    app = page("views/1_Data.py", ws)
    assert not app.exception
    assert any("Windows-1252" in w.value for w in app.warning)
    assert [m.value for m in app.metric] == ["4", "2", "1"]


def test_text_model_page_lists_text_backbones_and_heads(text_dataset):
    app = page("views/2_Model.py", Workspace(task="text", dataset=text_dataset,
                                             config=TrainConfig(backbone="all-MiniLM-L6-v2")))
    assert not app.exception
    assert "all-MiniLM-L6-v2" in app.selectbox[0].options[0]
    assert app.metric[1].value == f"{384 * 2 + 2:,}"
    app.selectbox[1].set_value("random_forest").run()
    assert app.session_state[KEY].config.head == "random_forest"
    app.slider[0].set_value(1).run()  # fine-tuning: the scikit-learn heads are no longer offered
    assert not app.exception and app.session_state[KEY].config.head == "linear"
    assert "random_forest" not in app.selectbox[1].options


def test_text_evaluate_and_predict_pages(trained_text, text_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path))
    ws = session_with(trained_text, text_dataset, "text")
    app = page("views/4_Evaluate.py", ws)
    assert not app.exception and app.metric[3].label == "Validation texts"
    app = page("views/5_Predict.py", ws)
    app.text_area(key="predict_texts").set_value("It will snow tomorrow.\nThe orchestra played.")
    next(b for b in app.button if b.label == "Classify").click().run()
    assert not app.exception
    shown = app.dataframe[0].value
    assert shown["predicted"].tolist() == ["weather", "music"]


def test_names_with_html_or_markdown_are_shown_as_typed():
    from tlcore.data import Table, build_text_dataset
    import pandas as pd

    evil, bold = "<script>alert(1)</script>", "**bold** :red[x]"
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": [evil, evil, bold]})
    dataset = build_text_dataset(Table(frame, "<img src=x onerror=alert(1)>.csv"), "text", "label")
    app = page("views/1_Data.py", Workspace(task="text", dataset=dataset, data_label="<img src=x>.csv"))
    assert not app.exception
    rendered = [m.value for m in app.markdown] + [h.value for h in app.header] + [e.value for e in app.error]
    assert any("**\\<script\\>alert(1)\\</script\\>**" in v for v in rendered)
    assert any("\\*\\*bold\\*\\* \\:red\\[x\\]" in v for v in rendered)
    assert not any(re.search(r"(?<!\\)[<>]", v) for v in rendered)  # every angle bracket escaped


def test_train_page_shows_the_place_in_the_queue(shapes_dataset, monkeypatch, tmp_path):
    monkeypatch.setenv("TLCORE_MAX_RUNNING_JOBS", "1")
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path))
    jobs.device_queue.cache_clear()
    blocking, behind = Blocking(str(tmp_path), "blocker"), Blocking(str(tmp_path), "behind")
    blocker = jobs.submit(blocking, 1)
    waiting = jobs.submit(behind, 1)  # queued behind the blocker, in submission order
    try:
        app = page("views/3_Train.py", Workspace(dataset=shapes_dataset, data_label="shapes", job_id=waiting.job_id))
        assert not app.exception
        assert any("place 1 in the queue (next to start)" in i.value for i in app.info)
    finally:
        blocker.cancel(), waiting.cancel()
        blocker.wait(30), waiting.wait(30)
        jobs.device_queue.cache_clear()


def test_data_page_reads_each_zip_once(monkeypatch):
    import tlcore
    from ..conftest import make_zip, shape_records

    reads = []
    real = tlcore.read_zip
    monkeypatch.setattr(tlcore, "read_zip", lambda data, *a, **k: reads.append(len(data)) or real(data, *a, **k))
    records = shape_records(per_class=4)
    train_zip = make_zip({r.name: r.data for r in records[:3] + records[4:7]})
    val_zip = make_zip({"val/" + r.name: r.data for r in (records[3], records[7])})
    app = page("views/1_Data.py", Workspace())
    app.file_uploader(key="data_zip").set_value(("train.zip", train_zip, "application/zip")).run()
    app.file_uploader(key="val_zip").set_value(("val.zip", val_zip, "application/zip")).run()
    assert not app.exception
    ws = app.session_state[KEY]
    assert len(ws.dataset) == 6 and len(ws.val_dataset) == 2 and len(reads) == 2
    app.slider[0].set_value(0.3).run()  # any rerun: neither zip is read again
    app.run()
    assert not app.exception and len(reads) == 2 and len(app.session_state[KEY].val_dataset) == 2
    app.file_uploader(key="val_zip").set_value(None).run()  # the separate validation data removed
    assert app.session_state[KEY].val_dataset is None and app.session_state[KEY].val_key is None


def test_a_run_saved_before_new_data_stays_in_the_pickers(trained, shapes_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path))
    ws = session_with(trained, shapes_dataset)
    saved = copy_run(ws.session_runs()[THIS_SESSION], tmp_path / "kept", overwrite=False)
    ws.saved[str(ws.session_runs()[THIS_SESSION])] = str(saved)
    assert run_choices(ws) == [THIS_SESSION]  # listed once, as this session's run
    ws.set_data(shapes_dataset, "other data", "other")
    assert run_choices(ws) == [str(saved)]  # the session's run is gone; its saved copy is still there
