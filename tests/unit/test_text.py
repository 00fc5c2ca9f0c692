"""Texts: reading tables, the validation report, training with the bundled backbone, classic
featurisers, scikit-learn heads, and saved text runs."""
import io

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import weather_music_frame
from tlcore import DataError, TrainConfig, create_backbone
from tlcore.data import (
    Table, build_text_dataset, guess_columns, read_table, table_from_pasted, text_sample, texts_from_upload,
)
from tlcore.engine.cache import TensorCache
from tlcore.runs.files import load_classifier, save_run
from tlcore import train


def csv_bytes(frame: pd.DataFrame, encoding: str = "utf-8", sep: str = ",") -> bytes:
    return frame.to_csv(index=False, sep=sep).encode(encoding)


# --- reading -----------------------------------------------------------------------------------------

def test_utf8_with_bom_reads_without_a_note():
    table = read_table("\ufefftext,label\nCafé au lait,drink\n".encode("utf-8"), "a.csv")
    assert list(table.frame.columns) == ["text", "label"]
    assert table.frame.loc[0, "text"] == "Café au lait" and table.encoding_note is None


def test_cp1252_falls_back_and_names_the_encoding():
    table = read_table("text,label\nCafé “crème”,drink\n".encode("cp1252"), "excel.csv")
    assert table.frame.loc[0, "text"] == "Café “crème”"
    assert "Windows-1252" in table.encoding_note and "UTF-8" in table.encoding_note


def test_semicolon_csv_from_excel_and_tsv():
    frame = pd.DataFrame({"text": ["a, b and c", "d"], "label": ["x", "y"]})
    assert read_table(csv_bytes(frame, sep=";"), "excel.csv").frame.equals(frame)
    assert read_table(csv_bytes(frame, sep="\t"), "data.tsv").frame.equals(frame)


def test_xlsx_round_trip():
    frame = pd.DataFrame({"Sentence": ["one", "two"], "Category": [1, 2]})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    table = read_table(buffer.getvalue(), "book.xlsx")
    assert table.frame["Category"].tolist() == ["1", "2"]  # numbers become class names
    assert guess_columns(table.frame) == ("Sentence", "Category")


@pytest.mark.parametrize("data, name, expected", [
    (b"", "empty.csv", "is empty"),
    (b"x", "old.xls", "Save it as .xlsx or CSV"),
    (b"x", "photo.jpg", "Upload a .csv"),
    (b"\x00\x01garbage", "book.xlsx", "could not be read as a table"),
])
def test_unreadable_files_say_what_to_do(data, name, expected):
    with pytest.raises(DataError, match=expected):
        read_table(data, name)


def test_columns_are_guessed_by_name_and_the_label_never_by_content():
    assert guess_columns(pd.DataFrame({"id": ["1"], "Text": ["t"], "LABEL": ["l"]})) == ("Text", "LABEL")
    frame = pd.DataFrame({"a": ["pos", "neg", "pos"], "b": ["a long review here", "another long one", "x y z w"]})
    assert guess_columns(frame) == ("b", None)  # the longest words are the texts; the labels are asked for


# --- the validation report ---------------------------------------------------------------------------

def table(rows, columns=("text", "label")) -> Table:
    return Table(pd.DataFrame(rows, columns=list(columns)), "data.csv")


def test_empty_texts_and_labels_are_dropped_and_counted():
    dataset = build_text_dataset(table([("a", "x"), ("", "x"), ("b", ""), ("  ", "y"), ("c", "y"), ("d", "x"),
                                        ("e", "y")]), "text", "label")
    assert len(dataset) == 4 and dataset.classes == ["x", "y"]
    assert dataset.report.dropped == {"empty text": 2, "empty label": 1}
    assert dataset.examples[0].name == "row 2"  # as a spreadsheet numbers it, under the header
    assert dataset.report.problems() == []


def test_missing_column_names_the_columns_there_are():
    with pytest.raises(DataError, match=r"no column 'sentence' \(it has: text, label\)"):
        build_text_dataset(table([("a", "x")]), "sentence", "label")


