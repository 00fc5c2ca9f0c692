"""How much data do I need: the learning curve with and without transfer, zero-shot for texts, advice."""
import json

import pytest

from tlcore import TrainConfig, build_dataset, build_text_dataset, default_config
from tlcore.cli import main
from tlcore.data import Table, digits_sample, text_sample
from tlcore.engine.cache import TensorCache
from tlcore.runs.learning_curve import Point, advice, learning_curve


def _by(curve, method):
    return [p for p in curve.points if p.method == method]


def test_the_curve_rises_with_the_examples_per_class():
    dataset = build_dataset(digits_sample(per_class=25, classes=(1, 4, 7)))
    curve = learning_curve(dataset, TrainConfig(), sizes=(1, 5), cache=TensorCache(None))
    transfer = _by(curve, "transfer")
    assert [p.per_class for p in transfer] == [1, 5, 20]  # the last point: every training example
    assert transfer[0].auc < transfer[-1].auc - 0.05
    assert all(p.auc_low <= p.auc <= p.auc_high for p in transfer)
    assert [p.per_class for p in _by(curve, "baseline")] == [1, 5, 20] and curve.baseline.startswith("the pixels")
    assert curve.zero_shot is None and set(curve.to_dict()) == {"backbone", "feature_block", "baseline", "points",
                                                                 "advice"}


@pytest.fixture(scope="module")
def text_curve():
    texts = build_text_dataset(Table(text_sample(), "sample"), "text", "label")
    return learning_curve(texts, default_config("text"), sizes=(1, 2), cache=TensorCache(None))


def test_for_texts_transfer_beats_word_counts_at_one_example_and_zero_shot_needs_none(text_curve):
    """The sample's sentences share few words within a topic: TF-IDF cannot learn from one example each,
    the sentence model can, and even with none it finds the topic from the class names."""
    transfer, baseline = _by(text_curve, "transfer"), _by(text_curve, "baseline")
    assert transfer[0].per_class == baseline[0].per_class == 1
    assert transfer[0].auc > baseline[0].auc + 0.2
    assert text_curve.zero_shot["auc"] > 0.9 and text_curve.baseline == "TF-IDF word counts"
    assert "With 1 example per class, transfer scores" in text_curve.advice


def test_the_advice_reads_doubling_from_a_fitted_curve():
    rising = [Point(k, 1 - 0.4 / k ** 0.5, None, None, "transfer") for k in (1, 4, 16)]
    said = advice(rising, [])
    assert "Doubling to about 32 examples per class" in said and f"from {rising[-1].auc:.3f} to about 0.929" in said
    flat = [Point(k, 0.8, None, None, "transfer") for k in (2, 4, 16)]
    assert "The curve has flattened" in advice(flat, [])
    top = [Point(k, a, None, None, "transfer") for k, a in ((2, 0.99), (8, 0.9995))]
    assert "little left to add" in advice(top, [])


def test_learning_curve_on_the_command_line_writes_the_json(tmp_path, capsys):
    path = tmp_path / "texts.csv"
    text_sample().to_csv(path, index=False)
    out = tmp_path / "curve.json"
    assert main(["learning-curve", str(path), "--task", "text", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {p["method"] for p in data["points"]} == {"transfer", "baseline"}
    assert set(data["points"][0]) == {"per_class", "auc", "auc_low", "auc_high", "method"}
    assert 0 <= data["zero_shot"]["auc"] <= 1
    assert "examples per class" in capsys.readouterr().out


def test_validation_data_missing_a_class_gets_a_sentence():
    from tlcore import DataError

    train_set = build_dataset(digits_sample(per_class=6, classes=(1, 4, 7)))
    val_set = build_dataset(digits_sample(per_class=3, classes=(1, 4)))
    with pytest.raises(DataError, match="has no examples of 7, so AUC cannot be measured"):
        learning_curve(train_set, TrainConfig(), val_dataset=val_set, sizes=(1,), cache=TensorCache(None))
