"""Features from an earlier block: the backbone cut at a feature block (train, save, load), and the
layer sweep that finds the block whose features transfer best, through the cache a run uses."""
import json

import numpy as np
import pytest
import torch

from tests.conftest import colour_records, photo_crops
from tlcore import TrainConfig, build_dataset, create_backbone, train
from tlcore.cli import main
from tlcore.core.errors import ConfigError
from tlcore.data import digits_sample
from tlcore.engine.cache import TensorCache
from tlcore.insight.domain import DomainCheck
from tlcore.runs.files import load_run, save_run
from tlcore.backbones import get_backbone_info
from tlcore.runs.learning_curve import learning_curve
from tlcore.runs.layer_sweep import BlockScore, choose_block, sweep_layers
from tlcore.runs.prepared import frozen_key
from tlcore.runs import recommend as recommending
from tlcore.runs.recommend import recommend


@pytest.fixture(scope="module")
def colours():
    return build_dataset(colour_records())


@pytest.fixture(scope="module")
def cache():
    return TensorCache(None)


@pytest.fixture(scope="module")
def sweep(colours, cache):
    return sweep_layers(colours, TrainConfig(device="cpu"), cache=cache)


def test_a_feature_block_keeps_the_blocks_below_and_pools_its_output():
    full = create_backbone("resnet18", pretrained=False).eval()
    cut = create_backbone("resnet18", pretrained=False, feature_block=3).eval()
    assert cut.block_names == ["stem", "layer1", "layer2"] and cut.num_features == 128
    cut.load_state_dict({k: v for k, v in full.state_dict().items() if k in cut.state_dict()})
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(cut(x), full.run(x, 0, 3).mean((2, 3)), atol=1e-6)
    assert create_backbone("resnet18", pretrained=False, feature_block=5).num_features == 512  # the last: all


@pytest.mark.parametrize("name, block, message", [
    ("resnet18", 6, "must be from 1 to 5, the blocks of ResNet-18"),
    ("resnet18", 0, "must be from 1 to 5, the blocks of ResNet-18"),
    ("all-MiniLM-L6-v2", 2, "is for pretrained image backbones"),
])
def test_a_feature_block_that_does_not_exist_is_refused_with_a_sentence(name, block, message):
    with pytest.raises(ConfigError, match=message):
        create_backbone(name, pretrained=False, feature_block=block)


def test_settings_refuse_more_trainable_blocks_than_the_feature_block_keeps():
    with pytest.raises(ConfigError, match="at most 2 blocks can train"):
        TrainConfig(feature_block=2, trainable_blocks=3)
    assert TrainConfig.from_dict({"feature_block": 4}).feature_block == 4
    assert TrainConfig.from_dict({"feature_block": None}).feature_block is None
    with pytest.raises(ConfigError, match="feature_block must be a whole number or nothing"):
        TrainConfig.from_dict({"feature_block": "stem"})


@pytest.mark.parametrize("head", ["linear", "mlp", "logistic_regression", "random_forest", "linear_svm"])
def test_every_head_learns_from_an_earlier_block(colours, cache, head):
    run = train(colours, TrainConfig(device="cpu", feature_block=2, head=head), cache=cache)
    assert run.classifier.model.backbone.num_features == 16 and run.report.auc > 0.95


def test_the_layer_sweep_finds_the_early_block_that_separates_the_classes(sweep):
    aucs = {b.block: b.auc for b in sweep.blocks}
    assert [b.block for b in sweep.blocks] == list(range(1, 10)) and sweep.blocks[-1].name == "head_conv"
    assert sweep.recommended < 9 and sweep.earlier_wins
    assert aucs[sweep.recommended] > 0.95 and aucs[9] < 0.85
    assert sweep.blocks[sweep.recommended - 1].auc_low > sweep.blocks[-1].auc_high
    assert f"Use feature block {sweep.recommended}" in sweep.reason
    data = sweep.to_dict()
    assert data["recommended"]["feature_block"] == sweep.recommended
    assert set(data["blocks"][0]) == {"block", "name", "features", "auc", "auc_low", "auc_high"}


def test_a_run_on_the_chosen_block_reuses_the_sweep_and_scores_what_it_measured(colours, cache, sweep, tmp_path):
    config = TrainConfig(device="cpu", feature_block=sweep.recommended)
    run = train(colours, config, cache=cache)
    assert run.facts.reuse.reused and not run.facts.reuse.computed  # the features came from the sweep
    assert run.report.auc == pytest.approx(sweep.blocks[sweep.recommended - 1].auc, abs=1e-6)
    assert run.classifier.model.backbone.num_features == sweep.blocks[sweep.recommended - 1].features
    loaded = load_run(save_run(run, tmp_path / "run"))
    assert loaded.config.feature_block == sweep.recommended
    files = [(e.name, e.data) for e in colours.examples[:6]]
    assert np.allclose(loaded.classifier.predict_proba(files), run.classifier.predict_proba(files), atol=1e-5)


def test_the_recommendation_takes_the_earlier_block_for_data_unlike_imagenet(colours, cache, sweep):
    advice = recommend(colours, TrainConfig(device="cpu"), backbones=["efficientnet_lite0"], cache=cache)
    assert advice.domain.far and advice.domain.earlier_block == sweep.recommended
    assert advice.recommended["feature_block"] == sweep.recommended
    assert f"block {sweep.recommended}" in advice.recommended["reason"]
    assert advice.backbones[0].auc == pytest.approx(sweep.blocks[sweep.recommended - 1].auc)


