"""Insight views' engine: trust warnings, confusion-cell examples, Grad-CAM, word occlusion,
the embedding map and ImageNet labels."""
import numpy as np
import pytest

from tlcore import TrainConfig, build_dataset, train_image_classifier
from tlcore.checks import duplicates_across, trust_warnings
from tlcore.data import Record
from tlcore.data.text import TextExample
from tlcore.record import RunRecord

from ..conftest import shape_records


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
