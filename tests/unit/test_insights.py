"""Insight views' engine: trust warnings, confusion-cell examples, Grad-CAM and its colours, word
occlusion, the embedding map, ImageNet labels, the figures and the explanations beside them."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.datasets
import torch
from PIL import Image, ImageDraw

from tlcore import (
    TrainConfig, build_dataset, build_text_dataset, get_backbone_info, train,
    train,
)
from tlcore.data.duplicates import duplicates_across
from tlcore.insight import glossary
from tlcore.insight.checks import trust_warnings
from tlcore.data import Record, Table
from tlcore.data.text import TextExample
from tlcore.insight.embedding_map import methods, project, separation
from tlcore.insight.explain import ImagenetModel, colour_bar, grad_cam, heat_colours, imagenet_labels, overlay, word_importance
from tlcore.core.formats import count_for_people
from tlcore.backbones.preprocessing import load_pixels
from tlcore.engine.freezing import FreezeSummary
from tlcore.insight.plots import CHOSEN_CELL, confusion_figure, history_figure, runs_history_figure
from tlcore.runs.run import Run, RunFacts
from tlcore.engine.loop import EpochLog

from ..conftest import encode, shape_records


def test_leakage_warning_fires_for_a_file_copied_into_validation():
    records = shape_records(per_class=6)
    train_set = build_dataset(records[:4] + records[6:10])
    copied = Record("circle", "val/circle_copy.png", records[0].data)  # same bytes as a training image
    val = build_dataset([copied, records[4], records[5], records[10], records[11]])
    result = train(train_set, TrainConfig(epochs=1), val_dataset=val)
    assert result.facts.duplicates == [{"val": "val/circle_copy.png", "train": records[0].name}]
    warnings = result.warnings()
    assert any("1 validation image(s) also appear in the training data ('val/circle_copy.png'" in w for w in warnings)

    clean = train(train_set, TrainConfig(epochs=1), val_dataset=build_dataset(records[4:6] + records[10:]))
    assert clean.facts.duplicates == []
    assert not any("also appear" in w for w in (clean).warnings())


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
    result = train(build_dataset(records), TrainConfig(epochs=10))
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


def _tiny_classifier(blocks, pool, num_features: int, num_classes: int, size: int = 32):
    """A hand-built backbone (no download) behind a linear head, as grad_cam reads a classifier:
    its model in eval mode, its device and its preprocessing (mean 0, std 1: pixels / 255)."""
    from types import SimpleNamespace

    from tlcore.backbones import BlockBackbone, ImagePreprocessing
    from tlcore.engine.model import TransferModel

    model = TransferModel(BlockBackbone(blocks, pool, num_features), num_classes).eval()
    return SimpleNamespace(model=model, device=torch.device("cpu"),
                           preprocessing=ImagePreprocessing(size, size, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))


def test_grad_cam_is_captums_layer_grad_cam_on_the_last_block():
    attr = pytest.importorskip("captum.attr")
    from tlcore.backbones.preprocessing import normalize

    torch.manual_seed(0)
    conv = lambda i, o, s: torch.nn.Sequential(torch.nn.Conv2d(i, o, 3, s, 1), torch.nn.BatchNorm2d(o),  # noqa: E731
                                                torch.nn.ReLU())
    pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    last = torch.nn.Sequential(torch.nn.Conv2d(16, 12, 3, 1, 1), torch.nn.BatchNorm2d(12))  # either sign
    clf = _tiny_classifier([("a", conv(3, 8, 2)), ("b", conv(8, 16, 2)), ("c", last)], pool, 12, 3)
    for module in clf.model.modules():  # running statistics that are not 0 and 1, as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2), module.running_var.uniform_(0.5, 2.0)
    pixels = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():  # each image's most likely class, then the next one: a map of either sign
        ranked = clf.model(normalize(pixels, clf.preprocessing)).argsort(1, descending=True)
    targets = [int(ranked[i, i % 2]) for i in range(8)]
    heat = grad_cam(clf, pixels, targets)

    x = normalize(pixels, clf.preprocessing)
    cam = attr.LayerGradCam(clf.model, clf.model.backbone.blocks[-1]).attribute(
        x, target=torch.tensor(targets), relu_attributions=True)
    cam = attr.LayerAttribution.interpolate(cam.detach(), (32, 32), interpolate_mode="bilinear")[:, 0].clamp(min=0)
    expected = (cam / cam.flatten(1).max(1).values.clamp(min=1e-30).view(-1, 1, 1)).numpy()
    assert heat.shape == (8, 32, 32) and (heat.reshape(8, -1).max(1) == 1).sum() >= 4  # not all-zero maps
    np.testing.assert_allclose(heat, expected, atol=1e-5)


def test_grad_cam_lights_the_half_that_drives_each_class_and_leaves_the_model_as_it_was():
    """Class 0 reads the red channel, class 1 the green one; red fills the left half of the image and
    green the right half. Each class's heat map is bright where its colour is, whoever asks at once."""
    import threading

    pick = torch.nn.Conv2d(3, 2, 1, bias=False)
    pool = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    clf = _tiny_classifier([("colours", pick)], pool, 2, 2, size=16)
    with torch.no_grad():
        pick.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).view(2, 3, 1, 1))
        linear = clf.model.head[-1]
        linear.weight.copy_(torch.eye(2)), linear.bias.zero_()
    pixels = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    pixels[0, 0, :, :8] = 255  # red on the left
    pixels[0, 1, :, 8:] = 255  # green on the right
    pixels = pixels.repeat(2, 1, 1, 1)

    heat = grad_cam(clf, pixels, [0, 1])
    left, right = heat[:, :, :7].mean((1, 2)), heat[:, :, 9:].mean((1, 2))
    assert left[0] > 0.9 and right[0] < 0.1  # class 0: the red half
    assert right[1] > 0.9 and left[1] < 0.1  # class 1: the green half

    answers = [None] * 8
    def ask(i):
        answers[i] = grad_cam(clf, pixels, [0, 1])
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    [t.start() for t in threads], [t.join() for t in threads]
    assert all(np.array_equal(a, heat) for a in answers)
    assert not clf.model.training and not any(m.training for m in clf.model.modules())
    assert not any(m._forward_hooks or m._backward_hooks or m._forward_pre_hooks for m in clf.model.modules())
    assert all(p.grad is None for p in clf.model.parameters())  # nothing accumulated on the shared weights


