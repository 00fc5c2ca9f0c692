"""A project file (data, settings, runs) written and read back: the same records, settings and answers;
and every kind of bad or tampered project refused with a sentence, nothing written outside the cache."""
import io
import json
import os
import zipfile

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_zip, shape_records, val_files
from tlcore import TrainConfig, build_dataset
from tlcore.data import Table, build_text_dataset
from tlcore.runs.files import load_classifier, load_run, save_run
from tlcore.runs.project import Project, ProjectError, project_bytes, read_project


@pytest.fixture(scope="module")
def image_project(trained, shapes_dataset, tmp_path_factory) -> Project:
    folder = save_run(trained, tmp_path_factory.mktemp("saved") / "shapes")
    validation = build_dataset(shape_records(per_class=3, seed=1))
    return Project("image", "shapes.zip", shapes_dataset, validation, trained.config, {str(folder): "Last run"})


@pytest.fixture(scope="module")
def text_project(trained_text, text_dataset, tmp_path_factory) -> Project:
    folder = save_run(trained_text, tmp_path_factory.mktemp("saved") / "weather-music")
    config = TrainConfig(backbone="all-MiniLM-L6-v2", learning_rate=1e-2, epochs=7, seed=3, head="logistic_regression")
    return Project("text", "weather_music.csv", text_dataset, None, config, {str(folder): "weather-music"})


@pytest.fixture(scope="module")
def project_file(text_project) -> bytes:
    return project_bytes(text_project)


def records(dataset) -> list[tuple]:
    return [(e.name, e.label, e.data) if hasattr(e, "data") else (e.label, e.text) for e in dataset.examples]


def test_an_image_project_comes_back_whole(image_project, trained, shapes_dataset):
    opened = read_project(project_bytes(image_project), "shapes.tlproject")
    assert opened.task == "image" and opened.data_label == "shapes.zip"
    assert records(opened.dataset) == records(image_project.dataset)
    assert records(opened.val_dataset) == records(image_project.val_dataset)
    assert opened.dataset.report.class_counts == image_project.dataset.report.class_counts
    assert opened.config == image_project.config
    [(folder, name)] = opened.runs.items()
    assert name == "Last run" and load_run(folder).classes == ["circle", "stripes"]
    proba = load_classifier(folder).predict_proba(val_files(trained, shapes_dataset))
    np.testing.assert_allclose(proba, trained.val_proba, atol=1e-4)


def test_a_text_project_comes_back_whole(text_project, project_file, trained_text):
    opened = read_project(project_file, "weather.tlproject")
    assert opened.task == "text" and opened.val_dataset is None
    assert records(opened.dataset) == records(text_project.dataset)
    assert opened.config == text_project.config
    [(folder, name)] = opened.runs.items()
    assert name == "weather-music"
    proba = load_classifier(folder).predict_proba(trained_text.val_texts)
    np.testing.assert_allclose(proba, trained_text.val_proba, atol=1e-4)
    assert read_project(project_file, "again.tlproject").runs == opened.runs  # the same run is unpacked once


def test_texts_come_back_exactly_as_typed():
    texts = ["=HYPERLINK(\"x\")", "- a list item", "tab\tinside", "line one\nline two", "\"quoted\"; semi", "NA"]
    table = Table(pd.DataFrame({"text": texts + ["plain"], "label": ["a"] * 4 + ["b"] * 3}), "typed")
    dataset = build_text_dataset(table, "text", "label")
    project = Project("text", "typed", dataset, dataset, TrainConfig(backbone="tfidf"), {})
    opened = read_project(project_bytes(project), "typed.tlproject")
    assert records(opened.dataset) == records(dataset) and records(opened.val_dataset) == records(dataset)


def test_an_uploaded_word_vectors_path_is_not_kept(text_project):
    project = Project("text", "x", text_project.dataset, None,
                      TrainConfig(backbone="word-vectors", word_vectors_file="/somewhere/vectors.txt"), {})
    assert read_project(project_bytes(project), "x.tlproject").config.word_vectors_file is None