def test_no_usable_rows_stops_with_a_sentence():
    with pytest.raises(DataError, match="no row with both a text"):
        build_text_dataset(table([("", "x"), ("a", "")]), "text", "label")
    with pytest.raises(DataError, match="no row"):  # a CSV with only its header
        build_text_dataset(read_table(b"text,label\n", "header.csv"), "text", "label")


def test_one_class_and_one_example_classes_block_training():
    single = build_text_dataset(table([("a", "x"), ("b", "x")]), "text", "label")
    assert "Found 1 class (x)" in single.report.problems()[0] and "another label" in single.report.problems()[0]
    lonely = build_text_dataset(table([("a", "x"), ("b", "x"), ("c", "y")]), "text", "label")
    assert lonely.report.problems() == ["Class 'y' has 1 text; each class needs at least 2. Add more texts to it."]
    with pytest.raises(DataError, match="Class 'y' has 1 text"):
        train(lonely, TrainConfig(backbone="tfidf"))


def test_typed_examples_become_a_table():
    dataset = build_text_dataset(table_from_pasted({"cats": "meow\n\npurr\n", "dogs": "woof\nbark", "": "lost"}),
                                 "text", "label")
    assert dataset.report.class_counts == {"cats": 2, "dogs": 2}


def test_texts_to_predict_from_a_txt_or_a_table():
    assert texts_from_upload(b"first line\n\nsecond line\n", "new.txt") == ["first line", "second line"]
    assert texts_from_upload(b"id,review\n1,great\n2,bad\n", "new.csv") == ["great", "bad"]


def test_shipped_sample_has_three_balanced_classes():
    sample = text_sample()
    assert sample["label"].value_counts().to_dict() == {"animals": 30, "space": 30, "cooking": 30}
    assert sample["text"].is_unique


# --- training ----------------------------------------------------------------------------------------

def test_frozen_bundled_backbone_separates_topics(trained_text):
    assert trained_text.report.auc > 0.95
    assert trained_text.task == "text"
    assert trained_text.facts.truncated_texts == 0 and trained_text.facts.max_tokens == 256
    frame = trained_text.predictions()
    assert list(frame.columns[:4]) == ["row", "text", "true", "predicted"]
    assert [c for c in frame.columns if c.startswith("p_")] == ["p_music", "p_weather"]


def test_fine_tuning_the_top_layer_changes_only_the_top_layer(text_dataset):
    pretrained = create_backbone("all-MiniLM-L6-v2").state_dict()
    config = TrainConfig(backbone="all-MiniLM-L6-v2", trainable_blocks=1, epochs=2, early_stopping_patience=0,
                         learning_rate=1e-2, device="cpu")
    result = train(text_dataset, config, cache=TensorCache(None))
    after = result.classifier.model.backbone.state_dict()
    top = "blocks.6."  # "layer 6", the last transformer layer
    changed = [k for k in pretrained if not torch.equal(pretrained[k], after[k])]
    assert changed and all(k.startswith(top) for k in changed)
    assert result.report.auc > 0.9


def test_long_texts_are_truncated_and_counted():
    frame = weather_music_frame(6)
    frame.loc[0, "text"] = "rain " * 2000  # far beyond 256 tokens
    dataset = build_text_dataset(Table(frame, "long.csv"), "text", "label")
    result = train(dataset, TrainConfig(backbone="all-MiniLM-L6-v2", epochs=1, device="cpu"),
                                   cache=TensorCache(None))
    assert result.facts.truncated_texts == 1


def test_second_run_reuses_cached_embeddings(text_dataset, tmp_path):
    config = TrainConfig(backbone="all-MiniLM-L6-v2", epochs=1, device="cpu")
    assert train(text_dataset, config, cache=TensorCache(tmp_path)).facts.reuse.reused == []
    again = train(text_dataset, TrainConfig(backbone="all-MiniLM-L6-v2", epochs=3, learning_rate=1e-3,
                                                            head="mlp", device="cpu"), cache=TensorCache(tmp_path))
    assert again.facts.reuse.reused == ["frozen activations", "token ids"]