def _lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (0 black .. 100 white) of sRGB uint8 colours."""
    c = rgb.astype(np.float64) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    y = linear @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(y > 216 / 24389, 116 * np.cbrt(y) - 16, y * 24389 / 27)


def test_heat_colours_grow_lighter_from_low_to_high_attention():
    lightness = _lightness(heat_colours(np.linspace(0, 1, 256)))
    assert np.all(np.diff(lightness) > 0) and lightness[0] < 5 and lightness[-1] > 95
    bar = colour_bar(width=200, height=40)
    assert bar.shape == (40, 200, 3)
    assert np.all(np.diff(_lightness(bar[5]).round(6)) >= 0)  # the strip runs from low to high
    assert (bar[22:] < 100).any()  # the labels under it


@pytest.mark.parametrize("colour", [(220, 20, 30), (250, 60, 160), (120, 220, 40), (240, 240, 240)])
def test_overlay_shows_the_heat_on_any_colour_of_image(colour):
    """A red drum, a lollipop, a lime, a white plate: where the model looks must stand out from where it
    does not by a large step in lightness, whatever the image's own colour."""
    pixels = torch.tensor(colour, dtype=torch.uint8).view(3, 1, 1).expand(3, 32, 32)
    heat = np.zeros((32, 32), np.float32)
    heat[:, 16:] = 1.0
    heat[:, 8:16] = 0.5
    shown = _lightness(overlay(pixels, heat))
    cold, warm, hot = shown[:, :8].mean(), shown[:, 8:16].mean(), shown[:, 16:].mean()
    assert warm - cold > 15 and hot - warm > 15
    grey = int(round(np.dot(colour, [0.2126, 0.7152, 0.0722])))  # the same lightness without the colour
    same_in_grey = overlay(torch.full((3, 32, 32), grey, dtype=torch.uint8), heat)
    assert np.abs(overlay(pixels, heat).astype(int) - same_in_grey).max() <= 1  # its hue cannot hide the heat


def test_occlusion_finds_the_one_word_that_separates_two_classes():
    rng = np.random.default_rng(0)
    filler = "the a river table green quiet seven paper window morning light stone".split()

    def sentence(keyword):
        words = list(rng.choice(filler, 7))
        words.insert(int(rng.integers(0, 8)), keyword)
        return " ".join(words)

    rows = [(sentence(k), label) for _ in range(20) for k, label in (("zebra", "animal"), ("copper", "metal"))]
    dataset = build_text_dataset(Table(pd.DataFrame(rows, columns=["text", "label"]), "generated"), "text", "label")
    classifier = train(dataset, TrainConfig(backbone="all-MiniLM-L6-v2", epochs=30, learning_rate=0.01)).classifier
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


def test_separation_ranks_classes_apart_above_mixed_ones_and_every_layout_gives_finite_points():
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
    record = Run(label="r", task="text", classes=["a", "b"], config=TrainConfig(), history=[], y_val=y,
                 val_proba=proba, val_names=[f"row {i}" for i in range(6)], facts=RunFacts(timings_s={}),
                 val_texts=["t"] * 6)
    assert record.cell_rows(0, 1).tolist() == [2, 1]  # true a, answered b: surest first
    assert record.confidently_wrong().tolist() == [5, 2, 4, 1]  # by loss: -log p(true class)
    assert np.allclose(record.losses, -np.log(proba[np.arange(6), y]))
    at_zero = np.ones(6, dtype=int)  # a threshold of 0 answers b everywhere
    assert record.confidently_wrong(at_zero).tolist() == [2, 1, 0]
    assert record.predictions()["loss"].round(3).tolist() == np.round(record.losses, 3).tolist()


