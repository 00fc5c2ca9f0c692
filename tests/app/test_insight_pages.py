"""The insight views through Streamlit's AppTest: Evaluate (this session's run and a saved one),
Predict's closer look at a text, and Compare with a depth sweep."""
from collections import Counter

import numpy as np
import pytest

from tlcore import TrainConfig, save_run
from tlcore.app import Workspace

from .test_pages import page, session_with


@pytest.fixture()
def session_with_run(trained, shapes_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path))
    return session_with(trained, shapes_dataset)


def metric(app, label):
    return next(m for m in app.metric if m.label == label)


def images(app) -> int:
    return sum(len(element.proto.imgs) for element in app.get("image"))


def test_evaluate_shows_honest_numbers_with_intervals_and_baseline(session_with_run, trained):
    app = page("views/4_Evaluate.py", session_with_run)
    assert not app.exception
    assert metric(app, "AUC").value == f"{trained.report.auc:.3f}"
    assert metric(app, "Baseline").value == "50.0%"  # 9 circles and 9 stripes in training
    assert any(c.value.startswith("95% interval") for c in app.caption)
    assert "vs baseline" in metric(app, "Accuracy").delta
    assert any("Only 6 validation images" in w.value for w in app.warning)  # a tiny validation set is flagged
    assert any("AUC" in box.value for box in app.info)  # the plain-language explanations


def test_choosing_a_confusion_cell_shows_its_examples(session_with_run, trained):
    app = page("views/4_Evaluate.py", session_with_run)
    box = next(s for s in app.selectbox if s.label == "Examples in the cell")
    before = images(app)
    box.set_value((0, 0)).run()
    assert not app.exception
    circles_right = trained.report.confusion_matrix[0][0]
    assert images(app) - before == circles_right


def test_threshold_at_zero_calls_everything_positive(session_with_run, trained):
    app = page("views/4_Evaluate.py", session_with_run)
    app.slider[0].set_value(0.0).run()
    assert not app.exception
    positives = int(np.sum(trained.y_val == 1))
    assert metric(app, "Recall").value == "100.0%" and metric(app, "False alarms").value == "100.0%"
    assert metric(app, "Accuracy").value == f"{positives / len(trained.y_val):.1%}"
    box = next(s for s in app.selectbox if s.label == "Examples in the cell")
    assert f"answered stripes ({len(trained.y_val) - positives})" in box.options[2]  # true circle, answered stripes


def test_every_view_works_from_a_saved_run(session_with_run, trained, tmp_path):
    save_run(trained, tmp_path / "shapes-k0")
    session_with_run.job_id = None  # a new session: nothing trained, only the saved run
    app = page("views/4_Evaluate.py", session_with_run)
    assert not app.exception
    assert app.selectbox[0].value.endswith("shapes-k0")
    assert metric(app, "AUC").value == f"{trained.report.auc:.3f}"
    assert any(m.label == "Separation" for m in app.metric)  # the embedding map
    assert images(app) >= 2  # the gallery and the Grad-CAM heat maps from the saved images
    assert not any(b.label == "Save" for b in app.button)


def test_text_evaluate_and_predict_show_word_importance(trained_text, text_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path))
    ws = session_with(trained_text, text_dataset, "text")
    app = page("views/4_Evaluate.py", ws)
    assert not app.exception
    assert any("<span" in h.proto.body for h in app.get("html"))
    app = page("views/5_Predict.py", ws)
    app.text_area(key="predict_texts").set_value("It will snow tomorrow.")
    next(b for b in app.button if b.label == "Classify").click().run()
    assert not app.exception
    shown = [h.proto.body for h in app.get("html")]
    assert shown and "snow" in shown[0]


