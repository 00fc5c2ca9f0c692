"""Insight views' engine: trust warnings, confusion-cell examples, Grad-CAM, word occlusion,
the embedding map and ImageNet labels."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.datasets
from PIL import Image, ImageDraw

from tlcore import TrainConfig, build_dataset, build_text_dataset, train_image_classifier, train_text_classifier
from tlcore.checks import duplicates_across, trust_warnings
from tlcore.data import Record, Table
from tlcore.data.text import TextExample
from tlcore.embedding_map import methods, project, separation
from tlcore.explain import ImagenetModel, grad_cam, imagenet_labels, overlay, word_importance
from tlcore.features import load_pixels
from tlcore.record import RunRecord

from ..conftest import encode, shape_records


def test_leakage_warning_fires_for_a_file_copied_into_validation():
    records = shape_records(per_class=6)
    train = build_dataset(records[:4] + records[6:10])
    copied = Record("circle", "val/circle_copy.png", records[0].data)  # same bytes as a training image
    val = build_dataset([copied, records[4], records[5], records[10], records[11]])
    result = train_image_classifier(train, TrainConfig(epochs=1), val_dataset=val)
    assert result.extra["duplicates"] == [{"val": "val/circle_copy.png", "train": records[0].name}]
    warnings = RunRecord.from_result(result).warnings()
    assert any("1 validation image(s) also appear in the training data ('val/circle_copy.png'" in w for w in warnings)

    clean = train_image_classifier(train, TrainConfig(epochs=1), val_dataset=build_dataset(records[4:6] + records[10:]))
    assert clean.extra["duplicates"] == []
    assert not any("also appear" in w for w in RunRecord.from_result(clean).warnings())


def test_duplicates_are_found_by_content_not_name():
    records = shape_records(per_class=3)
    train = build_dataset(records).examples
    val = build_dataset([Record("circle", "renamed.png", records[1].data), records[4]]).examples
    assert duplicates_across(train, val) == [{"val": "renamed.png", "train": records[1].name},
                                             {"val": records[4].name, "train": records[4].name}]
    texts = [TextExample("row 2", "a", "The  cat sat."), TextExample("row 3", "b", "a dog")]
    assert duplicates_across(texts, [TextExample("row 9", "a", "the cat sat.")]) == [{"val": "row 9", "train": "row 2"}]
    warnings = trust_warnings(classes=["a", "b"], train_counts=[5, 5], y_val=np.array([0] * 20 + [1] * 20),
                              duplicates=[{"val": "row 9", "train": "row 2"}], unit="text")
    assert len(warnings) == 1 and "'row 9' = 'row 2'" in warnings[0]


def test_warnings_for_a_tiny_validation_set_and_imbalanced_classes():
    calm = trust_warnings(classes=["a", "b"], train_counts=[40, 30], y_val=np.array([0] * 20 + [1] * 20),
                          duplicates=[], unit="image")
    assert calm == []
    tiny = trust_warnings(classes=["a", "b"], train_counts=[40, 30], y_val=np.array([0, 1, 1]), duplicates=[],
                          unit="image")
    assert len(tiny) == 1 and "Only 3 validation images" in tiny[0]
    skewed = trust_warnings(classes=["cat", "dog"], train_counts=[90, 10], y_val=np.array([0] * 30 + [1] * 10),
                            duplicates=[], unit="image")
    assert len(skewed) == 1 and "'cat' has 90" in skewed[0] and "baseline" in skewed[0]


def _square_image(rng: np.random.Generator, with_square: bool):
    """Light noise; class 'square' adds one red square somewhere. Returns (image, square's corner)."""
    image = Image.fromarray(rng.integers(170, 255, (224, 224, 3), dtype=np.uint8))
    corner = None
    if with_square:
        corner = tuple(int(v) for v in rng.integers(10, 224 - 74, 2))
        ImageDraw.Draw(image).rectangle([corner[0], corner[1], corner[0] + 64, corner[1] + 64], fill=(200, 30, 30))
    return image, corner


@pytest.fixture(scope="module")
def square_model():
    rng = np.random.default_rng(0)
    records = [Record(label, f"{label}/{i}.png", encode(_square_image(rng, label == "square")[0]))
               for i in range(16) for label in ("square", "plain")]
    result = train_image_classifier(build_dataset(records), TrainConfig(epochs=10))
    assert result.report.accuracy == 1.0
    return result.classifier


def test_grad_cam_has_the_image_shape_and_peaks_on_the_object(square_model):
    rng = np.random.default_rng(1)
    tests = [_square_image(rng, True) for _ in range(6)]
    pixels = load_pixels([(f"{i}.png", encode(image)) for i, (image, _) in enumerate(tests)],
                         square_model.preprocessing)
    heat = grad_cam(square_model, pixels, [square_model.classes.index("square")] * len(tests))
    assert heat.shape == (6, 224, 224) and heat.min() >= 0 and np.isclose(heat.max(), 1)
    cell = 224 // 7  # the last block's map is 7x7: the peak may sit one cell from the square
    for h, (_, (x, y)) in zip(heat, tests):
        peak_y, peak_x = np.unravel_index(h.argmax(), h.shape)
        assert x - cell <= peak_x <= x + 64 + cell and y - cell <= peak_y <= y + 64 + cell
        assert h[y:y + 64, x:x + 64].mean() > 2 * h.mean()
    assert overlay(pixels[0], heat[0]).shape == (224, 224, 3)


def test_occlusion_finds_the_one_word_that_separates_two_classes():
    rng = np.random.default_rng(0)
    filler = "the a river table green quiet seven paper window morning light stone".split()

    def sentence(keyword):
        words = list(rng.choice(filler, 7))
        words.insert(int(rng.integers(0, 8)), keyword)
        return " ".join(words)

    rows = [(sentence(k), label) for _ in range(20) for k, label in (("zebra", "animal"), ("copper", "metal"))]
    dataset = build_text_dataset(Table(pd.DataFrame(rows, columns=["text", "label"]), "generated"), "text", "label")
    classifier = train_text_classifier(dataset, TrainConfig(backbone="all-MiniLM-L6-v2", epochs=30, learning_rate=0.01)).classifier
    for keyword, label in (("zebra", "animal"), ("copper", "metal")):
        text = sentence(keyword)
        found = word_importance(classifier, text)
        assert classifier.classes[found.target] == label
        assert found.words[int(np.argmax(found.importance))] == keyword
        assert len(found.words) == len(found.importance) == 8


def test_the_bundled_backbone_names_what_it_sees_in_scikit_learns_sample_photos():
    folder = Path(sklearn.datasets.__file__).parent / "images"
    files = [(name, (folder / name).read_bytes()) for name in ("china.jpg", "flower.jpg")]
    model = ImagenetModel("efficientnet_lite0")
    top = model.top(load_pixels(files, model.preprocessing))
    assert len(imagenet_labels()) == 1000 and all(len(t) == 5 for t in top)
    assert top[0][0][0] == "palace" and top[1][0][0] == "daisy"
    assert all(t[0][1] >= t[-1][1] for t in top)


def test_fine_tuning_separates_classes_that_pretrained_features_mix():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 30)
    mixed = rng.normal(size=(60, 16))
    apart = mixed + labels[:, None] * 4.0
    assert separation(apart, labels) > separation(mixed, labels) + 0.3
    for method in methods():
        points = project(apart, method)
        assert points.shape == (60, 2) and np.isfinite(points).all()
    assert project(apart[:2]).shape == (2, 2) and separation(apart[:1], labels[:1]) is None


def test_cell_examples_and_the_confidently_wrong_are_sorted_by_confidence():
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.65, 0.35], [0.95, 0.05]])
    y = np.array([0, 0, 0, 1, 1, 1])
    record = RunRecord(label="r", task="text", classes=["a", "b"], config=TrainConfig(), y_val=y, val_proba=proba,
                       val_names=[f"row {i}" for i in range(6)], facts={}, val_texts=["t"] * 6)
    assert record.cell_rows(0, 1).tolist() == [2, 1]  # true a, answered b: surest first
    assert record.confidently_wrong().tolist() == [5, 2, 4, 1]  # by loss: -log p(true class)
    assert np.allclose(record.losses, -np.log(proba[np.arange(6), y]))
    at_zero = np.ones(6, dtype=int)  # a threshold of 0 answers b everywhere
    assert record.confidently_wrong(at_zero).tolist() == [2, 1, 0]
    assert record.predictions()["loss"].round(3).tolist() == np.round(record.losses, 3).tolist()