def _after_click(trace, clicked: int) -> list[float]:
    """Each marker's opacity once point `clicked` is selected, by plotly.js's own rule
    (makeSelectedPointStyleFns): a point takes its selected/unselected opacity when one is set, else
    an unselected point is dimmed to 0.2 of its opacity."""
    base = trace.marker.opacity if trace.marker.opacity is not None else 1
    chosen, others = trace.selected.marker.opacity, trace.unselected.marker.opacity
    return [(base if chosen is None else chosen) if i == clicked else (0.2 * base if others is None else others)
            for i in range(len(trace.x))]


def test_a_clicked_confusion_cell_gets_an_outline_and_every_count_stays_as_it_was():
    matrix, classes = [[30, 2, 1], [4, 25, 0], [0, 3, 28]], ["cat", "dog", "bird"]
    heat, cells = confusion_figure(matrix, classes).data
    for t, p in np.ndindex(3, 3):  # the counts are the heat map's, at the right labels
        assert heat.z[heat.y.index(classes[t])][heat.x.index(classes[p])] == matrix[t][p]
        point = t * 3 + p  # the point index the Evaluate page reads
        assert (cells.y[point], cells.x[point], cells.customdata[point]) == (classes[t], classes[p], matrix[t][p])
    assert heat.texttemplate == "%{z}" and "text" not in cells.mode  # counts are not part of the selection
    shown = _after_click(cells, clicked=3)
    assert shown[3] == 1 and cells.marker.symbol == "square-open"  # the clicked cell: an outline appears
    assert all(o == cells.marker.opacity == 0 for i, o in enumerate(shown) if i != 3)  # nothing else changes
    assert cells.marker.color == cells.marker.line.color == CHOSEN_CELL
    assert confusion_figure(matrix, classes).layout.xaxis.fixedrange  # a drag does not move the matrix


def test_a_chosen_confusion_cell_is_outlined_where_it_is_drawn():
    fig = confusion_figure([[5, 1], [2, 6]], ["no", "yes"], chosen=(0, 1))
    (outline,) = fig.layout.shapes
    x = list(fig.layout.xaxis.categoryarray).index("yes")  # category positions along each axis
    y = list(fig.layout.yaxis.categoryarray).index("no")
    assert outline.x0 < x < outline.x1 and outline.y0 < y < outline.y1 and outline.x1 - outline.x0 == 1
    assert not confusion_figure([[5, 1], [2, 6]], ["no", "yes"]).layout.shapes


def _history(epochs: int) -> list[EpochLog]:
    return [EpochLog(e, 1 / e, 0.5, abs(e - 5) + 1, 0.5, 1.0) for e in range(1, epochs + 1)]


def test_history_marks_the_kept_epoch_when_early_stopping_kept_an_earlier_one():
    fig = history_figure(_history(10), best_epoch=5)
    assert [(s.x0, s.xref) for s in fig.layout.shapes] == [(5, "x"), (5, "x2")]  # both panels
    assert "best epoch 5:<br>these weights are kept" in [a.text for a in fig.layout.annotations]
    for best in (10, None):  # the last epoch, or no early stopping: nothing to mark
        assert not history_figure(_history(10), best_epoch=best).layout.shapes
    compared = runs_history_figure([("frozen", _history(10)), ("1 block", _history(5))], best_epochs=[5, 5])
    assert [s.x0 for s in compared.layout.shapes] == [5, 5]
    assert [a.text for a in compared.layout.annotations if "best" in a.text] == [
        "best epoch 5:<br>these weights are kept"]  # in the run's colour; the legend under the charts names it


def test_explanations_fit_the_task_the_backbone_and_the_run():
    image, text, tfidf = (get_backbone_info(n) for n in ("efficientnet_lite0", "all-MiniLM-L6-v2", "tfidf"))
    assert "ImageNet" in glossary.embedding("image", image, 0)
    assert "ImageNet" not in glossary.embedding("text", text, 0) and "sentences" in glossary.embedding("text", text, 0)
    classic = glossary.embedding("text", tfidf, 0)
    assert "no pretrained network" in classic and "ImageNet" not in classic and "reuses" not in classic
    assert "both maps are the same" in glossary.embedding("image", image, 0)
    fine_tuned = glossary.embedding("text", text, 2)
    assert "top 2 of 7 blocks" in fine_tuned and "both maps are the same" not in fine_tuned
    assert "precision-recall curve** is" in glossary.curves(2)
    assert "one **ROC curve** per class" in glossary.curves(4) and "drawn only for two classes" in glossary.curves(4)


def test_counts_are_written_for_people():
    assert [count_for_people(n) for n in (0, 928, 412160, 11918592)] == ["0", "928", "412,160", "11.9 million"]
    rows = FreezeSummary([("stage6", 1718592, False), ("new head", 3843, True)], 1718592, 3843).rows()
    assert rows == [{"block": "stage6", "parameters": "1,718,592", "state": "frozen"},
                    {"block": "new head", "parameters": "3,843", "state": "trains"}]