def test_compare_runs_a_depth_sweep_and_shows_the_runs_side_by_side(shapes_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path))
    ws = Workspace(dataset=shapes_dataset, data_label="shapes", config=TrainConfig(epochs=2))
    app = page("views/6_Compare.py", ws)
    assert not app.exception
    app.multiselect[0].set_value([0, 1])
    app.button[0].click().run()
    ws.sweep_job.wait(300)
    app.run()
    assert not app.exception
    table = app.dataframe[0].value
    assert table["trainable blocks"].tolist() == [0, 1]
    assert table["trainable parameters"].iloc[0] < table["trainable parameters"].iloc[1]
    app = page("views/4_Evaluate.py", ws)
    assert app.selectbox[0].options == ["Sweep: 0 trainable blocks", "Sweep: 1 trainable block"]


def test_a_save_belongs_to_its_run_and_a_saved_run_is_listed_once(session_with_run, trained, tmp_path):
    save_run(trained, tmp_path / "someone-elses")
    app = page("views/4_Evaluate.py", session_with_run)
    next(b for b in app.button if b.label == "Save").click().run()
    assert not app.exception and any(s.value.startswith("Saved to") for s in app.success)
    options = app.selectbox[0].options
    assert len(options) == 2 and options[0].startswith("This session's run (saved as ")  # not also as a folder
    app.selectbox[0].select_index(1).run()  # another run: the message and the save belong to the first
    assert not app.exception and not any("Saved to" in s.value for s in app.success)
    assert not any(b.label == "Save" for b in app.button)


@pytest.fixture()
def calls(monkeypatch):
    """How often each expensive step of the Evaluate and Predict pages ran (counted where tlcore.app
    calls it); csv_text counts downloads that were written before anyone clicked them."""
    import tlcore.app.figures as figures
    import tlcore.app.insights as insights
    import tlcore.app.widgets as widgets
    from tlcore.runs.run import Run

    counts = Counter()

    def count(owner, name):
        real = getattr(owner, name)

        def counted(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(owner, name, counted)

    for name in ("grad_cam", "word_importance", "make_thumbnail", "separation", "project", "load_pixels"):
        count(insights, name)
    for name in ("embedding_figure", "confusion_figure", "operating_point_figures"):
        count(figures, name)
    count(widgets, "csv_text")
    count(Run, "predictions")
    return counts


def test_evaluate_reruns_redo_nothing_expensive(session_with_run, trained, calls):
    app = page("views/4_Evaluate.py", session_with_run)
    assert not app.exception
    n = len(trained.y_val)
    assert calls["make_thumbnail"] == n and calls["separation"] == 2 and calls["project"] == 2
    assert calls["grad_cam"] == 1 and calls["embedding_figure"] == 2 and calls["predictions"] == 2  # frame, table
    first = dict(calls)

    app.run()  # a rerun that changes nothing computes nothing
    assert dict(calls) == first
    app.slider[0].set_value(0.3).run()  # a new threshold: only the views that depend on it are drawn again
    assert not app.exception
    moved = dict(calls)
    assert moved["embedding_figure"] == 4 and moved["confusion_figure"] == first["confusion_figure"] + 1
    assert all(moved[k] == first[k] for k in ("make_thumbnail", "separation", "project", "predictions"))
    app.slider[0].set_value(0.5).run()  # back to a threshold seen before: nothing at all
    assert dict(calls) == moved

    look = next(s for s in app.selectbox if s.label == "Validation image")
    look.set_value(look.options[1]).run()  # another tab's widget: one new heat map, nothing else
    assert calls["grad_cam"] == moved["grad_cam"] + 1
    assert {k: v for k, v in calls.items() if k != "grad_cam"} == {k: v for k, v in moved.items() if k != "grad_cam"}
    next(r for r in app.radio if r.label == "Layout").set_value("t-SNE").run()  # a new layout: its two maps
    assert calls["project"] == first["project"] + 2 and calls["separation"] == 2
    next(t for t in app.toggle if t.label.startswith("Show only mistakes")).set_value(True).run()
    next(r for r in app.radio if r.label == "Layout").set_value("PCA").run()
    assert not app.exception
    assert calls["project"] == first["project"] + 2 and calls["make_thumbnail"] == n
    assert calls["csv_text"] == 0 and calls["load_pixels"] == 0  # CSVs are written when clicked


def test_text_evaluate_and_predict_score_each_text_once(trained_text, text_dataset, tmp_path, monkeypatch, calls):
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path))
    ws = session_with(trained_text, text_dataset, "text")
    app = page("views/4_Evaluate.py", ws)
    assert not app.exception and calls["word_importance"] >= 1
    scored = calls["word_importance"]
    next(t for t in app.toggle if t.label.startswith("Show only mistakes")).set_value(True).run()
    assert not app.exception and calls["word_importance"] == scored  # occlusion re-scores nothing on a rerun

    app = page("views/5_Predict.py", ws)
    app.text_area(key="predict_texts").set_value("It will snow tomorrow.\nThe orchestra played.")
    next(b for b in app.button if b.label == "Classify").click().run()
    assert not app.exception and calls["word_importance"] == scored + 1
    app.selectbox(key="predict_look_text").set_value("The orchestra played.").run()
    app.selectbox(key="predict_look_text").set_value("It will snow tomorrow.").run()
    assert not app.exception and calls["word_importance"] == scored + 2  # the first text was not scored again
    assert calls["csv_text"] == 0


