"""An exported model answers like the app: predict.py runs with only onnxruntime, numpy and Pillow or
tokenizers (torch and tlcore blocked), and its probabilities equal the app's full-precision ones on the
validation inputs; the model card says what a reader needs; what cannot be exported is refused."""
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tests.conftest import val_files
from tlcore import TrainConfig, train
from tlcore.cli import main
from tlcore.core.errors import ExportError, RunLoadError, RunPathError
from tlcore.runs.archive import zip_run
from tlcore.runs.export import export_onnx, export_zip
from tlcore.runs.files import load_classifier, load_run, save_run

BLOCKED = ("torch", "tlcore", "transformers", "sentence_transformers", "sklearn", "pandas", "safetensors")
RUN_WITHOUT_TORCH = f"""
import runpy, sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError(name + " is blocked: predict.py must not need it")
sys.meta_path.insert(0, Blocked())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_predict(folder, *args) -> subprocess.CompletedProcess:
    """predict.py from the export folder, in a process where torch and tlcore cannot be imported."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", RUN_WITHOUT_TORCH, str(folder / "predict.py"), *map(str, args)],
                          cwd=folder.parent, env=env, capture_output=True, text=True, timeout=300)


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(autouse=True)
def full_precision(monkeypatch):
    """The app's answers in float32, as the export is compared with (mixed precision: see the card)."""
    monkeypatch.setenv("TLCORE_MIXED_PRECISION", "0")


@pytest.fixture(scope="module")
def image_runs(trained, shapes_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("image-runs")
    fine_tuned = train(shapes_dataset, TrainConfig(trainable_blocks=1, epochs=3, val_fraction=0.25, device="cpu"))
    logistic = train(shapes_dataset, TrainConfig(head="logistic_regression", val_fraction=0.25, device="cpu"))
    early = train(shapes_dataset, TrainConfig(feature_block=3, trainable_blocks=1, epochs=3, val_fraction=0.25,
                                              device="cpu"))
    return {name: (run, save_run(run, folder / name)) for name, run in
            (("frozen", trained), ("one-block", fine_tuned), ("logistic", logistic), ("feature-block", early))}


@pytest.fixture(scope="module")
def text_runs(trained_text, text_dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("text-runs")
    forest = train(text_dataset, TrainConfig(backbone="all-MiniLM-L6-v2", head="random_forest", val_fraction=0.25,
                                             device="cpu"))
    return {name: (run, save_run(run, folder / name)) for name, run in (("minilm", trained_text), ("forest", forest))}


@pytest.fixture(scope="module")
def exports(image_runs, text_runs, tmp_path_factory):
    """Each run exported once (on first use), shared by the tests that only read the export."""
    runs, made = {**image_runs, **text_runs}, {}

    def export(name):
        if name not in made:
            made[name] = export_onnx(runs[name][1], tmp_path_factory.mktemp("exports") / name)
        return made[name]

    return export


@pytest.mark.parametrize("name", ["frozen", "one-block", "logistic", "feature-block"])
def test_an_exported_image_model_answers_like_the_app_without_torch(image_runs, exports, shapes_dataset, tmp_path,
                                                                    name):
    run, saved = image_runs[name]
    export = exports(name)
    assert {p.name for p in export.iterdir()} == {"model.onnx", "predict.py", "requirements.txt", "labels.json",
                                                 "MODEL_CARD.md", "run"}
    assert (export / "requirements.txt").read_text().split() == ["onnxruntime>=1.17", "numpy>=1.26", "pillow>=10.3"]
    photos = tmp_path / "photos"
    photos.mkdir()
    files = val_files(run, shapes_dataset)
    for file_name, data in files:
        (photos / file_name.replace("/", "_")).write_bytes(data)
    (photos / "notes.png").write_bytes(b"not an image")
    done = run_predict(export, photos, "--out", tmp_path / "predictions.csv")
    assert done.returncode == 0, done.stderr
    rows = {os.path.basename(r["file"]): r for r in read_csv(tmp_path / "predictions.csv")}
    app = load_classifier(saved).predict_table([(f.replace("/", "_"), d) for f, d in files])
    assert list(read_csv(tmp_path / "predictions.csv")[0]) == [*app.columns, "problem"]
    for _, expected in app.iterrows():
        got = rows[expected["file"]]
        assert got["predicted"] == expected["predicted"]
        for c in run.classes:
            assert float(got[f"p_{c}"]) == pytest.approx(expected[f"p_{c}"], abs=1e-4)
    assert "not an image we can read" in rows["notes.png"]["problem"]


@pytest.mark.parametrize("name", ["minilm", "forest"])
def test_an_exported_text_model_answers_like_the_app_without_torch(text_runs, exports, tmp_path, name):
    run, saved = text_runs[name]
    export = exports(name)
    assert (export / "tokenizer.json").is_file()
    assert "tokenizers>=0.15" in (export / "requirements.txt").read_text()
    table = tmp_path / "texts.csv"
    with open(table, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "Text"], *[[i, t] for i, t in enumerate(run.val_texts)]])
    typed = "=It will snow in the hills tomorrow"  # a formula-looking text is escaped, as in the app's CSV
    done = run_predict(export, table, typed, "--out", tmp_path / "predictions.csv")
    assert done.returncode == 0, done.stderr
    rows = read_csv(tmp_path / "predictions.csv")
    app = load_classifier(saved).predict_table([*run.val_texts, typed])
    assert list(rows[0]) == list(app.columns)
    assert [r["text"] for r in rows] == [*run.val_texts, "'" + typed]
    missing = run_predict(export, tmp_path / "nosuch.csv", "--out", tmp_path / "p.csv")
    assert missing.returncode != 0 and "nosuch.csv' does not exist" in missing.stderr  # a typo, not a text
    for got, (_, expected) in zip(rows, app.iterrows()):
        assert got["predicted"] == expected["predicted"]
        for c in run.classes:
            assert float(got[f"p_{c}"]) == pytest.approx(expected[f"p_{c}"], abs=1e-4)