def entries(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def manifest_change(change):
    def edit(files):
        manifest = json.loads(files["project.json"])
        change(manifest)
        files["project.json"] = json.dumps(manifest).encode()
    return edit


def run_entry(files) -> str:
    return next(name for name in files if name.startswith("runs/"))


def change_run(change):
    def edit(files):
        inner = entries(files[run_entry(files)])
        change(inner)
        files[run_entry(files)] = make_zip(inner)
    return edit


def rename_classes(inner):
    config = next(name for name in inner if name.endswith("/config.json"))
    inner[config] = inner[config].replace(b'"classes"', b'"glasses"')


BAD = {
    "path escape": (lambda f: f.update({"../../evil.json": b"{}"}), "points outside the project"),
    "absolute path": (lambda f: f.update({"/tmp/evil.json": b"{}"}), "points outside the project"),
    "link": (lambda f: [run_entry(f)], "is a link"),
    "pickle": (lambda f: f.update({"runs/model.pkl": b"\x80\x04."}), "not a kind of file a project holds"),
    "script": (lambda f: f.update({"data/train/run.py": b"print()"}), "not a kind of file a project holds"),
    "no project.json": (lambda f: f.pop("project.json"), "holds no project.json"),
    "not json": (lambda f: f.update({"project.json": b"\x80\x04 not json"}), "not valid JSON"),
    "newer format": (manifest_change(lambda m: m.update(format="tlcore-project/2")),
                     "saved by a newer version of the app.*Update the app"),
    "foreign json": (manifest_change(lambda m: m.update(format="something-else")), "not written by this app"),
    "bad settings": (manifest_change(lambda m: m["config"].update(epochs="many")), "settings are damaged"),
    "unknown backbone": (manifest_change(lambda m: m["config"].update(backbone="gpt-9")), "backbone 'gpt-9'"),
    "bad examples": (manifest_change(lambda m: m.update(train=[{"text": 3}])), "project.json is damaged"),
    "damaged run": (change_run(rename_classes), "the run 'weather-music' in it is damaged"),
    "pickle in a run": (change_run(lambda inner: inner.update({"weather-music/model.pkl": b"\x80\x04."})),
                        "the run 'weather-music' in it is damaged"),
    "damaged validation data": (change_run(lambda inner: inner.update({"weather-music/validation.json": b"[]"})),
                                "the run 'weather-music' in it is damaged"),
    "run not a zip": (lambda f: f.update({run_entry(f): os.urandom(500)}), "the run 'weather-music' in it is damaged"),
    "missing run": (lambda f: f.pop(run_entry(f)), "the run 'weather-music' is missing"),
}


@pytest.mark.parametrize("kind", BAD)
def test_a_tampered_project_is_refused_with_a_sentence(project_file, tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    change, says = BAD[kind]
    files = entries(project_file)
    links = change(files)  # a list names the entries to store as links
    with pytest.raises(ProjectError, match=says) as caught:
        read_project(make_zip(files, links if isinstance(links, list) else ()), "lesson.tlproject")
    assert caught.value.user_message.startswith("'lesson.tlproject' cannot be opened as a project: ")
    assert not any(tmp_path.iterdir()) and not (tmp_path.parent / "evil.json").exists()  # nothing written


def test_an_image_that_is_not_one_is_refused(image_project):
    files = entries(project_bytes(image_project))
    files["data/train/00003.png"] = b"\x80\x04 a pickle named like a picture"
    with pytest.raises(ProjectError, match="the image 'circle/circle_3.png' in it is not one the app can read"):
        read_project(make_zip(files), "shapes.tlproject")


def test_bytes_that_are_not_a_zip_are_refused():
    with pytest.raises(ProjectError, match="not a project file \\(not a zip\\), or it is damaged"):
        read_project(os.urandom(3000), "junk.tlproject")
    with pytest.raises(ProjectError, match="holds no project.json.*Data page"):
        read_project(make_zip({"cats/1.jpg": b"x", "dogs/1.jpg": b"y"}), "photos.tlproject")


def test_a_project_over_the_limits_is_refused(project_file, monkeypatch):
    monkeypatch.setenv("TLCORE_MAX_TOTAL_MB", "1")
    with pytest.raises(ProjectError, match="larger than 1 MB \\(the limit is 1 MB \\(setting max_total_mb"):
        read_project(project_file, "big.tlproject")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.json", b" " * (2 * 1024**2))  # a few kilobytes that unpack to 2 MB
    bomb = buffer.getvalue()
    with pytest.raises(ProjectError, match="unpacks to more than 1 MB"):
        read_project(bomb, "bomb.tlproject")
    monkeypatch.setenv("TLCORE_MAX_TOTAL_MB", "1024")
    monkeypatch.setenv("TLCORE_MAX_IMAGES", "10")
    many = make_zip({"project.json": b"{}", **{f"data/train/{i:05d}.png": b"x" for i in range(200)}})
    with pytest.raises(ProjectError, match="holds 201 files, more than a project of 10 images"):
        read_project(many, "many.tlproject")
