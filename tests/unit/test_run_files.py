"""Run folders as files: where a run may be written, what a tampered run gives, the downloaded zip
and copying a run."""
import io
import json
import shutil
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from tlcore import TrainConfig
from tlcore.cli import main
from tlcore.core.errors import RunExists, RunLoadError, RunPathError
from tlcore.runs.files import copy_run, load_classifier, load_run, save_run
from tlcore.runs.archive import zip_run
from tlcore import train


def user_documents(folder):
    """A folder of someone's files that no command may touch."""
    (folder / "notes").mkdir(parents=True)
    (folder / "letter.txt").write_text("Dear parents,")
    (folder / "notes" / "plan.txt").write_text("Week 1")
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def unchanged(folder, files) -> bool:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == files


# --- where a run may be written ----------------------------------------------------------------------

@pytest.mark.parametrize("out", [".", "docs/..", "docs/notes/../..", ""])
def test_names_that_are_not_a_folder_of_their_own_are_refused(trained, tmp_path, monkeypatch, out):
    files = user_documents(tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunPathError, match="does not name a folder of its own.*e.g. runs/my-run"):
        save_run(trained, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"] and unchanged(tmp_path / "docs", files)


def test_the_root_of_the_disk_is_refused_before_anything_is_written(trained):
    with pytest.raises(RunPathError, match="'/' does not name a folder of its own"):
        save_run(trained, "/")


@pytest.mark.parametrize("overwrite", [True, False])
def test_a_folder_of_documents_survives_a_save_onto_it(trained, tmp_path, overwrite):
    files = user_documents(tmp_path / "docs")
    with pytest.raises(RunPathError, match="already holds files and is not a saved run"):
        save_run(trained, tmp_path / "docs", overwrite=overwrite)
    with pytest.raises(RunPathError, match="is a file"):
        save_run(trained, tmp_path / "docs" / "letter.txt")
    with pytest.raises(RunPathError, match="inside a file"):
        save_run(trained, tmp_path / "docs" / "letter.txt" / "run")
    assert unchanged(tmp_path / "docs", files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]  # no staging folder left beside it


def test_runs_go_into_new_or_empty_folders_and_replace_only_runs(trained, tmp_path):
    (tmp_path / "empty").mkdir()
    assert load_classifier(save_run(trained, tmp_path / "empty")).classes == ["circle", "stripes"]
    run = save_run(trained, tmp_path / "new" / "deeper" / "run")
    save_run(trained, run)  # a run of ours is replaced
    with pytest.raises(RunExists):
        save_run(trained, run, overwrite=False)
    with pytest.raises(RunPathError, match="inside the saved run"):
        save_run(trained, run / "validation" / "x")
    assert sorted(p.name for p in run.parent.iterdir()) == ["run"]


def test_the_command_line_refuses_a_folder_of_documents_in_one_line(tmp_path, capsys):
    files = user_documents(tmp_path / "docs")
    assert main(["train", "no-such-data", "--out", str(tmp_path / "docs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a saved run" in err and "--out runs/my-run" in err
    assert unchanged(tmp_path / "docs", files)


def test_predict_writes_only_a_new_or_old_csv_never_a_folder_an_input_or_a_run(trained, shapes_dataset, tmp_path,
                                                                                  capsys):
    run = save_run(trained, tmp_path / "run")
    image = tmp_path / "photo.png"
    image.write_bytes(shapes_dataset.examples[0].data)
    files = user_documents(tmp_path / "docs")
    model = (run / "model.safetensors").read_bytes()
    for out, problem in [(tmp_path / "docs", "is a folder"), (run / "model.safetensors", "not a .csv"),
                         (run / "predictions.csv", "inside a saved run"),
                         (tmp_path / "docs" / "letter.txt", "not a .csv"), (image, "not a .csv")]:
        assert main(["predict", str(run), str(image), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and problem in err and "--out predictions.csv" in err
    texts = tmp_path / "inputs.csv"
    texts.write_text("text\nhello\n")
    assert main(["predict", str(run), str(texts), "--out", str(texts)]) == 2
    assert "is one of the inputs" in capsys.readouterr().err and texts.read_text() == "text\nhello\n"
    assert unchanged(tmp_path / "docs", files) and (run / "model.safetensors").read_bytes() == model
    assert main(["predict", str(run), str(image), "--out", str(tmp_path / "out" / "p.csv")]) == 0


# --- tampered runs ------------------------------------------------------------------------------------

def edit_json(name, change):
    def tamper(run):
        data = json.loads((run / name).read_text())
        change(data)
        (run / name).write_text(json.dumps(data))
    return tamper


def edit_tensors(name, change):
    def tamper(run):
        tensors = load_file(str(run / name))
        change(tensors)
        save_file(tensors, str(run / name))
    return tamper


def setting(key, value):
    return edit_json("config.json", lambda c: c.update({key: value}))


def preprocessing(key, value):
    return edit_json("config.json", lambda c: c["preprocessing"].update({key: value}))


def bigger_image(run):
    Image.new("RGB", (300, 300)).save(run / "validation" / "00001.jpg")


IMAGE_TAMPERING = {
    "negative input size": (preprocessing("input_size", -1), "input size must be 16 to 1024"),
    "8,000 pixel input": (preprocessing("input_size", 8000), "input size must be 16 to 1024"),
    "input size as text": (preprocessing("input_size", "224"), "input size must be"),
    "two-value mean": (preprocessing("mean", [0.5, 0.5]), "mean must be three numbers"),
    "zero std": (preprocessing("std", [0.5, 0.0, 0.5]), "std must be three numbers above 0"),
    "resize below input": (preprocessing("resize_size", 100), "resize size"),
    "no preprocessing": (setting("preprocessing", None), "preprocessing must name"),
    "too many trainable blocks": (setting("trainable_blocks", 99), "trainable blocks must be 0 to 9"),
    "one class": (setting("classes", ["circle"]), "2 to 200 different names"),
    "repeated class": (setting("classes", ["circle", "circle"]), "2 to 200 different names"),
    "text backbone on images": (setting("backbone", "tfidf"), "unknown image backbone"),
    "unknown head": (setting("head", "gradient_boosting"), "unknown head"),
    "huge feature count": (setting("num_features", 10**9), "feature count must be"),
    "settings of another type": (edit_json("config.json", lambda c: c["train_config"].update(epochs="15")),
                                 "setting epochs must be a whole number"),
    "settings of another run": (edit_json("config.json", lambda c: c["train_config"].update(trainable_blocks=2)),
                                "training settings disagree"),
    "head of another size": (edit_tensors("model.safetensors", lambda t: t.update({"head.1.bias": torch.zeros(3)})),
                             "head's tensors do not fit"),
    "NaN weights": (edit_tensors("model.safetensors", lambda t: t["head.1.weight"].fill_(float("nan"))),
                    "not finite"),
    "integer weights": (edit_tensors("model.safetensors", lambda t: t.update(
        {k: v.long() for k, v in t.items() if k.endswith("conv.weight")})), "not floating point"),
    "labels outside the classes": (edit_tensors("validation.safetensors", lambda t: t["y_val"].fill_(7)),
                                   "label is not one of the classes"),
    "probabilities not adding up": (edit_tensors("validation.safetensors", lambda t: t["val_proba"].fill_(0.9)),
                                    "do not add up to 1"),
    "probabilities of another shape": (edit_tensors("validation.safetensors", lambda t: t.update(
        val_proba=torch.zeros(3, 5))), "probabilities are not"),
    "names missing": (edit_json("validation.json", lambda e: e["names"].pop()), "does not name the"),
    "no training times": (edit_json("metrics.json", lambda m: m.pop("timings_s")), "no training times"),
    "counts of other classes": (edit_json("metrics.json", lambda m: m.update(train_counts=[1, 2, 3])),
                                "training counts do not fit"),
    "duplicates not pairs": (edit_json("metrics.json", lambda m: m.update(duplicates=[1])), "not pairs of names"),
    "epoch zero": (edit_json("history.json", lambda h: h[0].update(epoch=0)), "epoch that is not one"),
    "accuracy above 1": (edit_json("history.json", lambda h: h[0].update(val_accuracy=2)), "epoch that is not one"),
}


@pytest.fixture(scope="module")
def image_run(trained, tmp_path_factory):
    return save_run(trained, tmp_path_factory.mktemp("saved") / "image-run")


def open_everything(run):
    """What the pages do with a saved run: load the model and the record, and decode the images."""
    load_classifier(run)
    record = load_run(run)
    assert record.pixels is not None


@pytest.mark.parametrize("name", IMAGE_TAMPERING)
def test_each_tampered_field_is_refused_with_the_damaged_sentence(image_run, tmp_path, name):
    tamper, what = IMAGE_TAMPERING[name]
    run = shutil.copytree(image_run, tmp_path / "run")
    open_everything(run)  # the untouched copy opens
    tamper(run)
    with pytest.raises(RunLoadError, match=rf"The saved run in '.*' is damaged or from another version \(.*{what}"):
        open_everything(run)


def test_a_validation_image_of_another_size_is_refused_when_decoded(image_run, tmp_path):
    run = shutil.copytree(image_run, tmp_path / "run")
    bigger_image(run)
    record = load_run(run)
    with pytest.raises(RunLoadError, match=r"damaged .*00001.jpg is not 224 x 224 pixels"):
        record.pixels


@pytest.fixture(scope="module")
def forest_run(shapes_dataset, tmp_path_factory):
    from tlcore import train

    result = train(shapes_dataset, TrainConfig(head="random_forest", val_fraction=0.25, device="cpu"))
    return save_run(result, tmp_path_factory.mktemp("saved") / "forest-run")


def forest(change):
    return edit_tensors("model.safetensors", lambda t: change(t, int((t["head.left"][0] >= 0).nonzero()[-1])))


FOREST_TAMPERING = {
    "feature outside the features": (forest(lambda t, split: t["head.feature"][0].__setitem__(split, 5000)),
                                     "feature outside the 1280 features"),
    "child outside the table": (forest(lambda t, split: t["head.left"][0].__setitem__(split, 10**6)),
                                "points outside its tree"),
    "child pointing back (a loop)": (forest(lambda t, split: t["head.right"][0].__setitem__(split, 0)),
                                     "points outside its tree"),
    "one child only": (forest(lambda t, split: t["head.right"][0].__setitem__(split, -1)), "one child"),
    "absurd depth": (forest(lambda t, split: t.update({"head.depth": torch.tensor(10**12)})),
                     "depth of 1000000000000 does not fit"),
    "values of another class count": (forest(lambda t, split: t.update(
        {"head.value": torch.zeros(*t["head.value"].shape[:2], 3)})), "values are"),
    "too many trees": (forest(lambda t, split: t.update(
        {k: v[:1].expand(2000, *v.shape[1:]).contiguous() for k, v in t.items() if k.startswith("head.")
         and v.dim()})), "outside the sizes saved here"),
    "values not finite": (forest(lambda t, split: t["head.value"].fill_(float("inf"))), "not finite"),
    "table of another dtype": (forest(lambda t, split: t.update({"head.left": t["head.left"].float()})),
                               "left table is F32"),
}


@pytest.mark.parametrize("name", FOREST_TAMPERING)
def test_a_tampered_forest_is_refused_before_it_is_walked(forest_run, tmp_path, name):
    tamper, what = FOREST_TAMPERING[name]
    run = shutil.copytree(forest_run, tmp_path / "run")
    load_classifier(run)
    tamper(run)
    with pytest.raises(RunLoadError, match=rf"damaged or from another version \(.*{what}"):
        load_classifier(run)


@pytest.fixture(scope="module")
def tfidf_run(text_dataset, tmp_path_factory):
    result = train(text_dataset, TrainConfig(backbone="tfidf", head="linear_svm", device="cpu"))
    return save_run(result, tmp_path_factory.mktemp("saved") / "tfidf-run")


def vocabulary(change):
    return edit_json("featurizer.json", lambda meta: change(meta["vocabulary"]))


TEXT_TAMPERING = {
    "calibration for 3 classes": (edit_tensors("model.safetensors", lambda t: t.update(
        {k: torch.cat([v] * 3) for k, v in t.items() if k.startswith("head.")})), "head's tensors do not fit"),
    "vocabulary outside the weights": (vocabulary(lambda v: v.update({next(iter(v)): 10**6})),
                                       "vocabulary points outside"),
    "vocabulary sharing a column": (vocabulary(lambda v: v.update({"extra-word": 0})), "does not fit its weights"),
    "weights of another size": (edit_tensors("featurizer.safetensors", lambda t: t.update(idf=t["idf"][:-1])),
                                "TF-IDF weights do not fit"),
    "zero weights": (edit_tensors("featurizer.safetensors", lambda t: t["idf"].fill_(0)), "not positive"),
    "texts missing": (edit_json("validation.json", lambda e: e.pop("texts")), "does not name the"),
}


@pytest.mark.parametrize("name", TEXT_TAMPERING)
def test_a_tampered_text_run_is_refused(tfidf_run, tmp_path, name):
    tamper, what = TEXT_TAMPERING[name]
    run = shutil.copytree(tfidf_run, tmp_path / "run")
    load_classifier(run), load_run(run)
    tamper(run)
    with pytest.raises(RunLoadError, match=rf"damaged or from another version \(.*{what}"):
        load_classifier(run), load_run(run)


# --- the downloaded zip and copies ---------------------------------------------------------------------

def predictions(classifier, result):
    """The classifier's probabilities for the run's validation examples, as it prepares them."""
    return classifier.predict_proba(result.val_texts) if result.task == "text" else classifier.proba(result.pixels)


@pytest.mark.parametrize("fixture", ["trained", "trained_text"])
def test_a_downloaded_run_unzips_into_a_whole_run(request, tmp_path, fixture):
    result = request.getfixturevalue(fixture)
    run = save_run(result, tmp_path / "saved" / "my-run")
    with zipfile.ZipFile(io.BytesIO(zip_run(run))) as archive:
        assert all(not name.endswith("/") for name in archive.namelist())  # files only, no empty entries
        archive.extractall(tmp_path / "unzipped")
    unzipped = tmp_path / "unzipped" / "my-run"
    saved = {p.relative_to(run) for p in run.rglob("*") if p.is_file()}
    assert {p.relative_to(unzipped) for p in unzipped.rglob("*") if p.is_file()} == saved
    assert any(len(p.parts) > 1 for p in saved)  # validation/ or tokenizer/ came along
    np.testing.assert_allclose(predictions(load_classifier(unzipped), result), result.val_proba, atol=1e-4)
    record = load_run(unzipped)
    np.testing.assert_allclose(record.val_proba, result.val_proba)
    if result.task == "image":
        assert record.pixels.shape[0] == len(result.y_val)


def test_copy_run_copies_a_whole_run_with_save_runs_rules(trained, image_run, tmp_path):
    target = copy_run(image_run, tmp_path / "runs" / "copy", overwrite=False)
    copied = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert copied == {p.relative_to(image_run): p.read_bytes() for p in image_run.rglob("*") if p.is_file()}
    np.testing.assert_allclose(predictions(load_classifier(target), trained), trained.val_proba, atol=1e-4)
    with pytest.raises(RunExists, match="already exists"):
        copy_run(image_run, target, overwrite=False)
    (target / "history.json").write_text("[]")
    copy_run(image_run, target, overwrite=True)  # replaced by a fresh copy
    assert (target / "history.json").read_bytes() == (image_run / "history.json").read_bytes()
    files = user_documents(tmp_path / "docs")
    with pytest.raises(RunPathError, match="not a saved run"):
        copy_run(image_run, tmp_path / "docs", overwrite=True)
    with pytest.raises(RunLoadError, match="not a saved run"):
        copy_run(tmp_path / "docs", tmp_path / "runs" / "other", overwrite=True)
    assert unchanged(tmp_path / "docs", files)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["copy"]
