"""A run zip opened where a run folder is: the same answers, unpacked once, and every kind of bad or
tampered zip refused with a sentence."""
import json
import os
import zipfile

import numpy as np
import pytest

from tests.conftest import make_zip
from tlcore.cli import main
from tlcore.core.errors import RunLoadError
from tlcore.runs.archive import unpack_run, zip_run
from tlcore.runs.files import load_classifier, load_run, save_run


@pytest.fixture(scope="module")
def run_zip(trained_text, tmp_path_factory):
    folder = save_run(trained_text, tmp_path_factory.mktemp("saved") / "weather-music")
    path = tmp_path_factory.mktemp("zips") / "weather-music.zip"
    path.write_bytes(zip_run(folder))
    return path


def entries(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes], path, links=()):
    path.write_bytes(make_zip(files, links))
    return path


def test_a_run_zip_predicts_and_loads_like_its_folder(trained_text, run_zip):
    proba = load_classifier(run_zip).predict_proba(trained_text.val_texts)
    np.testing.assert_allclose(proba, trained_text.val_proba, atol=1e-4)
    record = load_run(run_zip)
    assert record.label == "weather-music"
    np.testing.assert_allclose(record.val_proba, trained_text.val_proba)
    assert unpack_run(run_zip) == unpack_run(run_zip.read_bytes(), "weather-music.zip")  # unpacked once


def test_the_command_line_predicts_from_a_run_zip(run_zip, tmp_path):
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(run_zip), "It will rain heavily tonight.", "--out", str(out)]) == 0
    assert "weather" in out.read_text()


def test_a_run_inside_an_export_zip_is_found(trained_text, run_zip, tmp_path):
    files = {f"export/{name.replace('weather-music/', 'run/', 1)}": data for name, data in entries(run_zip).items()}
    files.update({"export/model.onnx": b"\x08\x07", "export/predict.py": b"print()", "export/MODEL_CARD.md": b"#"})
    proba = load_classifier(rezip(files, tmp_path / "export.zip")).predict_proba(trained_text.val_texts)
    np.testing.assert_allclose(proba, trained_text.val_proba, atol=1e-4)


def tampered(run_zip, tmp_path, change) -> bytes:
    files = entries(run_zip)
    links = change(files)  # a list names the entries to store as links
    return rezip(files, tmp_path / "tampered.zip", links if isinstance(links, list) else ())


BAD = {
    "escape": (lambda f: f.update({"weather-music/../../evil.json": b"{}"}), "points outside the run"),
    "absolute": (lambda f: f.update({"/etc/evil.json": b"{}"}), "points outside the run"),
    "pickle": (lambda f: f.update({"weather-music/model.pkl": b"\x80\x04."}), "not a kind of file a run holds"),
    "hidden": (lambda f: f.update({"weather-music/.secret.json": b"{}"}), "not a kind of file a run holds"),
    "link": (lambda f: ["weather-music/predictions.csv"], "a link"),
    "no config": (lambda f: f.pop("weather-music/config.json"), "holds no config.json"),
    "foreign config": (lambda f: f.update({"weather-music/config.json": json.dumps({"format": "other"}).encode()}),
                       "not saved by this app"),
    "damaged model": (lambda f: f.update({"weather-music/model.safetensors": b"\x00" * 64}), "damaged"),
}


@pytest.mark.parametrize("kind", BAD)
def test_a_tampered_run_zip_is_refused_with_a_sentence(run_zip, tmp_path, kind):
    change, says = BAD[kind]
    with pytest.raises(RunLoadError, match=says) as caught:
        load_classifier(tampered(run_zip, tmp_path, change))
    assert "tampered.zip" in caught.value.user_message and "Download the run again" in caught.value.user_message
    assert not (tmp_path / "evil.json").exists()


def test_bytes_that_are_not_a_zip_and_a_zip_of_class_folders_are_refused(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(os.urandom(2000))
    with pytest.raises(RunLoadError, match="not a valid zip"):
        load_classifier(junk)
    photos = rezip({"cats/1.jpg": b"x", "dogs/1.jpg": b"y"}, tmp_path / "photos.zip")
    with pytest.raises(RunLoadError, match="holds no config.json.*Data page"):
        load_run(photos)


def test_a_zip_over_the_limits_is_refused(run_zip, monkeypatch):
    monkeypatch.setenv("TLCORE_MAX_TOTAL_MB", "1")
    with pytest.raises(RunLoadError, match="unpacks to more than 1 MB|larger than 1 MB"):
        unpack_run(run_zip.read_bytes() + b"", "big.zip")
    monkeypatch.setenv("TLCORE_MAX_TOTAL_MB", "1024")
    monkeypatch.setenv("TLCORE_MAX_IMAGES", "1")
    files = {f"run/validation/{i:05d}.jpg": b"x" for i in range(200)}
    with pytest.raises(RunLoadError, match="holds 2.. files"):
        unpack_run(rezip({**files, "run/config.json": b"{}"}, run_zip.parent / "many.zip"))


def test_the_command_line_says_what_is_wrong_with_a_bad_run_zip(tmp_path, capsys):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert main(["predict", str(junk), "a text", "--out", str(tmp_path / "p.csv")]) == 2
    assert "'junk.zip' cannot be opened as a saved run" in capsys.readouterr().err
