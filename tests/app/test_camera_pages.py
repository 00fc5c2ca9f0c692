"""Webcam shots through Streamlit's AppTest: taken per class on the Data page (kept once, removable,
combined with uploads, kept across a page switch), and a webcam photo classified on the Predict page."""
import numpy as np
import pytest

from tlcore.app import KEY, Workspace

from ..conftest import encode, shape_image
from .test_insight_pages import images, session_with_run  # noqa: F401 (a fixture)
from .test_pages import page


def photo(kind: str, seed: int) -> tuple[str, bytes, str]:
    """A webcam photo as the browser sends it: a JPEG named image.jpg."""
    return "image.jpg", encode(shape_image(kind, np.random.default_rng(seed)), "JPEG"), "image/jpeg"


def button(app, label: str, row: int | None = None):
    found = [b for b in app.button if b.label == label and (row is None or b.key.startswith(f"data_camera_{row}_"))]
    assert found, f"no {label!r} button"
    return found[0]


def shot_names(app, row: int) -> list[str]:
    return [shot.name for shot in app.session_state[KEY].camera.of(row)]


@pytest.fixture()
def data_page():
    """The Data page with the classes 'circle' and 'stripes' named and circle's webcam open."""
    app = page("views/1_Data.py", Workspace())
    app.text_input(key="data_class_name_0").set_value("circle")
    app.text_input(key="data_class_name_1").set_value("stripes")
    button(app, "Open the webcam", row=0).click().run()
    assert not app.exception and len(app.camera_input) == 1
    return app


def test_each_photo_is_kept_once_and_the_camera_is_ready_for_the_next(data_page):
    app = data_page
    app.camera_input[0].set_value(photo("circle", 1)).run()
    app.run()  # a rerun (any widget) keeps nothing twice
    assert shot_names(app, 0) == ["camera-001.jpg"]
    assert app.camera_input[0].value is None  # a fresh camera, live again for the next shot
    app.camera_input[0].set_value(photo("circle", 2)).run()
    assert shot_names(app, 0) == ["camera-001.jpg", "camera-002.jpg"]
    app.camera_input[0].set_value(photo("circle", 1)).run()  # the same picture again: left out, and said so
    assert shot_names(app, 0) == ["camera-001.jpg", "camera-002.jpg"]
    assert any("same as one already taken" in t.value for t in app.toast)
    assert images(app) == 2  # a thumbnail per shot
    assert not app.exception


def test_a_removed_shot_is_gone_and_only_the_open_class_gets_shots(data_page):
    app = data_page
    for seed in (1, 2, 3):
        app.camera_input[0].set_value(photo("circle", seed)).run()
    button(app, "Remove", row=0).click().run()  # the first shot
    assert shot_names(app, 0) == ["camera-002.jpg", "camera-003.jpg"]
    button(app, "Open the webcam", row=1).click().run()  # the other class's camera; circle's closes
    assert len(app.camera_input) == 1 and app.camera_input[0].key.startswith("data_camera_1_")
    app.camera_input[0].set_value(photo("stripes", 4)).run()
    assert shot_names(app, 0) == ["camera-002.jpg", "camera-003.jpg"] and shot_names(app, 1) == ["camera-004.jpg"]
    assert not app.exception


def test_shots_and_uploads_of_a_class_make_one_dataset(data_page):
    from ..conftest import shape_records

    app = data_page
    for seed in (1, 2):
        app.camera_input[0].set_value(photo("circle", seed)).run()
    uploads = [(r.name.split("/")[-1], r.data, "image/png") for r in shape_records(per_class=3)]
    app.file_uploader(key="data_class_files_0").set_value(uploads[:1]).run()  # one circle uploaded as well
    app.file_uploader(key="data_class_files_1").set_value(uploads[3:]).run()
    button(app, "Use these images").click().run()
    assert not app.exception
    dataset = app.session_state[KEY].dataset
    assert dataset.report.class_counts == {"circle": 3, "stripes": 3}
    assert {e.name for e in dataset.examples if e.label == "circle"} == {
        "circle/circle_0.png", "circle/camera-001.jpg", "circle/camera-002.jpg"}
    assert [m.value for m in app.metric][:2] == ["6", "2"]


def test_class_names_and_shots_survive_a_page_switch(data_page):
    app = data_page
    app.camera_input[0].set_value(photo("circle", 1)).run()
    app.switch_page("views/2_Model.py").run()
    app.switch_page("views/1_Data.py").run()
    assert not app.exception
    assert app.text_input(key="data_class_name_0").value == "circle"
    assert app.text_input(key="data_class_name_1").value == "stripes"
    assert shot_names(app, 0) == ["camera-001.jpg"] and images(app) == 1


def test_a_webcam_photo_is_classified_and_explained(session_with_run):  # noqa: F811 (the fixture)
    app = page("views/5_Predict.py", session_with_run)
    app.radio(key="predict_source").set_value("A webcam photo").run()
    assert not [u for u in app.file_uploader if u.key == "predict_files"]  # the webcam instead of the upload
    app.camera_input(key="predict_camera").set_value(photo("circle", 7)).run()
    assert not app.exception
    table = app.dataframe[0].value
    assert table["file"].tolist() == ["webcam photo.jpg"] and table["predicted"].tolist() == ["circle"]
    assert table["p_circle"][0] > table["p_stripes"][0]
    assert any(m.value == "The model says: **circle**" for m in app.markdown)  # beside the photo, with a bar per class
    assert [bar.proto.text.split(":")[0] for bar in app.get("progress")] == ["circle", "stripes"]
    assert images(app) == 3  # the photo as the model sees it, its heat map, the colour bar
