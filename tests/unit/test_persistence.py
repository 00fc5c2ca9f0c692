import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import val_files
from tlcore import ConfigError, RunLoadError, TLCoreError, load_classifier, save_run
from tlcore.core.errors import RunExists
from tlcore.runs.files import load_run
from tlcore.runs.folders import list_runs, run_folder_name
from tlcore.runs.run import Run


def test_saved_run_predicts_the_same(trained, shapes_dataset, tmp_path):
    run = save_run(trained, tmp_path / "run")
    assert {p.name for p in run.iterdir()} == {"model.safetensors", "config.json", "metrics.json",
                                              "history.json", "predictions.csv", "validation.safetensors",
                                              "validation.json", "validation"}
    config = json.loads((run / "config.json").read_text())
    assert config["backbone"] == "efficientnet_lite0" and config["classes"] == ["circle", "stripes"]
    assert config["seed"] == 0 and "torch" in config["versions"]
    loaded = load_classifier(run)
    files = val_files(trained, shapes_dataset)
    assert np.allclose(loaded.predict_proba(files), trained.val_proba, atol=1e-4)


def test_a_saved_run_gives_the_insight_views_what_this_session_had(trained, tmp_path):
    live = trained
    saved = load_run(save_run(trained, tmp_path / "run"))
    assert saved.classes == live.classes and saved.val_names == live.val_names
    assert np.array_equal(saved.y_val, live.y_val) and np.allclose(saved.val_proba, live.val_proba)
    assert saved.report.confusion_matrix == live.report.confusion_matrix
    assert saved.facts == live.facts
    assert set(saved.features) == {"pretrained", "fine-tuned"}
    assert np.allclose(saved.features["fine-tuned"], live.features["fine-tuned"])
    assert saved.pixels.shape == live.pixels.shape  # the images as the model saw them, as JPEG
    assert (saved.pixels.float() - live.pixels.float()).abs().mean() < 4
    assert saved.history == live.history
    assert saved.classifier.classes == live.classes


def test_a_run_saved_without_validation_data_says_to_save_again(trained, tmp_path):
    run = save_run(trained, tmp_path / "run")
    (run / "validation.safetensors").unlink()
    with pytest.raises(RunLoadError, match="earlier version"):
        load_run(run)
    assert load_classifier(run).classes == trained.classifier.classes  # it still predicts


def test_saving_again_replaces_the_run(trained, tmp_path):
    save_run(trained, tmp_path / "run")
    save_run(trained, tmp_path / "run")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_foreign_or_tampered_runs_are_refused(trained, tmp_path):
    with pytest.raises(RunLoadError, match="not a saved run"):
        load_classifier(tmp_path)
    run = save_run(trained, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "format": "other"}))
    with pytest.raises(RunLoadError, match="not saved by this app"):
        load_classifier(run)
    (run / "config.json").write_text(json.dumps({**config, "classes": ["a", "b", "c"]}))
    with pytest.raises(RunLoadError, match="damaged"):
        load_classifier(run)


def test_predict_table_reports_unreadable_files(trained, shapes_dataset):
    good = val_files(trained, shapes_dataset)[0][1]
    table = trained.classifier.predict_table([("good.png", good), ("bad.jpg", b"nope")])
    assert table.loc[0, "predicted"] in ("circle", "stripes")
    assert np.isclose(table.loc[0, ["p_circle", "p_stripes"]].sum(), 1.0)
    assert "not an image" in table.loc[1, "problem"]


# --- faults: interrupted saves, foreign files, names ----------------------------------------------------

def test_a_save_that_crashes_midway_leaves_the_previous_run(trained, tmp_path, monkeypatch):
    import tlcore.runs.files as files

    run = save_run(trained, tmp_path / "run")
    before = (run / "model.safetensors").read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # like Ctrl+C or a kill while writing the config

    monkeypatch.setattr(files, "csv_text", crash)
    with pytest.raises(KeyboardInterrupt):
        save_run(trained, run)
    assert (run / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no half-written folder left behind
    load_classifier(run)


def test_a_save_killed_between_the_two_renames_is_recovered(trained, tmp_path, monkeypatch):
    import tlcore.runs.folders as folders

    run = save_run(trained, tmp_path / "run")
    real_replace, calls = os.replace, []

    def killed_on_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(folders.os, "replace", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        save_run(trained, run)
    monkeypatch.setattr(folders.os, "replace", real_replace)
    assert not run.exists()  # the previous run is aside, under a hidden name
    assert list_runs(tmp_path) == [run]  # ... and listing (or loading) puts it back
    load_classifier(run)


def test_a_process_killed_while_saving_leaves_a_loadable_run(trained, tmp_path):
    """A real SIGKILL in the middle of writing the replacement run."""
    run = save_run(trained, tmp_path / "run")
    child = textwrap.dedent(f"""
        import os, signal
        import tlcore.runs.files as files
        from tests.conftest import shape_records
        from tlcore import TrainConfig, build_dataset, train
        result = train(build_dataset(shape_records(4)), TrainConfig(epochs=1, device="cpu"))
        files.csv_text = lambda frame: os.kill(os.getpid(), signal.SIGKILL)
        files.save_run(result, {str(run)!r})
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=Path(__file__).parents[2], capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    loaded = load_classifier(run)
    assert loaded.classes == ["circle", "stripes"] and len(list_runs(tmp_path)) == 1


def test_pickles_and_renamed_files_are_refused_and_never_run(trained, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = pickle.dumps(Payload())
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "model.pt").write_bytes(evil)
    with pytest.raises(RunLoadError, match="not a saved run"):
        load_classifier(foreign)
    run = save_run(trained, tmp_path / "run")
    (run / "model.safetensors").write_bytes(evil)  # a pickle renamed to look like ours
    with pytest.raises(RunLoadError, match="damaged"):
        load_classifier(run)
    assert not marker.exists()


@pytest.mark.parametrize("tamper", [
    {"trainable_blocks": "__import__('os').system('true')"}, {"backbone": "../../evil"},
    {"classes": "not a list"}, {"preprocessing": {"input_size": -1}},
])
def test_tampered_config_is_refused_with_a_message(trained, tmp_path, tamper):
    run = save_run(trained, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, **tamper}))
    with pytest.raises(TLCoreError):
        load_classifier(run)


def test_run_names_stay_inside_the_runs_folder_and_others_runs_are_kept(trained, tmp_path):
    assert run_folder_name("../../etc/passwd") == "etc-passwd"
    assert run_folder_name("C:\\Windows\\x") == "C-Windows-x"
    assert run_folder_name(".hidden") == "hidden"
    with pytest.raises(ConfigError):
        run_folder_name("../..")
    save_run(trained, tmp_path / "shared")
    with pytest.raises(RunExists, match="already exists"):
        save_run(trained, tmp_path / "shared", overwrite=False)


def test_same_data_settings_and_seed_give_the_same_metrics(shapes_dataset, trained):
    from tlcore import TrainConfig, train
    from tlcore.engine.cache import TensorCache

    config = TrainConfig(epochs=20, val_fraction=0.25, device="cpu")
    again = train(shapes_dataset, config, cache=TensorCache(None))  # everything recomputed
    assert again.metrics_dict()["auc"] == trained.metrics_dict()["auc"]
    assert np.array_equal(again.val_proba, trained.val_proba)
    assert [h.val_loss for h in again.history] == [h.val_loss for h in trained.history]
