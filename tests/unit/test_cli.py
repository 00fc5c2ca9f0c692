import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import make_zip, shape_records
from tlcore.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for record in shape_records(8):
        path = root / "shapes" / record.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(record.data)
    (root / "shapes" / "circle" / "readme.txt").write_text("not an image")
    return root / "shapes"


def test_backbones_lists_registry(capsys):
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "resnet50" in out and "yes" in out


def test_train_then_predict(data_folder, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(data_folder), "--task", "image", "--out", str(run), "--epochs", "10",
                 "--device", "cpu", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "circle: 8" in out and "readme.txt" in out and "AUC" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"auc", "accuracy", "classes", "confusion_matrix", "n_train", "n_val", "device", "timings_s"} <= set(metrics)
    assert metrics["classes"] == ["circle", "stripes"] and metrics["n_train"] + metrics["n_val"] == 16
    assert metrics["auc"] > 0.9 and "total" in metrics["timings_s"]
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["n_val"]

    out_csv = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(data_folder / "circle"), "--out", str(out_csv)]) == 0
    table = pd.read_csv(out_csv)
    assert list(table.columns[:3]) == ["file", "predicted", "confidence"]
    assert {"p_circle", "p_stripes"} <= set(table.columns) and len(table) == 8
    assert (table["predicted"] == "circle").mean() > 0.7


def test_zip_input_and_explicit_validation(tmp_path, capsys):
    train_zip = tmp_path / "train.zip"
    train_zip.write_bytes(make_zip({r.name: r.data for r in shape_records(5, seed=4)}))
    val_dir = tmp_path / "val"
    for r in shape_records(2, seed=5):
        (val_dir / r.label).mkdir(parents=True, exist_ok=True)
        (val_dir / r.name).write_bytes(r.data)
    assert main(["train", str(train_zip), "--out", str(tmp_path / "run"), "--val-data", str(val_dir),
                 "--epochs", "3", "--device", "cpu"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_train"] == 10 and metrics["n_val"] == 4


@pytest.mark.parametrize("args, expected", [
    (["train", "missing-folder", "--out", "x"], "does not exist"),
    (["train", "{bad_zip}", "--out", "x"], "not a valid .zip"),
    (["train", "{one_class}", "--out", "x"], "Found 1 class"),
    (["predict", "{tmp}", "a.png", "--out", "x.csv"], "not a saved run"),
    (["train", "{one_class}", "--out", "x", "--lr", "5"], "Learning rate"),
])
def test_bad_input_exits_nonzero_with_one_line(tmp_path, args, expected):
    (tmp_path / "bad.zip").write_bytes(b"not a zip at all")
    (tmp_path / "one").mkdir()
    for i in range(3):
        (tmp_path / "one" / "cats").mkdir(exist_ok=True)
        (tmp_path / "one" / "cats" / f"{i}.png").write_bytes(shape_records(1)[0].data)
    args = [a.format(bad_zip=tmp_path / "bad.zip", one_class=tmp_path / "one", tmp=tmp_path) for a in args]
    proc = subprocess.run([sys.executable, "-m", "tlcore", *args], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_text_train_then_predict(tmp_path, capsys):
    from tests.conftest import weather_music_frame

    frame = weather_music_frame(12).rename(columns={"text": "Sentence", "label": "Topic"})
    frame.insert(0, "id", range(len(frame)))
    data = tmp_path / "texts.csv"
    frame.to_csv(data, index=False)
    run = tmp_path / "run"
    assert main(["train", str(data), "--task", "text", "--out", str(run), "--text-column", "Sentence",
                 "--label-column", "Topic", "--trainable-blocks", "1", "--epochs", "4", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "24 texts in 2 classes" in out and "validation texts" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classes"] == ["music", "weather"] and metrics["auc"] > 0.9
    assert metrics["n_train"] + metrics["n_val"] == 24 and metrics["truncated_texts"] == 0
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "text" and config["trainable_blocks"] == 1 and (run / "tokenizer").is_dir()

    new = tmp_path / "new.txt"
    new.write_text("It will rain all night.\nThe band played a song.\n")
    out_csv = tmp_path / "pred.csv"
    assert main(["predict", str(run), str(new), "Snow is expected in the hills.", "--out", str(out_csv)]) == 0
    table = pd.read_csv(out_csv)
    assert list(table.columns) == ["text", "predicted", "confidence", "p_music", "p_weather"]
    assert table["predicted"].tolist() == ["weather", "music", "weather"]
    assert main(["predict", str(run), str(tmp_path / "nosuch.csv"), "--out", str(out_csv)]) == 2  # a typo, not a text
    assert "'" + str(tmp_path / "nosuch.csv") + "' does not exist" in capsys.readouterr().err


def test_text_classic_backbone_and_head_from_the_command_line(tmp_path, capsys):
    from tests.conftest import weather_music_frame

    data = tmp_path / "texts.tsv"
    weather_music_frame(10).to_csv(data, index=False, sep="\t")
    assert main(["train", str(data), "--task", "text", "--backbone", "tfidf", "--head", "logistic_regression",
                 "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["head"] == "logistic_regression" and metrics["auc"] > 0.8


def test_text_missing_column_is_one_line(tmp_path):
    data = tmp_path / "texts.csv"
    data.write_text("text,label\nhello,a\n")
    proc = subprocess.run([sys.executable, "-m", "tlcore", "train", str(data), "--task", "text", "--out", "x",
                           "--label-column", "class"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2 and "no column 'class' (it has: text, label)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_second_process_reuses_the_first_ones_cache(data_folder, tmp_path, monkeypatch, capsys):
    from tlcore.engine.cache import default_cache

    monkeypatch.setenv("TLCORE_CACHE_DIR", str(tmp_path / "cache"))
    runs = []
    for lr in ("0.003", "0.001"):
        default_cache.cache_clear()  # what a new process starts with
        assert main(["train", str(data_folder), "--out", str(tmp_path / lr), "--lr", lr, "--epochs", "2",
                     "--device", "cpu"]) == 0
        runs.append(json.loads((tmp_path / lr / "metrics.json").read_text()))
    assert runs[0]["reused"] == [] and runs[1]["reused"] == ["frozen activations"]
    out = capsys.readouterr().out
    assert "Reused from earlier work on the same data (a run, a sweep or the guidance): frozen activations" in out
    assert "the frozen blocks of the backbone did not run at all" in out
    assert main(["cache"]) == 0 and str(tmp_path / "cache") in capsys.readouterr().out
    assert main(["cache", "--clear"]) == 0 and " 0 MB" in capsys.readouterr().out
    default_cache.cache_clear()