@pytest.mark.parametrize("backbone", ["tfidf", "word-vectors"])
def test_classic_featurisers_learn_the_topics(text_dataset, backbone):
    result = train(text_dataset, TrainConfig(backbone=backbone, learning_rate=1e-2, device="cpu"))
    assert result.report.auc > 0.9


def test_glove_file_feeds_word_vectors(tmp_path):
    rng = np.random.default_rng(0)
    frame = weather_music_frame(10)
    words = sorted({w for t in frame["text"] for w in t.lower().replace(".", "").split()})
    weather_words = {w for t in frame[frame.label == "weather"]["text"] for w in t.lower().replace(".", "").split()}
    lines = [f"{w} {' '.join(f'{v:.3f}' for v in rng.normal(size=8) + (2.0 if w in weather_words else -2.0))}"
             for w in words]
    glove = tmp_path / "glove.8d.txt"
    glove.write_text("\n".join(lines))
    dataset = build_text_dataset(Table(frame, "wm.csv"), "text", "label")
    result = train(dataset, TrainConfig(backbone="word-vectors", word_vectors_file=str(glove),
                                                        learning_rate=1e-2, device="cpu"))
    assert result.classifier.adapter.featurizer.num_features == 8 and result.report.auc > 0.9

    bad = tmp_path / "bad.txt"
    bad.write_text("word 1 2 3\nother 1 2\n")
    with pytest.raises(DataError, match="not a GloVe-format"):
        train(dataset, TrainConfig(backbone="word-vectors", word_vectors_file=str(bad)))


@pytest.mark.parametrize("head", ["logistic_regression", "random_forest", "linear_svm"])
def test_scikit_learn_heads_match_scikit_learn(head):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    from tlcore.engine.heads import fit_sklearn_head

    reference = {
        "logistic_regression": LogisticRegression(max_iter=2000),
        "random_forest": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=-1),
        "linear_svm": CalibratedClassifierCV(LinearSVC(random_state=0), method="sigmoid", cv=3, ensemble=False),
    }[head]
    rng = np.random.default_rng(1)
    for n_classes in (2, 3):
        x = rng.normal(size=(90, 6)).astype(np.float32)
        y = np.arange(90) % n_classes
        x[:, 0] += y * 1.2
        module = fit_sklearn_head(head, x, y, n_classes, seed=0).eval()
        with torch.no_grad():
            ours = torch.softmax(module(torch.from_numpy(x)), 1).numpy()
        np.testing.assert_allclose(ours, reference.fit(x, y).predict_proba(x), atol=1e-5)


def test_scikit_learn_heads_need_a_frozen_backbone():
    from tlcore import ConfigError

    with pytest.raises(ConfigError, match="frozen backbone only"):
        TrainConfig(backbone="all-MiniLM-L6-v2", trainable_blocks=1, head="random_forest")


# --- saved runs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    {"backbone": "all-MiniLM-L6-v2", "trainable_blocks": 1, "epochs": 2},
    {"backbone": "all-MiniLM-L6-v2", "head": "random_forest"},
    {"backbone": "tfidf", "head": "linear_svm"},
    {"backbone": "word-vectors", "head": "mlp", "epochs": 3},
])
def test_saved_text_runs_predict_the_same(text_dataset, tmp_path, options):
    result = train(text_dataset, TrainConfig(device="cpu", **options))
    run = save_run(result, tmp_path / "run")
    loaded = load_classifier(run)
    texts = ["It might snow tonight.", "The choir sang on stage.", ""]
    np.testing.assert_allclose(loaded.predict_proba(texts), result.classifier.predict_proba(texts), atol=1e-4)
    assert loaded.task == "text" and loaded.classes == ["music", "weather"]
    assert not list(run.glob("*.pt")) and not list(run.glob("*.pkl"))
