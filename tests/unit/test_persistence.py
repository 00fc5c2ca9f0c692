import json

import numpy as np
import pytest

from tlcore import RunLoadError, load_run, save_run


def test_saved_run_predicts_the_same(trained, tmp_path):
    run = save_run(trained, tmp_path / "run")
    assert {p.name for p in run.iterdir()} == {"model.safetensors", "config.json", "metrics.json",
                                              "history.json", "predictions.csv"}
    config = json.loads((run / "config.json").read_text())
    assert config["backbone"] == "efficientnet_lite0" and config["classes"] == ["circle", "stripes"]
    assert config["seed"] == 0 and "torch" in config["versions"]
    loaded = load_run(run)
    files = [(e.name, e.data) for e in trained.val_examples]
    assert np.allclose(loaded.predict_proba(files), trained.val_proba, atol=1e-4)


def test_saving_again_replaces_the_run(trained, tmp_path):
    save_run(trained, tmp_path / "run")
    save_run(trained, tmp_path / "run")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_foreign_or_tampered_runs_are_refused(trained, tmp_path):
    with pytest.raises(RunLoadError, match="not a saved run"):
        load_run(tmp_path)
    run = save_run(trained, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "format": "other"}))
    with pytest.raises(RunLoadError, match="not saved by this app"):
        load_run(run)
    (run / "config.json").write_text(json.dumps({**config, "classes": ["a", "b", "c"]}))
    with pytest.raises(RunLoadError, match="damaged"):
        load_run(run)


def test_predict_table_reports_unreadable_files(trained):
    table = trained.classifier.predict_table([("good.png", trained.val_examples[0].data), ("bad.jpg", b"nope")])
    assert table.loc[0, "predicted"] in ("circle", "stripes")
    assert np.isclose(table.loc[0, ["p_circle", "p_stripes"]].sum(), 1.0)
    assert "not an image" in table.loc[1, "problem"]