def test_predict_images_are_classified_drawn_and_explained_once(session_with_run, calls, monkeypatch):
    import tlcore.app.insights as insights
    from ..conftest import shape_records

    count_top = Counter()
    real_top = insights.ImagenetModel.top
    monkeypatch.setattr(insights.ImagenetModel, "top", lambda self, *a, **k: count_top.update(["top"]) or real_top(self, *a, **k))
    files = [(r.name.split("/")[-1], r.data, "image/png") for r in shape_records(per_class=2, seed=5)]
    app = page("views/5_Predict.py", session_with_run)
    app.file_uploader(key="predict_files").set_value(files).run()
    assert not app.exception
    table = app.dataframe[0].value
    assert len(table) == 4 and table["image"].str.startswith("data:image/jpeg;base64,").all()
    assert images(app) == 3  # the image as the model sees it, its heat map, the colour bar
    assert calls["grad_cam"] == 1 and count_top["top"] == 1 and calls["load_pixels"] == 1
    box = app.selectbox(key="predict_look_image")
    box.set_value(box.options[1]).run()
    box.set_value(box.options[0]).run()  # back to the first image: nothing computed again
    app.run()
    assert not app.exception
    assert calls["grad_cam"] == 2 and count_top["top"] == 2 and calls["load_pixels"] == 2
    assert calls["csv_text"] == 0


def test_evaluate_exports_the_run_for_plain_python_after_checking_it(session_with_run, trained):
    app = page("views/4_Evaluate.py", session_with_run)
    button = next(b for b in app.button if b.label == "Export for Python (ONNX)")
    button.click().run(timeout=300)
    assert not app.exception
    assert any(s.value.startswith(f"Checked on {len(trained.y_val)} validation images") for s in app.success)
    assert any("python predict.py" in c.value for c in app.code)
    assert not [b for b in app.button if b.label == "Export for Python (ONNX)"]  # made once, then offered


def test_predict_names_an_unreadable_file_instead_of_a_row_of_empty_cells(session_with_run):
    from ..conftest import shape_records

    files = [(r.name.split("/")[-1], r.data, "image/png") for r in shape_records(per_class=1, seed=6)]
    app = page("views/5_Predict.py", session_with_run)
    app.file_uploader(key="predict_files").set_value([*files, ("notes.jpg", b"my notes", "image/jpeg")]).run()
    assert not app.exception
    assert any(w.value.startswith("1 of 3 files could not be read") and "notes.jpg: not an image" in w.value
               for w in app.warning)
    table = app.dataframe[0].value
    assert len(table) == 2 and "problem" not in table.columns and table["predicted"].notna().all()