def test_the_command_line_sweeps_the_layers_and_trains_on_a_block(colours, tmp_path, capsys):
    folder = tmp_path / "colours"
    for record in colour_records(per_class=12):
        (folder / record.label).mkdir(parents=True, exist_ok=True)
        (folder / record.name).write_bytes(record.data)
    assert main(["layer-sweep", str(folder), "--device", "cpu", "--out", str(tmp_path / "layers.json")]) == 0
    data = json.loads((tmp_path / "layers.json").read_text())
    assert len(data["blocks"]) == 9 and "head_conv" in capsys.readouterr().out
    assert main(["train", str(folder), "--feature-block", "2", "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train_config"]["feature_block"] == 2 and saved["num_features"] == 16


def test_the_last_block_is_kept_unless_an_earlier_one_beats_it_clearly():
    def scores(*aucs):
        return [BlockScore(i, f"b{i}", 8, auc, low, high) for i, (auc, low, high) in enumerate(aucs, 1)]

    block, reason = choose_block(scores((0.95, 0.90, 0.99), (0.93, 0.88, 0.97)), "Net")
    assert block == 2 and "the intervals overlap" in reason and "keep the default" in reason
    block, reason = choose_block(scores((0.99, 0.98, 1.0), (0.80, 0.70, 0.90)), "Net")
    assert block == 1 and "Use feature block 1" in reason
    assert choose_block(scores((1.0, 1.0, 1.0), (1.0, 1.0, 1.0)), "Net")[0] == 2  # a tie goes to the later block


def test_a_cut_backbone_shares_the_cache_below_its_cut_and_not_its_pooled_output():
    info, cpu = get_backbone_info("efficientnet_lite0"), torch.device("cpu")
    assert frozen_key(info, 5, 4, cpu) == frozen_key(info, None, 4, cpu)  # blocks 1-4, as the whole backbone's
    assert frozen_key(info, 5, 6, cpu) != frozen_key(info, None, 6, cpu)  # block 5 pooled, not block 6's maps
    assert frozen_key(info, 9, 10, cpu) == frozen_key(info, None, 10, cpu)  # the last block is the whole backbone


def test_a_default_run_keeps_every_block_so_a_run_on_an_earlier_one_runs_nothing(colours):
    cache = TensorCache(None)
    train(colours, TrainConfig(device="cpu"), cache=cache)
    early = train(colours, TrainConfig(device="cpu", feature_block=4), cache=cache)
    assert early.facts.reuse.reused and not early.facts.reuse.computed


def test_the_recommendation_probes_whole_backbones_whatever_block_is_set(colours, cache, sweep):
    advice = recommend(colours, TrainConfig(device="cpu", feature_block=3), backbones=["efficientnet_lite0"],
                       cache=cache)
    assert advice.domain is not None and advice.recommended["feature_block"] == sweep.recommended


def test_photographs_keep_the_last_block_and_get_no_warning():
    advice = recommend(build_dataset(photo_crops()), TrainConfig(device="cpu"), backbones=["efficientnet_lite0"],
                       cache=TensorCache(None))
    assert not advice.domain.far and advice.domain.advice is None and advice.recommended["feature_block"] is None
    assert "unlike" not in advice.recommended["reason"] and "layer sweep" not in advice.recommended["reason"]


def test_the_recommendation_agrees_with_the_layer_sweep(colours, cache, sweep, monkeypatch):
    """Even when the ImageNet check does not warn, the blocks are probed, so "Use it" never undoes a sweep."""
    monkeypatch.setattr(recommending, "check_domain", lambda head, x, title: DomainCheck(0.5, False, None))
    advice = recommend(colours, TrainConfig(device="cpu"), backbones=["efficientnet_lite0"], cache=cache)
    assert advice.recommended["feature_block"] == sweep.recommended and advice.domain.far


def test_the_recommendation_says_when_the_sweep_kept_the_last_block():
    advice = recommend(build_dataset(digits_sample(per_class=8)), TrainConfig(device="cpu"),
                       backbones=["efficientnet_lite0"], cache=TensorCache(None))
    assert advice.domain.far and advice.domain.earlier_block is None and advice.recommended["feature_block"] is None
    assert "found no earlier block clearly better than its last one" in advice.recommended["reason"]


def test_the_learning_curve_uses_the_chosen_feature_block(colours, cache):
    def all_examples(config):
        curve = learning_curve(colours, config, sizes=(1,), cache=cache)
        return curve, [p for p in curve.points if p.method == "transfer"][-1].auc

    early, early_auc = all_examples(TrainConfig(device="cpu", feature_block=2))
    whole, whole_auc = all_examples(TrainConfig(device="cpu"))
    assert early.to_dict()["feature_block"] == 2 and whole.feature_block is None
    assert early_auc > 0.95 and whole_auc < 0.85


def test_a_run_saved_before_feature_blocks_loads_with_the_whole_backbone(colours, tmp_path):
    folder = save_run(train(colours, TrainConfig(device="cpu")), tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    del config["train_config"]["feature_block"]
    (folder / "config.json").write_text(json.dumps(config))
    loaded = load_run(folder)
    assert loaded.config.feature_block is None and loaded.classifier.model.backbone.num_features == 1280