def test_labels_and_the_model_card_say_what_a_reader_needs(image_runs, exports):
    run, _ = image_runs["frozen"]
    export = exports("frozen")
    labels = json.loads((export / "labels.json").read_text())
    assert labels["classes"] == run.classes and labels["task"] == "image"
    assert labels["preprocessing"] == run.classifier.preprocessing.to_dict()
    assert labels["verified"]["max_difference"] <= 1e-4 and labels["verified"]["examples"] == len(run.y_val)
    assert labels["verified"]["top_class_agreement"] >= 0.99
    card = (export / "MODEL_CARD.md").read_text()
    for needed in [*(f"| {c} | {n} |" for c, n in zip(run.classes, run.facts.train_counts)),
                   "efficientnet_lite0", "0 trainable block", f"AUC: {run.report.auc:.3f} (95 % interval",
                   "Baseline (always answering", f"Seed: {run.config.seed}", "torch ", "## Intended use", "## Limits",
                   "resized so the shorter side is 224 pixels", *run.warnings()]:
        assert needed in card, needed
    assert labels["feature_block"] is None


def test_a_cut_backbone_says_so_in_the_export(exports):
    export = exports("feature-block")
    assert json.loads((export / "labels.json").read_text())["feature_block"] == 3
    assert "cut after block 3" in (export / "MODEL_CARD.md").read_text()


def test_an_export_zip_opens_as_its_run_in_the_app(image_runs, exports, tmp_path):
    run, saved = image_runs["frozen"]
    export = exports("frozen")
    archive = tmp_path / "my-model.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in export.rglob("*"):
            zipped.write(path, f"my-model/{path.relative_to(export).as_posix()}")
    expected = load_classifier(saved).proba(run.pixels)
    np.testing.assert_allclose(load_classifier(archive).proba(run.pixels), expected, atol=1e-6)


def test_a_run_exported_as_a_zip_predicts_from_the_command_line(text_runs, tmp_path):
    run, saved = text_runs["minilm"]
    assert main(["export", str(saved), "--format", "zip", "--out", str(tmp_path / "run.zip")]) == 0
    assert zipfile.ZipFile(tmp_path / "run.zip").read("minilm/config.json") == (saved / "config.json").read_bytes()
    assert main(["predict", str(tmp_path / "run.zip"), "It will rain.", "--out", str(tmp_path / "p.csv")]) == 0
    assert read_csv(tmp_path / "p.csv")[0]["predicted"] in run.classes


def test_a_featuriser_run_is_refused_with_a_sentence_and_nothing_is_written(tmp_path, text_dataset, capsys):
    tfidf = save_run(train(text_dataset, TrainConfig(backbone="tfidf", val_fraction=0.25, device="cpu")),
                     tmp_path / "tfidf")
    with pytest.raises(ExportError, match="tfidf runs cannot be exported to ONNX.*--format zip"):
        export_onnx(tfidf, tmp_path / "export")
    assert main(["export", str(tfidf), "--out", str(tmp_path / "export")]) == 2
    assert "cannot be exported to ONNX" in capsys.readouterr().err
    assert not (tmp_path / "export").exists() and [p.name for p in tmp_path.iterdir()] == ["tfidf"]


def test_an_export_never_writes_over_other_files_or_into_a_run(image_runs, tmp_path):
    _, saved = image_runs["frozen"]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "letter.txt").write_text("Dear parents,")
    with pytest.raises(RunPathError, match="already holds files"):
        export_onnx(saved, tmp_path / "docs")
    with pytest.raises(RunPathError, match="inside one"):
        export_onnx(saved, saved / "export")
    (tmp_path / "docs" / "marks.zip").write_text("Not really a zip")
    with pytest.raises(RunPathError, match="not a zip"):
        export_zip(saved, tmp_path / "docs" / "marks.zip")
    with pytest.raises(RunPathError, match="not a .zip file name"):
        export_zip(saved, tmp_path / "docs" / "letter.txt")
    assert (tmp_path / "docs" / "letter.txt").read_text() == "Dear parents,"
    assert (tmp_path / "docs" / "marks.zip").read_text() == "Not really a zip"
    assert zip_run(saved)  # the run is untouched and still whole


def test_an_earlier_export_is_replaced(image_runs, exports, tmp_path):
    _, saved = image_runs["logistic"]
    shutil.copytree(exports("logistic"), tmp_path / "export")
    (tmp_path / "export" / "labels.json").write_text(
        json.dumps({**json.loads((tmp_path / "export" / "labels.json").read_text()), "run": "old"}))
    export_onnx(saved, tmp_path / "export")
    assert json.loads((tmp_path / "export" / "labels.json").read_text())["run"] == "logistic"


def test_an_unzipped_export_or_a_missing_folder_is_named_as_such(exports, tmp_path):
    export = exports("frozen")
    with pytest.raises(RunLoadError, match="is an export: its run is the folder"):
        load_classifier(export)
    with pytest.raises(RunLoadError, match="does not exist"):
        load_run(tmp_path / "nosuch")
    assert load_classifier(export / "run").classes  # the run inside it
